"""Decode and preprocess every image once; epochs read the cached arrays, never the JPEGs."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np
from tqdm import tqdm

from training.dataset import Sample
from traygo.images.preprocess import PREPROCESSING_ID, preprocess

log = logging.getLogger(__name__)


def prepare(samples: list[Sample], cache: Path, size: tuple[int, int]) -> np.ndarray:
    """uint8 array [n, h, w, 3] for `samples`, in order, from the shared preprocessing."""
    path = cache / "prepared" / f"{_key(samples, size)}.npy"
    if path.is_file():
        log.info("prepared images from cache %s", path)
        cached: np.ndarray = np.load(path)
        return cached
    images = np.empty((len(samples), *size, 3), dtype=np.uint8)
    for i, sample in enumerate(tqdm(samples, desc="preprocess", unit="img", leave=False)):
        images[i] = preprocess(sample.path.read_bytes(), size)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part.npy")
    np.save(tmp, images)
    tmp.replace(path)
    return images


def _key(samples: list[Sample], size: tuple[int, int]) -> str:
    digest = hashlib.sha256(f"{PREPROCESSING_ID}:{size}".encode())
    for sample in samples:
        digest.update(sample.sha256.encode())
    return digest.hexdigest()[:24]
