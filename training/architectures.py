"""The from-image networks: `seed` (the seed's, kept exact) and `scratch` (ours, no pretraining).

The default architecture, `backbone`, is not here: it trains a head on the shared pretrained
backbone's features (training/head.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import keras
from keras import layers

INPUT_SHAPE = (180, 180, 3)


@dataclass(frozen=True)
class Recipe:
    build: Callable[[int], keras.Model]  # steps per epoch -> compiled model
    batch_size: int
    patience: int


def build_seed(steps_per_epoch: int) -> keras.Model:
    """The seed's network and recipe, unchanged."""
    model = keras.Sequential(
        [
            keras.Input(INPUT_SHAPE),
            layers.Rescaling(1.0 / 255),
            layers.Conv2D(16, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(64, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dense(2),
        ],
        name="seed",
    )
    model.compile(
        optimizer=keras.optimizers.Adam(),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def build_scratch(steps_per_epoch: int, epochs: int = 40) -> keras.Model:
    """A small residual separable-conv net for a few thousand CPU-trained images.

    It works at 128 px (the input stays 180 so every model takes the same tensor): a third of
    the arithmetic, and food is recognised by colour and texture more than fine detail.
    Augmentation stands in for the data we do not have; global pooling keeps the parameter
    count near 0.2 M so it does not memorise 1,300 pictures.
    """
    inputs = keras.Input(INPUT_SHAPE)
    x = layers.Resizing(128, 128, interpolation="bilinear")(inputs)
    x = layers.RandomFlip("horizontal")(x)
    x = layers.RandomRotation(0.08)(x)
    x = layers.RandomZoom((-0.2, 0.0))(x)
    x = layers.RandomContrast(0.2)(x)
    x = layers.Rescaling(1.0 / 127.5, offset=-1.0)(x)
    x = _conv_bn(x, 32, stride=2)
    x = _conv_bn(x, 48)
    for width in (64, 128, 192):
        x = _residual_block(x, width)
    x = layers.SeparableConv2D(256, 3, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.3)(x)
    outputs = layers.Dense(2)(x)
    model = keras.Model(inputs, outputs, name="scratch")
    schedule = keras.optimizers.schedules.CosineDecay(
        1e-4,
        decay_steps=max(1, epochs * steps_per_epoch),
        warmup_target=3e-3,
        warmup_steps=2 * steps_per_epoch,
        alpha=0.02,
    )
    model.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=1e-4),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def _conv_bn(x: keras.KerasTensor, filters: int, stride: int = 1) -> keras.KerasTensor:
    x = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    return layers.Activation("relu")(x)


def _residual_block(x: keras.KerasTensor, filters: int) -> keras.KerasTensor:
    shortcut = layers.Conv2D(filters, 1, strides=2, padding="same", use_bias=False)(x)
    shortcut = layers.BatchNormalization()(shortcut)
    for _ in range(2):
        x = layers.Activation("relu")(x)
        x = layers.SeparableConv2D(filters, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
    x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
    return layers.add([x, shortcut])


def recipe(architecture: str, epochs: int) -> Recipe:
    if architecture == "seed":
        return Recipe(build_seed, batch_size=32, patience=3)
    if architecture == "scratch":
        return Recipe(lambda steps: build_scratch(steps, epochs), batch_size=32, patience=12)
    raise ValueError(f"unknown architecture {architecture!r}; choose seed or scratch")


ARCHITECTURES = ("seed", "scratch")
