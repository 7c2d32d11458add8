"""Run an image's ENTRYPOINT with runc directly, for sandboxes where `podman run` cannot start.

Podman always asks the runtime to set RLIMIT_NOFILE and RLIMIT_NPROC; some sandboxed kernels
refuse that for a container's init ("error setting rlimit type 6: operation not permitted"),
while `podman build` (which sets none) works. This runs the same image the same way a
`podman run --network=host` would (its entrypoint, environment, user and working directory,
read-only root, tmpfs home and /tmp) from an OCI spec with no rlimits. A bind mount goes
under a fresh tmpfs on its parent folder (e.g. /mnt), since the root is read-only.

    python -m infra.images.oci_run IMAGE [-e NAME=VALUE]... [-v HOST:CONTAINER]... -- ARGS...
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import click


def _podman(*args: str) -> str:
    return subprocess.run(["podman", *args], check=True, capture_output=True, text=True).stdout


def _user_ids(rootfs: Path, user: str) -> tuple[int, int]:
    if not user or user == "root":
        return 0, 0
    for line in (rootfs / "etc" / "passwd").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == user or fields[2] == user:
            return int(fields[2]), int(fields[3])
    raise click.ClickException(f"user {user!r} not in the image's /etc/passwd")


def spec(
    rootfs: Path, image: dict[str, Any], args: list[str], env: list[str], binds: list[str]
) -> dict[str, Any]:
    uid, gid = _user_ids(rootfs, image.get("User", ""))
    workdir = image.get("WorkingDir") or "/"
    mounts = _system_mounts(workdir, f"mode=1777,uid={uid},gid={gid}")
    for bind in binds:
        mounts += _bind_mounts(bind, mounts)
    return {
        "ociVersion": "1.0.2",
        "root": {"path": str(rootfs), "readonly": True},
        "hostname": "traygo-smoke",
        "process": {
            "terminal": False,
            "user": {"uid": uid, "gid": gid},
            "args": [*(image.get("Entrypoint") or []), *(args or image.get("Cmd") or [])],
            "env": [*image.get("Env", []), f"HOME={workdir}", *env],
            "cwd": workdir,
            "noNewPrivileges": True,
            "capabilities": {k: [] for k in ("bounding", "effective", "permitted")},
        },
        "mounts": mounts,
        # No network namespace: the host's network, as `--network=host`.
        "linux": {"namespaces": [{"type": t} for t in ("pid", "ipc", "uts", "mount")]},
    }


def _mount(destination: str, kind: str, source: str, *options: str) -> dict[str, Any]:
    found: dict[str, Any] = {"destination": destination, "type": kind, "source": source}
    if options:
        found["options"] = list(options)
    return found


def _system_mounts(workdir: str, tmpfs: str) -> list[dict[str, Any]]:
    """What `podman run` mounts: /proc, /dev, /sys, writable /tmp and home, the host's DNS."""
    return [
        _mount("/proc", "proc", "proc"),
        _mount("/dev", "tmpfs", "tmpfs", "nosuid", "mode=755"),
        _mount(
            "/dev/pts",
            "devpts",
            "devpts",
            *("nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"),
        ),
        _mount("/dev/shm", "tmpfs", "shm", "nosuid", "noexec", "nodev", "mode=1777"),
        _mount("/sys", "sysfs", "sysfs", "nosuid", "noexec", "nodev", "ro"),
        _mount("/tmp", "tmpfs", "tmpfs", tmpfs),
        _mount(workdir, "tmpfs", "tmpfs", tmpfs),
        _mount("/etc/resolv.conf", "bind", "/etc/resolv.conf", "rbind", "ro"),
        _mount("/etc/hosts", "bind", "/etc/hosts", "rbind", "ro"),
    ]


def _bind_mounts(bind: str, mounts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """HOST:CONTAINER[:ro] as a bind mount, after a tmpfs on its parent when `mounts` has none:
    the root is read-only, so the tmpfs makes room for the mount point."""
    host, container, *mode = bind.split(":")
    parent = str(Path(container).parent)
    added = []
    if parent != "/" and all(m["destination"] != parent for m in mounts):
        added.append(_mount(parent, "tmpfs", "tmpfs"))
    rw = "ro" if mode == ["ro"] else "rw"
    added.append(_mount(container, "bind", str(Path(host).resolve()), "rbind", rw))
    return added


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("image")
@click.option("-e", "--env", "env", multiple=True, help="NAME=VALUE, or NAME to copy the host's.")
@click.option("-v", "--volume", "binds", multiple=True, help="HOST:CONTAINER[:ro]")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def main(image: str, env: tuple[str, ...], binds: tuple[str, ...], args: tuple[str, ...]) -> None:
    """Run IMAGE's entrypoint with ARGS under runc, sharing the host's network."""
    import os

    config = json.loads(_podman("image", "inspect", image, "--format", "{{json .Config}}"))
    rootfs = Path(_podman("image", "mount", image).strip())
    values = [e if "=" in e else f"{e}={os.environ.get(e, '')}" for e in env]
    bundle = Path(tempfile.mkdtemp(prefix="traygo-oci-"))
    try:
        (bundle / "config.json").write_text(
            json.dumps(spec(rootfs, config, list(args), values, list(binds)))
        )
        name = f"traygo-smoke-{uuid.uuid4().hex[:8]}"
        code = subprocess.run(
            ["runc", "run", "--bundle", str(bundle), name], check=False
        ).returncode
    finally:
        shutil.rmtree(bundle, ignore_errors=True)
        subprocess.run(["podman", "image", "unmount", image], check=False, capture_output=True)
    sys.exit(code)


if __name__ == "__main__":
    main()
