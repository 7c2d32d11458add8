"""`traygo train` from the command line: clear errors before any training, a printed version."""

from __future__ import annotations

from pathlib import Path

import pytest

from traygo.cli import main
from traygo.registry import Registry
from traygo.store import open_store


def train(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["train", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def pizza(tmp_path: Path, shapes: Path, labels_file: Path) -> list[str]:
    """Arguments to train `pizza` on the shapes folder into tmp_path's store and cache."""
    return [
        *("--label", "pizza", "--images", str(shapes), "--store", str(tmp_path / "store")),
        *("--cache-dir", str(tmp_path / "cache"), "--labels-file", str(labels_file)),
    ]


def test_prints_the_version_and_promotes(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, pizza: list[str]
) -> None:
    store = tmp_path / "store"
    code, out, err = train(
        capsys, *pizza, "--arch", "seed", "--epochs", "3", "--min-accuracy", "0", "--promote"
    )
    assert code == 0, err
    live = Registry(open_store(str(store))).live("pizza")
    assert live is not None
    assert f"version {live.version} published to {store}" in out
    assert f"pizza/{live.version} is live" in out


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        ("empty", [], "expected one folder per class"),
        ("one_class", [], "'not_pizza' has 0 usable images"),
        ("shapes", ["--label", "sushi"], "unknown label 'sushi'; known labels: pizza"),
        ("none", ["--images", ""], "has no images for its positive queries"),
    ],
)
def test_bad_input_is_one_clear_line_before_training(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    labels_file: Path,
    shapes: Path,
    setup: str,
    args: list[str],
    message: str,
) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    if setup == "one_class":
        (folder / "pizza").mkdir()
        (folder / "not_pizza").mkdir()
        for f in sorted((shapes / "pizza").iterdir()):
            (folder / "pizza" / f.name).write_bytes(f.read_bytes())
    if setup == "shapes":
        folder = shapes
    base = [
        "--label",
        "pizza",
        "--images",
        str(folder),
        "--store",
        str(tmp_path / "store"),
        "--cache-dir",
        str(tmp_path / "cache"),
        "--labels-file",
        str(labels_file),
    ]
    if args[:2] == ["--images", ""]:
        base = base[:2] + base[4:]  # no --images: the (empty) store is the source
        args = []
    code, _, err = train(capsys, *base, *args)

    assert code != 0
    assert message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "store" / "models").exists()  # nothing published


def test_from_an_empty_store_train_then_serve_answers_with_the_new_model(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, shapes: Path, pizza: list[str]
) -> None:
    """Offline, nothing in the store: the backbone is imported from its package on first use."""
    import json
    import socket
    import subprocess
    import sys
    import urllib.request

    store = tmp_path / "store"
    code, out, err = train(capsys, *pizza, "--min-accuracy", "0", "--promote")
    assert code == 0, err
    live = Registry(open_store(str(store))).live("pizza")
    assert f"pizza/{live.version} is live" in out

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    serve = [sys.executable, "-m", "traygo.cli", "serve", "--store", str(store)]
    proc = subprocess.Popen(
        [*serve, "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        for line in proc.stdout:  # type: ignore[union-attr]
            if "stop with Ctrl+C" in line:
                break
        picture = next((shapes / "pizza").iterdir()).read_bytes()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/predict?mode=photo",
            picture,
            {"Content-Type": "image/png"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.loads(response.read())
    finally:
        proc.terminate()
        proc.wait(10)
    (prediction,) = answer["predictions"]
    assert prediction["label"] == "pizza" and prediction["model_version"] == live.version
    assert answer["backbone_version"].startswith("efficientnet-lite0-224-")


def test_all_labels_trains_each_label_with_data_and_computes_features_once(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, shapes: Path, backbone_files
) -> None:
    from traygo import backbones

    from .conftest import add_backbone

    store = open_store(str(tmp_path / "store"))
    backbones.set_current(store, add_backbone(store, backbone_files))
    (shapes / "square").mkdir()
    for path in sorted((shapes / "not_pizza").iterdir())[:8]:  # squares: a label of their own
        path.rename(shapes / "square" / path.name)
    labels = tmp_path / "two.toml"
    labels.write_text(
        '[pizza]\npositive = ["c"]\nnegative = ["s"]\n'
        '[square]\npositive = ["s"]\nnegative = ["c"]\n'
        '[sushi]\npositive = ["x"]\nnegative = ["y"]\n'
    )
    code, out, err = train(
        capsys,
        *("--all-labels", "--images", str(shapes), "--store", store.uri),
        *("--cache-dir", str(tmp_path / "cache"), "--labels-file", str(labels)),
        *("--min-accuracy", "0", "--promote"),
    )
    assert code == 0, err
    assert "--- pizza" in out and "--- square" in out and "sushi" not in out  # no sushi/ folder
    assert "trained 2 of 2 labels" in out
    registry = Registry(store)
    assert registry.live("pizza") and registry.live("square")
    second = registry.metadata("square", registry.live("square").version)
    assert second["training"]["feature_cache"]["misses"] == 0  # all computed for pizza


def test_label_or_all_labels_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = train(capsys, "--images", "x")
    assert code == 2 and "give --label NAME or --all-labels" in err


def test_the_batch_job_id_names_the_run_under_aws_batch() -> None:
    """Batch sets AWS_BATCH_JOB_ID and keeps it across retries: the CLI reads it, nothing else."""
    from training.cli import app

    (param,) = [p for p in app.params if p.name == "batch_job_id"]
    assert param.envvar == "AWS_BATCH_JOB_ID"


def test_if_new_feedback_trains_only_labels_corrected_since_their_live_version(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, pizza: list[str]
) -> None:
    from datetime import UTC, datetime, timedelta

    from tests.lambdas.conftest import metadata
    from traygo import feedback, layout

    store = open_store(str(tmp_path / "store"))
    registry = Registry(store)
    meta = metadata("pizza") | {"created_at": datetime.now(UTC).isoformat()}
    registry.publish("pizza", "20261206T000000Z-aaaaaaaa", {"model.tflite": b"x"}, meta)
    registry.promote("pizza", "20261206T000000Z-aaaaaaaa")
    old = datetime.now(UTC) - timedelta(days=1)
    record = feedback.build_record(
        "0" * 64,
        "feedback/images/x.jpg",
        1,
        feedback.Truth((), ("pizza",), ()),
        None,
        received_at=old,
        corrects=None,
        api_key_id=None,
        source="body",
    )
    store.put_json(layout.feedback_record_key(record["id"]), record)

    code, out, err = train(capsys, *pizza, "--if-new-feedback", "--epochs", "3")
    assert code == 0, err
    assert "no new feedback since the live version of: pizza; not trained" in out
    assert registry.versions("pizza") == ["20261206T000000Z-aaaaaaaa"]
