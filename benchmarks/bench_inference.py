"""`make bench-inference`: our Lambda handler against the seed's way of serving, one run.

Each side runs in fresh processes pinned to one core: cold = process start to first answer
(models fetched from the store), then warm p50/p95 per request and peak RSS. Same 512x512 JPEG,
for 1 and for 6 live labels. Ours: the shared backbone once, then a head per label (the shipped
demo heads, plus a sixth), as a single photo (mode=photo) and as a tray (mode=tray, the API's
default). The seed's way: one Keras CNN per label, model.predict on each.

Tray mode runs the backbone's map pass on the picture's own aspect ratio at about the 448 px
square's pixel count (the default: 384 x 512 for 4:3); the old way stretched it to the square.
Both run here on the same pictures, the 512x512 JPEG and a 640x480 (4:3) one, with their p50s,
the ratio and the request's own preprocess_ms p50.

The backbone runs float16 (TRAYGO_BACKBONE_PRECISION=float16) and int8 (its int8 pair, made by
the tune job's own code, calibrated on shared food photos, picked by the handler from the
backbone's metadata), same heads, same pictures, same run. The pictures are a real photo from
../shared/datasets when it is there (else blocks of random colour), re-encoded at each size.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from traygo.store import Store

WARM_REQUESTS = 200


SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "fastfood"


def make_jpeg(path: Path, width: int = 512, height: int = 512) -> str:
    """A real photo at width x height when the shared data is there; returns what it is."""
    import numpy as np
    from PIL import Image

    photos = sorted((SHARED / "burger").glob("*")) if SHARED.is_dir() else []
    if photos:
        Image.open(photos[0]).convert("RGB").resize((width, height)).save(path, "JPEG", quality=90)
        return f"a real photo ({photos[0].relative_to(SHARED.parent)})"
    rng = np.random.default_rng(0)
    blocks = rng.integers(0, 255, (height // 32, width // 32, 3))
    base = np.kron(blocks, np.ones((32, 32, 1))).astype(np.uint8)
    Image.fromarray(base).save(path, "JPEG", quality=90)
    return "random colour blocks (no shared data here)"


def add_int8(store: Store) -> dict[str, Any]:
    """The current backbone's int8 pair, as `traygo backbone tune` makes it, marked served.

    A bench store only: the metadata is rewritten in place (a published one is write-once)."""
    import numpy as np

    from training.backbone import int8
    from training.backbone.publish import load_keras, map_model
    from training.features import verified_artifact
    from traygo import backbones, layout
    from traygo.images.preprocess import preprocess
    from traygo.metadata import artifact_table

    version = str(backbones.current_version(store))
    meta = backbones.metadata(store, version)
    base = load_keras(store, meta)
    photos = sorted(SHARED.glob("*/*"))[::23] if SHARED.is_dir() else []
    rng = np.random.default_rng(0)
    pictures = (
        np.stack([preprocess(p.read_bytes(), (224, 224)) for p in photos[:96]]).astype(np.float32)
        if photos
        else rng.uniform(0, 255, (96, 224, 224, 3)).astype(np.float32)
    )
    floats = (
        verified_artifact(store, meta, "backbone.tflite"),
        verified_artifact(store, meta, "backbone_map.tflite"),
    )
    tray = map_model(base, int(meta["tray"]["size"]))
    files, report = int8.variants(base, tray, (pictures[:64], pictures[64:]), floats)
    if report["problem"]:
        raise SystemExit(f"bench-inference: the int8 pair is unusable: {report['problem']}")
    for name, data in files.items():
        store.put_bytes(layout.backbone_key(version, name), data)
    meta["artifacts"] |= artifact_table(files, lambda n: layout.backbone_key(version, n))
    meta["int8"] = report | {"served": True, "why": "bench-inference"}
    store.put_json(layout.backbone_key(version, "metadata.json"), meta)
    return report


PICTURES = {"512x512": (512, 512), "640x480 (4:3)": (640, 480)}
SQUARE = "512x512"
TRAY_FITS = {"tray-stretch": "stretch", "tray": "aspect"}  # the old way, the new (default) way


LABELS = ("pizza", "burger", "fries", "hot_dog", "sandwich", "pizza_slice")
NAMES = {
    "keras": "seed's way: a Keras CNN per label",
    "photo": "traygo, mode=photo: float16 backbone at 224 + heads",
    "photo-int8": "traygo, mode=photo: int8 backbone at 224 + heads",
    "tray-stretch": "traygo, mode=tray, stretched (old): float16 at 448, 10 regions x heads",
    "tray": "traygo, mode=tray, own aspect: float16 backbone at ~448², 10 regions x heads",
    "tray-int8": "traygo, mode=tray, own aspect: int8 backbone at ~448², 10 regions x heads",
}


def prepare_store(root: Path) -> dict[str, Any]:
    """The backbone and six live heads for the handler; six seed CNNs for Keras."""
    from lambdas.inference.demo_models import install, shipped
    from training.architectures import build_seed
    from training.backbone import artifact
    from traygo.registry import Registry
    from traygo.store import open_store

    registry = Registry(open_store(str(root)))
    artifact.import_backbone(registry.store, artifact.find_source())
    install(registry)
    pizza = next(f for f in shipped() if f.name == "pizza")
    meta = json.loads((pizza / "metadata.json").read_text())
    meta.pop("artifacts")
    registry.publish(
        "pizza_slice",
        meta["version"],
        {"model.tflite": (pizza / "model.tflite").read_bytes()},
        meta,
    )
    registry.promote("pizza_slice", meta["version"])
    with tempfile.TemporaryDirectory() as tmp:
        keras_path = Path(tmp) / "seed.keras"  # the seed's network; weights do not change timings
        build_seed(35).save(keras_path)
        registry.store.put_bytes("bench/seed.keras", keras_path.read_bytes())
    assert sorted(registry.labels()) == sorted(LABELS), registry.labels()
    return add_int8(registry.store)


def child_handler(
    store: str, image: bytes, n: int, labels: int, mode: str, preprocess_ms: list[float]
) -> list[float]:
    os.environ["TRAYGO_STORE"] = store
    precision = "int8" if mode.endswith("-int8") else "float16"
    os.environ["TRAYGO_BACKBONE_PRECISION"] = "auto" if precision == "int8" else "float16"
    mode = mode.removesuffix("-int8")
    from lambdas.inference import predict
    from lambdas.inference.handler import handler

    if mode in TRAY_FITS:
        predict.TRAY_FIT = TRAY_FITS[mode]
        mode = "tray"
    event = {
        "httpMethod": "POST",
        "path": "/predict",
        "resource": "/predict",
        "headers": {"Content-Type": "image/jpeg"},
        "queryStringParameters": {"labels": ",".join(LABELS[:labels]), "mode": mode},
        "requestContext": {"requestId": "bench", "stage": "bench"},
        "body": base64.b64encode(image).decode(),
        "isBase64Encoded": True,
    }

    from lambdas.inference.server import LocalContext

    def one() -> None:
        response = handler(event, LocalContext("bench"))
        assert response["statusCode"] == 200, response
        answer = json.loads(response["body"])
        assert len(answer["predictions"]) == labels, response
        preprocess_ms.append(answer["timings_ms"]["preprocess_ms"])

    times = serve(one, n)
    from lambdas.inference.api import live_models

    assert live_models().backbone().model.precision == precision
    del preprocess_ms[: len(preprocess_ms) - n]  # the warm requests only
    return times


def child_keras(
    store: str, image: bytes, n: int, labels: int, mode: str, preprocess_ms: list[float]
) -> list[float]:
    import keras
    import numpy as np
    from PIL import Image

    from traygo.store import open_store

    with tempfile.NamedTemporaryFile(suffix=".keras") as f:
        f.write(open_store(store).get_bytes("bench/seed.keras"))
        f.flush()
        models = [keras.models.load_model(f.name) for _ in range(labels)]

    def one() -> None:
        img = Image.open(io.BytesIO(image)).convert("RGB").resize((180, 180))
        pixels = np.asarray(img, dtype=np.float32)[None]
        for model in models:
            model.predict(pixels, verbose=0)

    return serve(one, n)


def serve(one: object, n: int) -> list[float]:
    one()  # type: ignore[operator]
    print("READY", flush=True)
    times = []
    for _ in range(n):
        started = time.perf_counter()
        one()  # type: ignore[operator]
        times.append((time.perf_counter() - started) * 1000)
    return times


def run_child(mode: str, store: Path, image: Path, labels: int) -> dict[str, float]:
    started = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "benchmarks.bench_inference",
            "--child",
            mode,
            "--store",
            str(store),
            "--image",
            str(image),
            "--labels",
            str(labels),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert proc.stdout is not None
    cold = None
    for line in proc.stdout:
        if line.startswith("READY") and cold is None:
            cold = time.perf_counter() - started
        if line.startswith("{"):
            result = json.loads(line)
    proc.wait()
    if proc.returncode != 0 or cold is None:
        raise SystemExit(f"{mode} child failed ({proc.returncode})")
    return {"cold_s": cold, **result}


def peak_rss_mib() -> float:
    """This process's high-water RSS. Not getrusage: its ru_maxrss survives fork+exec, so a
    child would report the parent's TensorFlow-sized peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def child_main(mode: str, store: str, image_path: str, labels: int) -> None:
    import statistics

    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as the goal says
    image = Path(image_path).read_bytes()
    serving = child_keras if mode == "keras" else child_handler
    preprocess_ms: list[float] = []
    n = 50 if mode == "keras" else WARM_REQUESTS
    times = serving(store, image, n, labels, mode, preprocess_ms)
    times.sort()
    print(
        json.dumps(
            {
                "warm_p50_ms": statistics.median(times),
                "warm_p95_ms": times[int(0.95 * len(times)) - 1],
                "peak_rss_mib": peak_rss_mib(),
                "preprocess_p50_ms": statistics.median(preprocess_ms) if preprocess_ms else None,
            }
        ),
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--child", choices=[*NAMES])
    parser.add_argument("--store")
    parser.add_argument("--image")
    parser.add_argument("--labels", type=int, default=1)
    args = parser.parse_args()
    if args.child:
        child_main(args.child, args.store, args.image, args.labels)
        return
    work = Path(tempfile.mkdtemp(prefix="traygo-bench-inference-"))
    images = {}
    for picture, (width, height) in PICTURES.items():
        images[picture] = work / f"tray-{width}x{height}.jpg"
        what = make_jpeg(images[picture], width, height)
    report = prepare_store(work / "store")
    print(f"pictures: {what}; int8 parity on held-out food: {json.dumps(report['parity'])}")
    runs = [(mode, n, SQUARE) for n in (1, 6) for mode in ("keras", "photo", "photo-int8")]
    runs += [
        (mode, n, pic) for pic in PICTURES for n in (1, 6) for mode in (*TRAY_FITS, "tray-int8")
    ]
    rows = {
        (mode, n, pic): run_child(mode, work / "store", images[pic], n) for mode, n, pic in runs
    }
    names = NAMES
    print(
        "| serving | picture | labels | cold start s | warm p50 ms | warm p95 ms | "
        "preprocess p50 ms | peak RSS MiB |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for (mode, n, pic), r in rows.items():
        pre = "-" if r["preprocess_p50_ms"] is None else f"{r['preprocess_p50_ms']:.2f}"
        print(
            f"| {names[mode]} | {pic} | {n} | {r['cold_s']:.2f} | {r['warm_p50_ms']:.2f} | "
            f"{r['warm_p95_ms']:.2f} | {pre} | {r['peak_rss_mib']:.0f} |"
        )
    print()
    print(
        "| tray mode | labels | stretch p50 ms | own aspect p50 ms | own aspect / stretch | "
        "preprocess p50 ms: stretch | own aspect |"
    )
    print("|---|---|---|---|---|---|---|")
    for pic in PICTURES:
        for n in (1, 6):
            old, new = rows[("tray-stretch", n, pic)], rows[("tray", n, pic)]
            print(
                f"| {pic} | {n} | {old['warm_p50_ms']:.2f} | {new['warm_p50_ms']:.2f} | "
                f"{new['warm_p50_ms'] / old['warm_p50_ms']:.3f} | "
                f"{old['preprocess_p50_ms']:.2f} | {new['preprocess_p50_ms']:.2f} |"
            )
    print()
    for n in (1, 6):
        k = rows[("keras", n, SQUARE)]
        for mode in ("photo", "tray"):
            h = rows[(mode, n, SQUARE)]
            print(
                f"{n} label(s), {mode} vs Keras: cold {k['cold_s'] / h['cold_s']:.1f}x faster, "
                f"warm p50 {k['warm_p50_ms'] / h['warm_p50_ms']:.1f}x faster, "
                f"{k['peak_rss_mib'] / h['peak_rss_mib']:.1f}x less memory"
            )
    for mode in ("photo", "tray"):
        six, one = rows[(mode, 6, SQUARE)], rows[(mode, 1, SQUARE)]
        print(f"{mode}, 6 labels vs 1: warm p50 {six['warm_p50_ms'] / one['warm_p50_ms']:.2f}x")
    print()
    print("| int8 vs float16 | picture | labels | float16 p50 ms | int8 p50 ms | speed-up |")
    print("|---|---|---|---|---|---|")
    for mode, n, pic in runs:
        if mode.endswith("-int8"):
            full, quant = rows[(mode.removesuffix("-int8"), n, pic)], rows[(mode, n, pic)]
            ratio = full["warm_p50_ms"] / quant["warm_p50_ms"]
            print(
                f"| {mode.removesuffix('-int8')} | {pic} | {n} | {full['warm_p50_ms']:.2f} | "
                f"{quant['warm_p50_ms']:.2f} | {ratio:.2f}x |"
            )


if __name__ == "__main__":
    main()
