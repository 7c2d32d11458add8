"""Fine-tuning a backbone's last stages as a classifier over the tuning classes.

The recipe `make bench-finetune` measured first: every class a softmax output, the blocks from
`first_tuned_block` on and the head convolution learning, BatchNorm keeping its statistics
(batches of 32 would only add noise to them), horizontal flips, early stopping on the monitor
split's loss. Checkpoints after every epoch go to the store, so a Spot reclaim resumes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

import keras
import numpy as np

from training.checkpoints import Checkpoints
from training.fit import Fitted, resumable_fit

DROPOUT = 0.2
PATIENCE = 2  # epochs without a better monitor loss


@dataclass(frozen=True)
class Recipe:
    epochs: int = 6
    first_tuned_block: int = 8  # of Lite0's 16: the last three stages learn
    learning_rate: float = 3e-4
    batch_size: int = 32
    seed: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {
            "dropout": DROPOUT,
            "patience": PATIENCE,
            "batchnorm": "frozen (the parent's statistics)",
            "augmentation": "horizontal flip",
            "optimizer": "adam",
        }

    @property
    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.to_json(), sort_keys=True).encode()).hexdigest()


def tunable(layer: keras.layers.Layer, first_block: int) -> bool:
    """Whether `layer` learns: never BatchNorm nor the stem; Lite0's numbered blocks from
    `first_block` on; every other layer (Lite0's head convolution, a small network's own)."""
    if isinstance(layer, keras.layers.BatchNormalization):
        return False
    if layer.name.startswith("blocks."):
        return int(layer.name.split(".")[1]) >= first_block
    return not layer.name.startswith("conv_stem")


def classifier(base: keras.Model, classes: int, recipe: Recipe) -> keras.Model:
    for layer in base.layers:
        layer.trainable = tunable(layer, recipe.first_tuned_block)
    size = int(base.input.shape[1])
    pixels = keras.Input((size, size, 3), dtype="float32", name="pixels")
    flipped = keras.layers.RandomFlip("horizontal", seed=recipe.seed)(pixels)
    features = keras.layers.Dropout(DROPOUT)(base(flipped, training=False))
    model = keras.Model(pixels, keras.layers.Dense(classes, name="classes")(features))
    model.compile(
        keras.optimizers.Adam(recipe.learning_rate),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def fine_tune(
    base: keras.Model,
    train: tuple[np.ndarray, np.ndarray],
    monitor: tuple[np.ndarray, np.ndarray],
    classes: int,
    recipe: Recipe,
    checkpoints: Checkpoints,
    resume: bool,
) -> tuple[keras.Model, Fitted]:
    """(the tuned base, the fit); with `resume`, from the last checkpoint if there is one."""
    keras.utils.set_random_seed(recipe.seed)
    fitted = resumable_fit(
        lambda: classifier(base, classes, recipe),
        lambda: (
            Batches(train, recipe.batch_size, recipe.seed),
            Batches(monitor, recipe.batch_size, None),
        ),
        recipe.epochs,
        checkpoints,
        resume,
        watch="val_loss",
        patience=PATIENCE,
    )
    return fitted.model.get_layer(base.name), fitted


class Batches(keras.utils.PyDataset):
    """float32 batches cut from uint8 pictures as they are needed: memory stays at the uint8
    arrays (a quarter of float32's), with no second copy in a tf.data pipeline. `seed`: shuffle
    every epoch; None: keep the order."""

    def __init__(self, data: tuple[np.ndarray, np.ndarray], size: int, seed: int | None) -> None:
        super().__init__()
        self.pictures, self.targets = data
        self.size = size
        self.rng = np.random.default_rng(seed) if seed is not None else None
        self.order = np.arange(len(self.targets))
        self.on_epoch_end()

    def __len__(self) -> int:
        return int(np.ceil(len(self.order) / self.size))

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        rows = np.sort(self.order[index * self.size : (index + 1) * self.size])
        return self.pictures[rows].astype(np.float32), self.targets[rows]

    def on_epoch_end(self) -> None:
        if self.rng is not None:
            self.rng.shuffle(self.order)
