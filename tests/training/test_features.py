"""The feature cache: computed once per (backbone, image), shared by labels and concurrent jobs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.training.conftest import write_shapes
from training import dataset as ds
from training.features import FeatureCache, features_for
from traygo import layout
from traygo.store import Store


class CountingRunner:
    """Stands in for the TFLite backbone: features are the file's mean colour."""

    version = "bb-1"

    def __init__(self) -> None:
        self.computed: list[Path] = []

    def run(self, paths: list[Path]) -> np.ndarray:
        from PIL import Image

        self.computed += paths
        return np.stack(
            [np.asarray(Image.open(p).convert("RGB"), dtype=np.float32).mean((0, 1)) for p in paths]
        )


@pytest.fixture
def samples(tmp_path: Path) -> list[ds.Sample]:
    return ds.from_folders(
        write_shapes(tmp_path / "images", per_class=10), ("not_pizza", "pizza")
    ).samples


def test_second_run_computes_nothing(store: Store, samples, tmp_path: Path) -> None:
    runner = CountingRunner()
    cache = FeatureCache(store, runner.version, tmp_path / "cache")
    first, stats = features_for(samples, cache, runner)
    assert (stats.hits, stats.misses, len(runner.computed)) == (0, 20, 20)
    again, stats = features_for(
        samples, FeatureCache(store, runner.version, tmp_path / "c2"), runner
    )
    assert (stats.hits, stats.misses, len(runner.computed)) == (20, 0, 20)
    np.testing.assert_array_equal(first, again)  # cold and warm runs train on the same numbers


def test_a_new_label_computes_only_its_new_images(store: Store, samples, tmp_path: Path) -> None:
    runner = CountingRunner()
    features_for(samples[:12], FeatureCache(store, runner.version, tmp_path / "a"), runner)
    _, stats = features_for(samples, FeatureCache(store, runner.version, tmp_path / "b"), runner)
    assert (stats.hits, stats.misses) == (12, 8)
    assert sorted(runner.computed) == sorted(s.path for s in samples)  # none twice


def test_another_backbone_shares_nothing(store: Store, samples, tmp_path: Path) -> None:
    runner = CountingRunner()
    features_for(samples, FeatureCache(store, "bb-1", tmp_path / "a"), runner)
    _, stats = features_for(samples, FeatureCache(store, "bb-2", tmp_path / "b"), runner)
    assert stats.misses == len(samples)


def test_two_jobs_writing_at_once_lose_nothing(store: Store, samples, tmp_path: Path) -> None:
    # two jobs that started from an empty cache each write what they computed: overlapping
    # shards, written side by side, are read back as their union
    one, two = CountingRunner(), CountingRunner()
    cache_one = FeatureCache(store, "bb-1", tmp_path / "one")
    cache_two = FeatureCache(store, "bb-1", tmp_path / "two")
    known_before = cache_one.load(), cache_two.load()
    assert known_before == ({}, {})
    cache_one.add([s.sha256 for s in samples[:15]], one.run([s.path for s in samples[:15]]))
    cache_two.add([s.sha256 for s in samples[5:]], two.run([s.path for s in samples[5:]]))
    cache_two.add([s.sha256 for s in samples[5:]], two.run([s.path for s in samples[5:]]))
    keys = list(store.list(layout.feature_prefix("bb-1", "pooled")))
    assert len(keys) == 2  # the same work twice is the same key, not a second shard
    merged = FeatureCache(store, "bb-1", tmp_path / "three").load()
    assert set(merged) == {s.sha256 for s in samples}


def test_a_killed_job_keeps_the_shards_it_finished(
    store: Store, samples, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import training.features

    monkeypatch.setattr(training.features, "SHARD_SIZE", 8)

    class DiesOnThirdChunk(CountingRunner):
        def run(self, paths: list[Path]) -> np.ndarray:
            if len(self.computed) >= 16:
                raise KeyboardInterrupt("Spot reclaim")
            return super().run(paths)

    with pytest.raises(KeyboardInterrupt):
        features_for(samples, FeatureCache(store, "bb-1", tmp_path / "a"), DiesOnThirdChunk())
    assert len(list(store.list(layout.feature_prefix("bb-1", "pooled")))) == 2
    _, stats = features_for(samples, FeatureCache(store, "bb-1", tmp_path / "b"), CountingRunner())
    assert (stats.hits, stats.misses) == (16, 4)
