"""`make bench-preprocess`: the shared preprocessing (JPEG draft) against a naive Pillow path.

Same photos from ../shared/datasets/pizza_not_pizza, same output size, one run, one core.
"""

from __future__ import annotations

import io
import os
import statistics
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from traygo.images.preprocess import preprocess

DATASET = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "pizza_not_pizza"


def naive(data: bytes, size: tuple[int, int] = (180, 180)) -> np.ndarray:
    img = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
    return np.asarray(img.resize((size[1], size[0]), Image.Resampling.BILINEAR))


def per_image_ms(fn: object, images: list[bytes], rounds: int = 3) -> float:
    best = []
    for _ in range(rounds):
        started = time.perf_counter()
        for data in images:
            fn(data)  # type: ignore[operator]
        best.append((time.perf_counter() - started) * 1000 / len(images))
    return statistics.median(best)


def main() -> None:
    if not DATASET.is_dir():
        raise SystemExit(f"bench-preprocess needs {DATASET}")
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    files = sorted(DATASET.rglob("*.jpg"))[:300]
    images = [f.read_bytes() for f in files]
    sides = [min(Image.open(io.BytesIO(d)).size) for d in images]
    ours, base = per_image_ms(preprocess, images), per_image_ms(naive, images)
    diff = np.mean([np.abs(preprocess(d).astype(int) - naive(d)).mean() for d in images[:50]])
    print(f"{len(images)} JPEGs, median short side {int(np.median(sides))} px, one core")
    print("| path | ms / image | images / s |")
    print("|---|---|---|")
    print(f"| naive Pillow (full decode, resize) | {base:.2f} | {1000 / base:.0f} |")
    print(f"| traygo preprocess (draft + resize) | {ours:.2f} | {1000 / ours:.0f} |")
    print(f"speed-up {base / ours:.1f}x; mean |difference| {diff:.2f} of 255 per pixel")


if __name__ == "__main__":
    main()
