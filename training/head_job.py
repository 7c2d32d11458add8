"""`--arch backbone`: a label's head on the shared pretrained backbone.

dataset -> backbone (imported on first use) -> cached features -> split -> head -> evaluate ->
export the head -> parity -> gate -> publish. The split, threshold, metrics, gate and metadata
are the ones every architecture uses; only what is fitted differs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from training import dataset as ds
from training import evaluate, feedback_fit, gate, head, parity, tflite, tray_calibration
from training.backbone import artifact
from training.evaluate import evaluate_model
from training.features import BackboneRunner, FeatureCache, features_for
from training.publishing import publish, report_artifacts, version_metadata
from training.request import MONITOR_FRACTION, Split, TrainRequest, TrainResult
from training.split import split
from traygo import backbones
from traygo import labels as label_config
from traygo.errors import ConfigError
from traygo.images.preprocess import preprocess
from traygo.registry import Registry, new_version

log = logging.getLogger(__name__)

REPORT_SIZE = (96, 96)  # thumbnails for the worst-mistakes sheet


def train_head(
    req: TrainRequest,
    label: label_config.Label,
    registry: Registry,
    data: ds.Dataset,
    corrections: list[ds.Sample] | None = None,
) -> TrainResult:
    """`corrections`: the label's feedback samples (training/feedback_data.py), if any."""
    if req.quantization != "none":
        raise ConfigError("--quantize applies to --arch seed and scratch; a head stays float")
    assert req.epochs is not None
    backbone = (
        backbones.metadata(registry.store, req.backbone)
        if req.backbone
        else artifact.ensure_current(registry.store)
    )
    runner = BackboneRunner(registry.store, backbone)
    cache = FeatureCache(registry.store, runner.version, req.cache)
    features, stats = features_for(data.samples, cache, runner)
    samples = _split(data.samples, req.seed)
    arrays = _arrays(samples, data.samples, features)
    fb = _corrections(req, registry, backbone, runner, cache, corrections or [], data)
    fitted = _fit(req, arrays, fb)
    pool = np.array([s.background for s in samples["monitor"]], dtype=bool)
    evaluation = evaluate_model(fitted.model, arrays, label.classes, pool, req.false_alarm)
    head_bytes = tflite.convert(fitted.model, "none", arrays.train[0][:1])
    checked = parity.check(
        head_bytes, evaluation["val_logits"], *arrays.validation, evaluation["threshold"], "none"
    )
    scorer = _scorer(registry, req, runner.version, arrays.validation[0], samples["validation"])
    live_version, live_acc = gate.live_accuracy(registry, label.name, arrays.validation[1], scorer)
    decision = gate.decide(
        evaluation["metrics"]["accuracy"], req.min_accuracy, live_version, live_acc
    )
    meta = version_metadata(
        req, label.classes, data, fitted, evaluation, checked, decision, runner.size
    )
    meta["backbone"] = _backbone_ref(backbone)
    meta["tray"] = _tray(registry, backbone, fitted.model, samples, req)
    if fb is not None:
        meta["feedback"] = _assess(fb, fitted.model, meta, registry, label.name, req)
    meta["training"]["feature_cache"] = stats.to_json()
    meta["head"] = {"input": "backbone features", "layers": ["standardise", "dense"]}
    thumbs = np.stack([preprocess(s.path.read_bytes(), REPORT_SIZE) for s in samples["validation"]])
    artifacts = report_artifacts(
        fitted, head_bytes, evaluation, (thumbs, arrays.validation[1]), label.classes
    )
    fed = f":{fb.fingerprint}" if fb is not None else ""
    version = new_version(f"{data.fingerprint}:{runner.version}:{req.seed}:{req.epochs}{fed}")
    return publish(req, registry, label.name, version, artifacts, meta)


def _corrections(
    req: TrainRequest,
    registry: Registry,
    backbone: dict[str, Any],
    runner: BackboneRunner,
    cache: FeatureCache,
    samples: list[ds.Sample],
    data: ds.Dataset,
) -> feedback_fit.Corrections | None:
    """The label's corrections, split and featurised; None without any (or a tray map)."""
    web = {s.sha256 for s in data.samples}
    samples = [s for s in samples if s.sha256 not in web]  # a web picture stays a web picture
    if not samples:
        return None
    if not backbone.get("tray"):
        log.warning("backbone %s has no tray map: feedback is not used", runner.version)
        return None
    regions = feedback_fit.RegionRunner(registry.store, backbone)
    region_cache = FeatureCache(registry.store, runner.version, req.cache, feedback_fit.REGION_VIEW)
    return feedback_fit.prepare(
        samples, (cache, runner), (region_cache, regions), req.feedback_weight
    )


def _fit(req: TrainRequest, arrays: Split, fb: feedback_fit.Corrections | None) -> Any:
    """The head on web pictures and the corrections' rows; a corrected picture's positive
    region is chosen by a first head fitted without those positives."""
    assert req.epochs is not None
    if fb is None:
        return head.fit(arrays.train, arrays.monitor, req.epochs, req.seed)
    pick = None
    if fb.has_positive("train"):
        first = _fit_with(req, arrays, fb.training_rows(None))
        pick = feedback_fit.region_picker(first.model)
    return _fit_with(req, arrays, fb.training_rows(pick))


def _fit_with(
    req: TrainRequest, arrays: Split, rows: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> Any:
    assert req.epochs is not None
    x, y, w = rows
    train = (np.concatenate([arrays.train[0], x]), np.concatenate([arrays.train[1], y]))
    weights = np.concatenate([np.ones(len(arrays.train[1]), np.float32), w])
    return head.fit(train, arrays.monitor, req.epochs, req.seed, weights)


def _assess(
    fb: feedback_fit.Corrections,
    model: Any,
    meta: dict[str, Any],
    registry: Registry,
    label: str,
    req: TrainRequest,
) -> dict[str, Any]:
    """Recalibrate the tray cut on real trays when enough, score the held-out corrections in
    tray mode against the live head, and let them veto the promotion."""
    monitor, monitor_targets = fb.block("monitor")
    feedback_fit.recalibrate(
        meta["tray"], feedback_fit.best_region(model, monitor), monitor_targets, req.false_alarm
    )
    threshold = float(meta["tray"].get("threshold") or meta["threshold"])
    feats, targets = fb.block("validation")
    new = feedback_fit.scores(feedback_fit.best_region(model, feats), targets, threshold)
    live_version, live = feedback_fit.live_scores(
        registry, label, meta["backbone"]["version"], feats, targets, _regions_on(registry, fb)
    )
    feedback_fit.gate(meta["gate"], new, live)
    log.info("feedback: held-out corrections %s (live %s: %s)", new, live_version, live)
    return {
        "weight": fb.weight,
        "counts": {part: len(items) for part, items in fb.parts.items()},
        "present": sum(s.target for items in fb.parts.values() for s in items),
        "validation": new,
        "live_validation": live,
    }


def _regions_on(registry: Registry, fb: feedback_fit.Corrections) -> Callable[[str], np.ndarray]:
    """The held-out corrections' tray regions on another backbone (the live head's, during a
    switch), in the order of fb.block("validation")."""

    def regions_on(version: str) -> np.ndarray:
        meta = backbones.metadata(registry.store, version)
        paths = [s.path for s in fb.parts["validation"]]
        return feedback_fit.RegionRunner(registry.store, meta).run(paths)

    return regions_on


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


def _scorer(
    registry: Registry,
    req: TrainRequest,
    backbone_version: str,
    features: np.ndarray,
    samples: list[ds.Sample],
) -> gate.Scorer:
    """Scores the live version on this split: a head on our backbone from the same features, a
    head on another backbone from that backbone's features of the same photos (so moving a label
    to a new backbone is gated like any retrain), a whole-image model from the pictures at its
    own input size."""

    def score(meta: dict[str, Any], model: bytes) -> np.ndarray | None:
        ref = meta.get("backbone")
        if ref:
            theirs = ref.get("version")
            feats = features if theirs == backbone_version else _features_on(theirs)
            return evaluate.probabilities(tflite.run(model, feats))
        size = (int(meta["input"]["height"]), int(meta["input"]["width"]))
        images = np.stack([preprocess(s.path.read_bytes(), size) for s in samples])
        return evaluate.probabilities(tflite.run(model, images))

    def _features_on(version: str) -> np.ndarray:
        meta = backbones.metadata(registry.store, version)  # RegistryError: not compared
        runner = BackboneRunner(registry.store, meta)
        cache = FeatureCache(registry.store, version, req.cache)
        log.info("gate: the live head runs on backbone %s; scoring it on its own", version)
        return features_for(samples, cache, runner)[0]

    return score
