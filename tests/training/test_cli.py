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


def test_prints_the_version_and_promotes(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, shapes: Path, labels_file: Path
) -> None:
    store = tmp_path / "store"
    code, out, err = train(
        capsys,
        "--label",
        "pizza",
        "--images",
        str(shapes),
        "--store",
        str(store),
        "--cache-dir",
        str(tmp_path / "cache"),
        "--labels-file",
        str(labels_file),
        "--arch",
        "seed",
        "--epochs",
        "3",
        "--min-accuracy",
        "0",
        "--promote",
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
