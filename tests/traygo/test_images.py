from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from traygo.errors import ImageError
from traygo.images import PREPROCESSING_ID, decode, inspect, preprocess
from traygo.images.hashing import PhashIndex, hamming, phash, sha256_hex
from traygo.images.preprocess import preprocess_letterbox


def encode(img: Image.Image, fmt: str, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()


def quadrants(size: tuple[int, int] = (200, 100)) -> Image.Image:
    """Left half red, right half blue: orientation is visible in the output."""
    img = Image.new("RGB", size, (255, 0, 0))
    ImageDraw.Draw(img).rectangle([size[0] // 2, 0, size[0], size[1]], fill=(0, 0, 255))
    return img


def photo_like(seed: int, size: tuple[int, int] = (320, 240)) -> Image.Image:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (6, 8, 3), dtype=np.uint8)
    return Image.fromarray(base).resize(size, Image.Resampling.BICUBIC)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF"])
def test_preprocess_every_format_to_rgb_uint8(fmt: str) -> None:
    out = preprocess(encode(quadrants(), fmt), size=(180, 180))
    assert out.shape == (180, 180, 3) and out.dtype == np.uint8
    left, right = out[90, 20], out[90, 160]
    assert left[0] > 200 and left[2] < 60  # red stays left
    assert right[2] > 200 and right[0] < 60  # blue stays right


def test_preprocess_honours_size_as_height_width() -> None:
    assert preprocess(encode(quadrants(), "PNG"), size=(32, 64)).shape == (32, 64, 3)


def test_exif_orientation_is_applied() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: display rotated 90° clockwise
    data = encode(quadrants((200, 100)), "JPEG", exif=exif.tobytes())
    out = preprocess(data, size=(100, 100))
    # After rotating clockwise, the stored left (red) half is on top.
    assert out[10, 50, 0] > 200 and out[10, 50, 2] < 60
    assert out[90, 50, 2] > 200 and out[90, 50, 0] < 60


@pytest.mark.parametrize("mode", ["L", "LA", "P", "RGBA", "CMYK", "I;16", "1"])
def test_every_mode_becomes_rgb(mode: str) -> None:
    img = quadrants().convert("RGBA" if mode in ("LA", "RGBA") else "RGB").convert(mode)
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    out = preprocess(encode(img, fmt), size=(50, 50))
    assert out.shape == (50, 50, 3)


def test_transparency_is_flattened_onto_white() -> None:
    img = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    out = preprocess(encode(img, "PNG"), size=(8, 8))
    assert (out == 255).all()


def test_gif_uses_first_frame() -> None:
    frames = [Image.new("RGB", (64, 64), c) for c in [(255, 0, 0), (0, 255, 0)]]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:])
    out = preprocess(buf.getvalue(), size=(8, 8))
    assert out[4, 4, 0] > 200 and out[4, 4, 1] < 60


def test_jpeg_draft_matches_full_decode_closely() -> None:
    big = photo_like(1, (1440, 1080))
    data = encode(big, "JPEG", quality=95)
    fast = preprocess(data, size=(180, 180)).astype(int)
    full = np.asarray(big.resize((180, 180), Image.Resampling.BILINEAR)).astype(int)
    assert np.abs(fast - full).mean() < 4.0


def test_preprocess_is_deterministic() -> None:
    data = encode(photo_like(2), "JPEG")
    assert np.array_equal(preprocess(data), preprocess(data))
    assert PREPROCESSING_ID


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "empty"),
        (b"<html><body>not an image</body></html>", "not_an_image"),
        (b"\x00" * 100, "not_an_image"),
    ],
)
def test_non_images_are_refused_with_a_code(data: bytes, code: str) -> None:
    with pytest.raises(ImageError) as info:
        preprocess(data)
    assert info.value.code == code


def test_unsupported_format_is_refused() -> None:
    with pytest.raises(ImageError) as info:
        decode(encode(quadrants(), "BMP"))
    assert info.value.code == "unsupported_format"


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_files_are_refused(fmt: str) -> None:
    data = encode(photo_like(3, (400, 300)), fmt)
    with pytest.raises(ImageError) as info:
        preprocess(data[: len(data) // 2])
    assert info.value.code in ("truncated", "corrupt")


def test_decompression_bomb_is_refused_before_decoding() -> None:
    # A 1-bit PNG of 20000x20000: a few KB on the wire, 400 M pixels once decoded.
    bomb = encode(Image.new("1", (20000, 20000)), "PNG")
    assert len(bomb) < 100_000
    with pytest.raises(ImageError) as info:
        preprocess(bomb, max_pixels=40_000_000)
    assert info.value.code == "too_many_pixels"


def test_inspect_reports_format_size_and_refuses_tiny() -> None:
    data = encode(quadrants((200, 100)), "PNG")
    info = inspect(data, min_side=50)
    assert (info.format, info.width, info.height, info.bytes) == ("PNG", 200, 100, len(data))
    assert info.mime_type == "image/png" and info.extension == "png"
    with pytest.raises(ImageError) as err:
        inspect(encode(quadrants((16, 16)), "PNG"), min_side=50)
    assert err.value.code == "too_small"


def test_sha256_is_of_the_bytes() -> None:
    assert sha256_hex(b"abc").startswith("ba7816bf")


def test_phash_matches_thumbnail_and_separates_other_pictures() -> None:
    full = photo_like(4, (800, 600))
    thumb = decode(encode(full.resize((160, 120)), "JPEG", quality=70))
    other = photo_like(5, (800, 600))
    assert hamming(phash(full), phash(thumb)) <= 6
    assert hamming(phash(full), phash(other)) > 12


def test_phash_index_finds_near_duplicates_only() -> None:
    index = PhashIndex(max_distance=4)
    assert index.find("0" * 16) is None
    index.add("ffffffffffffffff", "a")
    index.add("0000000000000000", "b")
    assert index.find("000000000000000f") == "b"
    assert index.find("00000000000000ff") is None
    for i in range(200):  # growth keeps earlier entries
        index.add(f"{i:016x}", f"n{i}")
    assert len(index) == 202 and index.find("ffffffffffffffff") == "a"


# --- letterbox (tray mode): fitted into the square without squashing ---

SQUARE = (448, 448)


def disc(size: tuple[int, int], radius: int) -> Image.Image:
    """A black disc centred on a light picture."""
    img = Image.new("RGB", size, (220, 220, 220))
    cx, cy = size[0] // 2, size[1] // 2
    ImageDraw.Draw(img).ellipse([cx - radius, cy - radius, cx + radius, cy + radius], fill=0)
    return img


def extent(pixels: np.ndarray) -> tuple[int, int]:
    """(width, height) of the dark pixels' bounding box."""
    ys, xs = np.nonzero(pixels.max(axis=2) < 110)
    return int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)


def test_letterbox_keeps_a_circle_round() -> None:
    data = encode(disc((640, 480), 150), "JPEG", quality=95)
    fitted = preprocess_letterbox(data, SQUARE)
    assert fitted.pixels.shape == (448, 448, 3) and fitted.pixels.dtype == np.uint8
    width, height = extent(fitted.pixels)
    assert abs(width - 210) <= 2 and abs(height - 210) <= 2  # 300 px * 448/640, both ways
    squashed_w, squashed_h = extent(preprocess(data, SQUARE))  # the stretch: an ellipse
    assert squashed_h - squashed_w > 60


@pytest.mark.parametrize(
    ("size", "box"),
    [
        ((640, 480), (0.0, 56 / 448, 1.0, 392 / 448)),  # 4:3 -> 448x336, 56 rows above
        ((1280, 720), (0.0, 98 / 448, 1.0, 350 / 448)),  # 16:9 -> 448x252, 98 rows above
        ((480, 640), (56 / 448, 0.0, 392 / 448, 1.0)),  # 3:4 -> 336x448, 56 columns left
    ],
)
def test_letterbox_content_box_and_border_mean_padding(
    size: tuple[int, int], box: tuple[float, float, float, float]
) -> None:
    # a mid-grey frame 24 px wide around a red picture: the border mean is the frame's grey
    img = Image.new("RGB", size, (100, 150, 200))
    ImageDraw.Draw(img).rectangle([24, 24, size[0] - 25, size[1] - 25], fill=(230, 20, 20))
    fitted = preprocess_letterbox(encode(img, "PNG"), SQUARE)
    assert fitted.box == pytest.approx(box)
    x0, y0, x1, y1 = (round(v * 448) for v in fitted.box)
    content = fitted.pixels[y0:y1, x0:x1]
    expected = np.asarray(img.resize((x1 - x0, y1 - y0), Image.Resampling.BILINEAR))
    assert np.array_equal(content, expected)  # one bilinear resize, unsquashed
    edges = np.concatenate([content[0], content[-1], content[1:-1, 0], content[1:-1, -1]])
    colour = np.rint(edges.mean(axis=0))
    assert np.abs(colour - (100, 150, 200)).max() <= 2
    padding = np.ones((448, 448), dtype=bool)
    padding[y0:y1, x0:x1] = False
    assert padding.sum() == 448 * 448 - content.shape[0] * content.shape[1] > 0
    assert (fitted.pixels[padding] == colour).all()


def test_letterbox_of_a_square_picture_is_the_stretch() -> None:
    data = encode(photo_like(6, (512, 512)), "JPEG")
    fitted = preprocess_letterbox(data, SQUARE)
    assert fitted.box == (0.0, 0.0, 1.0, 1.0)
    assert np.array_equal(fitted.pixels, preprocess(data, SQUARE))


def test_letterbox_shares_the_decode_exif_and_transparency() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # stored 200x100 sideways: upright it is 100x200, red on top
    fitted = preprocess_letterbox(
        encode(quadrants((200, 100)), "JPEG", exif=exif.tobytes()), (64, 64)
    )
    assert fitted.box == (0.25, 0.0, 0.75, 1.0)
    assert fitted.pixels[8, 32, 0] > 200 and fitted.pixels[56, 32, 2] > 200
    clear = preprocess_letterbox(encode(Image.new("RGBA", (64, 32), (0, 0, 0, 0)), "PNG"), (8, 8))
    assert (clear.pixels == 255).all()  # flattened onto white, padding white too
    with pytest.raises(ImageError) as info:
        preprocess_letterbox(encode(Image.new("1", (20000, 20000)), "PNG"), SQUARE)
    assert info.value.code == "too_many_pixels"
