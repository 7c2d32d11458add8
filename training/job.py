"""One training run: dataset -> split -> fit -> evaluate -> export -> gate -> publish.

The entry point of every architecture: it gathers the data, then hands a head to
training/head_job.py or trains a whole network here. What both use (the request, evaluation,
publishing) lives in modules neither owns (training/request.py, evaluate.py, publishing.py).
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

import numpy as np

from training import dataset as ds
from training import evaluate, feedback_data, gate, parity, tflite
from training.checkpoints import Checkpoints
from training.evaluate import evaluate_model
from training.fit import fit
from training.head_job import train_head
from training.prepared import prepare
from training.publishing import publish, report_artifacts, version_metadata
from training.request import (
    ARCHITECTURES,
    DEFAULT_EPOCHS,
    MONITOR_FRACTION,
    Split,
    TrainRequest,
    TrainResult,
)
from training.split import split
from training.store_sync import sync_background, sync_label
from traygo import labels as label_config
from traygo import layout
from traygo.errors import ConfigError
from traygo.images.preprocess import DEFAULT_SIZE
from traygo.registry import Registry, new_version
from traygo.slug import slugify
from traygo.store import Store, open_store

__all__ = ["TrainRequest", "TrainResult", "corrections_for", "has_new_feedback", "run"]

log = logging.getLogger(__name__)


def run(req: TrainRequest) -> TrainResult:
    if req.architecture not in ARCHITECTURES:
        raise ConfigError(
            f"--arch {req.architecture}: unknown; choose one of {', '.join(ARCHITECTURES)}"
        )
    if req.backbone and req.architecture != "backbone":
        raise ConfigError(f"--backbone applies to --arch backbone, not {req.architecture}")
    if req.epochs is None:
        req.epochs = DEFAULT_EPOCHS[req.architecture]
    label = label_config.get_label(req.label, req.labels_file)
    registry = Registry(open_store(req.store))
    data = _dataset(req, label, registry)
    if req.architecture == "backbone":
        corrections = feedback_data.samples_for(corrections_for(req, registry.store), label.name)
        return train_head(req, label, registry, data, corrections)
    if req.feedback:
        log.info(
            "--arch %s trains on web pictures only; feedback needs --arch backbone",
            req.architecture,
        )
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


def corrections_for(req: TrainRequest, store: Store) -> list[feedback_data.Correction]:
    """The canteen's corrections: the store's, and any folder among --images that `traygo
    feedback export` wrote (the same picture in both counts once)."""
    if not req.feedback:
        return []
    roots = req.images if isinstance(req.images, list) else [req.images] if req.images else []
    exported = [
        c
        for root in roots
        if feedback_data.is_export(root)
        for c in feedback_data.from_export(root)
    ]
    stored = feedback_data.from_store(store, req.cache)
    return feedback_data.grouped(feedback_data.latest(stored + exported)) if exported else stored


def has_new_feedback(template: TrainRequest, label: str) -> bool:
    """Whether a correction about `label` arrived after its live version was trained (or it has
    no live version yet). Reads the records only, never the pictures."""
    from datetime import datetime

    from traygo import feedback

    registry = Registry(open_store(template.store))
    pointer = registry.live(label)
    if pointer is None:
        return True
    trained_at = datetime.fromisoformat(registry.metadata(label, pointer.version)["created_at"])
    records = feedback.read_records(registry.store).items
    return any(r.received_at > trained_at for r in records if r.truth.target(label) is not None)


def _train_from_images(
    req: TrainRequest, label: label_config.Label, registry: Registry, data: ds.Dataset
) -> TrainResult:
    """`seed` and `scratch`: a whole network on the prepared images."""
    assert req.epochs is not None
    arrays = _split_arrays(data, req)
    run_id = req.run_id or _run_id(req, data)
    checkpoints = Checkpoints(registry.store, layout.checkpoint_prefix(label.name, run_id))
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
        roots = [r for r in roots if not feedback_data.is_export(r)]  # corrections_for's
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
