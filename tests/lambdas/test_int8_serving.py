"""The handler picks a backbone's int8 pair by its metadata, and falls back to float16."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from tests.lambdas.conftest import (
    BACKBONE,
    BACKBONE_INT8,
    RED,
    RED_HEAD,
    call,
    image_bytes,
    publish_backbone,
    publish_head,
    rest_event,
)
from traygo.registry import Registry
from traygo.store import open_store

pytestmark = pytest.mark.compat

V1 = "tiny-32-00000001"


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Registry]:
    from lambdas.inference import api

    monkeypatch.setenv("TRAYGO_STORE", str(tmp_path / "store"))
    monkeypatch.setenv("TRAYGO_POINTER_TTL", "60")
    api.reset()
    yield Registry(open_store(str(tmp_path / "store")))
    api.reset()


def serve(registry: Registry, int8: bytes | None, served: bool = True) -> None:
    publish_backbone(registry.store, V1, BACKBONE.read_bytes(), int8=int8, int8_served=served)
    publish_head(registry, "pizza", "20261130T000000Z-aaaaaaaa", RED_HEAD.read_bytes(), V1, 0.5)


def tray_picture() -> bytes:
    """A 64 px tray (the tiny map's size): red top-left, the rest grey."""
    img = Image.new("RGB", (64, 64), (128, 128, 128))
    img.paste(Image.new("RGB", (32, 32), RED), (0, 0))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def answers(**query: str) -> tuple[dict, dict]:
    """(photo answer, tray answer) for a red photo and a tray with red in one corner."""
    photo = call(rest_event("POST", "/predict", image_bytes(RED), "image/png"))
    tray = call(rest_event("POST", "/predict", tray_picture(), "image/png", query={"mode": "tray"}))
    assert photo[0] == 200 and tray[0] == 200, (photo, tray)
    return photo[1], tray[1]


def precision() -> str:
    from lambdas.inference.api import live_models

    return str(live_models().backbone().model.precision)


def test_int8_marked_served_is_what_runs_and_answers_like_float16(registry: Registry) -> None:
    serve(registry, BACKBONE_INT8.read_bytes())
    photo, tray = answers()
    assert precision() == "int8"
    (p,) = photo["predictions"]
    (t,) = tray["predictions"]
    assert p["present"] and t["present"] and p["backbone_version"] == V1
    probability = p["probability"]
    from lambdas.inference import api

    api.reset()
    registry.store.delete(f"backbones/{V1}/metadata.json")
    serve(registry, None)  # the same version without its int8 pair
    photo, _ = answers()
    assert precision() == "float16"
    assert photo["predictions"][0]["probability"] == pytest.approx(probability, abs=0.02)


def test_int8_not_marked_served_stays_float16(registry: Registry) -> None:
    serve(registry, BACKBONE_INT8.read_bytes(), served=False)
    answers()
    assert precision() == "float16"


def test_the_float16_setting_overrides_the_metadata(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRAYGO_BACKBONE_PRECISION", "float16")
    serve(registry, BACKBONE_INT8.read_bytes())
    answers()
    assert precision() == "float16"


def test_an_unloadable_int8_model_falls_back_to_float16(
    registry: Registry, caplog: pytest.LogCaptureFixture
) -> None:
    serve(registry, b"not a tflite model")
    with caplog.at_level(logging.WARNING):
        photo, _ = answers()
    assert precision() == "float16" and photo["predictions"][0]["present"]
    assert "int8 unusable" in caplog.text
