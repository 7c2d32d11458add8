"""What a training run is asked to do and what it gives back: shared by every architecture's
job (training/job.py, training/head_job.py), owned by neither."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np

MONITOR_FRACTION = 0.125  # of the training split: 10% of all images watch early stopping
MIN_POOL_PHOTOS = 20  # early-stopping pool photos needed to hold a photo false-alarm rate


@dataclass
class TrainRequest:
    label: str
    store: str
    cache: Path
    images: Path | list[Path] | None = None  # folders of class folders
    architecture: str = "backbone"
    backbone: str | None = None  # the backbone version a head trains on; None: the current one
    epochs: int | None = None  # None: the architecture's own default
    seed: int = 1337
    quantization: str = "none"
    min_accuracy: float = 0.8
    promote: bool = False
    resume: bool = False
    run_id: str | None = None
    batch_job_id: str | None = None  # set under AWS Batch: names the run's checkpoints
    labels_file: str | None = None
    background: bool = True  # train against the background pool (store or --images root)
    false_alarm: float = 0.02  # thresholds hold this false-alarm rate: per tray, per pool photo
    tray_layout: str = "canteen"  # "grid": the 2x2 calibration trays before the pool (benches)
    feedback: bool = True  # train on the canteen's corrections (store, or an exported --images)
    feedback_weight: float = 3.0  # a correction's rows weigh this many web pictures
    callbacks: list[keras.callbacks.Callback] = field(default_factory=list)


@dataclass
class TrainResult:
    version: str
    metadata: dict[str, Any]
    where: str
    promoted: bool
    promotion_message: str


@dataclass
class Split:
    train: tuple[np.ndarray, np.ndarray]
    monitor: tuple[np.ndarray, np.ndarray]
    validation: tuple[np.ndarray, np.ndarray]


ARCHITECTURES = ("backbone", "scratch", "seed")
DEFAULT_EPOCHS = {"backbone": 300, "scratch": 40, "seed": 40}
