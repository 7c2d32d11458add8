"""Training on the canteen's corrections: the rows, the weight, the grouped split, the gate."""

from __future__ import annotations

import dataclasses
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from training import feedback_data, feedback_fit
from training.dataset import Sample
from training.head import balanced_weights
from training.job import TrainRequest, corrections_for, has_new_feedback, run
from traygo import backbones, feedback, layout
from traygo.images.hashing import sha256_hex
from traygo.store import Store, open_store

from .conftest import add_backbone, shape_png, write_shapes

R, F = 10, 4


def _sample(i: int, target: int, group: int | None = None) -> Sample:
    return Sample(
        Path(f"{i}.png"), target, f"{i:064x}", i if group is None else group, feedback=True
    )


def _corrections(samples: list[Sample], weight: float = 3.0) -> feedback_fit.Corrections:
    rng = np.random.default_rng(0)
    return feedback_fit.Corrections(
        {"train": samples, "monitor": [], "validation": []},
        {s.sha256: rng.standard_normal(F).astype(np.float32) for s in samples},
        {s.sha256: rng.standard_normal((R, F)).astype(np.float32) for s in samples},
        weight,
    )


def test_an_absent_label_is_a_negative_in_every_region_and_a_present_one_in_the_picked_one() -> (
    None
):
    absent, present = _sample(1, 0), _sample(2, 1)
    fb = _corrections([absent, present], weight=3.0)
    x, y, w = fb.training_rows(lambda regions: 7)

    assert len(y) == (1 + R) + 2
    assert (y[: 1 + R] == 0).all() and (y[1 + R :] == 1).all()
    np.testing.assert_array_equal(x[1 : 1 + R], fb.regions[absent.sha256])  # every region
    np.testing.assert_array_equal(x[0], fb.photos[absent.sha256])  # and the whole picture
    np.testing.assert_array_equal(x[-1], fb.regions[present.sha256][7])  # the picked region
    assert (w == 3.0).all()
    # without a picker a positive gives its whole picture only: the truth does not say where
    _, y_first, _ = fb.training_rows(None)
    assert list(y_first) == [0] * (1 + R) + [1]


def test_corrections_all_held_out_give_no_rows_of_the_web_rows_width() -> None:
    fb = _corrections([_sample(1, 0)])
    fb.parts = {"train": [], "monitor": [], "validation": fb.parts["train"]}
    x, y, w = fb.training_rows(None)
    assert x.shape == (0, F) and len(y) == len(w) == 0
    assert np.concatenate([np.ones((3, F), np.float32), x]).shape == (3, F)  # stacks under them


def test_the_weight_counts_within_a_class_and_the_classes_stay_balanced() -> None:
    targets = np.array([0, 0, 0, 1, 1])
    weights = balanced_weights(targets, np.array([1, 1, 3, 1, 1], np.float32))
    assert weights[2] == pytest.approx(3 * weights[0])
    assert weights[:3].sum() == pytest.approx(weights[3:].sum())
    # unit weights: the plain class balance the head always had
    np.testing.assert_allclose(balanced_weights(targets), [5 / 6] * 3 + [5 / 4] * 2, rtol=1e-6)


def _frame(rng: np.random.Generator, base: np.ndarray | None = None) -> tuple[np.ndarray, bytes]:
    """A camera frame, or (given `base`) the next frame of the same tray: a little noise."""
    if base is None:
        base = rng.integers(0, 255, (6, 8, 3)).astype(np.uint8)
        base = np.asarray(Image.fromarray(base).resize((160, 120), Image.Resampling.BICUBIC))
    noisy = np.clip(base.astype(int) + rng.integers(-6, 7, base.shape), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(noisy).save(buf, "JPEG", quality=90)
    return base, buf.getvalue()


def test_near_identical_frames_share_a_group_and_never_straddle_the_split(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    truth = feedback.Truth((), ("pizza",), ())
    found = []
    for tray in range(12):
        base = None
        for frame in range(3):  # three frames of each tray
            base, data = _frame(rng, base)
            path = tmp_path / f"{tray}-{frame}.jpg"
            path.write_bytes(data)
            found.append(feedback_data.Correction(path, sha256_hex(data), truth, datetime.now(UTC)))
    groups = feedback_data.grouped(found)
    by_tray: dict[str, set[int]] = {}
    for c in groups:
        by_tray.setdefault(c.path.name.split("-")[0], set()).add(c.group)
    assert all(len(g) == 1 for g in by_tray.values())  # each tray's frames: one group
    assert len({g for gs in by_tray.values() for g in gs}) == 12
    samples = feedback_data.samples_for(groups, "pizza")
    parts = feedback_fit.stable_split(samples)
    seen = [{s.group for s in part} for part in parts.values()]
    assert parts["validation"] and parts["train"]
    assert not (seen[0] & seen[1] or seen[0] & seen[2] or seen[1] & seen[2])
    # a correction keeps its side when more arrive
    more = feedback_fit.stable_split([*samples, _sample(99, 0, group=10**12 + 3)])
    for name, part in parts.items():
        assert {s.sha256 for s in part} <= {s.sha256 for s in more[name]}


def test_the_latest_truth_of_a_picture_wins_and_unsure_labels_are_left_out(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    data = shape_png("pizza", np.random.default_rng(0))
    path.write_bytes(data)
    now = datetime.now(UTC)
    old = feedback_data.Correction(path, sha256_hex(data), feedback.Truth((), ("pizza",), ()), now)
    new = feedback_data.Correction(
        path, sha256_hex(data), feedback.Truth(("pizza",), (), ("fries",)), now + timedelta(1)
    )
    kept = feedback_data.grouped(feedback_data.latest([new, old]))
    assert [s.target for s in feedback_data.samples_for(kept, "pizza")] == [1]
    assert feedback_data.samples_for(kept, "fries") == []


def test_the_gate_refuses_a_head_worse_than_the_live_one_on_the_canteen_pictures() -> None:
    decision = {"passed": True, "reason": "accuracy 0.950 >= minimum 0.800", "live_version": "v1"}
    worse = {"accuracy": 0.6, "n": 10}
    feedback_fit.gate(decision, worse, {"accuracy": 0.9})
    assert decision["passed"] is False and "canteen's own pictures" in decision["reason"]
    fine = {"passed": True, "reason": "ok", "live_version": "v1"}
    feedback_fit.gate(fine, {"accuracy": 0.9, "n": 10}, {"accuracy": 0.9})
    assert fine["passed"] is True and "held-out corrections" in fine["reason"]
    # on a handful of pictures one is ten points: recorded, never a veto
    few = {"passed": True, "reason": "ok", "live_version": "v1"}
    feedback_fit.gate(few, {"accuracy": 0.5, "n": 2}, {"accuracy": 1.0})
    assert few["passed"] is True and "too few to compare" in few["reason"]
    assert few["feedback"] == {"accuracy": 0.5, "live_accuracy": 1.0, "n": 2, "min_n": 10}


def test_real_trays_recalibrate_the_tray_threshold_only_when_there_are_enough() -> None:
    rng = np.random.default_rng(0)
    few = {"threshold": 0.9, "calibration": {}}
    feedback_fit.recalibrate(few, rng.random(20), np.zeros(20, np.int64), 0.02)
    assert few["threshold"] == 0.9 and few["calibration"]["real_trays"]["used"] is False
    enough = {"threshold": 0.9, "calibration": {}}
    probs = rng.random(60) * 0.5  # real trays without the label never score above 0.5
    feedback_fit.recalibrate(enough, probs, np.zeros(60, np.int64), 0.02)
    assert enough["calibration"]["real_trays"]["used"] is True
    assert enough["threshold"] <= 0.5 and (probs >= enough["threshold"]).mean() <= 0.02


# --- end to end: corrections in the store change the head, and can veto it ---

LABELS = """
[pizza]
positive = ["red circles"]
negative = ["blue squares"]
"""


def _decoy(rng: np.random.Generator, size: int = 96) -> bytes:
    """A canteen tray the web pictures never showed: red squares (red like the positives)."""
    img = Image.new("RGB", (size * 4 // 3, size), tuple(int(v) for v in rng.integers(150, 230, 3)))
    draw = ImageDraw.Draw(img)
    for _ in range(3):
        x, y = (int(v) for v in rng.integers(0, size // 2, 2))
        side = int(rng.integers(size // 4, size // 2))
        draw.rectangle([x, y, x + side, y + side], fill=(220, int(rng.integers(0, 60)), 30))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=92)
    return buf.getvalue()


def _send(store: Store, data: bytes, truth: feedback.Truth, when: datetime) -> None:
    sha = sha256_hex(data)
    key = layout.feedback_image_key(sha, "jpg")
    store.put_bytes(key, data)
    record = feedback.build_record(
        sha,
        key,
        len(data),
        truth,
        None,
        received_at=when,
        corrects=None,
        api_key_id=None,
        source="body",
    )
    store.put_json(layout.feedback_record_key(record["id"]), record)


def test_corrections_train_the_head_by_default_and_can_veto_its_promotion(
    tmp_path: Path, backbone_files
) -> None:
    store = open_store(tmp_path / "store")
    backbones.set_current(store, add_backbone(store, backbone_files))
    labels = tmp_path / "labels.toml"
    labels.write_text(LABELS)
    images = write_shapes(tmp_path / "images", per_class=14)
    rng = np.random.default_rng(5)
    absent = feedback.Truth((), ("pizza",), ())
    start = datetime(2026, 12, 1, tzinfo=UTC)
    for i in range(70):
        _send(store, _decoy(rng), absent, start + timedelta(minutes=i))

    def train(**kw: object) -> dict:
        req = TrainRequest(
            "pizza",
            store.uri,
            tmp_path / "cache",
            images=images,
            labels_file=str(labels),
            min_accuracy=0.0,
            **kw,  # type: ignore[arg-type]
        )
        return run(req).metadata

    live = train(promote=True, feedback_weight=5.0)
    fed = live["feedback"]
    assert sum(fed["counts"].values()) == 70 and fed["present"] == 0
    assert fed["counts"]["validation"] >= feedback_fit.MIN_GATE_CORRECTIONS
    assert fed["validation"]["false_alarm_rate"] <= 0.2  # the decoys learnt as "no pizza"
    assert live["gate"]["passed"] is True

    ignored = train(feedback_weight=1e-6, seed=2)  # a head that all but ignores them
    assert ignored["feedback"]["validation"]["accuracy"] < fed["validation"]["accuracy"]
    assert ignored["gate"]["passed"] is False
    assert "canteen's own pictures" in ignored["gate"]["reason"]

    on = TrainRequest("pizza", store.uri, tmp_path / "cache")
    assert len(corrections_for(on, store)) == 70
    assert corrections_for(dataclasses.replace(on, feedback=False), store) == []  # --no-feedback
    # the nightly job's question: new corrections since the live version?
    req = TrainRequest("pizza", store.uri, tmp_path / "cache", labels_file=str(labels))
    assert has_new_feedback(req, "pizza") is False
    _send(store, _decoy(rng), absent, datetime.now(UTC) + timedelta(minutes=1))
    assert has_new_feedback(req, "pizza") is True


def test_an_exported_folder_reads_back_as_the_same_corrections(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from traygo.feedback_cli import app

    store = open_store(tmp_path / "store")
    rng = np.random.default_rng(2)
    truths = [
        feedback.Truth(("pizza",), ("burger",), ()),
        feedback.Truth((), ("burger", "pizza"), ()),
        feedback.Truth(("burger", "pizza"), (), ()),
        feedback.Truth(("burger",), (), ("pizza",)),
    ]
    for i, truth in enumerate(truths):
        _send(store, _decoy(rng), truth, datetime(2026, 12, 1, i, tzinfo=UTC))
    out = tmp_path / "export"
    result = CliRunner().invoke(app, ["export", str(out), "--store", store.uri])
    assert result.exit_code == 0, result.output

    assert feedback_data.is_export(out)
    exported = feedback_data.from_export(out)
    stored = feedback_data.from_store(store, tmp_path / "cache")
    assert {(c.sha256, c.truth) for c in exported} == {(c.sha256, c.truth) for c in stored}
    assert sorted(s.target for s in feedback_data.samples_for(exported, "pizza")) == [0, 1, 1]
    assert all(c.path.is_file() for c in exported)


def test_the_feedback_gate_scores_a_live_head_on_its_own_backbone(tmp_path: Path) -> None:
    """During a backbone switch the live head is scored on its backbone's regions, not on the
    new head's: a red-finding head sees red only in its own backbone's features."""
    from tests.lambdas.conftest import RED_HEAD, publish_head
    from traygo.registry import Registry

    registry = Registry(open_store(str(tmp_path / "store")))
    publish_head(registry, "pizza", "20261130T000000Z-aaaaaaaa", RED_HEAD.read_bytes(), "old", 0.5)
    on_new = np.zeros((3, 10, 4), np.float32)
    on_new[..., 2] = 1.0  # blue everywhere in the new backbone's features
    on_old = np.zeros((3, 10, 4), np.float32)
    on_old[..., 0] = 1.0  # red everywhere in the old one's
    asked: list[str] = []

    def regions_on(version: str) -> np.ndarray:
        asked.append(version)
        return on_old

    targets = np.array([1, 1, 1])
    version, live = feedback_fit.live_scores(registry, "pizza", "new", on_new, targets, regions_on)
    assert version == "20261130T000000Z-aaaaaaaa" and asked == ["old"]
    assert live is not None and live["recall"] == 1.0
    _, same = feedback_fit.live_scores(registry, "pizza", "old", on_new, targets, regions_on)
    assert asked == ["old"] and same is not None and same["recall"] == 0.0
