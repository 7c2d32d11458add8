"""The one preprocessing function: training images and served requests both go through it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from traygo.images.decode import (
    DEFAULT_MAX_DECODE_BYTES,
    DEFAULT_MAX_PIXELS,
    ORIENTATION,
    check_budget,
    load,
    open_header,
    prepare,
)
from traygo.tray import tray_shape

# Named in every model's metadata; bump it when the output of preprocess() changes.
PREPROCESSING_ID = "traygo-rgb-bilinear-v1"
# preprocess_tray(): the same decode, resized to the picture's own aspect ratio (tray mode).
TRAY_ID = "traygo-rgb-aspect-v1"
# preprocess_letterbox(): the same decode, fitted into the size without squashing (measured
# worse than preprocess_tray on 4:3 and 16:9 trays; kept for benchmarks).
LETTERBOX_ID = "traygo-rgb-letterbox-v1"
DEFAULT_SIZE = (180, 180)  # (height, width), the seed's input
_WHITE = (255, 255, 255)
_STRIP_BYTES = 1024 * 1024  # converted a band of rows at a time: no full-size temporaries
# EXIF orientation → the transpose that makes the picture upright (as ImageOps.exif_transpose).
_TURNS = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def preprocess(
    data: bytes,
    size: tuple[int, int] = DEFAULT_SIZE,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_bytes: int = DEFAULT_MAX_DECODE_BYTES,
) -> np.ndarray:
    """Bytes → uint8 array of shape (height, width, 3): decoded, upright, RGB, resized.

    The image is stretched to the size (no crop), as Keras' image_dataset_from_directory does,
    so models trained the seed's way see the same pixels.
    """
    return _stretch(_decode(data, size, max_pixels, max_bytes), size)


@dataclass(frozen=True, eq=False)  # holds an array: no field-wise ==
class Letterbox:
    """A picture fitted into a fixed size without squashing: `pixels` (height, width, 3) uint8,
    and `box`, where the picture sits in them: x0, y0, x1, y1 as fractions of the width and
    height (x right, y down). The rest is padding."""

    pixels: np.ndarray
    box: tuple[float, float, float, float]


def preprocess_letterbox(
    data: bytes,
    size: tuple[int, int],
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_bytes: int = DEFAULT_MAX_DECODE_BYTES,
) -> Letterbox:
    """Bytes → the picture scaled to fit `size` (height, width) keeping its aspect ratio,
    centred, the rest padded with the mean colour of its outermost pixels (so a tray picture's
    padding looks like more tray surface, not a hard edge).

    The same decode as preprocess() (budget, draft, EXIF, transparency, RGB), then one
    bilinear resize straight to the fitted size: no slower than the stretch.
    """
    return _letterbox(_decode(data, size, max_pixels, max_bytes), size)


def preprocess_tray(
    data: bytes,
    side: int,
    stride: int,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_bytes: int = DEFAULT_MAX_DECODE_BYTES,
) -> np.ndarray:
    """Bytes → a tray picture for the backbone's map pass: about `side` x `side` pixels on the
    picture's own aspect ratio, sides multiples of `stride` (`traygo.tray.tray_shape`), so a 4:3
    or 16:9 camera picture is neither squashed into a square nor shrunk inside padding. The same
    decode as preprocess()."""
    header = open_header(data, max_pixels)
    longest = max(tray_shape(*header.size, side, stride))  # max: whatever the EXIF rotation
    img = _decode_header(header, longest, max_pixels, max_bytes)
    return _stretch(img, tray_shape(*img.size, side, stride))


def preprocess_image(img: Image.Image, size: tuple[int, int] = DEFAULT_SIZE) -> np.ndarray:
    """A decoded PIL image → uint8 array (height, width, 3); see preprocess()."""
    return _stretch(_upright_rgb(img, None), size)


def _decode(data: bytes, size: tuple[int, int], max_pixels: int, max_bytes: int) -> Image.Image:
    """Decoded, upright, RGB. A JPEG is decoded at 1/2, 1/4 or 1/8 scale while staying >= the
    target on both axes whatever the EXIF rotation (hence the max)."""
    return _decode_header(open_header(data, max_pixels), max(size), max_pixels, max_bytes)


def _decode_header(
    header: Image.Image, draft_to: int, max_pixels: int, max_bytes: int
) -> Image.Image:
    """An opened (not yet decoded) picture, decoded as _decode() does."""
    img = prepare(header, max_pixels, max_bytes, draft_to=draft_to)
    return _upright_rgb(load(img, max_bytes), max_bytes)


def _upright_rgb(img: Image.Image, max_bytes: int | None) -> Image.Image:
    # RGB first, then upright: both are per-pixel, so the order does not change the output,
    # and converting first lets the decoded original be freed before the turn.
    turn = _TURNS.get(img.getexif().get(ORIENTATION, 1))
    img = to_rgb(img)
    if turn is not None:
        if max_bytes is not None:  # EXIF found only after the pixels: check before turning
            check_budget(img, 2 * img.size[0] * img.size[1] * 4, max_bytes)
        img = img.transpose(turn)
    return img


def _resize(img: Image.Image, width: int, height: int) -> np.ndarray:
    if img.size != (width, height):
        img = img.resize((width, height), Image.Resampling.BILINEAR, reducing_gap=None)
    return np.asarray(img, dtype=np.uint8)


def _stretch(img: Image.Image, size: tuple[int, int]) -> np.ndarray:
    height, width = size
    return _resize(img, width, height)


def _letterbox(img: Image.Image, size: tuple[int, int]) -> Letterbox:
    height, width = size
    scale = min(width / img.size[0], height / img.size[1])
    fit_w = min(width, max(1, round(img.size[0] * scale)))
    fit_h = min(height, max(1, round(img.size[1] * scale)))
    picture = _resize(img, fit_w, fit_h)
    left, top = (width - fit_w) // 2, (height - fit_h) // 2
    box = (left / width, top / height, (left + fit_w) / width, (top + fit_h) / height)
    if (fit_w, fit_h) == (width, height):
        return Letterbox(picture, box)
    pixels = np.empty((height, width, 3), dtype=np.uint8)
    pixels[top : top + fit_h, left : left + fit_w] = picture
    # Fill only the padding, a whole row of the colour at a time (broadcasting one 3-byte
    # colour over every pixel is ~10x slower).
    rows = pixels.reshape(height, width * 3)
    row = np.tile(border_mean(picture), width)
    rows[:top] = row
    rows[top + fit_h :] = row
    rows[top : top + fit_h, : left * 3] = row[: left * 3]
    rows[top : top + fit_h, (left + fit_w) * 3 :] = row[(left + fit_w) * 3 :]
    return Letterbox(pixels, box)


def border_mean(picture: np.ndarray) -> np.ndarray:
    """The mean colour (uint8 RGB) of a (height, width, 3) picture's outermost pixels: its
    first and last rows and columns (a corner counted once)."""
    edges = np.concatenate([picture[0], picture[-1], picture[1:-1, 0], picture[1:-1, -1]])
    mean: np.ndarray = np.rint(edges.mean(axis=0)).astype(np.uint8)
    return mean


def to_rgb(img: Image.Image) -> Image.Image:
    """RGB, with any transparency flattened onto white (a transparent photo is on a page) and
    16-bit samples scaled to 8 bits. Large images are converted a band of rows at a time."""
    if img.mode == "RGB":
        return img
    width, height = img.size
    rows = max(1, _STRIP_BYTES // (width * 4))
    if rows >= height:
        return _band_to_rgb(img)
    out = Image.new("RGB", img.size)
    for top in range(0, height, rows):
        band = img.crop((0, top, width, min(height, top + rows)))
        out.paste(_band_to_rgb(band), (0, top))
    return out


def _band_to_rgb(img: Image.Image) -> Image.Image:
    if img.mode.startswith("I;16") or img.mode == "I":
        # 16-bit (and Pillow's 32-bit "I" holding 16-bit PNG samples): keep the high byte,
        # as Pillow does for 16-bit RGB, instead of clipping everything above 255 to white.
        samples = np.clip(np.asarray(img), 0, 65535).astype(np.uint32) >> 8
        img = Image.fromarray(samples.astype(np.uint8), "L")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (*_WHITE, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")
