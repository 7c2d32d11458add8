"""`traygo backbone tune`: fine-tune the current backbone on food and publish it as a new
version, with its provenance, its parity and a held-out report.

Data: the store's scraped labels and background pool, or --images folders (tune_data.py).
Fit: the last stages as a classifier over those classes, checkpointed every epoch (tune_fit.py).
Publish: float16 photo and tray models checked against Keras, and the int8 pair calibrated on
the training food and checked against float16 (publish.py, int8.py). Report: on the held-out
split, a quick head per label on the parent's features, the tuned float16's and the tuned
int8's (tune_report.py); int8 is marked served only when no label loses over half a point.

The version is a function of the parent, the data and the recipe, so a rerun (a retried Batch
job) finds it published and only moves `current`. `current` moves only with --make-current and
only when the tuned backbone beats its parent on held-out balanced accuracy.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from training import tflite
from training.backbone import artifact, int8, publish, tune_data, tune_fit, tune_report
from training.checkpoints import Checkpoints
from training.features import verified_artifact
from training.fit import Fitted
from traygo import __version__, backbones, layout
from traygo.errors import TraygoError
from traygo.labels import load_labels
from traygo.store import Store, open_store

log = logging.getLogger(__name__)

RECIPE = "tune-v1"  # bump when tuning or its conversion changes what a version computes
DEFAULT_MAX_PER_CLASS = 600
CHECK_PICTURES = 96  # held-out food the int8 parity is measured on


class NotBetter(TraygoError):
    """The tuned backbone is published but does not beat its parent: `current` stays."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="not_better")


@dataclass
class TuneRequest:
    store: str
    cache: Path
    images: list[Path] | None = None
    labels_file: str | Path | None = None
    recipe: tune_fit.Recipe = field(default_factory=tune_fit.Recipe)
    max_per_class: int = DEFAULT_MAX_PER_CLASS
    background: bool = False  # tune on the background pool too (tune_data.py says why not)
    int8: bool = True
    make_current: bool = False
    resume: bool = False
    run_id: str | None = None  # the checkpoints' name; None: the version


@dataclass(frozen=True)
class TuneResult:
    metadata: dict[str, Any]
    current: bool
    created: bool  # False: this version was published before (a rerun)

    @property
    def version(self) -> str:
        return str(self.metadata["version"])


def run(req: TuneRequest) -> TuneResult:
    store = open_store(req.store)
    data = _data(req, store)  # before the parent: bad input fails fast, before any import
    parent = artifact.ensure_current(store)
    version = _version(parent, data, req)
    created = not backbones.exists(store, version)
    if created:
        _tune_and_publish(req, store, parent, data, version)
    else:
        log.info("backbone %s is already published: not tuning again", version)
    meta = backbones.metadata(store, version)
    return TuneResult(meta, _make_current(store, meta, req.make_current), created)


def _data(req: TuneRequest, store: Store) -> tune_data.TuneData:
    labels = list(load_labels(req.labels_file))
    if req.images:
        files = tune_data.from_folders(req.images, labels, req.background)
        sources = [str(p) for p in req.images]
    else:
        files = tune_data.from_store(store, req.cache, req.labels_file, req.background)
        sources = [store.uri]
    return tune_data.gather(files, labels, req.max_per_class, sources)


def _version(parent: dict[str, Any], data: tune_data.TuneData, req: TuneRequest) -> str:
    seed = f"{parent['version']}:{data.dataset.fingerprint}:{req.recipe.digest}:int8={req.int8}"
    digest = hashlib.sha256(seed.encode()).hexdigest()
    return backbones.version_id(
        f"{parent['name']}-tuned", parent["input"]["height"], digest, RECIPE
    )


def _tune_and_publish(
    req: TuneRequest, store: Store, parent: dict[str, Any], data: tune_data.TuneData, version: str
) -> None:
    size = int(parent["input"]["height"])
    _log_memory(data, size)
    pixels = {name: tune_data.pixels(s, size, name) for name, s in data.splits.items()}
    targets = {name: data.classes_of(s) for name, s in data.splits.items()}
    checkpoints = Checkpoints(store, layout.backbone_checkpoint_prefix(req.run_id or version))
    tuned, fitted = tune_fit.fine_tune(
        publish.load_keras(store, parent),
        (pixels["train"], targets["train"]),
        (pixels["monitor"], targets["monitor"]),
        len(data.dataset.classes),
        req.recipe,
        checkpoints,
        req.resume,
    )
    built = publish.Built(tuned, size)
    calibration = _calibration(pixels) if req.int8 else None
    artifacts, parity, int8_report = publish.convert(built, calibration)
    report = _report(store, parent, data, artifacts, pixels, targets)
    meta = publish.describe(parent["name"], version, built, int(parent["features"])) | {
        "source": _source(parent),
        "recipe": RECIPE,
        "parity": parity,
        "provenance": _provenance(parent, data, req, fitted),
        "metrics": report["metrics"],
    }
    if int8_report is not None:
        meta["int8"] = int8_report | _int8_decision(int8_report, report)
    publish.publish(store, version, artifacts, meta)
    checkpoints.clear()


def _int8_decision(int8_report: dict[str, Any], report: dict[str, Any]) -> dict[str, Any]:
    if int8_report["problem"]:
        return {"served": False, "why": f"not published: {int8_report['problem']}"}
    return tune_report.int8_decision(report["tuned"], report["tuned_int8"])


def _log_memory(data: tune_data.TuneData, size: int) -> None:
    count = sum(len(s) for s in data.splits.values())
    log.info(
        "holding %d pictures at %d px in memory: %.0f MiB (at most --max-per-class per class)",
        count,
        size,
        count * size * size * 3 / 2**20,
    )


def _calibration(pixels: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(calibrate on, check on): training food, and held-out food it never saw."""
    rng = np.random.default_rng(0)
    train, test = pixels["train"], pixels["test"]
    picked = rng.choice(len(train), min(len(train), int8.CALIBRATION_PICTURES), replace=False)
    checked = rng.choice(len(test), min(len(test), CHECK_PICTURES), replace=False)
    return train[np.sort(picked)].astype(np.float32), test[np.sort(checked)].astype(np.float32)


def _report(
    store: Store,
    parent: dict[str, Any],
    data: tune_data.TuneData,
    artifacts: dict[str, bytes],
    pixels: dict[str, np.ndarray],
    targets: dict[str, np.ndarray],
) -> dict[str, Any]:
    """Held-out scores per label of the parent, the tuned float16 and the tuned int8."""
    classes, labels = data.dataset.classes, data.labels or data.dataset.classes
    parent_model = verified_artifact(store, parent, "backbone.tflite")
    out: dict[str, Any] = {}
    for name, model in (("parent", parent_model), ("tuned", artifacts[publish.PHOTO])):
        log.info("scoring the %s backbone on the held-out split", name)
        feats = {split: tflite.run_features(model, px) for split, px in pixels.items()}
        heads = tune_report.fit_heads(classes, labels, feats, targets)
        out[name] = tune_report.score(heads, classes, feats["test"], targets["test"])
        if name == "tuned" and int8.PHOTO in artifacts:
            quant = tflite.run_features(artifacts[int8.PHOTO], pixels["test"])
            out["tuned_int8"] = tune_report.score(heads, classes, quant, targets["test"])
    out["metrics"] = {
        "held_out": {"parent": out["parent"], "tuned": out["tuned"]},
        "mean_balanced_accuracy": {
            "parent": tune_report.mean_of(out["parent"]),
            "tuned": tune_report.mean_of(out["tuned"]),
        },
        "test_pictures": len(targets["test"]),
    }
    return out


def _source(parent: dict[str, Any]) -> dict[str, Any]:
    keras_artifact = parent["artifacts"]["backbone.keras"]
    return {
        "package": "traygo backbone tune",
        "package_version": __version__,
        "file": keras_artifact["key"],
        "sha256": keras_artifact["sha256"],
        "license": parent["source"]["license"],
    }


def _provenance(
    parent: dict[str, Any], data: tune_data.TuneData, req: TuneRequest, fitted: Fitted
) -> dict[str, Any]:
    return {
        "parent": parent["version"],
        "data": data.dataset.summary()
        | {
            "splits": {name: len(s) for name, s in data.splits.items()},
            "sources": list(data.sources),
            "max_per_class": req.max_per_class,
            "background": req.background,
        },
        "recipe": req.recipe.to_json(),
        "fit": {
            "epochs_run": fitted.epochs_run,
            "best_epoch": fitted.best_epoch,
            "seconds": round(fitted.seconds, 1),
            "history": fitted.history,
        },
    }


def _make_current(store: Store, meta: dict[str, Any], wanted: bool) -> bool:
    means = meta.get("metrics", {}).get("mean_balanced_accuracy", {})
    better = bool(means.get("tuned", float("nan")) >= means.get("parent", float("nan")))
    if not wanted:
        return bool(backbones.current_version(store) == meta["version"])
    if not better:
        raise NotBetter(
            f"backbone {meta['version']} is published but not made current: held-out balanced "
            f"accuracy {means.get('tuned', float('nan')):.3f} against its parent's "
            f"{means.get('parent', float('nan')):.3f}; see its metadata.json"
        )
    if backbones.current_version(store) != meta["version"]:
        backbones.set_current(store, meta["version"])
        log.info("backbone %s is current", meta["version"])
    return True
