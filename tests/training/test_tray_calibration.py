"""Synthetic trays (canteen layouts and the old 2 x 2 grids) and the tray threshold."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from training import dataset as ds
from training import head
from training.evaluate import threshold_for_false_alarms
from training.features import BackboneRunner, FeatureCache, features_for
from training.tray_calibration import calibrate, grid_trays
from training.tray_layouts import ITEM_SIDE, ITEMS, SURFACES, canteen_trays, make_surface
from traygo import backbones
from traygo.store import open_store
from traygo.tray import TRAY_SIZE

from .conftest import add_backbone, write_shapes

GREY = 228  # an empty cell: the plain tray surface
CELL = TRAY_SIZE // 2


@pytest.fixture
def samples(tmp_path: Path) -> list[ds.Sample]:
    root = write_shapes(tmp_path / "images", per_class=20)
    (root / "other").mkdir()
    for path in sorted((root / "not_pizza").iterdir())[:8]:
        path.rename(root / "other" / path.name)  # negatives from two folders
    pool = tmp_path / "pool"
    for dish in ("soup", "rice"):
        (pool / dish).mkdir(parents=True)
        for path in sorted((root / "not_pizza").iterdir())[:4]:
            path.rename(pool / dish / path.name)  # the background pool: two other dishes
    return ds.from_folders([root, pool], ("not_pizza", "pizza"), ("pizza",)).samples


def test_trays_are_balanced_two_by_two_with_empty_cells(samples) -> None:
    trays, targets = grid_trays(samples, seed=0, per_class=10)
    assert trays.shape == (20, 2 * CELL, 2 * CELL, 3) and trays.dtype == np.uint8
    assert targets.tolist() == [0, 1] * 10
    cells = trays.reshape(20, 2, CELL, 2, CELL, 3).transpose(0, 1, 3, 2, 4, 5).reshape(20, 4, -1)
    empty = (cells == GREY).all(axis=2).sum(axis=1)
    assert empty.tolist() == [0, 0, 1, 1] * 5  # every other pair: three items and a gap
    again, _ = grid_trays(samples, seed=0, per_class=10)
    np.testing.assert_array_equal(trays, again)  # deterministic for a seed


def test_too_few_photos_make_no_trays(samples) -> None:
    trays, targets = grid_trays([s for s in samples if s.target == 1], seed=0)
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
    # few trays: a looser target than the default, which would refuse every tray here
    tray = calibrate(map_model, fitted.model, samples, samples, 3, size, 0.25, positives=6)

    assert 0 < tray["threshold"] <= 1
    assert tray["regions"][0] == "whole" and len(tray["regions"]) == 10
    assert tray["metrics"]["n"] == 18 and tray["calibration"]["trays"] == 18
    assert tray["calibration"]["layout"] == "canteen"
    assert tray["calibration"]["false_alarm_target"] == 0.25
    assert tray["metrics"]["threshold"] == tray["threshold"]
    assert tray["threshold"] >= tray["calibration"]["best_balanced_cut"]
    for key in ("false_alarm_rate", "other_food_false_alarm_rate", "recall"):
        assert 0 <= tray["metrics"][key] <= 1
    assert tray["grid_metrics"]["threshold"] == tray["threshold"]
    assert set(tray["whole_picture_metrics"]) == {"balanced_accuracy", "roc_auc", "n", "threshold"}


def _scores_by_tray(samples, seed: int, size: int, score) -> dict[bytes, float]:
    """What a fake head says of every tray that calibrate() composes, by the tray's bytes."""
    found = {}
    for split_seed in (seed, seed + 1):
        trays = canteen_trays(samples, split_seed, 20, 40, (size, size))
        for i, pixels in enumerate(trays.pixels):
            found[pixels.tobytes()] = score(i, trays.targets[i])
    grid, targets = grid_trays(samples, seed + 2, size=size)
    for i, pixels in enumerate(grid):
        found[pixels.tobytes()] = score(i, targets[i])
    return found


def _fake(monkeypatch: pytest.MonkeyPatch, found: dict[bytes, float]) -> None:
    import training.tray_calibration as tc

    def fake_regions(map_model: bytes, head: object, trays: np.ndarray) -> np.ndarray:
        probs = np.full((len(trays), 10), 0.05)
        probs[:, 3] = [found[t.tobytes()] for t in trays]  # one window sees the item
        return probs

    monkeypatch.setattr(tc, "region_probabilities", fake_regions)


def test_the_tray_threshold_holds_the_false_alarm_target(
    samples, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Negative trays spread over 0..0.6, positive ones over 0.4..1: the best balanced cut lets
    more than 5% of the negatives through; the threshold holds 5% on the calibration trays, and
    the model card shows the recall that costs."""

    def score(i: int, target: int) -> float:
        return 0.4 + 0.6 * ((i * 7) % 20) / 19 if target else 0.6 * ((i * 13) % 40) / 39

    _fake(monkeypatch, _scores_by_tray(samples, 5, 96, score))
    tray = calibrate(b"", None, samples, samples, 5, 96, false_alarm=0.05, positives=20)

    calib = tray["calibration"]
    assert calib["trays"] == 60 and calib["false_alarm_target"] == 0.05
    negatives = np.array([0.6 * ((i * 13) % 40) / 39 for i in range(20, 60)])
    assert (negatives >= tray["threshold"]).mean() <= 0.05
    assert (negatives >= calib["best_balanced_cut"]).mean() > 0.05
    assert tray["threshold"] > calib["best_balanced_cut"]
    metrics = tray["metrics"]
    assert metrics["false_alarm_rate"] <= 0.05
    assert metrics["recall"] < metrics["recall_at_best_balanced_cut"]


def test_a_loose_target_keeps_the_best_balanced_cut(samples, monkeypatch) -> None:
    """Where the best cut already has fewer false alarms than the target, it stays: a target
    is a ceiling, never a reason to call more trays positive."""
    _fake(monkeypatch, _scores_by_tray(samples, 5, 96, lambda i, t: 0.8 if t else 0.45))
    tray = calibrate(b"", None, samples, samples, 5, 96, false_alarm=0.5, positives=20)
    assert 0.45 < tray["threshold"] <= 0.8
    assert tray["threshold"] == tray["calibration"]["best_balanced_cut"]
    assert tray["metrics"]["balanced_accuracy"] == 1.0
    assert tray["metrics"]["false_alarm_rate"] == 0.0 and tray["metrics"]["recall"] == 1.0
    assert tray["whole_picture_metrics"]["roc_auc"] == 0.5  # the whole picture saw nothing


def test_the_grid_layout_calibrates_as_before(samples, monkeypatch) -> None:
    _fake(monkeypatch, _scores_by_tray(samples, 5, 96, lambda i, t: 0.8 if t else 0.45))
    import training.tray_calibration as tc

    grid, _ = grid_trays(samples, 5, 20, 96)
    found = _scores_by_tray(samples, 5, 96, lambda i, t: 0.8 if t else 0.45)
    found |= {g.tobytes(): (0.8 if k % 2 else 0.45) for k, g in enumerate(grid)}
    _fake(monkeypatch, found)
    tray = tc.calibrate(b"", None, samples, samples, 5, 96, layout="grid", positives=20)
    assert tray["calibration"]["layout"] == "grid" and tray["calibration"]["trays"] == 40
    assert tray["calibration"]["false_alarm_target"] is None
    assert tray["threshold"] == tray["calibration"]["best_balanced_cut"]
    with pytest.raises(ValueError, match="tray layout 'diagonal'"):
        tc.calibrate(b"", None, samples, samples, 5, 96, layout="diagonal")


def test_threshold_for_false_alarms_on_a_tiny_set() -> None:
    targets = np.array([0] * 100 + [1] * 10)
    probs = np.concatenate([np.arange(100) / 100, np.full(10, 0.9)])
    cut = threshold_for_false_alarms(targets, probs, 0.03)
    assert 0.96 < cut <= 0.97  # three negatives (0.97, 0.98, 0.99) at or above it
    assert (probs[:100] >= cut).sum() == 3
    assert threshold_for_false_alarms(targets, probs, 0.0) > 0.99  # none
    assert threshold_for_false_alarms(targets, probs, 1.0) == 0.0  # all allowed
    tied = np.array([0.5] * 10 + [0.9])
    cut = threshold_for_false_alarms(np.array([0] * 10 + [1]), tied, 0.05)
    assert cut > 0.5  # ties cannot be split: every tied negative stays below


def test_canteen_layouts_counts_sizes_surfaces_and_other_food_trays(samples) -> None:
    trays = canteen_trays(samples, seed=0, positives=20, negatives=40, shape=(120, 160))
    assert trays.pixels.shape == (60, 120, 160, 3) and trays.pixels.dtype == np.uint8
    assert trays.targets.tolist() == [1] * 20 + [0] * 40
    assert set(trays.items) == set(range(ITEMS[0], ITEMS[1] + 1))
    assert set(trays.surfaces) == set(SURFACES)
    by_sha = {s.sha256: s for s in samples}
    for kind, members, boxes, count in zip(
        trays.kinds, trays.members, trays.boxes, trays.items, strict=True
    ):
        assert len(members) == len(boxes) == count
        positives = [m for m in members if by_sha[m].target == 1]
        assert len(positives) == (kind == "positive")
        if kind == "other_food":
            assert all(by_sha[m].background for m in members)
        for top, _left, side in boxes:
            assert ITEM_SIDE[0] * 120 * 0.85 - 1 <= side <= ITEM_SIDE[1] * 120
            assert -side // 10 <= top <= 120 - side + side // 10  # at most a tenth cut off
    assert trays.kinds.count("other_food") == 14  # a third of the negative trays
    # items cross the borders of the scoring regions (the picture's halves)
    crossing = [t + s > 60 > t for boxes in trays.boxes for t, _, s in boxes]
    assert 0.2 < np.mean(crossing) < 0.9
    again = canteen_trays(samples, seed=0, positives=20, negatives=40, shape=(120, 160))
    np.testing.assert_array_equal(trays.pixels, again.pixels)  # deterministic for a seed


def test_items_lie_on_the_surface_where_the_layout_says(samples) -> None:
    trays = canteen_trays(samples, seed=1, positives=4, negatives=4, shape=(200, 200))
    for pixels, boxes, surface in zip(trays.pixels, trays.boxes, trays.surfaces, strict=True):
        covered = np.zeros((200, 200), bool)
        for top, left, side in boxes:
            covered[max(top, 0) : top + side, max(left, 0) : left + side] = True
        plain = make_surface(surface, (200, 200), np.random.default_rng(0))
        # away from the items the tray is surface-like: its own texture, not a photo's
        assert abs(pixels[~covered].std() - plain.std()) < 25
        assert pixels[covered].std() > 0


def test_surfaces_differ_and_unknown_ones_are_refused() -> None:
    means = {k: make_surface(k, (64, 64), np.random.default_rng(0)).mean() for k in SURFACES}
    assert max(means.values()) - min(means.values()) > 100  # light table against dark slate
    with pytest.raises(ValueError, match="unknown surface 'marble'"):
        make_surface("marble", (8, 8), np.random.default_rng(0))


def test_too_few_photos_make_no_canteen_trays(samples) -> None:
    trays = canteen_trays([s for s in samples if s.target == 1], 0, 4, 4)
    assert len(trays) == 0 and trays.pixels.shape == (0, 448, 448, 3)
