"""One training run: dataset -> split -> fit -> evaluate -> export -> gate -> publish."""

from __future__ import annotations

import hashlib
import json
import logging
import platform
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np

from training import dataset as ds
from training import evaluate, gate, parity, report, tflite
from training.checkpoints import Checkpoints
from training.fit import fit
from training.prepared import prepare
from training.split import split
from training.store_sync import sync_background, sync_label
from traygo import labels as label_config
from traygo import layout
from traygo.errors import ConfigError
from traygo.images.preprocess import DEFAULT_SIZE, PREPROCESSING_ID
from traygo.registry import Registry, new_version, utcnow
from traygo.slug import slugify
from traygo.store import open_store

log = logging.getLogger(__name__)

MONITOR_FRACTION = 0.125  # of the training split: 10% of all images watch early stopping
MIN_POOL_PHOTOS = 20  # early-stopping pool photos needed to hold a photo false-alarm rate


@dataclass
class TrainRequest:
    label: str
    store: str
    cache: Path
    images: Path | list[Path] | None = None  # folders of class folders
    architecture: str = "backbone"
    epochs: int | None = None  # None: the architecture's own default
    seed: int = 1337
    quantization: str = "none"
    min_accuracy: float = 0.8
    promote: bool = False
    resume: bool = False
    run_id: str | None = None
    batch_job_id: str | None = None  # set under AWS Batch: names the run's checkpoints
    labels_file: str | None = None
    background: bool = True  # train against the background pool (store or --images root)
    false_alarm: float = 0.02  # thresholds hold this false-alarm rate: per tray, per pool photo
    tray_layout: str = "canteen"  # "grid": the 2x2 calibration trays before the pool (benches)
    callbacks: list[keras.callbacks.Callback] = field(default_factory=list)


@dataclass
class TrainResult:
    version: str
    metadata: dict[str, Any]
    where: str
    promoted: bool
    promotion_message: str


@dataclass
class Split:
    train: tuple[np.ndarray, np.ndarray]
    monitor: tuple[np.ndarray, np.ndarray]
    validation: tuple[np.ndarray, np.ndarray]


ARCHITECTURES = ("backbone", "scratch", "seed")
DEFAULT_EPOCHS = {"backbone": 300, "scratch": 40, "seed": 40}


def run(req: TrainRequest) -> TrainResult:
    if req.architecture not in ARCHITECTURES:
        raise ConfigError(
            f"--arch {req.architecture}: unknown; choose one of {', '.join(ARCHITECTURES)}"
        )
    if req.epochs is None:
        req.epochs = DEFAULT_EPOCHS[req.architecture]
    label = label_config.get_label(req.label, req.labels_file)
    registry = Registry(open_store(req.store))
    data = _dataset(req, label, registry)
    if req.architecture == "backbone":
        from training.head_job import train_head

        return train_head(req, label, registry, data)
    return _train_from_images(req, label, registry, data)


def labels_with_data(template: TrainRequest) -> list[str]:
    """Configured labels that have data: a folder named after the label under one of the
    --images roots, or scraped images for one of its positive queries in the store."""
    labels = label_config.load_labels(template.labels_file)
    if template.images is not None:
        roots = template.images if isinstance(template.images, list) else [template.images]
        return [name for name in labels if any((root / name).is_dir() for root in roots)]
    store = open_store(template.store)
    return [
        name
        for name, label in labels.items()
        if any(
            next(iter(store.list(layout.query_prefix(slugify(q)))), None) for q in label.positive
        )
    ]


def _train_from_images(
    req: TrainRequest, label: label_config.Label, registry: Registry, data: ds.Dataset
) -> TrainResult:
    """`seed` and `scratch`: a whole network on the prepared images."""
    assert req.epochs is not None
    arrays = _split_arrays(data, req)
    run_id = req.run_id or _run_id(req, data)
    checkpoints = Checkpoints(registry.store, label.name, run_id)
    fitted = fit(
        req.architecture,
        arrays.train,
        arrays.monitor,
        req.epochs,
        req.seed,
        checkpoints,
        req.resume,
        req.callbacks,
    )
    evaluation = evaluate_model(fitted.model, arrays, label.classes)
    model_bytes = tflite.convert(fitted.model, req.quantization, arrays.train[0][:200])
    checked = parity.check(
        model_bytes,
        evaluation["val_logits"],
        *arrays.validation,
        evaluation["threshold"],
        req.quantization,
    )
    live_version, live_acc = gate.live_accuracy(
        registry, label.name, arrays.validation[1], _image_scorer(arrays.validation[0])
    )
    decision = gate.decide(
        evaluation["metrics"]["accuracy"], req.min_accuracy, live_version, live_acc
    )
    meta = version_metadata(req, label.classes, data, fitted, evaluation, checked, decision)
    version = new_version(data.fingerprint + run_id)
    artifacts = report_artifacts(fitted, model_bytes, evaluation, arrays.validation, label.classes)
    result = publish(req, registry, label.name, version, artifacts, meta)
    checkpoints.clear()
    return result


def publish(
    req: TrainRequest,
    registry: Registry,
    label: str,
    version: str,
    artifacts: dict[str, bytes],
    meta: dict[str, Any],
) -> TrainResult:
    """Publish a version, then promote it when asked and its gate passed."""
    published = registry.publish(label, version, artifacts, meta)
    reason = meta["gate"]["reason"]
    promoted, message = False, f"not promoted (pass --promote to promote): {reason}"
    if req.promote:
        promoted, message = registry.promote_if_gate_passed(label, version)
    where = registry.store.url(layout.version_prefix(label, version))
    return TrainResult(version, published, where, promoted, message)


def _image_scorer(images: np.ndarray) -> gate.Scorer:
    """Scores a live whole-image model of our input size on the validation images."""

    def score(meta: dict[str, Any], model: bytes) -> np.ndarray | None:
        spec = meta["input"]
        if meta.get("backbone") or (spec["height"], spec["width"]) != DEFAULT_SIZE:
            return None
        return evaluate.probabilities(tflite.run(model, images))

    return score


def _dataset(req: TrainRequest, label: label_config.Label, registry: Registry) -> ds.Dataset:
    if req.images is not None:
        roots = req.images if isinstance(req.images, list) else [req.images]
        known = label_config.load_labels(req.labels_file)
        data = ds.from_folders(roots, label.classes, known, req.background)
        where = "--images " + " ".join(map(str, roots))
    else:
        files: dict[int, list[Path]] = dict(sync_label(registry.store, label, req.cache))
        if req.background:
            pool = label_config.load_background(req.labels_file)
            files[ds.BACKGROUND] = sync_background(registry.store, pool, req.cache)
        data = ds.collect(files, label.classes)
        where = f"{registry.store.uri} images for {label.name}"
    ds.check_usable(data, where)
    return data


def _split_arrays(data: ds.Dataset, req: TrainRequest) -> Split:
    everything = prepare(data.samples, req.cache, DEFAULT_SIZE)
    position = {s.sha256: i for i, s in enumerate(data.samples)}
    train, validation = split(data.samples, req.seed)
    fitting, monitor = split(train, req.seed + 1, MONITOR_FRACTION)

    def arrays(samples: list[ds.Sample]) -> tuple[np.ndarray, np.ndarray]:
        idx = [position[s.sha256] for s in samples]
        return everything[idx], np.array([s.target for s in samples], dtype=np.int64)

    log.info(
        "split: %d fit, %d early-stopping, %d validation",
        len(fitting),
        len(monitor),
        len(validation),
    )
    return Split(arrays(fitting), arrays(monitor), arrays(validation))


def evaluate_model(
    model: keras.Model,
    arrays: Split,
    classes: tuple[str, str],
    pool: np.ndarray | None = None,
    false_alarm: float = 0.02,
) -> dict[str, Any]:
    """The photo threshold from the early-stopping split, and scores on the validation split.

    `pool` marks the early-stopping photos from the background pool: when there are enough, the
    threshold also keeps false alarms on them within `false_alarm` (never below the cut with
    the best balanced accuracy), as the tray threshold does on trays."""
    monitor_probs = evaluate.probabilities(model.predict(arrays.monitor[0], verbose=0))
    best_cut = evaluate.choose_threshold(arrays.monitor[1], monitor_probs)
    threshold, calibration = best_cut, {"best_balanced_cut": best_cut, "pool_photos": 0}
    if pool is not None and pool.sum() >= MIN_POOL_PHOTOS:
        held = evaluate.threshold_for_false_alarms(
            np.zeros(int(pool.sum()), np.int64), monitor_probs[pool], false_alarm
        )
        threshold = max(best_cut, held)
        calibration |= {"false_alarm_target": false_alarm, "pool_photos": int(pool.sum())}
    val_logits = model.predict(arrays.validation[0], verbose=0)
    val_probs = evaluate.probabilities(val_logits)
    metrics = evaluate.score(arrays.validation[1], val_probs, threshold, classes)
    return {
        "threshold": threshold,
        "threshold_calibration": calibration,
        "val_logits": val_logits,
        "val_probs": val_probs,
        "metrics": metrics,
    }


def _run_id(req: TrainRequest, data: ds.Dataset) -> str:
    """The checkpoint name: a retried job must find its own checkpoints.

    AWS Batch keeps the job id (AWS_BATCH_JOB_ID, read by the CLI) across the retries of one
    job (a Spot reclaim included); elsewhere the same data and settings make the same run.
    """
    batch_job = (req.batch_job_id or "").strip()
    if batch_job:
        # "<uuid>" or "<uuid>:<index>" for array jobs; keep it a plain key segment
        return "batch-" + "".join(c if c.isalnum() or c in "-_" else "-" for c in batch_job)
    key = f"{data.fingerprint}:{req.architecture}:{req.epochs}:{req.seed}:{req.quantization}"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def version_metadata(
    req: TrainRequest,
    classes: tuple[str, str],
    data: ds.Dataset,
    fitted: Any,
    evaluation: dict[str, Any],
    checked: parity.Parity,
    decision: dict[str, object],
    size: tuple[int, int] = DEFAULT_SIZE,
) -> dict[str, Any]:
    height, width = size
    metrics = dict(evaluation["metrics"])
    threshold = metrics.pop("threshold")
    return {
        "created_at": utcnow().isoformat(),
        "classes": list(classes),
        "input": {
            "height": height,
            "width": width,
            "channels": 3,
            "dtype": "float32",
            "preprocessing": PREPROCESSING_ID,
            "range": [0, 255],
        },
        "output": {"kind": "logits", "positive_index": 1},
        "threshold": threshold,
        "threshold_calibration": evaluation.get("threshold_calibration", {}),
        "metrics": metrics,
        "dataset": data.summary(),
        "training": {
            "architecture": req.architecture,
            "epochs": fitted.epochs_run,
            "best_epoch": fitted.best_epoch + 1,
            "seconds": round(fitted.seconds, 1),
            "seed": req.seed,
            "parameters": int(fitted.model.count_params()),
            "library_versions": _library_versions(),
        },
        "parity": checked.to_json(),
        "quantization": req.quantization,
        "gate": decision,
    }


def report_artifacts(
    fitted: Any,
    model_bytes: bytes,
    evaluation: dict[str, Any],
    validation: tuple[np.ndarray, np.ndarray],
    classes: tuple[str, str],
) -> dict[str, bytes]:
    """model.tflite, model.keras and the report; `validation` holds the pictures themselves."""
    with tempfile.TemporaryDirectory() as tmp:
        keras_path = Path(tmp) / "model.keras"
        fitted.model.save(keras_path)
        keras_bytes = keras_path.read_bytes()
    metrics = evaluation["metrics"]
    return {
        "model.tflite": model_bytes,
        "model.keras": keras_bytes,
        "report/metrics.json": json.dumps(metrics, indent=2).encode(),
        "report/confusion_matrix.png": report.confusion_matrix_png(
            metrics["confusion_matrix"], classes
        ),
        "report/training_curves.png": report.training_curves_png(fitted.history),
        "report/worst_mistakes.png": report.worst_mistakes_png(
            validation[0], validation[1], evaluation["val_probs"], classes
        ),
    }


def _library_versions() -> dict[str, str]:
    import tensorflow as tf

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
    }
