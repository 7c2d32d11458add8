"""Scores on held-out images and the decision threshold."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn import metrics as skm

from training.request import MIN_POOL_PHOTOS, Split


def probabilities(logits: np.ndarray) -> np.ndarray:
    """P(positive) from 2-class logits."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp: np.ndarray = np.exp(shifted)
    positive: np.ndarray = exp[:, 1] / exp.sum(axis=1)
    return positive


def choose_threshold(targets: np.ndarray, probs: np.ndarray) -> float:
    """The cut on P(positive) that maximises balanced accuracy on held-out data.

    Ties go to the cut nearest 0.5, so a model that separates cleanly keeps the plain argmax.
    """
    if len(np.unique(targets)) < 2:
        return 0.5
    candidates = np.unique(np.concatenate([[0.5], probs]))
    scores = [skm.balanced_accuracy_score(targets, probs >= c) for c in candidates]
    best = max(scores)
    ties = candidates[np.isclose(scores, best)]
    return float(ties[np.argmin(np.abs(ties - 0.5))])


def threshold_for_false_alarms(targets: np.ndarray, probs: np.ndarray, rate: float) -> float:
    """The lowest cut on P(positive) at which at most `rate` of the negatives score at or above
    it (at most floor(rate x negatives) of them): a stated false-alarm rate, held on this set."""
    negatives = np.sort(probs[targets == 0])[::-1]
    allowed = int(np.floor(rate * len(negatives) + 1e-9))
    if allowed >= len(negatives):
        return 0.0
    return float(min(np.nextafter(negatives[allowed], np.inf), 1.0))


def score(
    targets: np.ndarray, probs: np.ndarray, threshold: float, classes: tuple[str, str]
) -> dict[str, object]:
    predicted = (probs >= threshold).astype(int)
    precision, recall, f1, _ = skm.precision_recall_fscore_support(
        targets, predicted, labels=[0, 1], zero_division=0
    )
    has_both = len(np.unique(targets)) == 2
    return {
        "accuracy": float(skm.accuracy_score(targets, predicted)),
        "balanced_accuracy": float(skm.balanced_accuracy_score(targets, predicted))
        if has_both
        else None,
        "precision": {c: float(v) for c, v in zip(classes, precision, strict=True)},
        "recall": {c: float(v) for c, v in zip(classes, recall, strict=True)},
        "f1": {c: float(v) for c, v in zip(classes, f1, strict=True)},
        "roc_auc": float(skm.roc_auc_score(targets, probs)) if has_both else None,
        "confusion_matrix": skm.confusion_matrix(targets, predicted, labels=[0, 1]).tolist(),
        "threshold": threshold,
        "n": len(targets),
    }


def evaluate_model(
    model: Any,  # a keras.Model: predict() gives logits
    arrays: Split,
    classes: tuple[str, str],
    pool: np.ndarray | None = None,
    false_alarm: float = 0.02,
) -> dict[str, Any]:
    """The photo threshold from the early-stopping split, and scores on the validation split.

    `pool` marks the early-stopping photos from the background pool: when there are enough, the
    threshold also keeps false alarms on them within `false_alarm` (never below the cut with
    the best balanced accuracy), as the tray threshold does on trays."""
    monitor_probs = probabilities(model.predict(arrays.monitor[0], verbose=0))
    best_cut = choose_threshold(arrays.monitor[1], monitor_probs)
    threshold, calibration = best_cut, {"best_balanced_cut": best_cut, "pool_photos": 0}
    if pool is not None and pool.sum() >= MIN_POOL_PHOTOS:
        held = threshold_for_false_alarms(
            np.zeros(int(pool.sum()), np.int64), monitor_probs[pool], false_alarm
        )
        threshold = max(best_cut, held)
        calibration |= {"false_alarm_target": false_alarm, "pool_photos": int(pool.sum())}
    val_logits = model.predict(arrays.validation[0], verbose=0)
    val_probs = probabilities(val_logits)
    metrics = score(arrays.validation[1], val_probs, threshold, classes)
    return {
        "threshold": threshold,
        "threshold_calibration": calibration,
        "val_logits": val_logits,
        "val_probs": val_probs,
        "metrics": metrics,
    }
