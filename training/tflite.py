"""Keras -> TFLite, and running a TFLite model in the interpreter the Lambda uses."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from typing import Any

import keras
import numpy as np
import tensorflow as tf

QUANTIZATIONS = ("none", "dynamic", "int8")


def convert(model: keras.Model, quantization: str, representative: np.ndarray) -> bytes:
    """A TFLite flatbuffer taking float32 [1, h, w, 3] in 0..255 and giving 2 float logits.

    Quantized models keep float input and output so that every model is served the same way.
    """
    # from_keras_model traces the model in inference mode (augmentation off, BatchNorm frozen);
    # hand-built concrete functions lost the variables here and produced NaN.
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if quantization in ("dynamic", "int8"):
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantization == "int8":

        def samples() -> Iterator[list[np.ndarray]]:
            for image in representative:
                yield [image[None].astype(np.float32)]

        converter.representative_dataset = samples
    elif quantization not in QUANTIZATIONS:
        raise ValueError(f"unknown quantization {quantization!r}; choose one of {QUANTIZATIONS}")
    return quiet_convert(converter)


def quiet_convert(converter: Any) -> bytes:
    """`converter.convert()` without Keras 3's export step printing every captured variable
    (hundreds of lines) to stdout: keeps the CLI readable."""
    with contextlib.redirect_stdout(io.StringIO()):
        model_bytes: bytes = converter.convert()
    return model_bytes


def interpreter_class() -> type:
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # the last tflite-runtime, where LiteRT has no wheel
        from tflite_runtime.interpreter import Interpreter
    found: type = Interpreter
    return found


def run(model_bytes: bytes, images: np.ndarray) -> np.ndarray:
    """Logits for each image, one invoke per image on one thread, as the Lambda does."""
    return run_features(model_bytes, images, threads=1)


def run_features(model_bytes: bytes, inputs: np.ndarray, threads: int = 0) -> np.ndarray:
    """The model's single output for each input row, one invoke per row, as served.

    `threads` 0 means every core: training extracts features with the same TFLite the Lambda
    runs, so a head learns on exactly the numbers it will be served.
    """
    import os

    interpreter = interpreter_class()(
        model_content=model_bytes, num_threads=threads or os.cpu_count() or 1
    )
    interpreter.allocate_tensors()
    source = interpreter.get_input_details()[0]["index"]
    sink = interpreter.get_output_details()[0]
    out = np.empty((len(inputs), *sink["shape"][1:]), dtype=np.float32)
    for i, row in enumerate(inputs):
        interpreter.set_tensor(source, row[None].astype(np.float32))
        interpreter.invoke()
        out[i] = interpreter.get_tensor(sink["index"])[0]
    return out


def run_maps(model_bytes: bytes, pictures: list[np.ndarray], threads: int = 0) -> list[np.ndarray]:
    """The map model's [h', w', c] output for each picture at its own shape, as the Lambda runs
    tray mode: the input is resized when the shape changes (a camera keeps one shape)."""
    import os

    interpreter = interpreter_class()(
        model_content=model_bytes, num_threads=threads or os.cpu_count() or 1
    )
    source = interpreter.get_input_details()[0]["index"]
    shape: tuple[int, ...] | None = None
    out = []
    for picture in pictures:
        if picture.shape != shape:
            shape = picture.shape
            interpreter.resize_tensor_input(source, [1, *shape])
            interpreter.allocate_tensors()
        interpreter.set_tensor(source, picture[None].astype(np.float32))
        interpreter.invoke()
        out.append(interpreter.get_tensor(interpreter.get_output_details()[0]["index"])[0].copy())
    return out
