"""A head's tray threshold, calibrated on synthetic trays, and its tray metrics.

Scoring regions and taking the maximum raises every score (more chances to fire), so the photo
threshold would call nearly everything present on a tray. The tray threshold is chosen the way
the photo threshold is, on trays composed from the early-stopping split's photos; the tray
metrics are measured on trays composed from the validation split's, which nothing was fitted or
calibrated on.
"""

from __future__ import annotations

import logging
from typing import Any

import keras
import numpy as np
from sklearn import metrics as skm

from training import tflite
from training.dataset import Sample
from training.evaluate import choose_threshold, probabilities
from traygo.images.preprocess import preprocess
from traygo.tray import TRAY_SIZE, compose, pooled, regions

log = logging.getLogger(__name__)

TRAYS_PER_CLASS = 150  # positive and negative trays each, per split: thresholds within ~1 point


def synthetic_trays(
    samples: list[Sample], seed: int, per_class: int = TRAYS_PER_CLASS, size: int = TRAY_SIZE
) -> tuple[np.ndarray, np.ndarray]:
    """Trays of four cells: positive trays hold one positive and two or three negatives, negative
    trays three or four negatives (every other tray has one empty cell). Negatives on a tray come
    from different folders where there are enough, as different dishes would."""
    rng = np.random.default_rng(seed)
    positives = [s for s in samples if s.target == 1]
    negatives = [s for s in samples if s.target == 0]
    cell = size // 2
    if not positives or len(negatives) < 4:
        return np.empty((0, size, size, 3), np.uint8), np.empty(0, np.int64)
    photos: dict[str, np.ndarray] = {}

    def photo(sample: Sample) -> np.ndarray:
        if sample.sha256 not in photos:
            photos[sample.sha256] = preprocess(sample.path.read_bytes(), (cell, cell))
        return photos[sample.sha256]

    trays, targets = [], []
    for i in range(per_class * 2):
        target = i % 2
        chosen = _pick_negatives(negatives, 4 - target, rng)
        if target:
            chosen.append(positives[int(rng.integers(len(positives)))])
        cells: list[np.ndarray | None] = [photo(s) for s in chosen]
        if i % 4 >= 2:  # three items and an empty cell
            cells = [*cells[-3:], None]  # the positive, if any, is last
        order = rng.permutation(4)
        trays.append(compose([cells[j] if j < len(cells) else None for j in order], size))
        targets.append(target)
    return np.stack(trays), np.array(targets, dtype=np.int64)


def _pick_negatives(negatives: list[Sample], count: int, rng: np.random.Generator) -> list[Sample]:
    by_folder: dict[str, list[Sample]] = {}
    for sample in negatives:
        by_folder.setdefault(sample.path.parent.name, []).append(sample)
    folders = list(by_folder)
    rng.shuffle(folders)
    if len(folders) >= count:
        return [by_folder[f][int(rng.integers(len(by_folder[f])))] for f in folders[:count]]
    return [negatives[int(i)] for i in rng.choice(len(negatives), count, replace=False)]


def region_probabilities(map_model: bytes, head: keras.Model, trays: np.ndarray) -> np.ndarray:
    """[trays, regions]: the head's P(present) in every region, as the Lambda computes it."""
    if not len(trays):
        return np.empty((0, 0))
    maps = tflite.run_features(map_model, trays)
    where = regions(maps.shape[1])
    features = np.stack([pooled(m, where) for m in maps])
    logits = head.predict(features.reshape(-1, features.shape[-1]), verbose=0)
    return probabilities(logits).reshape(len(trays), len(where))


def calibrate(
    map_model: bytes,
    head: keras.Model,
    monitor: list[Sample],
    validation: list[Sample],
    seed: int,
    size: int = TRAY_SIZE,
    per_class: int = TRAYS_PER_CLASS,
) -> dict[str, Any]:
    """The tray threshold (from the early-stopping split) and tray metrics (validation), on
    trays of `size` px (the backbone's tray input)."""
    calib_trays, calib_targets = synthetic_trays(monitor, seed, per_class, size)
    if not len(calib_trays):
        log.warning("too few photos to calibrate a tray threshold; trays use the photo one")
        return {}
    threshold = choose_threshold(
        calib_targets, region_probabilities(map_model, head, calib_trays).max(1)
    )
    trays, targets = synthetic_trays(validation, seed + 1, per_class, size)
    probs = region_probabilities(map_model, head, trays)
    return {
        "threshold": threshold,
        "regions": [r.name for r in regions(size // 32)],
        "size": size,
        "calibration": {"split": "early-stopping", "trays": len(calib_trays)},
        "metrics": _scores(targets, probs.max(1), threshold),
        "whole_picture_metrics": _scores(targets, probs[:, 0], None),
    }


def _scores(targets: np.ndarray, probs: np.ndarray, threshold: float | None) -> dict[str, Any]:
    if threshold is None:  # whole-picture scoring, at its own best cut, for comparison
        threshold = choose_threshold(targets, probs)
    return {
        "balanced_accuracy": float(skm.balanced_accuracy_score(targets, probs >= threshold)),
        "roc_auc": float(skm.roc_auc_score(targets, probs)),
        "n": len(targets),
        "threshold": threshold,
    }
