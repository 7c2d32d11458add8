"""Fit a network on prepared arrays, with early stopping and store checkpoints."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from training.architectures import recipe
from training.checkpoints import Checkpoints, ResumableEarlyStopping, StoreCheckpoint

log = logging.getLogger(__name__)


@dataclass
class Fitted:
    model: keras.Model
    history: dict[str, list[float]]
    epochs_run: int
    best_epoch: int
    seconds: float


def fit(
    architecture: str,
    train: tuple[np.ndarray, np.ndarray],
    monitor: tuple[np.ndarray, np.ndarray],
    epochs: int,
    seed: int,
    checkpoints: Checkpoints,
    resume: bool,
    extra_callbacks: list[keras.callbacks.Callback] | None = None,
) -> Fitted:
    keras.utils.set_random_seed(seed)
    plan = recipe(architecture, epochs)
    steps = int(np.ceil(len(train[0]) / plan.batch_size))
    return resumable_fit(
        lambda: plan.build(steps),
        lambda: (
            _batches(train, plan.batch_size, seed, shuffle=True),
            _batches(monitor, plan.batch_size, seed, shuffle=False),
        ),
        epochs,
        checkpoints,
        resume,
        watch="val_accuracy",
        patience=plan.patience,
        extra_callbacks=extra_callbacks,
    )


def resumable_fit(
    build: Callable[[], keras.Model],
    data: Callable[[], tuple[Any, Any]],
    epochs: int,
    checkpoints: Checkpoints,
    resume: bool,
    *,
    watch: str,
    patience: int,
    extra_callbacks: list[keras.callbacks.Callback] | None = None,
) -> Fitted:
    """`build()`, or with `resume` the last checkpoint's model, fit on `data()` (train,
    validation) up to `epochs`, stopping early on `watch` with the best weights kept, and
    checkpointed after every epoch. `data` is called only when an epoch is left to run."""
    saved = checkpoints.load() if resume else None
    model, best_weights, state = saved or (build(), None, {})
    first_epoch = state["epoch"] + 1 if state else 0
    stopper = ResumableEarlyStopping(
        resume=state.get("stopper"),
        best_weights=best_weights,
        monitor=watch,
        patience=patience,
        restore_best_weights=True,
    )
    saver = StoreCheckpoint(checkpoints, stopper, state.get("history"), state.get("seconds", 0.0))
    if first_epoch < epochs and not state.get("finished"):
        train, validation = data()
        model.fit(
            train,
            validation_data=validation,
            epochs=epochs,
            initial_epoch=first_epoch,
            callbacks=[stopper, saver, *(extra_callbacks or [])],
            verbose=2,
        )
    epochs_run = len(saver.history.get("loss", []))
    return Fitted(model, saver.history, epochs_run, stopper.best_epoch, saver.seconds())


def _batches(
    data: tuple[np.ndarray, np.ndarray], batch: int, seed: int, shuffle: bool
) -> tf.data.Dataset:
    images, targets = data
    ds = tf.data.Dataset.from_tensor_slices((images, targets))
    if shuffle:
        ds = ds.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch).map(lambda x, y: (tf.cast(x, tf.float32), y)).prefetch(tf.data.AUTOTUNE)
