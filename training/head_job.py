"""`--arch backbone`: a label's head on the shared pretrained backbone.

dataset -> backbone (imported on first use) -> cached features -> split -> head -> evaluate ->
export the head -> parity -> gate -> publish. The split, threshold, metrics, gate and metadata
are the ones every architecture uses; only what is fitted differs.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from training import dataset as ds
from training import evaluate, gate, head, parity, tflite, tray_calibration
from training.backbone import artifact
from training.features import BackboneRunner, FeatureCache, features_for
from training.job import (
    MONITOR_FRACTION,
    Split,
    TrainRequest,
    TrainResult,
    evaluate_model,
    publish,
    report_artifacts,
    version_metadata,
)
from training.split import split
from traygo import labels as label_config
from traygo.errors import ConfigError
from traygo.images.preprocess import preprocess
from traygo.registry import Registry, new_version

log = logging.getLogger(__name__)

REPORT_SIZE = (96, 96)  # thumbnails for the worst-mistakes sheet


def train_head(
    req: TrainRequest, label: label_config.Label, registry: Registry, data: ds.Dataset
) -> TrainResult:
    if req.quantization != "none":
        raise ConfigError("--quantize applies to --arch seed and scratch; a head stays float")
    assert req.epochs is not None
    backbone = artifact.ensure_current(registry.store)
    runner = BackboneRunner(registry.store, backbone)
    cache = FeatureCache(registry.store, runner.version, req.cache)
    features, stats = features_for(data.samples, cache, runner)
    samples = _split(data.samples, req.seed)
    arrays = _arrays(samples, data.samples, features)
    fitted = head.fit(arrays.train, arrays.monitor, req.epochs, req.seed)
    pool = np.array([s.background for s in samples["monitor"]], dtype=bool)
    evaluation = evaluate_model(fitted.model, arrays, label.classes, pool, req.false_alarm)
    head_bytes = tflite.convert(fitted.model, "none", arrays.train[0][:1])
    checked = parity.check(
        head_bytes, evaluation["val_logits"], *arrays.validation, evaluation["threshold"], "none"
    )
    scorer = _scorer(runner.version, arrays.validation[0], samples["validation"])
    live_version, live_acc = gate.live_accuracy(registry, label.name, arrays.validation[1], scorer)
    decision = gate.decide(
        evaluation["metrics"]["accuracy"], req.min_accuracy, live_version, live_acc
    )
    meta = version_metadata(
        req, label.classes, data, fitted, evaluation, checked, decision, runner.size
    )
    meta["backbone"] = _backbone_ref(backbone)
    meta["tray"] = _tray(registry, backbone, fitted.model, samples, req)
    meta["training"]["feature_cache"] = stats.to_json()
    meta["head"] = {"input": "backbone features", "layers": ["standardise", "dense"]}
    thumbs = np.stack([preprocess(s.path.read_bytes(), REPORT_SIZE) for s in samples["validation"]])
    artifacts = report_artifacts(
        fitted, head_bytes, evaluation, (thumbs, arrays.validation[1]), label.classes
    )
    version = new_version(f"{data.fingerprint}:{runner.version}:{req.seed}:{req.epochs}")
    return publish(req, registry, label.name, version, artifacts, meta)


def _split(samples: list[ds.Sample], seed: int) -> dict[str, list[ds.Sample]]:
    train, validation = split(samples, seed)
    fitting, monitor = split(train, seed + 1, MONITOR_FRACTION)
    log.info(
        "split: %d fit, %d early-stopping, %d validation",
        len(fitting),
        len(monitor),
        len(validation),
    )
    return {"train": fitting, "monitor": monitor, "validation": validation}


def _arrays(
    parts: dict[str, list[ds.Sample]], ordered: list[ds.Sample], features: np.ndarray
) -> Split:
    position = {s.sha256: i for i, s in enumerate(ordered)}

    def arrays(samples: list[ds.Sample]) -> tuple[np.ndarray, np.ndarray]:
        idx = [position[s.sha256] for s in samples]
        return features[idx], np.array([s.target for s in samples], dtype=np.int64)

    return Split(arrays(parts["train"]), arrays(parts["monitor"]), arrays(parts["validation"]))


def _tray(
    registry: Registry,
    backbone: dict[str, Any],
    model: Any,
    samples: dict[str, list[ds.Sample]],
    req: TrainRequest,
) -> dict[str, Any]:
    """The tray threshold and tray metrics, when the backbone has a tray feature map."""
    spec = backbone.get("tray")
    if not spec:
        return {}
    map_model = registry.store.get_bytes(backbone["artifacts"][spec["artifact"]]["key"])
    tray = tray_calibration.calibrate(
        map_model,
        model,
        samples["monitor"],
        samples["validation"],
        req.seed,
        int(spec["size"]),
        req.false_alarm,
        req.tray_layout,
    )
    if tray.get("metrics"):
        metrics = tray["metrics"]
        log.info(
            "trays: threshold %.3f, balanced accuracy %.3f, false alarms %.3f (other food "
            "alone %s), recall %.3f (%.3f at the best balanced cut)",
            tray["threshold"],
            metrics["balanced_accuracy"],
            metrics["false_alarm_rate"],
            metrics["other_food_false_alarm_rate"],
            metrics["recall"],
            metrics["recall_at_best_balanced_cut"],
        )
    return tray


def _backbone_ref(backbone: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": backbone["name"],
        "version": backbone["version"],
        "features": backbone["features"],
        "sha256": backbone["artifacts"]["backbone.tflite"]["sha256"],
    }


def _scorer(backbone_version: str, features: np.ndarray, samples: list[ds.Sample]) -> gate.Scorer:
    """Scores the live version on this split: a head on our backbone from the same features,
    a whole-image model from the pictures at its own input size."""

    def score(meta: dict[str, Any], model: bytes) -> np.ndarray | None:
        ref = meta.get("backbone")
        if ref:
            if ref.get("version") != backbone_version:
                return None
            return evaluate.probabilities(tflite.run(model, features))
        size = (int(meta["input"]["height"]), int(meta["input"]["width"]))
        images = np.stack([preprocess(s.path.read_bytes(), size) for s in samples])
        return evaluate.probabilities(tflite.run(model, images))

    return score
