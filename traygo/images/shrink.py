"""The client's side of the API's picture limits: would POST /predict refuse these bytes for
their size, and if so, a smaller JPEG of the same picture that it takes.

The rule is the API's own: its request body limit and pixel limit (settings of traygo.config),
and the shared decode's header check (`prepare`) at the largest size the API decodes to, under
the same memory budget. Shrinking decodes with JPEG draft, so the client never holds the whole
picture at full size either (a progressive JPEG's DCT coefficients excepted).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageOps

from traygo.errors import ImageError
from traygo.images.decode import DEFAULT_MAX_DECODE_BYTES, load, open_header, prepare
from traygo.images.preprocess import to_rgb
from traygo.tray import TRAY_SIZE

# Long side of a shrunk picture, as the demo page's MAX_SIDE (lambdas/inference/static/
# index.html): over twice the 448 px the model looks at, a few hundred KB as a JPEG.
SIDE = 1024
QUALITY = 90
# What the client itself may spend decoding a picture to shrink it (refused before decoding).
CLIENT_DECODE_BYTES = 1024 * 1024 * 1024


@dataclass(frozen=True)
class ApiLimits:
    """The API's limits a client can know; each field is a setting of traygo.config, so
    `traygo.settings.resolve(ApiLimits)` gives what a server with the same environment uses."""

    max_request_bytes: int
    max_pixels: int


@dataclass(frozen=True)
class Shrunk:
    data: bytes
    message: str  # what was done, for the user: "6000x4000 (3.4 MB), ...; sent as ..."


def refusal(data: bytes, limits: ApiLimits) -> str | None:
    """Why the API would refuse `data` for its bytes or pixels; None when it takes them.
    Bytes that are no image the API reads raise their ImageError, as the API would."""
    try:
        img = open_header(data, limits.max_pixels)
        if len(data) > limits.max_request_bytes:
            return f"over the API's request limit ({_size(limits.max_request_bytes)})"
        prepare(img, limits.max_pixels, DEFAULT_MAX_DECODE_BYTES, draft_to=TRAY_SIZE)
    except ImageError as exc:
        if exc.code == "too_many_pixels":
            return f"over the API's limit of {limits.max_pixels:,} pixels"
        if exc.code == "too_large_to_decode":
            return f"over what the API decodes ({DEFAULT_MAX_DECODE_BYTES // 2**20} MiB budget)"
        raise
    return None


def fit(data: bytes, limits: ApiLimits) -> Shrunk | None:
    """A shrunk copy when the API would refuse `data` for its size, else None (send as is)."""
    why = refusal(data, limits)
    if why is None:
        return None
    width, height = open_header(data).size
    small = shrink(data)
    after = open_header(small).size
    return Shrunk(
        small,
        f"{width}x{height} ({_size(len(data))}), {why}; "
        f"sent as {after[0]}x{after[1]} ({_size(len(small))})",
    )


def shrink(data: bytes, side: int = SIDE, quality: int = QUALITY) -> bytes:
    """The picture upright, flattened onto white, at most `side` px a side, as a JPEG."""
    img = open_header(data)
    img.draft("RGB", (side, side))  # JPEG: decode at 1/2, 1/4 or 1/8 while >= side; else no-op
    img = to_rgb(ImageOps.exif_transpose(load(img, CLIENT_DECODE_BYTES)))
    img.thumbnail((side, side), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    img.save(out, "JPEG", quality=quality)  # no EXIF: the pixels are upright already
    return out.getvalue()


def _size(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size / 1e3:.0f} KB"
