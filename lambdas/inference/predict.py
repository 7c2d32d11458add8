"""One image in, an answer per live label out: one backbone pass feeds every label's head."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lambdas.inference.errors import ApiError, from_image_error
from lambdas.inference.interpreter import LoadedHead
from lambdas.inference.models import MAX_BACKBONES, LiveModels
from traygo.errors import ImageError
from traygo.images.preprocess import (
    Letterbox,
    preprocess,
    preprocess_letterbox,
    preprocess_tray,
)
from traygo.tray import FULL, Region, in_picture, pooled, regions

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
    trays: dict[tuple[int, int], np.ndarray] = field(default_factory=dict)
    letterboxes: dict[tuple[int, int], Letterbox] = field(default_factory=dict)

    def pixels(self, size: tuple[int, int]) -> np.ndarray:
        """The shared preprocessing at `size` (stretched), done once per size."""
        if size not in self.arrays:
            with self.timed("preprocess_ms"), _image_errors():
                self.arrays[size] = preprocess(self.image, size, self.max_pixels)
        return self.arrays[size]

    def tray(self, side: int, stride: int) -> np.ndarray:
        """The picture on its own aspect ratio at about side x side pixels (tray mode)."""
        if (side, stride) not in self.trays:
            with self.timed("preprocess_ms"), _image_errors():
                fitted = preprocess_tray(self.image, side, stride, self.max_pixels)
                self.trays[side, stride] = fitted
        return self.trays[side, stride]

    def letterbox(self, size: tuple[int, int]) -> Letterbox:
        """The picture fitted into `size` unsquashed (tray mode), done once per size."""
        if size not in self.letterboxes:
            with self.timed("preprocess_ms"), _image_errors():
                self.letterboxes[size] = preprocess_letterbox(self.image, size, self.max_pixels)
        return self.letterboxes[size]

    @contextmanager
    def timed(self, name: str) -> Iterator[None]:
        """Adds the block's milliseconds to timings[name]."""
        started = time.perf_counter()
        try:
            yield
        finally:
            spent = (time.perf_counter() - started) * 1000
            self.timings[name] = self.timings.get(name, 0.0) + spent


@contextmanager
def _image_errors() -> Iterator[None]:
    try:
        yield
    except ImageError as exc:
        raise from_image_error(exc) from None


MODES = ("tray", "photo")
WHOLE = Region("whole", slice(None), slice(None), FULL)
# How tray mode gives the picture to the backbone's map pass: "aspect" on its own aspect ratio
# at about the square's pixel count (measured best on 4:3 and 16:9 trays, docs/training.md);
# "pad" letterboxes it into the square (boxes mapped back into the picture); "stretch" squashes
# it (the old way). The last two are kept for benchmarks: not an API parameter;
# predict(tray_fit=...) overrides it per call.
TRAY_FITS = ("aspect", "pad", "stretch")
TRAY_FIT = "aspect"


def predict(
    models: LiveModels,
    image: bytes,
    labels: list[str] | None,
    max_pixels: int,
    mode: str = "tray",
    tray_fit: str | None = None,
) -> dict[str, Any]:
    """`tray`: every label in every region of the picture, present if any region says so (one
    backbone pass at about the tray size, on the picture's aspect ratio). `photo`: the whole
    picture as one dish (one pass at the training size). `tray_fit`: see TRAY_FIT."""
    if mode not in MODES:
        raise ApiError(400, "bad_mode", f"mode={mode!r}: use one of {', '.join(MODES)}")
    fit = tray_fit or TRAY_FIT
    if fit not in TRAY_FITS:
        raise ValueError(f"tray_fit={fit!r}: use one of {', '.join(TRAY_FITS)}")
    started = time.perf_counter()
    request = _Request(image, max_pixels)
    with request.timed("models_ms"):
        chosen = choose_labels(models, labels)
        entries = {label: models.get(label) for label in chosen}
    unavailable = [
        _unavailable(label, entry.code or "no_live_model", entry.problem)
        for label, entry in entries.items()
        if entry.model is None
    ]
    ready = {label: entry for label, entry in entries.items() if entry.model is not None}
    heads = {label: e for label, e in ready.items() if isinstance(e.model, LoadedHead)}
    predictions: list[dict[str, Any]] = []
    backbone_version = None
    if heads:
        scored, backbone_version, refused = _score_heads(models, heads, request, mode, fit)
        predictions += scored
        unavailable += refused
    for label, entry in ready.items():
        if label not in heads:  # a whole-image model (seed, scratch): its own pass, whole only
            pixels = request.pixels(entry.model.size)
            with request.timed("invoke_ms"):
                probability = entry.model.probability(pixels)
            predictions.append(_answer(entry.model, probability, entry.model.threshold, WHOLE))
    if not predictions:
        detail = "; ".join(f"{u['label']}: {u['message']}" for u in unavailable)
        raise ApiError(503, "model_unavailable", f"no model could answer: {detail}")
    request.timings["total_ms"] = (time.perf_counter() - started) * 1000
    order = {label: i for i, label in enumerate(chosen)}
    return {
        "mode": mode,
        "predictions": sorted(predictions, key=lambda p: order[p["label"]]),
        "unavailable": unavailable,
        "backbone_version": backbone_version,
        "timings_ms": {k: round(v, 3) for k, v in request.timings.items()},
    }


def _score_heads(
    models: LiveModels, heads: dict[str, Any], request: _Request, mode: str, fit: str
) -> tuple[list[dict[str, Any]], str | None, list[dict[str, str]]]:
    """Every head on its own backbone's features: one pass per backbone in use (at most
    MAX_BACKBONES), then each of its heads on the features, per region in tray mode. Returns
    the answers, the backbone named in the answer (the current one when it served, else the
    first that did), and the heads that could not be scored."""
    current = models.backbone().version
    served, refused = _within_limit(heads, current)
    answers: list[dict[str, Any]] = []
    used: list[str] = []
    for version, group in served.items():
        backbone = models.backbone_for(version)
        if backbone.model is None:
            why = f"its backbone {version} cannot serve: {backbone.problem}"
            refused += [_unavailable(h, "backbone_unavailable", why) for h in group]
            continue
        answers += _score_on(backbone.model, group, request, mode, fit)
        used.append(version)
    named = current if current in used else (used[0] if used else current)
    return answers, named, refused


def _within_limit(
    heads: dict[str, Any], current: str | None
) -> tuple[dict[str, dict[str, Any]], list[dict[str, str]]]:
    """Heads grouped by the backbone they were trained on; at most MAX_BACKBONES groups are
    served: the current backbone's first, then those with the most heads (then by version
    name, so every request chooses alike). Heads on any other backbone are refused with
    `backbone_limit`."""
    groups: dict[str, dict[str, Any]] = {}
    for label, entry in heads.items():
        groups.setdefault(entry.model.backbone_version, {})[label] = entry.model
    order = sorted(groups, key=lambda v: (v != current, -len(groups[v]), v))
    kept = order[:MAX_BACKBONES]
    refused = []
    for version in order[MAX_BACKBONES:]:
        for label in groups[version]:
            log.error("%s is on backbone %s: over the limit of %d", label, version, MAX_BACKBONES)
            message = (
                f"trained on backbone {version}, but the service runs at most "
                f"{MAX_BACKBONES} backbones at once ({', '.join(kept)}); retrain {label} on "
                f"{current or kept[0]}"
            )
            refused.append(_unavailable(label, "backbone_limit", message))
    return {v: groups[v] for v in kept}, refused


def _score_on(
    model: Any, heads: dict[str, Any], request: _Request, mode: str, fit: str
) -> list[dict[str, Any]]:
    """One backbone pass, then every head of `heads` on its features."""
    if mode == "tray" and model.has_tray:
        pixels, content = _tray_pixels(request, model, fit)
        with request.timed("backbone_ms"):
            feature_map = model.run_map(pixels)
        where = regions(feature_map.shape[:2])
        features = pooled(feature_map, where)
        where = in_picture(where, content)  # boxes: fractions of the client's picture
    else:
        pixels = request.pixels(model.size)
        with request.timed("backbone_ms"):
            features = model.run(pixels)[None]
        where = [WHOLE]
    answers = []
    with request.timed("heads_ms"):
        for head in heads.values():
            probs = [head.probability(f) for f in features]
            best = int(np.argmax(probs))
            threshold = head.tray_threshold if len(where) > 1 else head.threshold
            answers.append(_answer(head, probs[best], threshold, where[best]))
    return answers


def _tray_pixels(
    request: _Request, model: Any, fit: str
) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """The tray picture for the map pass, and where the client's picture sits in it."""
    size = model.tray_size
    if fit == "aspect":
        return request.tray(size[0], model.tray_stride), FULL
    if fit == "pad":
        fitted = request.letterbox(size)
        return fitted.pixels, fitted.box
    return request.pixels(size), FULL


def _answer(model: Any, probability: float, threshold: float, region: Region) -> dict[str, Any]:
    return {
        "label": model.label,
        "present": probability >= threshold,
        "probability": round(probability, 6),
        "threshold": threshold,
        "model_version": model.version,
        "backbone_version": getattr(model, "backbone_version", None),
        "region": {"name": region.name, "box": [round(v, 4) for v in region.box]},
    }


def _unavailable(label: str, code: str, message: str | None) -> dict[str, str]:
    return {"label": label, "code": code, "message": message or f"{label} has no live model"}
