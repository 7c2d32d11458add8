"""`traygo predict` shrinks a local picture the API would refuse for its bytes or pixels, and
sends every other one byte for byte. What reaches a local HTTP server is checked with the
shared preprocessing, as the API would read it."""

from __future__ import annotations

import io
import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from traygo import config
from traygo.cli import main
from traygo.endpoint_client import request_body
from traygo.errors import ImageError
from traygo.images.preprocess import preprocess
from traygo.images.shrink import SIDE, ApiLimits, refusal
from traygo.tray import TRAY_SIZE

from .hostile_images import encode, jpeg_claiming, png_bomb

TRAY = (TRAY_SIZE, TRAY_SIZE)
MAX_BYTES = config.default("max_request_bytes")
MAX_PIXELS = config.default("max_pixels")
LIMITS = ApiLimits(MAX_BYTES, MAX_PIXELS)
ANSWER = {
    "predictions": [
        {"label": "pizza", "present": True, "probability": 0.9, "threshold": 0.5,
         "model_version": "v1"}
    ],
    "unavailable": [],
}  # fmt: skip


class _Api(BaseHTTPRequestHandler):
    """POST /predict as the API judges a picture's size: its body limit, then the shared
    preprocessing at the tray size; records what arrived."""

    received: list[tuple[str, bytes]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.headers["Content-Type"], body))
        try:
            if len(body) > MAX_BYTES:
                raise ImageError("too_large", f"the request body is over {MAX_BYTES} bytes")
            preprocess(body, TRAY, MAX_PIXELS)
        except ImageError as exc:
            self._answer(413, {"error": {"code": exc.code, "message": exc.message}})
            return
        self._answer(200, ANSWER)

    def _answer(self, status: int, doc: object) -> None:
        data = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, list[tuple[str, bytes]]]]:
    """A local endpoint, and the (content type, body) of each request it got."""
    for name in ("TRAYGO_MAX_REQUEST_BYTES", "TRAYGO_MAX_PIXELS"):
        monkeypatch.delenv(name, raising=False)
    received: list[tuple[str, bytes]] = []
    handler = type("Api", (_Api,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def picture(width: int, height: int) -> Image.Image:
    """Red across, green down, blue on the left half: any wrong turn or flip shows."""
    pixels = np.zeros((height, width, 3), dtype=np.uint8)
    pixels[..., 0] = np.linspace(0, 255, width, dtype=np.uint8)[None, :]
    pixels[..., 1] = np.linspace(0, 255, height, dtype=np.uint8)[:, None]
    pixels[:, : width // 2, 2] = 255
    return Image.fromarray(pixels)


@pytest.fixture(scope="module")
def big_jpeg() -> bytes:
    """A phone's photo: 24 MP progressive JPEG, 4:2:0, turned by EXIF (orientation 6)."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return encode(picture(6000, 4000), "JPEG", progressive=True, quality=90, exif=exif)


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def predict(
    capsys: pytest.CaptureFixture[str], endpoint: str, path: Path, *flags: str
) -> tuple[int, str, str]:
    code = main(["predict", str(path), "--endpoint", endpoint, *flags])
    out, err = capsys.readouterr()
    return code, out, err


def refused_code(data: bytes) -> str | None:
    """The code the shared preprocessing refuses `data` with at the tray size, if any."""
    try:
        preprocess(data, TRAY, MAX_PIXELS)
    except ImageError as exc:
        return exc.code
    return None


def same_picture(sent: bytes, original: bytes) -> bool:
    """Whether the API sees the same picture in both (the original decoded without limits)."""
    seen = preprocess(sent, TRAY).astype(int)
    meant = preprocess(original, TRAY, max_pixels=10**9, max_bytes=2**31).astype(int)
    return bool(np.abs(seen - meant).mean() < 4)


def test_a_big_progressive_jpeg_is_sent_shrunk_and_upright(
    api: tuple[str, list[tuple[str, bytes]]],
    big_jpeg: bytes,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    endpoint, received = api
    assert refused_code(big_jpeg) == "too_large_to_decode"
    path = write(tmp_path, "tray.jpg", big_jpeg)
    code, out, err = predict(capsys, endpoint, path)
    assert code == 0 and out.startswith("pizza        yes"), err
    [(content_type, sent)] = received
    assert content_type == "image/jpeg" and len(sent) <= MAX_BYTES // 10
    assert refused_code(sent) is None and same_picture(sent, big_jpeg)
    shrunk = Image.open(io.BytesIO(sent))
    assert shrunk.size == (683, SIDE) and 0x0112 not in shrunk.getexif()
    assert re.fullmatch(
        rf"traygo: {re.escape(str(path))} is 6000x4000 \(\d\.\d MB\), over what the API "
        r"decodes \(64 MiB budget\); sent as 683x1024 \(\d+ KB\)\n",
        err,
    ), err


def test_a_png_of_too_many_pixels_is_sent_shrunk(
    api: tuple[str, list[tuple[str, bytes]]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    endpoint, received = api
    original = encode(picture(7000, 6000).convert("L"), "PNG", compress_level=1)
    assert refused_code(original) == "too_many_pixels"
    code, _, err = predict(capsys, endpoint, write(tmp_path, "wall.png", original))
    assert code == 0, err
    [(content_type, sent)] = received
    assert content_type == "image/jpeg" and refused_code(sent) is None
    assert Image.open(io.BytesIO(sent)).size == (SIDE, 878) and same_picture(sent, original)
    assert err.count("\n") == 1
    assert "is 7000x6000" in err and "over the API's limit of 40,000,000 pixels" in err


def test_a_transparent_png_is_flattened_onto_white(
    api: tuple[str, list[tuple[str, bytes]]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    endpoint, received = api
    original = png_bomb("RGBA", 4000, 3000)  # transparent black, 12 MP: over the budget
    assert refused_code(original) == "too_large_to_decode"
    assert predict(capsys, endpoint, write(tmp_path, "clear.png", original))[0] == 0
    [(_, sent)] = received
    assert refused_code(sent) is None
    assert preprocess(sent, TRAY).min() >= 250  # white, as the API flattens it


def test_a_body_over_the_request_limit_is_sent_shrunk(
    api: tuple[str, list[tuple[str, bytes]]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    endpoint, received = api
    noise = np.random.default_rng(0).integers(0, 256, (2000, 2600, 3), dtype=np.uint8)
    original = encode(Image.fromarray(noise), "JPEG", quality=100)
    assert len(original) > MAX_BYTES and refused_code(original) is None
    code, _, err = predict(capsys, endpoint, write(tmp_path, "noise.jpg", original))
    assert code == 0, err
    [(_, sent)] = received
    assert len(sent) <= MAX_BYTES and refused_code(sent) is None
    assert Image.open(io.BytesIO(sent)).size == (SIDE, 788)
    assert f"over the API's request limit ({MAX_BYTES / 1e6:.1f} MB)" in err


def test_the_request_limit_follows_its_setting(
    api: tuple[str, list[tuple[str, bytes]]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    endpoint, received = api
    original = encode(picture(1200, 900), "PNG")  # a few KB
    monkeypatch.setenv("TRAYGO_MAX_REQUEST_BYTES", str(len(original) - 1))
    code, _, err = predict(capsys, endpoint, write(tmp_path, "a.png", original))
    assert code == 0 and received[0][0] == "image/jpeg"
    assert f"over the API's request limit ({(len(original) - 1) / 1e3:.0f} KB)" in err


def test_a_picture_within_the_limits_is_sent_as_it_is(
    api: tuple[str, list[tuple[str, bytes]]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    endpoint, received = api
    for name, fmt in (("small.jpg", "JPEG"), ("small.png", "PNG")):
        original = encode(picture(3000, 2000), fmt)
        code, _, err = predict(capsys, endpoint, write(tmp_path, name, original))
        assert code == 0 and err == ""
        assert received[-1] == (f"image/{fmt.lower()}", original)


def test_no_shrink_sends_the_original_and_shows_the_api_error(
    api: tuple[str, list[tuple[str, bytes]]],
    big_jpeg: bytes,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    endpoint, received = api
    path = write(tmp_path, "tray.jpg", big_jpeg)
    code, _, err = predict(capsys, endpoint, path, "--no-shrink")
    assert received == [("image/jpeg", big_jpeg)]
    assert code == 1 and re.search(r"answered 413: the image \(750x500, RGB\) needs \d+ MiB", err)


def test_a_file_that_is_no_image_keeps_its_error(
    api: tuple[str, list[tuple[str, bytes]]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    endpoint, received = api
    path = write(tmp_path, "notes.txt", b"not a picture " * 1_000_000)  # over the limit too
    code, _, err = predict(capsys, endpoint, path)
    assert code == 1 and received == []
    not_an_image = "the data is not an image (expected JPEG, PNG, WebP or GIF)"
    assert err == f"traygo: error: {path}: {not_an_image}\n"


def test_a_url_is_sent_for_the_service_to_fetch() -> None:
    request = request_body("https://example.com/tray.jpg", "pizza", LIMITS)
    assert request.content_type == "application/json" and request.note is None
    assert json.loads(request.body) == {"url": "https://example.com/tray.jpg", "labels": ["pizza"]}


def test_refusal_is_the_apis_rule(big_jpeg: bytes) -> None:
    pictures = [
        big_jpeg,
        png_bomb("L", 7000, 6000),
        png_bomb("RGBA", 4000, 3000),
        png_bomb("RGBA", 4000, 2000),
        jpeg_claiming(30000, 20000, progressive=False),
        encode(picture(640, 480), "JPEG"),
    ]
    assert (
        [refusal(p, LIMITS) is not None for p in pictures]
        == [refused_code(p) is not None for p in pictures]
        == [True, True, True, False, True, False]
    )
    with pytest.raises(ImageError) as caught:
        refusal(b"GIF89a-but-not-really", LIMITS)
    assert caught.value.code == "not_an_image"


def test_the_side_is_the_demo_pages() -> None:
    page = Path(__file__).parents[2] / "lambdas/inference/static/index.html"
    found = re.search(r"\bMAX_SIDE = (\d+)", page.read_text())
    assert found and int(found.group(1)) == SIDE
