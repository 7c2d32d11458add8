"""`traygo backbone import`: checkpoint -> Keras -> TFLite, checked, published to the store.

The version is a function of the checkpoint's bytes, the input size and the conversion recipe,
so importing again (a second job, `make run` on a laptop) writes the same keys, and an import
that finds its version complete only moves `current`.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from traygo import backbones, layout
from traygo.errors import BackboneError
from traygo.images.preprocess import PREPROCESSING_ID
from traygo.metadata import artifact_table
from traygo.registry import utcnow
from traygo.store import Store
from traygo.store.base import dump_json
from traygo.tray import tray_size

log = logging.getLogger(__name__)

NAME = "efficientnet-lite0"
LICENSE = "Apache-2.0"
# Bump when the Keras rebuild or the TFLite conversion changes what the artifact computes.
RECIPE = "keras-tflite-float16-v2"  # v2: adds the tray feature map model
PARITY_TOLERANCE = 2e-2  # max |keras - tflite| on features of order 1; float16 weights
DEFAULT_SIZE = 224


@dataclass(frozen=True)
class Source:
    path: Path
    package: str
    package_version: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def find_source(path: Path | None = None, package: str | None = None) -> Source:
    from training.backbone import efficientnet_lite

    if path is not None:
        if not path.is_file():
            raise BackboneError(f"--from {path}: no such file")
        return Source(path, "file", "-")
    name = package or efficientnet_lite.SOURCE_PACKAGE
    if name != efficientnet_lite.SOURCE_PACKAGE:
        raise BackboneError(
            f"--package {name}: only {efficientnet_lite.SOURCE_PACKAGE} is supported; "
            "pass a checkpoint file with --from PATH"
        )
    try:
        checkpoint = efficientnet_lite.package_checkpoint()
    except FileNotFoundError as exc:
        raise BackboneError(str(exc)) from None
    return Source(checkpoint, name, importlib.metadata.version(name))


def import_backbone(
    store: Store, source: Source, size: int = DEFAULT_SIZE, make_current: bool = True
) -> dict[str, Any]:
    """Publish the backbone built from `source` (once) and return its metadata."""
    if size % 32 or size < 32:
        raise BackboneError(f"--size {size}: must be a multiple of 32 (the network's stride)")
    version = backbones.version_id(NAME, size, source.sha256, RECIPE)
    if not backbones.exists(store, version):
        _publish(store, version, source, size)
    else:
        log.info("backbone %s is already in %s", version, store.uri)
    if make_current and backbones.current_version(store) != version:
        backbones.set_current(store, version)
        log.info("backbone %s is current", version)
    return backbones.metadata(store, version)


def ensure_current(store: Store) -> dict[str, Any]:
    """The current backbone's metadata, importing it from the installed package on first use."""
    version = backbones.current_version(store)
    if version is not None:
        return backbones.metadata(store, version)
    log.info("no backbone in %s yet: importing %s from its package", store.uri, NAME)
    return import_backbone(store, find_source())


def _publish(store: Store, version: str, source: Source, size: int) -> None:
    artifacts, parity = _convert(source, size)
    meta = _metadata(version, source, size, parity, artifacts)
    for name, data in artifacts.items():
        store.put_new(layout.backbone_key(version, name), data)
    # last, so a reader never follows a half-written version; write-once like the rest
    meta_key = layout.backbone_key(version, "metadata.json")
    store.create_bytes(meta_key, dump_json(meta), "application/json")
    log.info("backbone %s published (%d bytes TFLite)", version, len(artifacts["backbone.tflite"]))


def _convert(source: Source, size: int) -> tuple[dict[str, bytes], dict[str, float]]:
    """The checkpoint rebuilt in Keras, converted for photos and for trays, each checked."""
    from training.backbone import efficientnet_lite, torch_legacy

    log.info("importing %s from %s at %d px", NAME, source.path, size)
    try:
        state = torch_legacy.load_state_dict(source.path)
        model = efficientnet_lite.build(state, size)
    except ValueError as exc:
        raise BackboneError(f"{source.path}: {exc}") from None
    tflite_bytes = efficientnet_lite.to_tflite(model, float16=True)
    parity = _parity(model, tflite_bytes, size)
    tray_model = efficientnet_lite.build(state, tray_size(size), pooled=False)
    tray_bytes = efficientnet_lite.to_tflite(tray_model, float16=True)
    tray_parity = _parity(tray_model, tray_bytes, tray_size(size), images=2)
    parity["tray_max_abs_diff"] = tray_parity["max_abs_diff"]
    artifacts = {
        "backbone.tflite": tflite_bytes,
        "backbone_map.tflite": tray_bytes,
        "backbone.keras": _keras_bytes(model),
    }
    return artifacts, parity


def _metadata(
    version: str,
    source: Source,
    size: int,
    parity: dict[str, float],
    artifacts: dict[str, bytes],
) -> dict[str, Any]:
    from training.backbone import efficientnet_lite

    return {
        "name": NAME,
        "version": version,
        "created_at": utcnow().isoformat(),
        "input": {
            "height": size,
            "width": size,
            "channels": 3,
            "dtype": "float32",
            "preprocessing": PREPROCESSING_ID,
            "range": [0, 255],
        },
        "features": efficientnet_lite.FEATURES,
        "output": "pooled features after the last 1x1 conv, BN and ReLU6",
        "tray": {
            "artifact": "backbone_map.tflite",
            "size": tray_size(size),
            "grid": tray_size(size) // 32,
            "output": "the feature map before pooling, [grid, grid, features]",
        },
        "source": {
            "package": source.package,
            "package_version": source.package_version,
            "file": source.path.name,
            "sha256": source.sha256,
            "license": LICENSE,
        },
        "recipe": RECIPE,
        "parity": parity,
        "artifacts": artifact_table(artifacts, lambda name: layout.backbone_key(version, name)),
    }


def _parity(model: Any, tflite_bytes: bytes, size: int, images: int = 6) -> dict[str, float]:
    """Keras and the served TFLite must compute the same features on picture-like input."""
    from training import tflite

    rng = np.random.default_rng(0)
    smooth = rng.uniform(0, 255, (images, size // 8, size // 8, 3)).repeat(8, 1).repeat(8, 2)
    noise = rng.uniform(0, 255, (images, size, size, 3))
    batch = np.concatenate([noise[: images // 3], smooth[images // 3 :]]).astype(np.float32)
    keras_out = model.predict(batch, verbose=0)
    lite_out = tflite.run_features(tflite_bytes, batch)
    diff = float(np.max(np.abs(keras_out - lite_out)))
    scale = float(np.max(np.abs(keras_out)))
    if not diff <= PARITY_TOLERANCE * max(scale, 1.0):  # NaN fails too
        raise BackboneError(
            f"the TFLite backbone differs from Keras by {diff:.3g} (features up to {scale:.3g}); "
            "not publishing"
        )
    return {"max_abs_diff": diff, "max_abs_feature": scale, "images": len(batch)}


def _keras_bytes(model: Any) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "backbone.keras"
        model.save(path)
        return path.read_bytes()
