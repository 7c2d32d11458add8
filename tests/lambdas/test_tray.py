"""Tray scoring: every label in every region, from one backbone pass, with the deciding region."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from tests.lambdas.conftest import (
    BACKBONE,
    BLUE,
    BLUE_HEAD,
    RED,
    RED_HEAD,
    call,
    publish_backbone,
    publish_head,
    rest_event,
)
from traygo.registry import Registry
from traygo.store import open_store

pytestmark = pytest.mark.compat

V1 = "tiny-32-00000001"
QUADRANTS = {
    0: ("r0c0", [0, 0, 0.5, 0.5]),
    1: ("r0c2", [0.5, 0, 1, 0.5]),
    2: ("r2c0", [0, 0.5, 0.5, 1]),
    3: ("r2c2", [0.5, 0.5, 1, 1]),
}


@pytest.fixture
def live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Registry:
    from lambdas.inference import api

    registry = Registry(open_store(str(tmp_path / "store")))
    publish_backbone(registry.store, V1, BACKBONE.read_bytes())
    publish_head(registry, "pizza", "20261130T000000Z-aaaaaaaa", RED_HEAD.read_bytes(), V1, 0.6)
    publish_head(registry, "salad", "20261130T000000Z-bbbbbbbb", BLUE_HEAD.read_bytes(), V1)
    monkeypatch.setenv("TRAYGO_STORE", str(tmp_path / "store"))
    monkeypatch.setenv("TRAYGO_POINTER_TTL", "0.001")
    api.reset()
    yield registry
    api.reset()


def tray(red_cell: int, size: int = 128) -> bytes:
    """A 2x2 tray: one red item, three blue ones."""
    img = Image.new("RGB", (size, size), BLUE)
    row, col = divmod(red_cell, 2)
    half = size // 2
    img.paste(Image.new("RGB", (half, half), RED), (col * half, row * half))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def ask(image: bytes, **query: str) -> tuple[int, dict]:
    return call(rest_event("POST", "/predict", image, "image/png", query=query or None))


@pytest.mark.parametrize("cell", [0, 1, 2, 3])
def test_an_item_in_any_quadrant_is_found_there(live: Registry, cell: int) -> None:
    status, answer = ask(tray(cell))
    assert status == 200 and answer["mode"] == "tray"
    pizza = next(p for p in answer["predictions"] if p["label"] == "pizza")
    assert pizza["present"] is True
    assert pizza["threshold"] == 0.6  # the head's calibrated tray threshold
    assert (pizza["region"]["name"], pizza["region"]["box"]) == QUADRANTS[cell]
    salad = next(p for p in answer["predictions"] if p["label"] == "salad")
    assert salad["present"] is True and salad["region"]["name"] != pizza["region"]["name"]


def test_whole_picture_scoring_misses_the_small_item(live: Registry) -> None:
    status, answer = ask(tray(2), mode="photo")
    assert status == 200 and answer["mode"] == "photo"
    by_label = {p["label"]: p for p in answer["predictions"]}
    assert by_label["pizza"]["present"] is False  # a quarter of the picture, averaged away
    assert by_label["pizza"]["threshold"] == 0.5  # the photo threshold
    assert by_label["pizza"]["region"] == {"name": "whole", "box": [0, 0, 1, 1]}


def test_tray_mode_costs_one_backbone_pass(live: Registry) -> None:
    from lambdas.inference.api import live_models

    ask(tray(0))
    ask(tray(1), mode="photo")
    assert live_models().backbone().model.invocations == 2


def test_response_schema(live: Registry) -> None:
    _, answer = ask(tray(3))
    assert set(answer) == {"mode", "predictions", "unavailable", "backbone_version", "timings_ms"}
    for p in answer["predictions"]:
        assert set(p) == {"label", "present", "probability", "threshold", "model_version", "region"}
        assert 0 <= p["probability"] <= 1
        x0, y0, x1, y1 = p["region"]["box"]
        assert 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1


def test_an_unknown_mode_is_a_clear_400(live: Registry) -> None:
    status, answer = ask(tray(0), mode="plate")
    assert (status, answer["error"]["code"]) == (400, "bad_mode")
    assert "tray, photo" in answer["error"]["message"]
