"""End to end on tiny pictures: real TensorFlow training, real TFLite, a real store."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from training import tflite
from training.job import TrainRequest, run
from traygo import layout
from traygo.images.hashing import sha256_hex
from traygo.images.preprocess import preprocess
from traygo.registry import Registry, metadata_problems
from traygo.slug import slugify
from traygo.store import open_store

from .conftest import shape_png

REPORT = ("metrics.json", "confusion_matrix.png", "training_curves.png", "worst_mistakes.png")


class Interrupted(Exception):
    pass


class StopAfter(keras.callbacks.Callback):
    """Stands in for a Spot reclaim: the process dies after `epoch` epochs."""

    def __init__(self, epochs: int) -> None:
        super().__init__()
        self.epochs = epochs

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if epoch + 1 >= self.epochs:
            raise Interrupted


class CountEpochs(keras.callbacks.Callback):
    def __init__(self) -> None:
        super().__init__()
        self.started: list[int] = []

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.started.append(epoch)


class Sabotage(keras.callbacks.Callback):
    """Makes the trained model useless (every logit 0), so it is surely worse than live."""

    def on_train_end(self, logs: dict | None = None) -> None:
        self.model.set_weights([np.zeros_like(w) for w in self.model.get_weights()])


def request(tmp_path: Path, shapes: Path | None, labels_file: Path, **kw: object) -> TrainRequest:
    kw.setdefault("architecture", "seed")
    kw.setdefault("epochs", 4)
    kw.setdefault("min_accuracy", 0.0)
    return TrainRequest(
        label="pizza",
        store=str(kw.pop("store", tmp_path / "store")),
        cache=tmp_path / "cache",
        images=shapes,
        labels_file=str(labels_file),
        **kw,  # type: ignore[arg-type]
    )


def test_trains_exports_and_publishes_a_served_model(
    tmp_path: Path, shapes: Path, labels_file: Path
) -> None:
    result = run(request(tmp_path, shapes, labels_file, epochs=6, promote=True))

    meta = result.metadata
    assert metadata_problems(meta) == []
    assert meta["classes"] == ["not_pizza", "pizza"]
    total = sum(meta["dataset"]["counts"].values())
    assert 0.15 * total <= meta["metrics"]["n"] <= 0.25 * total  # the 20% validation split
    assert meta["metrics"]["accuracy"] >= 0.75  # red circles vs blue squares
    assert meta["parity"]["max_abs_diff"] <= 1e-3
    assert result.promoted
    store = open_store(str(tmp_path / "store"))
    for name in REPORT:
        assert store.exists(layout.artifact_key("pizza", result.version, f"report/{name}"))
    model = store.get_bytes(layout.artifact_key("pizza", result.version, "model.tflite"))
    image = preprocess(shape_png("pizza", np.random.default_rng(5))).astype(np.float32)
    assert tflite.run(model, image[None]).shape == (1, 2)
    assert Registry(store).live("pizza").version == result.version
    assert not [*store.list("models/pizza/_checkpoints/")]  # cleared once published


def test_quantized_export_keeps_float_io_and_passes_parity(
    tmp_path: Path, shapes: Path, labels_file: Path
) -> None:
    result = run(request(tmp_path, shapes, labels_file, quantization="int8", epochs=5))
    model = open_store(str(tmp_path / "store")).get_bytes(
        layout.artifact_key("pizza", result.version, "model.tflite")
    )
    interpreter = tflite.interpreter_class()(model_content=model)
    assert interpreter.get_input_details()[0]["dtype"] == np.float32
    assert interpreter.get_output_details()[0]["dtype"] == np.float32
    parity = result.metadata["parity"]
    assert parity["accuracy_keras"] - parity["accuracy_tflite"] <= 0.01
    assert result.metadata["quantization"] == "int8"


def test_promotion_refuses_a_model_worse_than_live(
    tmp_path: Path, shapes: Path, labels_file: Path
) -> None:
    good = run(request(tmp_path, shapes, labels_file, epochs=6, promote=True))
    assert good.promoted

    worse = run(
        request(tmp_path, shapes, labels_file, seed=2, promote=True, callbacks=[Sabotage()])
    )

    gate = worse.metadata["gate"]
    assert not worse.promoted and not gate["passed"]
    assert gate["live_version"] == good.version
    assert "worse than the live" in gate["reason"]
    assert Registry(open_store(str(tmp_path / "store"))).live("pizza").version == good.version


def test_resume_continues_an_interrupted_batch_job(
    tmp_path: Path, shapes: Path, labels_file: Path
) -> None:
    # the run id comes from AWS Batch, which keeps the job id across a job's retries
    job = {"epochs": 5, "batch_job_id": "4f2a:7"}
    prefix = layout.checkpoint_prefix("pizza", "batch-4f2a-7")
    with pytest.raises(Interrupted):
        run(request(tmp_path, shapes, labels_file, **job, callbacks=[StopAfter(2)]))
    store = open_store(str(tmp_path / "store"))
    state = store.get_json(prefix + "state.json")
    assert state["epoch"] == 1

    counter = CountEpochs()
    result = run(request(tmp_path, shapes, labels_file, **job, resume=True, callbacks=[counter]))

    assert counter.started and counter.started[0] == 2  # picked up after the second epoch
    assert result.metadata["training"]["epochs"] == 2 + len(counter.started)
    assert not [*store.list(prefix)]


def test_scratch_network_trains_and_exports_deterministically(
    tmp_path: Path, shapes: Path, labels_file: Path
) -> None:
    result = run(request(tmp_path, shapes, labels_file, architecture="scratch", epochs=2))

    meta = result.metadata
    assert meta["training"]["architecture"] == "scratch"
    assert meta["training"]["parameters"] < 300_000  # small, as the recipe promises
    assert meta["parity"]["max_abs_diff"] <= 1e-3  # augmentation is off in the export
    model = open_store(str(tmp_path / "store")).get_bytes(
        layout.artifact_key("pizza", result.version, "model.tflite")
    )
    image = preprocess(shape_png("pizza", np.random.default_rng(5))).astype(np.float32)
    first, second = tflite.run(model, image[None]), tflite.run(model, image[None])
    assert np.array_equal(first, second)


class CrashAfterTraining(keras.callbacks.Callback):
    """Stands in for a crash during export or publish, after early stopping ended the fit."""

    def on_train_end(self, logs: dict | None = None) -> None:
        raise Interrupted


def test_resume_after_training_finished_does_not_train_again(
    tmp_path: Path, shapes: Path, labels_file: Path
) -> None:
    job = {"epochs": 3, "run_id": "job-2"}
    with pytest.raises(Interrupted):
        run(request(tmp_path, shapes, labels_file, **job, callbacks=[CrashAfterTraining()]))
    counter = CountEpochs()
    result = run(request(tmp_path, shapes, labels_file, **job, resume=True, callbacks=[counter]))
    assert counter.started == []
    assert result.metadata["training"]["epochs"] == 3


def test_trains_from_the_s3_store(tmp_path: Path, labels_file: Path, s3_bucket: str) -> None:
    store = open_store(f"s3://{s3_bucket}/train-test")
    rng = np.random.default_rng(3)
    for query, kind in (("red circles", "pizza"), ("blue squares", "not_pizza")):
        for _ in range(14):
            data = shape_png(kind, rng)
            store.put_bytes(layout.image_key(slugify(query), sha256_hex(data), "png"), data)
    store.put_bytes(layout.image_key("red-circles", "0" * 64, "png"), b"broken upload")

    result = run(request(tmp_path, None, labels_file, store=f"s3://{s3_bucket}/train-test"))

    assert result.metadata["dataset"]["counts"] == {"not_pizza": 14, "pizza": 14}
    assert result.metadata["dataset"]["skipped"] == {"not_an_image": 1}
    assert store.exists(layout.metadata_key("pizza", result.version))
    assert result.where.startswith(f"s3://{s3_bucket}/train-test/models/pizza/")


class _Scores:
    """A stand-in model whose P(present) is the first feature (logits 0 and logit(p))."""

    def predict(self, x: np.ndarray, verbose: int = 0) -> np.ndarray:
        p = np.clip(x[:, 0], 1e-6, 1 - 1e-6)
        return np.stack([np.zeros(len(p)), np.log(p / (1 - p))], axis=1)


def test_the_photo_threshold_holds_the_false_alarm_rate_on_pool_photos() -> None:
    from training.evaluate import evaluate_model
    from training.request import Split

    positives = np.linspace(0.55, 1.0, 40)
    others = np.linspace(0.0, 0.45, 40)  # the label's own negatives: well below
    pool = np.linspace(0.0, 0.9, 50)  # other food: some of it scores like the label
    scores = np.concatenate([positives, others, pool])[:, None]
    targets = np.array([1] * 40 + [0] * 90)
    is_pool = np.array([False] * 80 + [True] * 50)
    arrays = Split((scores, targets), (scores, targets), (scores, targets))

    plain = evaluate_model(_Scores(), arrays, ("not_x", "x"))
    held = evaluate_model(_Scores(), arrays, ("not_x", "x"), is_pool, 0.02)

    assert plain["threshold_calibration"] == {
        "best_balanced_cut": plain["threshold"],
        "pool_photos": 0,
    }
    calibration = held["threshold_calibration"]
    assert calibration["false_alarm_target"] == 0.02 and calibration["pool_photos"] == 50
    assert calibration["best_balanced_cut"] == plain["threshold"]
    assert held["threshold"] > plain["threshold"]
    assert (pool >= held["threshold"]).sum() <= 1  # 2% of 50
    assert (pool >= plain["threshold"]).sum() > 1
    assert held["metrics"]["threshold"] == held["threshold"]  # scored at the held cut
    few = evaluate_model(_Scores(), arrays, ("not_x", "x"), is_pool & (np.arange(130) < 90), 0.02)
    assert few["threshold"] == plain["threshold"]  # 10 pool photos: too few to hold a rate


def test_the_head_job_does_not_import_the_job_that_calls_it() -> None:
    """job.py hands heads to head_job.py; what both use lives in modules neither owns."""
    import ast

    import training.head_job

    tree = ast.parse(Path(training.head_job.__file__).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert "training.job" not in imported
    assert not any(
        isinstance(n, ast.ImportFrom)
        and n.module == "training"
        and "job" in {a.name for a in n.names}
        for n in ast.walk(tree)
    )
