"""The OCI spec for running an image under runc: a bind mount gets room under the read-only
root, and the process runs as the image's user."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from infra.images.oci_run import spec

IMAGE = {"User": "app", "WorkingDir": "/home/app", "Entrypoint": ["traygo"], "Cmd": ["--help"]}


def rootfs(tmp_path: Path) -> Path:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "passwd").write_text("root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/:/\n")
    return tmp_path


def by_destination(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["destination"]: m for m in config["mounts"]}


def test_a_bind_mount_gets_one_tmpfs_on_its_parent(tmp_path: Path) -> None:
    binds = [f"{tmp_path}:/mnt/data:ro", f"{tmp_path}:/mnt/cache"]
    config = spec(rootfs(tmp_path), IMAGE, [], [], binds)
    mounts = by_destination(config)
    assert [m["destination"] for m in config["mounts"]].count("/mnt") == 1
    assert mounts["/mnt"]["type"] == "tmpfs"
    assert mounts["/mnt/data"]["options"] == ["rbind", "ro"]
    assert mounts["/mnt/cache"]["options"] == ["rbind", "rw"]
    assert mounts["/mnt/data"]["source"] == str(tmp_path.resolve())


def test_the_process_is_the_images_entrypoint_as_its_user(tmp_path: Path) -> None:
    config = spec(rootfs(tmp_path), IMAGE, ["scrape"], ["A=1"], [])
    process = config["process"]
    assert process["args"] == ["traygo", "scrape"]
    assert process["user"] == {"uid": 1000, "gid": 1001}
    assert process["env"] == ["HOME=/home/app", "A=1"]
    assert config["root"]["readonly"] is True
    assert by_destination(config)["/home/app"]["options"] == ["mode=1777,uid=1000,gid=1001"]
