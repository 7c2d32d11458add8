"""A label's corrections in its head: training rows, held-out scores, the gate, the tray cut.

A correction is a real canteen picture, so it trains the way it is served. Its whole picture
(the photo-mode view) is a sample with its truth. In tray mode every region of it is scored and
the best region counts: so an absent label is a negative in every region, and a present label a
positive in the region the head (fitted first without these positives) rates highest, since the
truth does not say where the item is. Every correction row weighs `weight` web pictures.

Corrections are split by group, so near-identical camera frames stay on one side, and each
group keeps its side as more arrive (`stable_split`): the fitting part trains, the
early-stopping part can recalibrate the tray threshold, and the validation part is scored in
tray mode for the model card and the promotion gate, against the live head on the same pictures.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np

from training import evaluate, tflite
from training.dataset import Sample
from training.features import FeatureCache, features_for, verified_artifact
from traygo import backbones, layout
from traygo.errors import TraygoError
from traygo.images.preprocess import preprocess_tray
from traygo.registry import Registry
from traygo.store import Store
from traygo.tray import pooled, regions

log = logging.getLogger(__name__)

REGION_VIEW = "regions"  # feature cache view: [regions, features] per picture, tray mode
# The tray threshold comes from real trays once the early-stopping part holds this many
# pictures without the label: a 2% false-alarm target is one false alarm in 50, so fewer
# cannot tell the target from twice it. Below it, the synthetic trays calibrate as before.
MIN_REAL_TRAYS = 50
MIN_REAL_POSITIVES = 10  # ... and the best-balanced-cut floor needs this many with it
# Held-out corrections before they may veto a promotion: on fewer, one picture is 10 points and
# the veto would follow noise. Below it the scores are recorded, not used.
MIN_GATE_CORRECTIONS = 10
# Parts of ten, by group: 2 validation, 1 early-stopping, 7 fitting, as for web pictures.
VALIDATION_TENTHS, MONITOR_TENTHS = 2, 1


class RegionRunner:
    """The backbone's map model on each picture at its own aspect ratio, pooled into the
    regions tray mode scores: exactly what the Lambda computes for a tray."""

    def __init__(self, store: Store, meta: dict[str, Any]) -> None:
        self.model = verified_artifact(store, meta, meta["tray"]["artifact"])
        self.version: str = meta["version"]
        self.side = int(meta["tray"]["size"])
        self.stride = backbones.tray_stride(meta)

    def run(self, paths: list[Path]) -> np.ndarray:
        pictures = [preprocess_tray(p.read_bytes(), self.side, self.stride) for p in paths]
        maps = tflite.run_maps(self.model, pictures)
        return np.stack([pooled(m, regions(m.shape[:2])) for m in maps])


@dataclass
class Corrections:
    """One label's corrections, split, with their photo and region features by sha256."""

    parts: dict[str, list[Sample]]
    photos: dict[str, np.ndarray]
    regions: dict[str, np.ndarray]
    weight: float

    @property
    def fingerprint(self) -> str:
        digest = hashlib.sha256(f"{self.weight}".encode())
        for sha, target in sorted((s.sha256, s.target) for p in self.parts.values() for s in p):
            digest.update(f"{sha}:{target}\n".encode())
        return digest.hexdigest()

    def has_positive(self, part: str) -> bool:
        return any(s.target == 1 for s in self.parts[part])

    def block(self, part: str) -> tuple[np.ndarray, np.ndarray]:
        """[pictures, regions, features] and targets of a part."""
        chosen = self.parts[part]
        if not chosen:
            return np.empty((0, 0, 0), np.float32), np.empty(0, np.int64)
        feats = np.stack([self.regions[s.sha256] for s in chosen])
        return feats, np.array([s.target for s in chosen], dtype=np.int64)

    def training_rows(
        self, pick: Callable[[np.ndarray], int] | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Rows, targets and weights from the fitting part; `pick` chooses a positive's region
        (None: positives give only their whole-picture photo row)."""
        rows: list[np.ndarray] = []
        targets: list[int] = []
        for s in self.parts["train"]:
            found = self.regions[s.sha256]
            if s.target == 0:
                chosen = np.concatenate([self.photos[s.sha256][None], found])
            elif pick is not None:
                chosen = np.stack([self.photos[s.sha256], found[pick(found)]])
            else:
                chosen = self.photos[s.sha256][None]
            rows.append(chosen)
            targets += [s.target] * len(chosen)
        if not rows:  # every correction held out: no rows, but the web rows' width
            width = len(next(iter(self.photos.values())))
            return np.empty((0, width), np.float32), np.empty(0, np.int64), np.empty(0, np.float32)
        y = np.array(targets, dtype=np.int64)
        return np.concatenate(rows), y, np.full(len(y), self.weight, np.float32)


def prepare(
    samples: list[Sample],
    photo: tuple[FeatureCache, Any],
    region: tuple[FeatureCache, RegionRunner],
    weight: float,
) -> Corrections:
    """Split the corrections and compute (or reuse) their features."""
    parts = stable_split(samples)
    fitting, monitor, validation = parts["train"], parts["monitor"], parts["validation"]
    photo_feats, _ = features_for(samples, *photo)
    region_feats, _ = features_for(samples, *region)
    log.info(
        "feedback: %d corrections (%d present), %d fit, %d early-stopping, %d validation",
        len(samples),
        sum(s.target for s in samples),
        len(fitting),
        len(monitor),
        len(validation),
    )
    return Corrections(
        parts,
        {s.sha256: f for s, f in zip(samples, photo_feats, strict=True)},
        {s.sha256: f for s, f in zip(samples, region_feats, strict=True)},
        weight,
    )


def stable_split(samples: list[Sample]) -> dict[str, list[Sample]]:
    """Each group's part from its number alone (a hash of its first picture), so a correction
    keeps its side as more arrive: one the live head trained on is never held out to judge the
    next head against it. Near-identical frames share a group, so they share a side."""
    parts: dict[str, list[Sample]] = {"train": [], "monitor": [], "validation": []}
    for sample in samples:
        tenth = sample.group % 10
        part = (
            "validation"
            if tenth < VALIDATION_TENTHS
            else "monitor"
            if tenth < VALIDATION_TENTHS + MONITOR_TENTHS
            else "train"
        )
        parts[part].append(sample)
    return parts


def region_picker(model: keras.Model) -> Callable[[np.ndarray], int]:
    def pick(found: np.ndarray) -> int:
        return int(np.argmax(evaluate.probabilities(model.predict(found, verbose=0))))

    return pick


def best_region(model: keras.Model, feats: np.ndarray) -> np.ndarray:
    """[pictures]: the head's P(present) in each picture's best region."""
    if not len(feats):
        return np.empty(0)
    logits = model.predict(feats.reshape(-1, feats.shape[-1]), verbose=0)
    best: np.ndarray = evaluate.probabilities(logits).reshape(feats.shape[:2]).max(1)
    return best


def recalibrate(tray: dict[str, Any], probs: np.ndarray, targets: np.ndarray, rate: float) -> None:
    """Take the tray threshold from real trays (the early-stopping part) when there are enough
    (MIN_REAL_TRAYS); record either way what was done."""
    absent, present = int((targets == 0).sum()), int((targets == 1).sum())
    real: dict[str, Any] = {"absent": absent, "present": present, "min_absent": MIN_REAL_TRAYS}
    real["used"] = bool(tray) and absent >= MIN_REAL_TRAYS
    if real["used"]:
        held = evaluate.threshold_for_false_alarms(targets, probs, rate)
        floor = evaluate.choose_threshold(targets, probs) if present >= MIN_REAL_POSITIVES else 0.0
        real["synthetic_threshold"] = tray["threshold"]
        tray["threshold"] = max(held, floor)
        log.info("tray threshold %.3f from %d real trays", tray["threshold"], absent + present)
    if tray:
        tray.setdefault("calibration", {})["real_trays"] = real


def scores(probs: np.ndarray, targets: np.ndarray, threshold: float) -> dict[str, Any]:
    """Tray-mode scores on corrections: either class may be missing."""
    said = probs >= threshold
    absent, present = targets == 0, targets == 1
    out: dict[str, Any] = {
        "n": len(targets),
        "present": int(present.sum()),
        "absent": int(absent.sum()),
        "accuracy": float((said == present).mean()) if len(targets) else None,
        "false_alarm_rate": float(said[absent].mean()) if absent.any() else None,
        "recall": float(said[present].mean()) if present.any() else None,
        "threshold": threshold,
    }
    both = out["false_alarm_rate"] is not None and out["recall"] is not None
    out["balanced_accuracy"] = (out["recall"] + 1 - out["false_alarm_rate"]) / 2 if both else None
    return out


def live_scores(
    registry: Registry,
    label: str,
    backbone: str,
    feats: np.ndarray,
    targets: np.ndarray,
    regions_on: Callable[[str], np.ndarray],
) -> tuple[str | None, dict[str, Any] | None]:
    """The live head's tray-mode scores on the same held-out corrections, on its own backbone's
    regions (`regions_on(version)`) when that is not `backbone`; None when it cannot be
    scored."""
    pointer = registry.live(label)
    if pointer is None or not len(targets):
        return (pointer.version if pointer else None), None
    try:
        meta = registry.metadata(label, pointer.version)
        own = (meta.get("backbone") or {}).get("version")
        if not own:
            return pointer.version, None  # a whole-image model: no regions to score
        if own != backbone:
            feats = regions_on(own)
        model = registry.store.get_bytes(
            layout.artifact_key(label, pointer.version, "model.tflite")
        )
        logits = tflite.run(model, feats.reshape(-1, feats.shape[-1]))
    except (TraygoError, ValueError, RuntimeError) as exc:
        log.warning("live %s/%s cannot be scored on feedback: %s", label, pointer.version, exc)
        return pointer.version, None
    probs = evaluate.probabilities(logits).reshape(feats.shape[:2]).max(1)
    threshold = float((meta.get("tray") or {}).get("threshold") or meta["threshold"])
    return pointer.version, scores(probs, targets, threshold)


def gate(decision: dict[str, Any], new: dict[str, Any], live: dict[str, Any] | None) -> None:
    """A head that does worse than the live one on the canteen's own held-out pictures is not
    promoted, whatever it scores on web pictures (given MIN_GATE_CORRECTIONS of them)."""
    decision["feedback"] = {
        "accuracy": new["accuracy"],
        "live_accuracy": (live or {}).get("accuracy"),
        "n": new["n"],
        "min_n": MIN_GATE_CORRECTIONS,
    }
    if live is None or new["accuracy"] is None or live["accuracy"] is None:
        return
    if new["n"] < MIN_GATE_CORRECTIONS:
        decision["reason"] += f"; {new['n']} held-out corrections: too few to compare"
    elif new["accuracy"] < live["accuracy"]:
        decision["passed"] = False
        decision["reason"] = (
            f"worse on the canteen's own pictures: accuracy {new['accuracy']:.3f} on "
            f"{new['n']} held-out corrections, the live {decision.get('live_version')} scores "
            f"{live['accuracy']:.3f}"
        )
    else:
        decision["reason"] += (
            f"; on {new['n']} held-out corrections {new['accuracy']:.3f} >= live "
            f"{live['accuracy']:.3f}"
        )
