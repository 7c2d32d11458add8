"""`traygo backbone tune` on a tiny backbone: publish with provenance, int8 parity, resume."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
from PIL import Image, ImageDraw

from training.backbone import int8, publish, tune, tune_fit, tune_report
from training.checkpoints import StoreCheckpoint
from traygo import backbones, layout
from traygo.cli import main
from traygo.store import Store, open_store

SIZE = 64
CLASSES = {"pizza": (220, 40, 30), "not_pizza": (30, 40, 220), "salad": (40, 200, 40)}


def tiny_backbone(seed: int = 0) -> keras.Model:
    """Five stride-2 convolutions (stride 32, like Lite0) named like Lite0's layers."""
    keras.utils.set_random_seed(seed)
    pixels = keras.Input((SIZE, SIZE, 3), dtype="float32", name="pixels")
    x = keras.layers.Rescaling(1 / 128, offset=-1, name="scale_pixels")(pixels)
    x = keras.layers.Conv2D(8, 3, 2, padding="same", name="conv_stem")(x)
    for n in range(3):
        x = keras.layers.Conv2D(8, 3, 2, padding="same", activation="relu6", name=f"blocks.{n}")(x)
    x = keras.layers.Conv2D(16, 3, 2, padding="same", name="conv_head")(x)
    x = keras.layers.BatchNormalization(name="bn1")(x)
    x = keras.layers.ReLU(6.0, name="bn1.relu6")(x)
    return keras.Model(pixels, keras.layers.GlobalAveragePooling2D(name="pool")(x), name="tiny")


def publish_parent(store: Store) -> str:
    built = publish.Built(tiny_backbone(), SIZE)
    artifacts, parity, _ = publish.convert(built, None)
    version = "tiny-64-00000000"
    source = {"package": "test", "package_version": "0", "file": "-", "sha256": "0" * 64}
    meta = publish.describe("tiny", version, built, 16) | {
        "source": source | {"license": "Apache-2.0"},
        "recipe": "test",
        "parity": parity,
    }
    publish.publish(store, version, artifacts, meta)
    backbones.set_current(store, version)
    return version


def write_classes(root: Path, per_class: int = 30) -> Path:
    rng = np.random.default_rng(0)
    for name, colour in CLASSES.items():
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            img = Image.fromarray(rng.integers(60, 200, (6, 6, 3), dtype=np.uint8)).resize((48, 48))
            x, y, side = (int(v) for v in rng.integers(4, 20, 3))
            ImageDraw.Draw(img).ellipse([x, y, x + side + 8, y + side + 8], fill=colour)
            buf = io.BytesIO()
            img.save(buf, "PNG")
            (root / name / f"{i:03d}.png").write_bytes(buf.getvalue())
    return root


@pytest.fixture
def setup(tmp_path: Path, labels_file: Path) -> tuple[Store, tune.TuneRequest, str]:
    store = open_store(str(tmp_path / "store"))
    parent = publish_parent(store)
    request = tune.TuneRequest(
        store=str(tmp_path / "store"),
        cache=tmp_path / "cache",
        images=[write_classes(tmp_path / "images")],
        labels_file=str(labels_file),
        recipe=tune_fit.Recipe(epochs=2, first_tuned_block=1, learning_rate=1e-3),
    )
    return store, request, parent


def test_tune_publishes_a_new_version_with_provenance_int8_and_a_report(
    setup: tuple[Store, tune.TuneRequest, str],
) -> None:
    store, request, parent = setup
    result = tune.run(request)
    meta = result.metadata
    assert result.created and result.version != parent and "-tuned-64-" in result.version
    assert not result.current and backbones.current_version(store) == parent
    prov = meta["provenance"]
    assert prov["parent"] == parent and prov["recipe"]["epochs"] == 2
    assert set(prov["data"]["counts"]) == set(CLASSES) and prov["data"]["fingerprint"]
    assert sum(prov["data"]["splits"].values()) == sum(prov["data"]["counts"].values())
    assert prov["fit"]["epochs_run"] == 2 and len(prov["fit"]["history"]["loss"]) == 2
    assert set(meta["metrics"]["held_out"]["tuned"]) == {"pizza"}  # the configured label
    for name in ("backbone.tflite", "backbone_map.tflite", int8.PHOTO, int8.TRAY):
        assert store.exists(layout.backbone_key(result.version, name))
    assert meta["int8"]["parity"]["cosine_mean"] >= int8.MIN_MEAN_COSINE
    assert isinstance(meta["int8"]["served"], bool) and meta["int8"]["why"]
    int8_ba = meta["int8"]["balanced_accuracy"]
    assert set(int8_ba["float16"]) == set(int8_ba["int8"]) == {"pizza"}
    assert meta["int8"]["served"] == (
        int8_ba["float16"]["pizza"]["balanced_accuracy"]
        - int8_ba["int8"]["pizza"]["balanced_accuracy"]
        <= tune_report.INT8_TOLERANCE
    )
    assert meta["source"]["file"] == layout.backbone_key(parent, "backbone.keras")
    assert not list(store.list(f"{layout.BACKBONES}/_checkpoints/"))  # cleared once published


def test_from_the_cli_a_rerun_finds_the_version_published_and_does_not_tune_again(
    setup: tuple[Store, tune.TuneRequest, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store, request, parent = setup
    assert request.images is not None
    args = ["backbone", "tune", "--images", str(request.images[0]), "--store", request.store]
    args += ["--cache-dir", str(request.cache), "--labels-file", str(request.labels_file)]
    assert main([*args, "--epochs", "1", "--no-int8"]) == 0
    out = capsys.readouterr().out
    (version,) = [k.split("/")[1] for k in store.list("backbones/") if "-tuned-" in k][:1]
    assert f"backbone {version} published (parent {parent})" in out
    assert "int8: " not in out and "current: no" in out  # --no-int8: float16 only
    monkeypatch.setattr(tune_fit, "fine_tune", _must_not_run)
    assert main([*args, "--epochs", "1", "--no-int8"]) == 0
    assert f"backbone {version} was already published" in capsys.readouterr().out


def test_bad_input_is_one_clear_line_before_any_import(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "images" / "pizza").mkdir(parents=True)
    store = tmp_path / "store"
    code = main(["backbone", "tune", "--images", str(tmp_path / "images"), "--store", str(store)])
    err = capsys.readouterr().err
    assert code != 0 and "at least 2 classes" in err and len(err.strip().splitlines()) == 1
    assert not store.exists()  # nothing imported, nothing published


def _must_not_run(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("tuned again")


def test_an_interrupted_tune_resumes_from_its_last_checkpoint(
    setup: tuple[Store, tune.TuneRequest, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, request, _ = setup
    request.run_id, request.resume, request.int8 = "job-1", True, False  # resume is the point
    epochs: list[int] = []
    save = StoreCheckpoint.on_epoch_end

    def reclaimed(self: StoreCheckpoint, epoch: int, logs: Any = None) -> None:
        save(self, epoch, logs)
        epochs.append(epoch)
        if len(epochs) == 1:
            raise SystemExit("spot reclaim")  # after the first epoch's checkpoint

    monkeypatch.setattr(StoreCheckpoint, "on_epoch_end", reclaimed)
    with pytest.raises(SystemExit):
        tune.run(request)
    assert store.exists(layout.backbone_checkpoint_prefix("job-1") + "state.json")
    result = tune.run(request)
    assert epochs == [0, 1]  # the second run began at epoch 1
    assert len(result.metadata["provenance"]["fit"]["history"]["loss"]) == 2


def test_make_current_moves_only_a_backbone_that_beats_its_parent(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "store"))
    parent = publish_parent(store)
    meta = {"version": parent, "metrics": {"mean_balanced_accuracy": {"parent": 0.9, "tuned": 0.8}}}
    with pytest.raises(tune.NotBetter, match="not made current"):
        tune._make_current(store, meta, wanted=True)
    meta["metrics"]["mean_balanced_accuracy"]["tuned"] = 0.95
    assert tune._make_current(store, meta, wanted=True)


def test_int8_features_match_float16_on_random_input_within_tolerance() -> None:
    base = tiny_backbone()
    built = publish.Built(base, SIZE)
    rng = np.random.default_rng(1)
    calibrate = rng.uniform(0, 255, (16, SIZE, SIZE, 3)).astype(np.float32)
    check = rng.uniform(0, 255, (8, SIZE, SIZE, 3)).astype(np.float32)
    artifacts, _, report = publish.convert(built, (calibrate, check))
    assert report is not None and report["problem"] is None
    assert report["parity"]["cosine_mean"] >= int8.MIN_MEAN_COSINE
    assert report["parity"]["cosine_min"] >= int8.MIN_COSINE
    assert report["tray_parity"]["cosine_min"] >= int8.MIN_COSINE
    assert len(artifacts[int8.PHOTO]) < len(artifacts["backbone.tflite"])


def test_int8_that_does_not_compute_the_same_features_is_refused() -> None:
    base = tiny_backbone()
    photo = publish.PHOTO
    floats = publish.convert(publish.Built(base, SIZE), None)[0][photo]
    # calibrated on black pictures only, every activation range is zero: bright input saturates
    quantized = int8.quantize(base, np.zeros((4, SIZE, SIZE, 3), np.float32))
    bright = np.random.default_rng(2).uniform(100, 255, (4, SIZE, SIZE, 3)).astype(np.float32)
    found = int8.problem(int8.check(floats, quantized, bright))
    assert found is not None and "differ from float16's" in found


def test_an_int8_pair_that_fails_parity_is_left_out_and_float16_published(
    setup: tuple[Store, tune.TuneRequest, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, request, _ = setup
    monkeypatch.setattr(int8, "problem", lambda report: "forced by the test")
    result = tune.run(request)
    assert result.metadata["int8"]["served"] is False
    assert result.metadata["int8"]["why"] == "not published: forced by the test; forced by the test"
    assert not store.exists(layout.backbone_key(result.version, int8.PHOTO))
    assert store.exists(layout.backbone_key(result.version, "backbone.tflite"))


def test_int8_serves_only_when_no_label_loses_more_than_the_tolerance() -> None:
    float16 = {"pizza": {"balanced_accuracy": 0.95}, "fries": {"balanced_accuracy": 0.90}}
    close = {"pizza": {"balanced_accuracy": 0.948}, "fries": {"balanced_accuracy": 0.901}}
    assert tune_report.int8_decision(float16, close)["served"]
    far = close | {"fries": {"balanced_accuracy": 0.89}}
    decided = tune_report.int8_decision(float16, far)
    assert not decided["served"] and decided["why"].startswith("fries loses 1.00%")


def test_the_background_pool_is_tuned_on_only_when_asked(tmp_path: Path) -> None:
    from training.backbone import tune_data

    classes = write_classes(tmp_path / "labels", per_class=2)
    pool = tmp_path / "pool"
    for dish in ("pasta", "rice"):
        (pool / dish).mkdir(parents=True)
        (pool / dish / "1.png").write_bytes((classes / "salad" / "000.png").read_bytes())
    default = tune_data.from_folders([classes, pool], ["pizza"], background=False)
    assert set(default) == set(CLASSES)
    asked = tune_data.from_folders([classes, pool], ["pizza"], background=True)
    assert set(asked) == set(CLASSES) | {"pasta", "rice"}
