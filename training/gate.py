"""The promotion gate: good enough on its own, and no worse than what is live."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from traygo import layout
from traygo.errors import TraygoError
from traygo.registry import Registry

log = logging.getLogger(__name__)


# Scores a live version on this run's validation split: (metadata, model.tflite) -> P(positive),
# or None when that version cannot be scored on it (another input size or backbone).
Scorer = Callable[[dict[str, Any], bytes], "np.ndarray | None"]


def live_accuracy(
    registry: Registry, label: str, targets: np.ndarray, score: Scorer
) -> tuple[str | None, float | None]:
    """The live model's version and its accuracy on the same validation split as the new one,
    with its own TFLite and threshold."""
    pointer = registry.live(label)
    if pointer is None:
        return None, None
    try:
        meta = registry.metadata(label, pointer.version)
        model = registry.store.get_bytes(
            layout.artifact_key(label, pointer.version, "model.tflite")
        )
        probs = score(meta, model)
    except (TraygoError, ValueError, RuntimeError) as exc:
        # a live model that cannot be scored must not block a working replacement
        log.warning("live model %s/%s cannot be scored: %s", label, pointer.version, exc)
        return pointer.version, None
    if probs is None:
        log.warning(
            "live model %s/%s takes other inputs (size or backbone); not compared",
            label,
            pointer.version,
        )
        return pointer.version, None
    threshold = float(meta.get("threshold", 0.5))
    return pointer.version, float(np.mean((probs >= threshold) == targets))


def decide(
    accuracy: float, min_accuracy: float, live_version: str | None, live_acc: float | None
) -> dict[str, object]:
    if accuracy < min_accuracy:
        reason = f"accuracy {accuracy:.3f} is below the minimum {min_accuracy:.3f}"
        passed = False
    elif live_acc is not None and accuracy < live_acc:
        reason = (
            f"accuracy {accuracy:.3f} is worse than the live {live_version} "
            f"({live_acc:.3f}) on the same validation split"
        )
        passed = False
    else:
        passed = True
        against = f", live {live_version} scores {live_acc:.3f}" if live_acc is not None else ""
        if live_version is not None and live_acc is None:
            against = f", live {live_version} could not be scored on this split"
        reason = f"accuracy {accuracy:.3f} >= minimum {min_accuracy:.3f}{against}"
    return {
        "passed": passed,
        "reason": reason,
        "min_accuracy": min_accuracy,
        "accuracy": accuracy,
        "live_version": live_version,
        "live_accuracy": live_acc,
    }
