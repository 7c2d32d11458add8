"""Per-epoch checkpoints in the store, so a reclaimed Spot job resumes where it stopped."""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import keras

from traygo.errors import NotFoundError
from traygo.store import Store

log = logging.getLogger(__name__)

_MODEL = "last.keras"
_BEST = "best.weights.h5"
_STATE = "state.json"


class Checkpoints:
    def __init__(self, store: Store, prefix: str) -> None:
        """`prefix`: layout.checkpoint_prefix for a label's run, backbone_checkpoint_prefix for
        a backbone's tuning."""
        self.store = store
        self.prefix = prefix

    def save(
        self, model: keras.Model, best_weights: list[Any] | None, state: dict[str, Any]
    ) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / _MODEL
            model.save(path)
            self.store.put_bytes(self.prefix + _MODEL, path.read_bytes())
            if best_weights is not None:
                current = model.get_weights()
                model.set_weights(best_weights)
                best = Path(tmp) / _BEST
                model.save_weights(best)
                model.set_weights(current)
                self.store.put_bytes(self.prefix + _BEST, best.read_bytes())
        # state last: it is the marker that the files beside it belong together
        self.store.put_json(self.prefix + _STATE, state)

    def load(self) -> tuple[keras.Model, list[Any] | None, dict[str, Any]] | None:
        """(model, best weights, state) of the last finished epoch, or None to start fresh."""
        try:
            state = self.store.get_json(self.prefix + _STATE)
        except NotFoundError:
            return None
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / _MODEL
            path.write_bytes(self.store.get_bytes(self.prefix + _MODEL))
            model = keras.models.load_model(path)
            best_weights = None
            if self.store.exists(self.prefix + _BEST):
                current = model.get_weights()
                best = Path(tmp) / _BEST
                best.write_bytes(self.store.get_bytes(self.prefix + _BEST))
                model.load_weights(best)
                best_weights = model.get_weights()
                model.set_weights(current)
        log.info("resuming %s after epoch %d", self.prefix, state["epoch"] + 1)
        return model, best_weights, state

    def clear(self) -> None:
        for key in list(self.store.list(self.prefix)):
            self.store.delete(key)


class StoreCheckpoint(keras.callbacks.Callback):
    """Saves the model, the early stopper's best weights and the history after every epoch."""

    def __init__(
        self,
        checkpoints: Checkpoints,
        stopper: ResumableEarlyStopping,
        history: dict[str, list[float]] | None = None,
        seconds_before: float = 0.0,
    ) -> None:
        super().__init__()
        self.checkpoints = checkpoints
        self.stopper = stopper
        self.history = {k: list(v) for k, v in (history or {}).items()}
        self._seconds_before = seconds_before
        self._started = time.perf_counter()
        self._epoch: int | None = None

    def seconds(self) -> float:
        """Training time across every run that led here, resumed ones included."""
        return self._seconds_before + time.perf_counter() - self._started

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        for name, value in (logs or {}).items():
            self.history.setdefault(name, []).append(float(value))
        self._epoch = epoch
        self.checkpoints.save(self.model, self.stopper.best_weights, self._state(finished=False))

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        # The stopper ran first and restored the best weights: a resume after a crash in
        # export or publish must not train past the point where early stopping ended it.
        if self._epoch is not None:
            self.checkpoints.save(self.model, None, self._state(finished=True))

    def _state(self, finished: bool) -> dict[str, Any]:
        return {
            "epoch": self._epoch,
            "finished": finished,
            "history": self.history,
            "seconds": self.seconds(),
            "stopper": {
                "best": _plain(self.stopper.best),
                "wait": self.stopper.wait,
                "best_epoch": self.stopper.best_epoch,
            },
        }


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """Keras' early stopping (best weights restored) that can pick up a saved state."""

    def __init__(
        self,
        resume: dict[str, Any] | None = None,
        best_weights: list[Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._resume = resume
        self._resume_weights = best_weights
        self.best_epoch = resume["best_epoch"] if resume else 0

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        super().on_train_begin(logs)
        if self._resume:
            self.best = self._resume["best"]
            self.wait = self._resume["wait"]
            self.best_epoch = self._resume["best_epoch"]
            self.best_weights = self._resume_weights


def _plain(value: Any) -> float | None:
    return None if value is None else float(value)
