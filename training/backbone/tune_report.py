"""How a backbone serves the labels: a quick head per label on its features, scored on the
held-out split. Tuning compares the parent with the tuned backbone this way (is it better?),
and the tuned float16 with the tuned int8 (may int8 serve?).

The heads are logistic regressions on standardised pooled features, like `make bench-tray`'s:
the product's heads are trained later, by `traygo train`, on the published backbone. Each is fit
on the float16 features and kept for the int8 ones, since served heads are trained on float16
features too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn import metrics as skm
from sklearn.linear_model import LogisticRegression

INT8_TOLERANCE = 0.005  # balanced accuracy an int8 backbone may lose on any label and serve
THRESHOLD_STEPS = 200


@dataclass(frozen=True)
class Head:
    model: LogisticRegression
    mean: np.ndarray
    std: np.ndarray
    threshold: float

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        scores: np.ndarray = self.model.predict_proba((features - self.mean) / self.std)[:, 1]
        return scores


def label_targets(
    classes: tuple[str, ...], label: str, targets: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(usable, positive) per picture for `label`: not_X counts as a negative for X only."""
    names = np.array(classes)[targets]
    negatives_of_others = np.char.startswith(names, "not_") & (names != f"not_{label}")
    return ~negatives_of_others, names == label


def _both_classes(truth: np.ndarray) -> bool:
    return bool(truth.any() and not truth.all())


def fit_heads(
    classes: tuple[str, ...],
    labels: tuple[str, ...],
    features: dict[str, np.ndarray],
    targets: dict[str, np.ndarray],
) -> dict[str, Head]:
    """A head per label, fit on `train`, its threshold the best balanced accuracy on `monitor`."""
    heads = {}
    for label in labels:
        usable, positive = label_targets(classes, label, targets["train"])
        if not _both_classes(positive[usable]):
            continue  # one class only: nothing to learn
        x = features["train"][usable]
        mean, std = x.mean(0), x.std(0) + 1e-6
        model = LogisticRegression(C=1 / (0.1 * len(x)), class_weight="balanced", max_iter=3000)
        model.fit((x - mean) / std, positive[usable].astype(int))
        head = Head(model, mean, std, 0.5)
        heads[label] = Head(model, mean, std, _threshold(head, classes, label, features, targets))
    return heads


def _threshold(
    head: Head,
    classes: tuple[str, ...],
    label: str,
    features: dict[str, np.ndarray],
    targets: dict[str, np.ndarray],
) -> float:
    usable, positive = label_targets(classes, label, targets["monitor"])
    scores = head.probabilities(features["monitor"][usable])
    if not _both_classes(positive[usable]):
        return 0.5
    cuts = np.quantile(scores, np.linspace(0.005, 0.995, THRESHOLD_STEPS))
    return float(
        max(cuts, key=lambda t: skm.balanced_accuracy_score(positive[usable], scores >= t))
    )


def score(
    heads: dict[str, Head], classes: tuple[str, ...], features: np.ndarray, targets: np.ndarray
) -> dict[str, dict[str, float]]:
    """Per label, balanced accuracy and ROC AUC on held-out `features`."""
    out = {}
    for label, head in heads.items():
        usable, positive = label_targets(classes, label, targets)
        if not _both_classes(positive[usable]):
            continue
        p = head.probabilities(features[usable])
        out[label] = {
            "balanced_accuracy": float(
                skm.balanced_accuracy_score(positive[usable], p >= head.threshold)
            ),
            "roc_auc": float(skm.roc_auc_score(positive[usable], p)),
            "n": int(usable.sum()),
        }
    return out


def mean_of(scores: dict[str, dict[str, float]], key: str = "balanced_accuracy") -> float:
    return float(np.mean([s[key] for s in scores.values()])) if scores else float("nan")


def int8_decision(
    float16: dict[str, dict[str, float]], int8: dict[str, dict[str, float]]
) -> dict[str, Any]:
    """Served when no label's balanced accuracy drops more than INT8_TOLERANCE."""
    losses = {
        label: float16[label]["balanced_accuracy"] - int8[label]["balanced_accuracy"]
        for label in float16
    }
    worst = max(losses, key=lambda k: losses[k]) if losses else None
    served = bool(losses) and losses[worst or ""] <= INT8_TOLERANCE
    why = (
        "no label was scored"
        if worst is None
        else f"{worst} loses {losses[worst]:.2%} balanced accuracy on int8 "
        f"({'within' if served else 'over'} {INT8_TOLERANCE:.1%})"
    )
    return {
        "served": served,
        "why": why,
        "tolerance": INT8_TOLERANCE,
        "balanced_accuracy": {"float16": float16, "int8": int8},  # per label, heads on float16
    }
