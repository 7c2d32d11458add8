"""`make bench-hostile`: what hostile input costs the inference handler, one run.

Each file goes through the handler (`POST /predict`, raw body as API Gateway sends it) in a
fresh process with a live model, so one peak cannot hide another: peak RSS growth over the
warmed-up process (Linux VmHWM, reset just before the request). Then the wall time of hosts
that trickle their answer against the fetch deadline. Goals: < 100 MiB for any input <= 6 MiB,
and within 1 s of the deadline.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL_MIB = 100.0
DEADLINE_S = 2.0


def prepare_store(root: Path) -> None:
    """The tests' tiny red detector, live for "pizza" (the demo model's format may change)."""
    from tests.lambdas.conftest import MODEL, publish
    from traygo.registry import Registry
    from traygo.store import open_store

    publish(
        Registry(open_store(str(root))), "pizza", "20261124T000000Z-aaaaaaaa", MODEL.read_bytes()
    )


def memory() -> tuple[float, float]:
    """(current RSS, peak RSS since the last reset) in MiB."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def event(body: bytes, content_type: str) -> dict:
    binary = not content_type.startswith("application/json")
    return {
        "httpMethod": "POST",
        "path": "/predict",
        "resource": "/predict",
        "headers": {"Content-Type": content_type},
        "queryStringParameters": None,
        "requestContext": {"requestId": "bench", "stage": "bench"},
        "body": base64.b64encode(body).decode() if binary else body.decode(),
        "isBase64Encoded": binary,
    }


def hostile_bodies() -> dict[str, tuple[bytes, str]]:
    from tests.traygo.hostile_images import HOSTILE

    bodies = {name: (make(), "image/png") for name, make in HOSTILE.items()}
    bodies["json_deep_3MB"] = (b"[" * 3_000_000 + b"]" * 3_000_000, "application/json")
    bodies["json_wide_6MB"] = (b"[" + b"0," * 3_000_000 + b"0]", "application/json")
    return bodies


def child(store: str, name: str, content_type: str) -> None:
    os.environ["TRAYGO_STORE"] = store
    from lambdas.inference.handler import handler
    from lambdas.inference.server import LocalContext
    from tests.lambdas.conftest import RED, image_bytes

    warm = event(image_bytes(RED), "image/png")
    assert handler(warm, LocalContext("warm"))["statusCode"] == 200
    body = Path(name).read_bytes()  # made by the parent: making it here would leave freed
    hostile = event(body, content_type)  # pages in this heap that the request could reuse
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS
    before, _ = memory()
    response = handler(hostile, LocalContext("bench"))
    _, peak = memory()
    serving = handler(warm, LocalContext("after"))["statusCode"] == 200
    code = json.loads(response["body"]).get("error", {}).get("code", "-")
    print(
        json.dumps(
            {
                "status": response["statusCode"],
                "code": code,
                "bytes": len(body),
                "growth_mib": peak - before,
                "serving": serving,
            }
        )
    )


def trickle(store: str) -> list[tuple[str, float, int]]:
    os.environ.update(
        TRAYGO_STORE=store,
        TRAYGO_FETCH_TIMEOUT=str(DEADLINE_S),
        TRAYGO_TEST_ALLOW_LOOPBACK_FETCH="1",
    )
    from lambdas.inference.handler import handler
    from lambdas.inference.server import LocalContext
    from tests.trickle_host import host

    rows = []
    for answer in ("trickle_body", "trickle_headers", "silent"):
        with host(answer, every=0.2) as base:
            request = event(json.dumps({"url": f"{base}/a.jpg"}).encode(), "application/json")
            started = time.monotonic()
            status = handler(request, LocalContext("trickle"))["statusCode"]
            rows.append((answer, time.monotonic() - started, status))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child")
    parser.add_argument("--store")
    parser.add_argument("--type")
    args = parser.parse_args()
    if args.child:
        child(args.store, args.child, args.type)
        return
    with tempfile.TemporaryDirectory() as tmp:
        prepare_store(Path(tmp))
        print(f"{'input':38} {'bytes':>9} {'status':>6} {'code':22} {'peak RSS +MiB':>13}  goal")
        worst = 0.0
        for name, (body, content_type) in hostile_bodies().items():
            path = Path(tmp) / f"{name}.bin"
            path.write_bytes(body)
            command = ["--child", str(path), "--store", tmp, "--type", content_type]
            run = subprocess.run(
                [sys.executable, "-m", "benchmarks.bench_hostile", *command],
                capture_output=True,
                text=True,
                check=True,
            )
            out = run.stdout.strip().splitlines()[-1]
            row = json.loads(out)
            worst = max(worst, row["growth_mib"])
            ok = row["growth_mib"] < GOAL_MIB and row["serving"] and row["bytes"] <= 6 * 2**20
            print(
                f"{name:38} {row['bytes']:>9} {row['status']:>6} {row['code']:22} "
                f"{row['growth_mib']:>13.1f}  {'ok' if ok else 'MISSED'}"
            )
        print(f"worst peak RSS growth: {worst:.1f} MiB (goal < {GOAL_MIB:.0f} MiB)\n")
        print(
            f"{'remote host':20} {'deadline s':>10} {'wall s':>7} {'over s':>7} {'status':>6}  goal"
        )
        for answer, wall, status in trickle(tmp):
            over = wall - DEADLINE_S
            print(
                f"{answer:20} {DEADLINE_S:>10.1f} {wall:>7.2f} {over:>7.2f} {status:>6}  "
                f"{'ok' if over < 1.0 else 'MISSED'}"
            )


if __name__ == "__main__":
    main()
