"""The promotion gate: good enough on its own, and no worse than what is live."""

from __future__ import annotations

import logging

import numpy as np

from training import tflite
from training.evaluate import probabilities
from traygo import layout
from traygo.errors import TraygoError
from traygo.registry import Registry

log = logging.getLogger(__name__)


def live_accuracy(
    registry: Registry, label: str, images: np.ndarray, targets: np.ndarray
) -> tuple[str | None, float | None]:
    """The live model's version and its accuracy on these images, scored with its own TFLite
    and threshold, so both models are graded on the same validation split."""
    pointer = registry.live(label)
    if pointer is None:
        return None, None
    meta = registry.metadata(label, pointer.version)
    try:
        model = registry.store.get_bytes(
            layout.artifact_key(label, pointer.version, "model.tflite")
        )
        probs = probabilities(tflite.run(model, images))
    except (TraygoError, ValueError, RuntimeError) as exc:
        # a live model that cannot be scored must not block a working replacement
        log.warning("live model %s/%s cannot be scored: %s", label, pointer.version, exc)
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
        reason = f"accuracy {accuracy:.3f} >= minimum {min_accuracy:.3f}{against}"
    return {
        "passed": passed,
        "reason": reason,
        "min_accuracy": min_accuracy,
        "accuracy": accuracy,
        "live_version": live_version,
        "live_accuracy": live_acc,
    }
