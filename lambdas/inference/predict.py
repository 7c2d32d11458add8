"""One image in, an answer per live label out: one backbone pass feeds every label's head."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lambdas.inference.errors import ApiError, from_image_error
from lambdas.inference.interpreter import LoadedHead
from lambdas.inference.models import LiveModels
from traygo.errors import ImageError
from traygo.images.preprocess import preprocess

log = logging.getLogger(__name__)


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


@dataclass
class _Request:
    image: bytes
    max_pixels: int
    timings: dict[str, float] = field(default_factory=dict)
    arrays: dict[tuple[int, int], np.ndarray] = field(default_factory=dict)

    def pixels(self, size: tuple[int, int]) -> np.ndarray:
        """The shared preprocessing at `size`, done once per size."""
        if size not in self.arrays:
            with self.timed("preprocess_ms"):
                try:
                    self.arrays[size] = preprocess(self.image, size, self.max_pixels)
                except ImageError as exc:
                    raise from_image_error(exc) from None
        return self.arrays[size]

    def timed(self, name: str) -> _Timer:
        return _Timer(self.timings, name)


class _Timer:
    def __init__(self, timings: dict[str, float], name: str) -> None:
        self.timings, self.name = timings, name

    def __enter__(self) -> None:
        self.started = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        spent = (time.perf_counter() - self.started) * 1000
        self.timings[self.name] = self.timings.get(self.name, 0.0) + spent


def predict(
    models: LiveModels, image: bytes, labels: list[str] | None, max_pixels: int
) -> dict[str, Any]:
    started = time.perf_counter()
    request = _Request(image, max_pixels)
    with request.timed("models_ms"):
        chosen = choose_labels(models, labels)
        entries = {label: models.get(label) for label in chosen}
    predictions: list[dict[str, Any]] = []
    unavailable = [
        _unavailable(label, entry.code or "no_live_model", entry.problem)
        for label, entry in entries.items()
        if entry.model is None
    ]
    ready = {label: entry for label, entry in entries.items() if entry.model is not None}
    heads = {label: e for label, e in ready.items() if isinstance(e.model, LoadedHead)}
    backbone_version = None
    if heads:
        features, backbone_version, refused = _features(models, heads, request)
        unavailable += refused
        for label in heads.keys() - {u["label"] for u in refused}:
            model = heads[label].model
            with request.timed("heads_ms"):
                predictions.append(_answer(model, model.probability(features)))
    for label, entry in ready.items():
        if label not in heads:
            pixels = request.pixels(entry.model.size)
            with request.timed("invoke_ms"):
                predictions.append(_answer(entry.model, entry.model.probability(pixels)))
    if not predictions:
        detail = "; ".join(f"{u['label']}: {u['message']}" for u in unavailable)
        raise ApiError(503, "model_unavailable", f"no model could answer: {detail}")
    request.timings["total_ms"] = (time.perf_counter() - started) * 1000
    order = {label: i for i, label in enumerate(chosen)}
    return {
        "predictions": sorted(predictions, key=lambda p: order[p["label"]]),
        "unavailable": unavailable,
        "backbone_version": backbone_version,
        "timings_ms": {k: round(v, 3) for k, v in request.timings.items()},
    }


def _features(
    models: LiveModels, heads: dict[str, Any], request: _Request
) -> tuple[np.ndarray, str | None, list[dict[str, str]]]:
    """One backbone pass, and the heads it cannot serve (backbone missing or another one)."""
    backbone = models.backbone()
    if backbone.model is None:
        why = (
            f"the shared backbone {backbone.version} cannot serve: {backbone.problem}"
            if backbone.version
            else "no backbone is current in the store; run traygo backbone import"
        )
        return np.empty(0), None, [_unavailable(h, "backbone_unavailable", why) for h in heads]
    refused = []
    for label, entry in heads.items():
        if entry.model.backbone_version != backbone.version:
            log.error(
                "%s/%s was trained on backbone %s but %s is loaded: not scored",
                label,
                entry.version,
                entry.model.backbone_version,
                backbone.version,
            )
            message = (
                f"trained on backbone {entry.model.backbone_version}, but the service runs "
                f"{backbone.version}; retrain {label} on the current backbone"
            )
            refused.append(_unavailable(label, "backbone_mismatch", message))
    if len(refused) == len(heads):
        return np.empty(0), backbone.version, refused
    pixels = request.pixels(backbone.model.size)
    with request.timed("backbone_ms"):
        features = backbone.model.run(pixels)
    return features, backbone.version, refused


def _answer(model: Any, probability: float) -> dict[str, Any]:
    return {
        "label": model.label,
        "present": probability >= model.threshold,
        "probability": round(probability, 6),
        "threshold": model.threshold,
        "model_version": model.version,
    }


def _unavailable(label: str, code: str, message: str | None) -> dict[str, str]:
    return {"label": label, "code": code, "message": message or f"{label} has no live model"}
