"""One TFLite model in memory, checked against its metadata when loaded."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

try:
    from ai_edge_litert.interpreter import Interpreter
except ImportError:  # tflite-runtime 2.14, the last of its line (Python <= 3.11, numpy < 2)
    from tflite_runtime.interpreter import Interpreter


class ModelError(Exception):
    """The model cannot serve: bad bytes, a shape that does not match, missing metadata."""


class LoadedModel:
    def __init__(self, label: str, version: str, model: bytes, meta: dict[str, Any]) -> None:
        self.label = label
        self.version = version
        self.meta = meta
        try:
            self.threshold = float(meta["threshold"])
            spec = meta["input"]
            self.size = (int(spec["height"]), int(spec["width"]))
            self.positive_index = int(meta.get("output", {}).get("positive_index", 1))
            self.output_kind = meta.get("output", {}).get("kind", "logits")
            self._interpreter = Interpreter(model_content=model, num_threads=1)
            self._interpreter.allocate_tensors()
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise ModelError(f"{label}/{version} cannot be loaded: {exc}") from None
        source = self._interpreter.get_input_details()[0]
        expected = [1, *self.size, int(spec["channels"])]
        if list(source["shape"]) != expected:
            raise ModelError(
                f"{label}/{version} takes input {list(source['shape'])}, "
                f"but its metadata says {expected}"
            )
        self._input = source["index"]
        self._output = self._interpreter.get_output_details()[0]["index"]
        self._lock = threading.Lock()  # an interpreter runs one invoke at a time

    def probability(self, image: np.ndarray) -> float:
        """P(label present) for one preprocessed uint8 HxWx3 image."""
        batch = image[None].astype(np.float32)
        with self._lock:
            self._interpreter.set_tensor(self._input, batch)
            self._interpreter.invoke()
            out = self._interpreter.get_tensor(self._output)[0].astype(np.float64)
        if self.output_kind == "probabilities":
            return float(out[self.positive_index])
        exp = np.exp(out - out.max())
        return float(exp[self.positive_index] / exp.sum())
