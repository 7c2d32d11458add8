"""A trained version's metadata and artifacts, and publishing it (then promoting it when asked
and its gate passed): the same for every architecture."""

from __future__ import annotations

import json
import platform
import tempfile
from pathlib import Path
from typing import Any

import keras
import numpy as np

from training import dataset as ds
from training import parity, report
from training.request import TrainRequest, TrainResult
from traygo import layout
from traygo.images.preprocess import DEFAULT_SIZE, PREPROCESSING_ID
from traygo.registry import Registry, utcnow


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
