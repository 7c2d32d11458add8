"""The int8 backbone: full-integer quantization calibrated on food pictures, checked against the
float16 one it sits beside.

Weights and activations are int8 inside (XNNPACK's integer kernels); input and output stay
float32, so the handler feeds it the same pixels and heads read the same kind of features. It is
served only when its parity holds here and the heads on it keep their balanced accuracy
(training/backbone/tune_report.py decides that and records it as `int8.served`).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from training import tflite
from traygo.tray import pooled, regions

log = logging.getLogger(__name__)

PHOTO, TRAY = "backbone_int8.tflite", "backbone_map_int8.tflite"
# Per picture, the cosine between int8 and float16 features. Measured at 224 px calibrated on
# 64 food photos: ImageNet Lite0 0.991 mean, 0.973 worst of 60 held-out food photos; tuned on
# food, 0.995 / 0.944 and 0.993 / 0.893 of 96 (two tunings: single pictures stray, the mean
# holds). A broken conversion (ranges from the wrong pictures) is far below both bounds; whether
# a sound int8 pair may serve is the heads' accuracy (tune_report.py).
MIN_MEAN_COSINE = 0.98
MIN_COSINE = 0.85
CALIBRATION_PICTURES = 64  # TFLite's guidance is ~100; 64 already pins the ranges here
TRAY_CALIBRATION_PICTURES = 16  # tray inputs are 4x the pixels; ranges come from the same food


def quantize(model: keras.Model, calibration: np.ndarray) -> bytes:
    """`model` as a full-integer TFLite model with float32 input and output."""

    def samples() -> Iterator[list[np.ndarray]]:
        for picture in calibration:
            yield [picture[None].astype(np.float32)]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = samples
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    with warnings.catch_warnings():
        # The float32 input and output are kept on purpose (the handler feeds every backbone
        # the same pixels): the converter warns that they have no quantization statistics.
        warnings.filterwarnings("ignore", "Statistics for quantized inputs", UserWarning)
        return tflite.quiet_convert(converter)


def variants(
    base: keras.Model,
    tray: keras.Model,
    pictures: tuple[np.ndarray, np.ndarray],
    floats: tuple[bytes, bytes],
) -> tuple[dict[str, bytes], dict[str, Any]]:
    """The int8 photo and tray models, calibrated on `pictures[0]`, and their parity against
    the float16 pair (`floats`) on `pictures[1]` (pictures calibration never saw). When they do
    not compute the same features, no models: the report says why (`problem`), and the
    float16 pair is published alone."""
    calibration, checked = pictures
    factor = int(tray.input.shape[1]) // int(base.input.shape[1])
    photos = calibration[:CALIBRATION_PICTURES]
    log.info("int8: calibrating on %d pictures", len(photos))
    photo = quantize(base, photos)
    tray_bytes = quantize(tray, upscale(calibration[:TRAY_CALIBRATION_PICTURES], factor))
    parity = check(floats[0], photo, checked)
    tray_parity = check(floats[1], tray_bytes, upscale(checked[:8], factor), served_regions)
    report: dict[str, Any] = {
        "artifacts": {"photo": PHOTO, "tray": TRAY},
        "calibration": {"pictures": len(photos), "tray_pictures": TRAY_CALIBRATION_PICTURES},
        "parity": parity,
        "tray_parity": tray_parity,
    }
    found = [problem(parity), problem(tray_parity)]
    report["problem"] = "; ".join(p for p in found if p) or None
    if report["problem"]:
        log.warning("int8 not published: %s", report["problem"])
        return {}, report | {"artifacts": {}}
    return {PHOTO: photo, TRAY: tray_bytes}, report


def check(
    float_bytes: bytes,
    int8_bytes: bytes,
    inputs: np.ndarray,
    served: Callable[[np.ndarray], np.ndarray] | None = None,
) -> dict[str, float]:
    """Cosine of int8 and float16 outputs per input, on what the heads are served: a photo's
    pooled features; a tray's feature map pooled into tray mode's regions (`served`)."""
    full, quant = (tflite.run_features(m, inputs) for m in (float_bytes, int8_bytes))
    if served is not None:
        full, quant = (np.stack([served(one) for one in out]) for out in (full, quant))
    full, quant = full.reshape(len(inputs), -1), quant.reshape(len(inputs), -1)
    cosine = np.sum(full * quant, 1) / np.maximum(
        np.linalg.norm(full, axis=1) * np.linalg.norm(quant, axis=1), 1e-12
    )
    diff = full - quant
    return {
        "cosine_mean": float(np.mean(cosine)),
        "cosine_min": float(np.min(cosine)),
        "relative_rms": float(np.sqrt(np.mean(diff**2) / max(np.mean(full**2), 1e-12))),
        "inputs": len(inputs),
    }


def problem(report: dict[str, float]) -> str | None:
    """Why a parity report fails (None when it passes); NaN fails too."""
    if report["cosine_mean"] >= MIN_MEAN_COSINE and report["cosine_min"] >= MIN_COSINE:
        return None
    return (
        f"its features differ from float16's: cosine {report['cosine_mean']:.3f} mean, "
        f"{report['cosine_min']:.3f} worst (at least {MIN_MEAN_COSINE} and {MIN_COSINE})"
    )


def served_regions(feature_map: np.ndarray) -> np.ndarray:
    """[regions, features]: a tray map as tray mode pools it before the heads."""
    return pooled(feature_map, regions(feature_map.shape[:2]))


def upscale(pictures: np.ndarray, factor: int) -> np.ndarray:
    """Calibration pictures at the tray model's input size (nearest neighbour is enough to
    set activation ranges)."""
    return pictures.repeat(factor, 1).repeat(factor, 2) if factor > 1 else pictures
