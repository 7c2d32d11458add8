"""`make bench-port`: is the Keras EfficientNet-Lite0 rebuilt from the torch checkpoint right?

The installed package's ImageNet checkpoint, rebuilt with its classifier, on the first 40 (by
name) photos of ../shared/datasets/pizza_not_pizza/pizza through the shared preprocessing: how
often ImageNet class 963 "pizza" comes first and in the top 5, how far LiteRT's logits are from
Keras', and the served feature model's file size and one-core LiteRT latency, float32 against
float16 weights, measured in this one run.
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

import numpy as np

from training import tflite
from training.backbone import efficientnet_lite, torch_legacy
from traygo.images.preprocess import preprocess

PIZZA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "pizza_not_pizza" / "pizza"
PHOTOS = 40
IMAGENET_PIZZA = 963
INVOKES = 50


def invoke_ms(model: bytes, size: int) -> float:
    """Median LiteRT invoke time on one thread, after a warm-up."""
    interpreter = tflite.interpreter_class()(model_content=model, num_threads=1)
    interpreter.allocate_tensors()
    source = interpreter.get_input_details()[0]["index"]
    image = np.random.default_rng(0).uniform(0, 255, (1, size, size, 3)).astype(np.float32)
    interpreter.set_tensor(source, image)
    for _ in range(5):
        interpreter.invoke()
    times = []
    for _ in range(INVOKES):
        started = time.perf_counter()
        interpreter.invoke()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def pizza_ranks(logits: np.ndarray) -> tuple[int, int]:
    """How many rows have class 963 first, and in their top 5."""
    top5 = np.argsort(-logits, axis=1)[:, :5]
    return int(np.sum(top5[:, 0] == IMAGENET_PIZZA)), int(np.sum(top5 == IMAGENET_PIZZA))


def main() -> None:
    if not PIZZA.is_dir():
        raise SystemExit(f"bench-port needs {PIZZA}")
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    started = time.perf_counter()
    state = torch_legacy.load_state_dict(efficientnet_lite.package_checkpoint())
    read_s = time.perf_counter() - started
    files = sorted(p for p in PIZZA.iterdir() if p.is_file())[:PHOTOS]
    pixels = np.stack([preprocess(f.read_bytes(), (224, 224)) for f in files]).astype(np.float32)

    classifier = efficientnet_lite.build(state, 224, classifier=True)
    logits = classifier.predict(pixels, verbose=0)
    rows = [("Keras", pizza_ranks(logits), "-")]
    for float16 in (False, True):
        served = tflite.run_features(efficientnet_lite.to_tflite(classifier, float16), pixels, 1)
        diff = f"{np.max(np.abs(served - logits)):.2g}"
        rows.append(
            (f"LiteRT, {'float16' if float16 else 'float32'} weights", pizza_ranks(served), diff)
        )

    print(f"checkpoint read in {read_s:.2f} s; {len(files)} pizza photos at 224 px, one core")
    print("| classifier | top-1 pizza | top-5 pizza | max abs logit diff vs Keras |")
    print("|---|---|---|---|")
    for name, (top1, top5), diff in rows:
        print(f"| {name} | {top1}/{len(files)} | {top5}/{len(files)} | {diff} |")
    print(f"(Keras logits span {logits.min():.1f}..{logits.max():.1f})")

    print("\n| feature model (1280 pooled) | file MB | invoke ms @160 | invoke ms @224 |")
    print("|---|---|---|---|")
    measured = {float16: feature_model(state, float16) for float16 in (False, True)}
    for float16, (mb, ms160, ms224) in measured.items():
        name = "float16 weights" if float16 else "float32"
        print(f"| {name} | {mb:.1f} | {ms160:.2f} | {ms224:.2f} |")
    (mb32, _, ms32), (mb16, _, ms16) = measured[False], measured[True]
    print(f"float16 / float32: file {mb16 / mb32:.2f}x, invoke @224 {ms16 / ms32:.2f}x")


def feature_model(state: dict[str, np.ndarray], float16: bool) -> tuple[float, float, float]:
    """The served feature model's TFLite size at 224 px (MB) and invoke ms at 160 and 224."""
    sizes, times = [], []
    for size in (160, 224):
        data = efficientnet_lite.to_tflite(efficientnet_lite.build(state, size), float16)
        sizes.append(len(data) / 1e6)
        times.append(invoke_ms(data, size))
    return sizes[1], times[0], times[1]


if __name__ == "__main__":
    main()
