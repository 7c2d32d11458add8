"""Publishing a backbone version: its Keras models converted for photos and for trays, each
checked against Keras, written once with metadata last (so a reader never follows a
half-written version). `traygo backbone import` and `traygo backbone tune` both publish here.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np

from training import tflite
from training.backbone import int8
from training.features import verified_artifact
from traygo import layout
from traygo.errors import BackboneError
from traygo.images.preprocess import PREPROCESSING_ID
from traygo.metadata import artifact_table
from traygo.registry import utcnow
from traygo.store import Store
from traygo.store.base import dump_json
from traygo.tray import tray_size

log = logging.getLogger(__name__)

PARITY_TOLERANCE = 2e-2  # max |keras - tflite| on features of order 1; float16 weights
PHOTO, TRAY = "backbone.tflite", "backbone_map.tflite"


@dataclass(frozen=True)
class Built:
    """A backbone in Keras: pooled features at `size`, and the tray feature map at twice it."""

    base: keras.Model
    size: int

    @property
    def tray(self) -> keras.Model:
        return map_model(self.base, tray_size(self.size))


def map_model(base: keras.Model, size: int) -> keras.Model:
    """`base` without its pooling, on `size` px: the same weights, the feature map out.

    A functional model keeps its input shape, so the trunk is cloned onto a new input."""
    trunk = keras.Model(base.input, base.get_layer("pool").input)
    pixels = keras.Input((size, size, 3), dtype="float32", name="pixels")
    tray = keras.models.clone_model(trunk, input_tensors=pixels)
    tray.set_weights(trunk.get_weights())
    return tray


def convert(
    built: Built, int8_pictures: tuple[np.ndarray, np.ndarray] | None
) -> tuple[dict[str, bytes], dict[str, float], dict[str, Any] | None]:
    """(artifacts, float16 parity, int8 report or None): float16 for photos and trays, each
    checked against Keras; with `int8_pictures` (calibrate on, check on), the int8 pair."""
    from training.backbone import efficientnet_lite

    tray_model = built.tray
    photo = efficientnet_lite.to_tflite(built.base, float16=True)
    parity = float_parity(built.base, photo, built.size)
    tray = efficientnet_lite.to_tflite(tray_model, float16=True)
    parity["tray_max_abs_diff"] = float_parity(tray_model, tray, tray_size(built.size), 2)[
        "max_abs_diff"
    ]
    artifacts = {PHOTO: photo, TRAY: tray, "backbone.keras": keras_bytes(built.base)}
    if int8_pictures is None:
        return artifacts, parity, None
    quantized, report = int8.variants(built.base, tray_model, int8_pictures, (photo, tray))
    return artifacts | quantized, parity, report


def publish(store: Store, version: str, artifacts: dict[str, bytes], meta: dict[str, Any]) -> None:
    """Write-once: every artifact, then the metadata that names them."""
    meta = meta | {
        "artifacts": artifact_table(artifacts, lambda name: layout.backbone_key(version, name))
    }
    for name, data in artifacts.items():
        store.put_new(layout.backbone_key(version, name), data)
    store.create_bytes(
        layout.backbone_key(version, "metadata.json"), dump_json(meta), "application/json"
    )
    log.info("backbone %s published (%d bytes TFLite)", version, len(artifacts[PHOTO]))


def describe(name: str, version: str, built: Built, features: int) -> dict[str, Any]:
    """The metadata every backbone version has; the caller adds source, recipe and parity."""
    size, tray = built.size, tray_size(built.size)
    return {
        "name": name,
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
        "features": features,
        "output": "pooled features after the last 1x1 conv, BN and ReLU6",
        "tray": {
            "artifact": TRAY,
            "size": tray,
            "grid": tray // 32,
            "output": "the feature map before pooling, [grid, grid, features]",
        },
    }


def float_parity(model: Any, tflite_bytes: bytes, size: int, images: int = 6) -> dict[str, float]:
    """Keras and the served TFLite must compute the same features on picture-like input."""
    batch = picture_like(size, images)
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


def picture_like(size: int, images: int, seed: int = 0) -> np.ndarray:
    """A third pure noise, the rest smooth blotches (closer to photos' statistics)."""
    rng = np.random.default_rng(seed)
    smooth = rng.uniform(0, 255, (images, size // 8, size // 8, 3)).repeat(8, 1).repeat(8, 2)
    noise = rng.uniform(0, 255, (images, size, size, 3))
    return np.concatenate([noise[: images // 3], smooth[images // 3 :]]).astype(np.float32)


def load_keras(store: Store, meta: dict[str, Any]) -> keras.Model:
    """A published version's `backbone.keras`, checked against its recorded sha256."""
    data = verified_artifact(store, meta, "backbone.keras")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "backbone.keras"
        path.write_bytes(data)
        return keras.models.load_model(path)


def keras_bytes(model: Any) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "backbone.keras"
        model.save(path)
        return path.read_bytes()
