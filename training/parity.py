"""The export gate: the served model must say what the trained one says."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training import tflite
from training.evaluate import probabilities
from traygo.errors import ParityError

FLOAT_TOLERANCE = 1e-3  # on P(positive); float32 kernels differ only in summation order
QUANTIZED_ACCURACY_LOSS = 0.01


@dataclass(frozen=True)
class Parity:
    max_abs_diff: float
    accuracy_keras: float
    accuracy_tflite: float

    def to_json(self) -> dict[str, float]:
        return {
            "max_abs_diff": self.max_abs_diff,
            "accuracy_keras": self.accuracy_keras,
            "accuracy_tflite": self.accuracy_tflite,
        }


def check(
    model_bytes: bytes,
    keras_logits: np.ndarray,
    images: np.ndarray,
    targets: np.ndarray,
    threshold: float,
    quantization: str,
) -> Parity:
    lite = probabilities(tflite.run(model_bytes, images))
    full = probabilities(keras_logits)
    parity = Parity(
        float(np.max(np.abs(lite - full))) if len(full) else 0.0,
        float(np.mean((full >= threshold) == targets)),
        float(np.mean((lite >= threshold) == targets)),
    )
    if quantization == "none" and not parity.max_abs_diff <= FLOAT_TOLERANCE:  # NaN fails too
        raise ParityError(
            f"the TFLite model differs from Keras by {parity.max_abs_diff:.2e} in probability "
            f"(tolerance {FLOAT_TOLERANCE:g}); not publishing"
        )
    loss = parity.accuracy_keras - parity.accuracy_tflite
    if quantization != "none" and loss > QUANTIZED_ACCURACY_LOSS:
        raise ParityError(
            f"{quantization} quantization loses {loss:.1%} accuracy (at most "
            f"{QUANTIZED_ACCURACY_LOSS:.0%} allowed); not publishing; try --quantize none"
        )
    return parity
