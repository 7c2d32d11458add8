"""`traygo run`, `serve` and `predict` as a user types them."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from traygo.cli import main
from traygo.registry import Registry

from .conftest import RED, image_bytes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def picture(tmp_path: Path) -> Path:
    path = tmp_path / "tray.jpg"
    path.write_bytes(image_bytes(RED, "JPEG"))
    return path


def test_predict_prints_each_label(
    server: str, picture: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["predict", str(picture), "--endpoint", server, "--labels", "pizza"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("pizza        yes  p=0.99") and "burger" not in out


def test_predict_says_what_went_wrong(
    server: str, picture: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["predict", str(picture), "--endpoint", server, "--labels", "sushi"]) == 1
    assert "answered 404: no live model for sushi" in capsys.readouterr().err
    assert main(["predict", str(tmp_path / "missing.jpg"), "--endpoint", server]) == 1
    assert "no such file" in capsys.readouterr().err
    dead = f"http://127.0.0.1:{free_port()}"
    assert main(["predict", str(picture), "--endpoint", dead]) == 1
    assert "cannot reach" in capsys.readouterr().err


def test_run_installs_the_demo_model_and_serves_it(tmp_path: Path) -> None:
    from lambdas.inference.demo_models import shipped

    assert shipped(), "a demo model must be committed in traygo/data/demo_models"
    port = free_port()
    store = tmp_path / "store"
    proc = subprocess.Popen(
        [sys.executable, "-m", "traygo.cli", "run", "--store", str(store), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "stop with Ctrl+C" in line:
                break
        text = "".join(lines)
        assert "importing the shared backbone from its package" in text, text
        for label in ("pizza", "burger", "fries", "hot_dog", "sandwich"):
            assert f"installed demo model {label}/" in text, text
        assert f"http://127.0.0.1:{port}/" in text and "curl" in text
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/predict",
            image_bytes(RED, "JPEG"),
            {"Content-Type": "image/jpeg"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.loads(response.read())
        assert [p["label"] for p in answer["predictions"]] == sorted(
            ["pizza", "burger", "fries", "hot_dog", "sandwich"]
        )
        assert answer["backbone_version"].startswith("efficientnet-lite0-224-")
        assert answer["unavailable"] == []
    finally:
        proc.terminate()
        proc.wait(10)
    from traygo.store import open_store

    assert Registry(open_store(str(store))).live("pizza") is not None
