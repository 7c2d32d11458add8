"""A head's tray threshold, calibrated on synthetic trays, and its tray metrics.

Scoring regions and taking the maximum raises every score (more chances to fire), so the photo
threshold would call nearly everything present on a tray. The tray threshold is chosen on trays
composed from the early-stopping split's photos (`tray_layouts.canteen_trays`: 2 to 5 items on a
surface, other food among them, a third of the negative trays made of the background pool alone)
as the lowest cut that keeps false alarms on the negative trays within a stated rate, and never
below the cut with the best balanced accuracy: at a checkout a false alarm charges for food that
is not there. The tray metrics are measured on trays composed from the validation split's photos,
which nothing was fitted or calibrated on, and on the 2 x 2 grids used before, for comparison.
"""

from __future__ import annotations

import logging
from typing import Any

import keras
import numpy as np
from sklearn import metrics as skm

from training import tflite
from training.dataset import Sample
from training.evaluate import choose_threshold, probabilities, threshold_for_false_alarms
from training.tray_layouts import TraySet, canteen_trays, photo_cache, pick_dishes
from traygo.tray import TRAY_SIZE, compose, pooled, regions

log = logging.getLogger(__name__)

POSITIVE_TRAYS = 150  # calibration trays with the label; twice as many without, for small rates
VALIDATION_TRAYS = 100  # validation trays with the label (and twice as many without)
GRID_TRAYS = 50  # 2 x 2 validation trays per class, for comparison with the old calibration
LAYOUTS = ("canteen", "grid")


def grid_trays(
    samples: list[Sample], seed: int, per_class: int = GRID_TRAYS, size: int = TRAY_SIZE
) -> tuple[np.ndarray, np.ndarray]:
    """The 2 x 2 trays of the first calibration: positive trays hold one positive and two or
    three negatives, negative trays three or four negatives (every other tray has one empty
    cell). Negatives on a tray come from different folders where there are enough."""
    rng = np.random.default_rng(seed)
    positives = [s for s in samples if s.target == 1]
    negatives = [s for s in samples if s.target == 0]
    if not positives or len(negatives) < 4:
        return np.empty((0, size, size, 3), np.uint8), np.empty(0, np.int64)
    photo = photo_cache(size // 2)
    trays, targets = [], []
    for i in range(per_class * 2):
        target = i % 2
        chosen = pick_dishes(negatives, 4 - target, rng)
        if target:
            chosen.append(positives[int(rng.integers(len(positives)))])
        cells: list[np.ndarray | None] = [photo(s) for s in chosen]
        if i % 4 >= 2:  # three items and an empty cell
            cells = [*cells[-3:], None]  # the positive, if any, is last
        order = rng.permutation(4)
        trays.append(compose([cells[j] if j < len(cells) else None for j in order], size))
        targets.append(target)
    return np.stack(trays), np.array(targets, dtype=np.int64)


def region_probabilities(map_model: bytes, head: keras.Model, trays: np.ndarray) -> np.ndarray:
    """[trays, regions]: the head's P(present) in every region, as the Lambda computes it."""
    if not len(trays):
        return np.empty((0, 1))
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
    false_alarm: float = 0.02,
    layout: str = "canteen",
    positives: int = POSITIVE_TRAYS,
) -> dict[str, Any]:
    """The tray threshold (from the early-stopping split) and tray metrics (validation), on
    trays of `size` px (the backbone's tray input). `layout="grid"` calibrates the way it was
    done before the canteen trays (best balanced accuracy on 2 x 2 grids), for comparison."""
    if layout not in LAYOUTS:
        raise ValueError(f"tray layout {layout!r}: use one of {', '.join(LAYOUTS)}")
    if layout == "grid":
        calib_pixels, calib_targets = grid_trays(monitor, seed, positives, size)
    else:
        calib = canteen_trays(monitor, seed, positives, 2 * positives, (size, size))
        calib_pixels, calib_targets = calib.pixels, calib.targets
    if not len(calib_targets):
        log.warning("too few photos to calibrate a tray threshold; trays use the photo one")
        return {}
    calib_best = region_probabilities(map_model, head, calib_pixels).max(1)
    best_cut = choose_threshold(calib_targets, calib_best)
    threshold = best_cut
    if layout == "canteen":
        threshold = max(
            best_cut, threshold_for_false_alarms(calib_targets, calib_best, false_alarm)
        )
    measured = min(positives, VALIDATION_TRAYS)
    trays = canteen_trays(validation, seed + 1, measured, 2 * measured, (size, size))
    if not len(trays):
        log.warning("too few validation photos for tray metrics")
        return {"threshold": threshold, "size": size, "metrics": {}}
    probs = region_probabilities(map_model, head, trays.pixels)
    grid_pixels, grid_targets = grid_trays(validation, seed + 2, GRID_TRAYS, size)
    grid_best = region_probabilities(map_model, head, grid_pixels).max(1)
    return {
        "threshold": threshold,
        "regions": [r.name for r in regions(size // 32)],
        "size": size,
        "calibration": {
            "split": "early-stopping",
            "layout": layout,
            "trays": len(calib_targets),
            "false_alarm_target": false_alarm if layout == "canteen" else None,
            "best_balanced_cut": best_cut,
        },
        "metrics": _tray_scores(trays, probs.max(1), threshold, best_cut),
        "grid_metrics": _scores(grid_targets, grid_best, threshold) if len(grid_targets) else {},
        "whole_picture_metrics": _scores(trays.targets, probs[:, 0], None),
    }


def _tray_scores(
    trays: TraySet, best: np.ndarray, threshold: float, best_cut: float
) -> dict[str, Any]:
    """The usual scores, plus what the model card shows: false alarms on negative trays and on
    trays of other food alone, recall, and the recall the false-alarm target costs against the
    cut with the best balanced accuracy."""
    scores = _scores(trays.targets, best, threshold)
    positive = trays.targets == 1
    other = trays.only("other_food")
    scores["false_alarm_rate"] = float((best[~positive] >= threshold).mean())
    scores["other_food_false_alarm_rate"] = (
        float((best[other] >= threshold).mean()) if len(other) else None
    )
    scores["recall"] = float((best[positive] >= threshold).mean())
    scores["recall_at_best_balanced_cut"] = float((best[positive] >= best_cut).mean())
    return scores


def _scores(targets: np.ndarray, probs: np.ndarray, threshold: float | None) -> dict[str, Any]:
    if threshold is None:  # whole-picture scoring, at its own best cut, for comparison
        threshold = choose_threshold(targets, probs)
    return {
        "balanced_accuracy": float(skm.balanced_accuracy_score(targets, probs >= threshold)),
        "roc_auc": float(skm.roc_auc_score(targets, probs)),
        "n": len(targets),
        "threshold": threshold,
    }
