"""Synthetic trays and the tray threshold calibrated on them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from training import dataset as ds
from training import head
from training.features import BackboneRunner, FeatureCache, features_for
from training.tray_calibration import calibrate, synthetic_trays
from traygo import backbones
from traygo.store import open_store
from traygo.tray import TRAY_SIZE

from .conftest import add_backbone, write_shapes

GREY = 228  # an empty cell: the plain tray surface
CELL = TRAY_SIZE // 2


@pytest.fixture
def samples(tmp_path: Path) -> list[ds.Sample]:
    root = write_shapes(tmp_path / "images", per_class=16)
    (root / "other").mkdir()
    for path in sorted((root / "not_pizza").iterdir())[:8]:
        path.rename(root / "other" / path.name)  # negatives from two folders
    return ds.from_folders(root, ("not_pizza", "pizza")).samples


def test_trays_are_balanced_two_by_two_with_empty_cells(samples) -> None:
    trays, targets = synthetic_trays(samples, seed=0, per_class=10)
    assert trays.shape == (20, 2 * CELL, 2 * CELL, 3) and trays.dtype == np.uint8
    assert targets.tolist() == [0, 1] * 10
    cells = trays.reshape(20, 2, CELL, 2, CELL, 3).transpose(0, 1, 3, 2, 4, 5).reshape(20, 4, -1)
    empty = (cells == GREY).all(axis=2).sum(axis=1)
    assert empty.tolist() == [0, 0, 1, 1] * 5  # every other pair: three items and a gap
    again, _ = synthetic_trays(samples, seed=0, per_class=10)
    np.testing.assert_array_equal(trays, again)  # deterministic for a seed


def test_too_few_photos_make_no_trays(samples) -> None:
    trays, targets = synthetic_trays([s for s in samples if s.target == 1], seed=0)
    assert len(trays) == len(targets) == 0


def test_calibration_gives_a_tray_threshold_and_tray_metrics(
    tmp_path: Path, samples, backbone_files
) -> None:
    store = open_store(tmp_path / "store")
    version = add_backbone(store, backbone_files)
    meta = backbones.metadata(store, version)
    runner = BackboneRunner(store, meta)
    features, _ = features_for(samples, FeatureCache(store, version, tmp_path / "c"), runner)
    targets = np.array([s.target for s in samples])
    fitted = head.fit((features, targets), (features, targets), epochs=100, seed=1)
    map_model = store.get_bytes(meta["artifacts"]["backbone_map.tflite"]["key"])

    size = meta["tray"]["size"]
    assert size == 2 * meta["input"]["height"]
    tray = calibrate(map_model, fitted.model, samples, samples, 3, size, per_class=12)

    assert 0 < tray["threshold"] < 1
    assert tray["regions"][0] == "whole" and len(tray["regions"]) == 10
    assert tray["metrics"]["n"] == 24 and tray["calibration"]["trays"] == 24
    assert tray["metrics"]["threshold"] == tray["threshold"]
    assert set(tray["whole_picture_metrics"]) == {"balanced_accuracy", "roc_auc", "n", "threshold"}


def test_the_threshold_is_the_best_cut_on_the_calibration_trays(
    samples, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regions score a positive tray high somewhere, a negative tray lower everywhere: the
    calibrated cut sits between, and the tray metrics use it."""
    import training.tray_calibration as tc

    def fake_regions(map_model: bytes, head: object, trays: np.ndarray) -> np.ndarray:
        # which trays hold the positive: the red channel of a red circle, somewhere
        positive = (trays[..., 0].astype(int) - trays[..., 2] > 150).any(axis=(1, 2))
        probs = np.full((len(trays), 10), 0.2)
        probs[:, 3] = np.where(positive, 0.8, 0.45)  # one window sees the item
        return probs

    monkeypatch.setattr(tc, "region_probabilities", fake_regions)
    tray = calibrate(b"", None, samples, samples, seed=5, size=96, per_class=10)
    assert 0.45 < tray["threshold"] <= 0.8
    assert tray["metrics"]["balanced_accuracy"] == 1.0
    assert tray["whole_picture_metrics"]["roc_auc"] == 0.5  # the whole picture saw nothing
