"""`--arch backbone` end to end: the real pretrained backbone, cached features, a head, TFLite."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from training import tflite
from training.evaluate import probabilities
from training.job import TrainRequest, run
from traygo import backbones, layout
from traygo.images.preprocess import preprocess
from traygo.registry import Registry, metadata_problems
from traygo.store import Store, open_store

from .conftest import add_backbone, write_shapes


def request(store: str, tmp_path: Path, images: Path, labels_file: Path, **kw: object):
    kw.setdefault("min_accuracy", 0.0)
    return TrainRequest(
        label="pizza",
        store=store,
        cache=tmp_path / "cache",
        images=images,
        labels_file=str(labels_file),
        **kw,  # type: ignore[arg-type]
    )


def test_head_on_the_backbone_publishes_a_served_model(
    store: Store, tmp_path: Path, shapes: Path, labels_file: Path, backbone_files
) -> None:
    version = add_backbone(store, backbone_files)
    backbones.set_current(store, version)
    result = run(request(store.uri, tmp_path, shapes, labels_file, promote=True))

    meta = result.metadata
    assert metadata_problems(meta) == []
    assert meta["backbone"]["version"] == version
    assert meta["training"]["architecture"] == "backbone"
    assert meta["input"]["height"] == 64 and meta["backbone"]["features"] == 1280
    assert meta["parity"]["max_abs_diff"] <= 1e-3
    assert meta["metrics"]["accuracy"] >= 0.8  # circles vs squares, on ImageNet features
    assert Registry(store).live("pizza").version == result.version
    for name in ("model.tflite", "model.keras", "report/worst_mistakes.png"):
        assert store.exists(layout.artifact_key("pizza", result.version, name))

    # served end to end: preprocess -> backbone TFLite -> head TFLite gives the recorded answer
    bb = backbones.metadata(store, version)
    backbone = store.get_bytes(bb["artifacts"]["backbone.tflite"]["key"])
    head = store.get_bytes(layout.artifact_key("pizza", result.version, "model.tflite"))
    pictures = (
        sorted((shapes / "pizza").iterdir())[:3] + sorted((shapes / "not_pizza").iterdir())[:3]
    )
    pixels = np.stack([preprocess(p.read_bytes(), (64, 64)) for p in pictures])
    probs = probabilities(tflite.run(head, tflite.run_features(backbone, pixels)))
    assert (probs[:3] >= meta["threshold"]).sum() >= 2
    assert (probs[3:] < meta["threshold"]).sum() >= 2


def test_features_are_computed_once_across_labels_and_runs(
    tmp_path: Path, shapes: Path, labels_file: Path, backbone_files
) -> None:
    store = open_store(tmp_path / "store")
    backbones.set_current(store, add_backbone(store, backbone_files))
    first = run(request(store.uri, tmp_path, shapes, labels_file))
    cache = first.metadata["training"]["feature_cache"]
    assert (cache["hits"], cache["misses"]) == (0, 32)

    more = write_shapes(tmp_path / "more", per_class=4, seed=9)
    for kind in ("pizza", "not_pizza"):  # the old pictures plus 8 new ones
        for path in (shapes / kind).iterdir():
            (more / kind / f"old-{path.name}").write_bytes(path.read_bytes())
    fresh_cache = tmp_path / "other-machine"  # another job: nothing local, the store has it
    second = run(request(store.uri, fresh_cache, more, labels_file))
    cache = second.metadata["training"]["feature_cache"]
    assert (cache["hits"], cache["misses"]) == (32, 8)


def test_same_data_same_seed_same_head(
    tmp_path: Path, shapes: Path, labels_file: Path, backbone_files
) -> None:
    heads = []
    for name in ("a", "b"):
        store = open_store(tmp_path / name)
        backbones.set_current(store, add_backbone(store, backbone_files))
        result = run(request(store.uri, tmp_path / name, shapes, labels_file))
        heads.append(store.get_bytes(layout.artifact_key("pizza", result.version, "model.tflite")))
    assert heads[0] == heads[1]


def test_quantizing_a_head_is_refused(
    tmp_path: Path, shapes: Path, labels_file: Path, backbone_files
) -> None:
    from traygo.errors import ConfigError

    store = open_store(tmp_path / "store")
    backbones.set_current(store, add_backbone(store, backbone_files))
    with pytest.raises(ConfigError, match="--quantize applies to --arch seed and scratch"):
        run(request(store.uri, tmp_path, shapes, labels_file, quantization="int8"))


POOL_LABELS = """
[pizza]
positive = ["red circles"]
negative = ["blue squares"]

[background]
queries = ["grey soup", "brown stew"]
"""


def _scrape_into(store: Store, query: str, kind: str, count: int, seed: int) -> list[str]:
    """What `traygo scrape` leaves for a query: content-addressed pictures under its prefix."""
    from tests.training.conftest import shape_png
    from traygo.images.hashing import sha256_hex
    from traygo.slug import slugify

    rng, shas = np.random.default_rng(seed), []
    for _ in range(count):
        data = shape_png(kind, rng)
        store.put_bytes(layout.image_key(slugify(query), sha256_hex(data), "png"), data)
        shas.append(sha256_hex(data))
    return shas


def test_the_store_pool_is_a_negative_for_every_label_by_default(
    tmp_path: Path, backbone_files, caplog: pytest.LogCaptureFixture
) -> None:
    store = open_store(tmp_path / "store")
    backbones.set_current(store, add_backbone(store, backbone_files))
    labels = tmp_path / "labels.toml"
    labels.write_text(POOL_LABELS)
    _scrape_into(store, "red circles", "pizza", 14, 1)
    _scrape_into(store, "blue squares", "not_pizza", 10, 2)
    pool = _scrape_into(store, "grey soup", "not_pizza", 6, 3)
    pool += _scrape_into(store, "brown stew", "not_pizza", 6, 4)

    def train(**kw: object) -> dict:
        kw.setdefault("min_accuracy", 0.0)
        req = TrainRequest("pizza", store.uri, tmp_path / "cache", labels_file=str(labels), **kw)  # type: ignore[arg-type]
        return run(req).metadata

    meta = train()
    assert meta["dataset"]["counts"] == {"not_pizza": 22, "pizza": 14}
    assert meta["dataset"]["background"] == 12  # both pool queries, as negatives
    assert meta["tray"]["calibration"]["false_alarm_target"] == 0.02
    without = train(background=False, seed=2)
    assert without["dataset"]["counts"] == {"not_pizza": 10, "pizza": 14}
    assert without["dataset"]["background"] == 0
    # never scraped: the label still trains on its own negatives, and the log says what to do
    fresh = open_store(tmp_path / "fresh")
    backbones.set_current(fresh, add_backbone(fresh, backbone_files))
    for key in store.list("images/"):
        if key.startswith(("images/red-circles/", "images/blue-squares/")):
            fresh.put_bytes(key, store.get_bytes(key))
    req = TrainRequest("pizza", fresh.uri, tmp_path / "c2", labels_file=str(labels))
    req.min_accuracy = 0.0
    assert run(req).metadata["dataset"]["background"] == 0
    assert "no background pool" in caplog.text and "traygo scrape --background" in caplog.text


def _copy_backbone(store: Store, files: dict[str, bytes], version: str) -> None:
    """The imported backbone again under another version name (a tuned one stands in)."""
    import json

    old = next(k.split("/")[1] for k in files if k.endswith("/metadata.json"))
    for key, data in files.items():
        if key.endswith("/metadata.json"):
            data = (
                json.dumps(json.loads(data) | {"version": version})
                .replace(f"backbones/{old}/", f"backbones/{version}/")
                .encode()
            )
        store.put_bytes(key.replace(f"backbones/{old}/", f"backbones/{version}/"), data)


def test_a_head_trains_on_the_backbone_it_is_told_and_the_current_one_stays(
    tmp_path: Path, shapes: Path, labels_file: Path, backbone_files
) -> None:
    store = open_store(tmp_path / "store")
    current = add_backbone(store, backbone_files)
    backbones.set_current(store, current)
    _copy_backbone(store, backbone_files, "tuned-64-00000001")
    moved = run(request(store.uri, tmp_path, shapes, labels_file, backbone="tuned-64-00000001"))
    assert moved.metadata["backbone"]["version"] == "tuned-64-00000001"
    assert backbones.current_version(store) == current
    from traygo.errors import ConfigError

    with pytest.raises(ConfigError, match="--backbone applies to --arch backbone"):
        run(
            request(store.uri, tmp_path, shapes, labels_file, backbone=current, architecture="seed")
        )


def test_the_gate_scores_a_live_head_on_another_backbone_on_that_backbones_features(
    tmp_path: Path,
) -> None:
    """Moving a label to a new backbone is gated like a retrain: the live head, on the old
    backbone, is scored on the old backbone's features of the same validation photos."""
    import io

    from PIL import Image

    from tests.lambdas.conftest import BACKBONE, RED_HEAD, publish_backbone
    from training import dataset as ds
    from training.head_job import _scorer
    from traygo.images.hashing import sha256_hex

    store = open_store(tmp_path / "store")
    publish_backbone(store, "tiny-32-00000001", BACKBONE.read_bytes())  # 4 features, 32 px
    samples = []
    for i, colour in enumerate([(230, 20, 20), (20, 20, 230)] * 2):
        buf = io.BytesIO()
        Image.new("RGB", (40, 40), colour).save(buf, "PNG")
        path = tmp_path / f"{i}.png"
        path.write_bytes(buf.getvalue())
        samples.append(ds.Sample(path, int(colour[0] > 100), sha256_hex(buf.getvalue()), i))
    req = TrainRequest("pizza", store.uri, tmp_path / "cache")
    ours = np.zeros((4, 1280), np.float32)  # this run's backbone features: not the live head's
    score = _scorer(Registry(store), req, "tuned-64-00000001", ours, samples)

    probs = score({"backbone": {"version": "tiny-32-00000001"}}, RED_HEAD.read_bytes())
    assert probs is not None and list(probs >= 0.5) == [True, False, True, False]
    assert list(store.list("features/tiny-32-00000001/"))  # cached like any others
