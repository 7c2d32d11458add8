"""Tray scoring: every label in every region, from one backbone pass, with the deciding region."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

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
from traygo.images.preprocess import preprocess, preprocess_letterbox
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
    assert set(answer) == {
        "mode",
        "predictions",
        "unavailable",
        "backbone_version",
        "timings_ms",
        "request_id",
    }
    for p in answer["predictions"]:
        assert set(p) == {
            "label",
            "present",
            "probability",
            "threshold",
            "model_version",
            "backbone_version",
            "region",
        }
        assert 0 <= p["probability"] <= 1
        x0, y0, x1, y1 = p["region"]["box"]
        assert 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1


def test_an_unknown_mode_is_a_clear_400(live: Registry) -> None:
    status, answer = ask(tray(0), mode="plate")
    assert (status, answer["error"]["code"]) == (400, "bad_mode")
    assert "tray, photo" in answer["error"]["message"]


# --- a picture that is not square: scored on its own aspect ratio (or, for benchmarks,
# letterboxed into the tray square, boxes mapped back into the picture) ---


def picture(width: int, height: int, red: tuple[int, int, int, int]) -> bytes:
    """A blue picture with a red item at `red` (x0, y0, x1, y1 in pixels)."""
    img = Image.new("RGB", (width, height), BLUE)
    ImageDraw.Draw(img).rectangle([red[0], red[1], red[2] - 1, red[3] - 1], fill=RED)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


# 4:3, 128x96: scored at 48x64 (the tiny backbone's stride is 16); letterboxed, it would sit in
# the 64 px tray square as 64x48 at rows 8..56. The red item is the picture's centre half: it
# fills 3/4 of the centre window (rows 16..48 of the square).
CENTRED_4_3 = picture(128, 96, (32, 24, 96, 72))


@pytest.fixture
def padded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tray mode letterboxes, as benchmarks can ask (predict.TRAY_FIT)."""
    from lambdas.inference import predict as prediction

    monkeypatch.setattr(prediction, "TRAY_FIT", "pad")


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[np.ndarray]:
    """The pixels each tray backbone pass is given."""
    from lambdas.inference.interpreter import LoadedBackbone

    seen: list[np.ndarray] = []
    run_map = LoadedBackbone.run_map

    def spy(self: LoadedBackbone, image: np.ndarray) -> np.ndarray:
        seen.append(image.copy())
        return run_map(self, image)

    monkeypatch.setattr(LoadedBackbone, "run_map", spy)
    return seen


def pizza(answer: dict) -> dict:
    return next(p for p in answer["predictions"] if p["label"] == "pizza")


def test_a_4_3_picture_is_scored_on_its_own_aspect_ratio(live: Registry, sent: list) -> None:
    status, answer = ask(CENTRED_4_3)
    assert status == 200
    (pixels,) = sent
    assert pixels.shape == (48, 64, 3)  # one pass, about the tray square's pixel count
    assert np.array_equal(pixels, preprocess(CENTRED_4_3, (48, 64)))
    red = np.argwhere(pixels[..., 0] > 200)  # the item keeps its 4:3 shape: 32x24 px
    assert (red.max(axis=0) - red.min(axis=0) + 1).tolist() == [24, 32]
    found = pizza(answer)  # on a 3 x 4 map: the centre window, boxes in the picture as they are
    assert found["present"] is True
    assert found["region"] == {"name": "r1c1", "box": [0.25, 0.3333, 0.75, 0.6667]}


@pytest.mark.parametrize(
    ("size", "shape"), [((128, 72), (48, 80)), ((72, 128), (80, 48)), ((96, 96), (64, 64))]
)
def test_each_shape_gets_its_own_pass_and_the_square_one_after(
    live: Registry, sent: list, size: tuple[int, int], shape: tuple[int, int]
) -> None:
    width, height = size
    _, answer = ask(picture(width, height, (0, 0, width // 2, height // 2)))
    assert sent[-1].shape == (*shape, 3)
    assert pizza(answer)["present"] is True
    assert pizza(answer)["region"]["name"] == "r0c0"  # the top-left item, found where it is
    for cell in (0, 3):  # the interpreter, resized for that shape, serves a square tray again
        _, answer = ask(tray(cell))
        assert sent[-1].shape == (64, 64, 3)
        assert (pizza(answer)["region"]["name"], pizza(answer)["region"]["box"]) == QUADRANTS[cell]


def test_a_4_3_picture_is_letterboxed_not_squashed(
    live: Registry, sent: list, padded: None
) -> None:
    status, _ = ask(CENTRED_4_3)
    assert status == 200
    (pixels,) = sent
    assert pixels.shape == (64, 64, 3)  # the same one backbone pass at the tray size
    fitted = preprocess_letterbox(CENTRED_4_3, (64, 64))
    assert fitted.box == (0, 0.125, 1, 0.875)
    assert np.array_equal(pixels, fitted.pixels)
    # the red item keeps its 4:3 shape (32x24 px), the padding is the blue border
    red = np.argwhere(pixels[..., 0] > 200)
    assert (red.max(axis=0) - red.min(axis=0) + 1).tolist() == [24, 32]
    assert (pixels[:8] == BLUE).all() and (pixels[56:] == BLUE).all()


def test_letterboxed_region_boxes_are_fractions_of_the_picture(
    live: Registry, padded: None
) -> None:
    _, answer = ask(CENTRED_4_3)
    found = pizza(answer)
    assert found["present"] is True and found["region"]["name"] == "r1c1"
    # the centre window, rows 16..48 of the square = rows 8..40 of the 48-row picture
    assert found["region"]["box"] == [0.25, 0.1667, 0.75, 0.8333]


@pytest.mark.parametrize("size", [(128, 96), (128, 72), (72, 128)])
@pytest.mark.parametrize("corner", [0, 3])
def test_a_letterboxed_region_box_never_leaves_the_picture(
    live: Registry, size: tuple[int, int], corner: int, padded: None
) -> None:
    width, height = size
    row, col = divmod(corner, 2)
    red = (col * width // 2, row * height // 2, (col + 1) * width // 2, (row + 1) * height // 2)
    _, answer = ask(picture(width, height, red))
    found = pizza(answer)
    assert found["present"] is True
    # a quadrant window mapped from the square overhangs the picture into the padding: clipped
    assert found["region"]["box"] == QUADRANTS[corner][1]
    for p in answer["predictions"]:
        x0, y0, x1, y1 = p["region"]["box"]
        assert 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1


def test_a_square_picture_keeps_its_boxes_and_pixels(live: Registry, sent: list) -> None:
    image = picture(128, 128, (32, 32, 96, 96))
    _, answer = ask(image)
    assert np.array_equal(sent[0], preprocess(image, (64, 64)))
    assert pizza(answer)["region"] == {"name": "r1c1", "box": [0.25, 0.25, 0.75, 0.75]}


def test_the_stretch_path_gives_the_old_result(
    live: Registry, sent: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lambdas.inference import predict as prediction
    from lambdas.inference.api import live_models

    old = prediction.predict(live_models(), CENTRED_4_3, ["pizza"], 10**6, "tray", "stretch")
    assert np.array_equal(sent[-1], preprocess(CENTRED_4_3, (64, 64)))  # squashed
    assert pizza(old)["region"] == {"name": "r1c1", "box": [0.25, 0.25, 0.75, 0.75]}
    monkeypatch.setattr(prediction, "TRAY_FIT", "stretch")  # as the benchmark picks it
    _, answer = ask(CENTRED_4_3, labels="pizza")
    assert np.array_equal(sent[-1], sent[-2])
    assert pizza(answer)["region"] == pizza(old)["region"]
    assert pizza(answer)["probability"] == pizza(old)["probability"]
    with pytest.raises(ValueError, match="tray_fit"):
        prediction.predict(live_models(), CENTRED_4_3, None, 10**6, "tray", "crop")


def test_photo_mode_still_stretches(live: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    from lambdas.inference.interpreter import LoadedBackbone

    seen: list[np.ndarray] = []
    run = LoadedBackbone.run
    monkeypatch.setattr(LoadedBackbone, "run", lambda self, x: seen.append(x) or run(self, x))
    _, answer = ask(CENTRED_4_3, mode="photo")
    assert np.array_equal(seen[0], preprocess(CENTRED_4_3, (32, 32)))
    assert pizza(answer)["region"]["box"] == [0, 0, 1, 1]


def test_picture_box_maps_the_square_into_the_picture() -> None:
    from traygo.tray import FULL, picture_box

    wide = (0.0, 98 / 448, 1.0, 350 / 448)  # 16:9 letterboxed into 448 px
    assert picture_box((0.25, 0.25, 0.75, 0.75), FULL) == (0.25, 0.25, 0.75, 0.75)
    assert picture_box((0.0, 0.0, 1.0, 1.0), wide) == FULL
    assert picture_box((0.0, 0.0, 0.5, 0.5), wide) == pytest.approx((0, 0, 0.5, 0.5))
    assert picture_box((0.25, 0.25, 0.75, 0.75), wide) == pytest.approx(
        (0.25, (112 - 98) / 252, 0.75, (336 - 98) / 252)
    )


@pytest.mark.parametrize(
    ("width", "height", "shape"),
    [
        (640, 480, (384, 512)),  # 4:3: exact, 98% of the square's pixels
        (1920, 1080, (320, 576)),  # 16:9: 1.8:1, 92%
        (480, 640, (512, 384)),
        (1000, 1000, (448, 448)),
        (5000, 1000, (288, 576)),  # wider than 2:1 is laid out at 2:1
    ],
)
def test_tray_shapes_keep_the_aspect_ratio_at_the_square_cost(
    width: int, height: int, shape: tuple[int, int]
) -> None:
    from traygo.tray import regions, tray_shape

    rows, cols = tray_shape(width, height)
    assert (rows, cols) == shape
    assert rows % 32 == 0 and cols % 32 == 0 and rows * cols <= 448 * 448 * 1.02
    where = regions((rows // 32, cols // 32))
    assert len(where) == 10 and where[0].box == (0.0, 0.0, 1.0, 1.0)
    for region in where[1:]:  # half-height, half-width windows, inside the map
        assert region.rows.stop - region.rows.start == rows // 32 // 2
        assert region.cols.stop - region.cols.start == cols // 32 // 2
        assert region.rows.stop <= rows // 32 and region.cols.stop <= cols // 32
