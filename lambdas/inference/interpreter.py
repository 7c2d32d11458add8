"""TFLite models in memory, each checked against its metadata when loaded.

Three kinds: a whole-image model (seed, scratch: pixels -> logits), the shared backbone
(pixels -> features, run once per request) and a head (features -> logits, one per label).
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from traygo import backbones
from traygo.errors import TraygoError

try:
    from ai_edge_litert.interpreter import Interpreter
except ImportError:  # tflite-runtime 2.14, the last of its line (Python <= 3.11, numpy < 2)
    from tflite_runtime.interpreter import Interpreter


class ModelError(TraygoError):
    """The model cannot serve: bad bytes, a shape that does not match, missing metadata.

    `code` is the reason clients see for the label being unavailable.
    """

    code = "model_unloadable"

    def __init__(self, message: str, code: str = "model_unloadable") -> None:
        super().__init__(message, code=code)


class _Tflite:
    """One interpreter; an interpreter runs one invoke at a time, hence the lock. A `resizable`
    one (the fully convolutional tray map) takes any input height and width: it is resized
    when a request's shape differs from the last one (a camera keeps its shape, so rarely)."""

    def __init__(
        self, name: str, model: bytes, expected_input: list[int], resizable: bool = False
    ) -> None:
        try:
            self._interpreter = Interpreter(model_content=model, num_threads=1)
            self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"{name} cannot be loaded: {exc}") from None
        source = self._interpreter.get_input_details()[0]
        if list(source["shape"]) != expected_input:
            raise ModelError(
                f"{name} takes input {list(source['shape'])}, but its metadata says "
                f"{expected_input}",
                "metadata_mismatch",
            )
        self._input = source["index"]
        self._output = self._interpreter.get_output_details()[0]["index"]
        self._lock = threading.Lock()
        self._shape = tuple(expected_input)
        self._resizable = resizable
        self.invocations = 0

    def invoke(self, batch: np.ndarray) -> np.ndarray:
        with self._lock:
            if self._resizable and batch.shape != self._shape:
                self._interpreter.resize_tensor_input(self._input, list(batch.shape))
                self._interpreter.allocate_tensors()
                self._shape = batch.shape
            self._interpreter.set_tensor(self._input, batch.astype(np.float32))
            self._interpreter.invoke()
            self.invocations += 1
            out: np.ndarray = self._interpreter.get_tensor(self._output)[0].copy()
            return out


class _Classifier:
    """What whole-image models and heads share: a threshold and logits -> P(present)."""

    def __init__(self, label: str, version: str, meta: dict[str, Any]) -> None:
        self.label = label
        self.version = version
        self.meta = meta
        self.threshold = float(meta["threshold"])
        output = meta.get("output") or {}
        self.positive_index = int(output.get("positive_index", 1))
        self.output_kind = output.get("kind", "logits")

    def _probability(self, out: np.ndarray) -> float:
        out = out.astype(np.float64)
        if self.output_kind == "probabilities":
            return float(out[self.positive_index])
        exp = np.exp(out - out.max())
        return float(exp[self.positive_index] / exp.sum())


class LoadedModel(_Classifier):
    """A whole-image model: one invoke of its own per request."""

    backbone_version: str | None = None

    def __init__(self, label: str, version: str, model: bytes, meta: dict[str, Any]) -> None:
        super().__init__(label, version, meta)
        spec = meta["input"]
        self.size = (int(spec["height"]), int(spec["width"]))
        self._model = _Tflite(f"{label}/{version}", model, [1, *self.size, 3])

    def probability(self, image: np.ndarray) -> float:
        """P(label present) for one preprocessed uint8 HxWx3 image."""
        return self._probability(self._model.invoke(image[None]))


class LoadedHead(_Classifier):
    """A label's head: scores the shared backbone's features, no pixels of its own."""

    def __init__(self, label: str, version: str, model: bytes, meta: dict[str, Any]) -> None:
        super().__init__(label, version, meta)
        tray = meta.get("tray") or {}
        # a head without tray calibration keeps its photo threshold on trays too
        self.tray_threshold = float(tray.get("threshold", self.threshold))
        ref = meta["backbone"]
        self.backbone_version: str = ref["version"]
        self.features = int(ref["features"])
        self._model = _Tflite(f"{label}/{version}", model, [1, self.features])

    def probability(self, features: np.ndarray) -> float:
        return self._probability(self._model.invoke(features[None]))


class LoadedBackbone:
    """The shared backbone, run once per request for every head: pooled features of a photo,
    or the feature map of a tray picture (tray scoring pools it per region)."""

    def __init__(
        self,
        version: str,
        model: bytes,
        meta: dict[str, Any],
        tray_model: bytes | None = None,
        precision: str = "float16",
    ) -> None:
        self.version = version
        self.meta = meta
        self.precision = precision  # which of the version's model pairs runs: float16 or int8
        spec = meta["input"]
        self.size = (int(spec["height"]), int(spec["width"]))
        self.features = int(meta["features"])
        self._model = _Tflite(f"backbone {version}", model, [1, *self.size, 3])
        self._tray: _Tflite | None = None
        if tray_model is not None:
            side = int(meta["tray"]["size"])
            self.tray_size: tuple[int, int] = (side, side)
            self.tray_stride = backbones.tray_stride(meta)
            self._tray = _Tflite(
                f"backbone {version} (tray)", tray_model, [1, side, side, 3], resizable=True
            )

    @property
    def invocations(self) -> int:
        return self._model.invocations + (self._tray.invocations if self._tray else 0)

    @property
    def has_tray(self) -> bool:
        return self._tray is not None

    def run(self, image: np.ndarray) -> np.ndarray:
        """Pooled features for one preprocessed uint8 HxWx3 photo at `size`."""
        return self._model.invoke(image[None])

    def run_map(self, image: np.ndarray) -> np.ndarray:
        """The [rows, cols, features] map of one preprocessed tray picture: at `tray_size`, or
        any height and width that are multiples of 32 (`traygo.tray.tray_shape`)."""
        if self._tray is None:
            raise ModelError(f"backbone {self.version} has no tray model", "backbone_no_tray")
        return self._tray.invoke(image[None])
