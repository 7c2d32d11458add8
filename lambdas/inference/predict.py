"""One image in, an answer per live label out."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from lambdas.inference.errors import ApiError, from_image_error
from lambdas.inference.models import LiveModels
from traygo.errors import ImageError
from traygo.images.preprocess import preprocess


def choose_labels(models: LiveModels, requested: list[str] | None) -> list[str]:
    live = models.labels()
    if not requested:
        if not live:
            raise ApiError(503, "no_live_model", "no model is live yet; train and promote one")
        return live
    unknown = [label for label in requested if label not in live]
    if unknown:
        raise ApiError(
            404,
            "unknown_label",
            f"no live model for {', '.join(unknown)}; live: {', '.join(live) or 'none'}",
        )
    return list(dict.fromkeys(requested))


def predict(
    models: LiveModels, image: bytes, labels: list[str] | None, max_pixels: int
) -> dict[str, Any]:
    timings: dict[str, float] = {}
    started = time.perf_counter()
    chosen = choose_labels(models, labels)
    entries = {label: models.get(label) for label in chosen}
    timings["models_ms"] = _ms(started)
    arrays: dict[tuple[int, int], np.ndarray] = {}
    predictions, unavailable = [], []
    for label, entry in entries.items():
        if entry.model is None:
            unavailable.append(
                {
                    "label": label,
                    "code": "model_unavailable",
                    "message": entry.problem or f"{label} has no live model",
                }
            )
            continue
        size = entry.model.size
        if size not in arrays:
            t = time.perf_counter()
            arrays[size] = _preprocess(image, size, max_pixels)
            timings["preprocess_ms"] = timings.get("preprocess_ms", 0.0) + _ms(t)
        t = time.perf_counter()
        probability = entry.model.probability(arrays[size])
        timings["invoke_ms"] = timings.get("invoke_ms", 0.0) + _ms(t)
        predictions.append(
            {
                "label": label,
                "present": probability >= entry.model.threshold,
                "probability": round(probability, 6),
                "threshold": entry.model.threshold,
                "model_version": entry.version,
            }
        )
    if not predictions:
        detail = "; ".join(u["message"] for u in unavailable)
        raise ApiError(503, "model_unavailable", f"no model could answer: {detail}")
    timings["total_ms"] = _ms(started)
    return {
        "predictions": predictions,
        "unavailable": unavailable,
        "timings_ms": {k: round(v, 3) for k, v in timings.items()},
    }


def _preprocess(image: bytes, size: tuple[int, int], max_pixels: int) -> np.ndarray:
    try:
        return preprocess(image, size, max_pixels)
    except ImageError as exc:
        raise from_image_error(exc) from None


def _ms(since: float) -> float:
    return (time.perf_counter() - since) * 1000
