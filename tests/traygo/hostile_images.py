"""Hostile and awkward image files, made with Pillow (or by hand, where Pillow would need the
memory the file is meant to cost) at test time. Shared with benchmarks/bench_hostile.py."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable

import numpy as np
from PIL import Image

_PNG_COLOUR = {"L": 0, "RGB": 2, "P": 3, "LA": 4, "RGBA": 6}
_CHANNELS = {"L": 1, "RGB": 3, "P": 1, "LA": 2, "RGBA": 4}


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(mode: str, width: int, height: int, transparent: bool = False) -> bytes:
    """A blank PNG of any size, streamed row by row: a few KB for gigabytes of pixels."""
    header = struct.pack(">IIBBBBB", width, height, 8, _PNG_COLOUR[mode], 0, 0, 0)
    row = b"\x00" * (1 + width * _CHANNELS[mode])
    squeeze = zlib.compressobj(9)
    pixels = b"".join(squeeze.compress(row) for _ in range(height)) + squeeze.flush()
    extra = b""
    if mode == "P":
        extra = _chunk(b"PLTE", bytes([255, 0, 0, 0, 0, 255]))
        if transparent:
            extra += _chunk(b"tRNS", b"\x00")
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + extra
        + _chunk(b"IDAT", pixels)
        + _chunk(b"IEND", b"")
    )


def png16(samples: np.ndarray) -> bytes:
    """A 16-bit PNG (grey for 2-D `samples`, RGB for (h, w, 3)), big-endian as PNG stores it."""
    height, width = samples.shape[:2]
    colour = 2 if samples.ndim == 3 else 0
    header = struct.pack(">IIBBBBB", width, height, 16, colour, 0, 0, 0)
    rows = samples.astype(">u2").reshape(height, -1)
    raw = b"".join(b"\x00" + rows[y].tobytes() for y in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw))
        + _chunk(b"IEND", b"")
    )


def encode(img: Image.Image, fmt: str, **options: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **options)
    return buf.getvalue()


def jpeg_claiming(width: int, height: int, progressive: bool) -> bytes:
    """A small JPEG whose frame header claims `width` x `height` (the scan data runs out)."""
    data = bytearray(encode(noise(64, 64), "JPEG", progressive=progressive, quality=80))
    marker = data.index(b"\xff\xc2" if progressive else b"\xff\xc0")
    struct.pack_into(">HH", data, marker + 5, height, width)
    return bytes(data)


def noise(width: int, height: int, mode: str = "RGB", seed: int = 0) -> Image.Image:
    channels = len(mode)
    shape = (height, width, channels) if channels > 1 else (height, width)
    pixels = np.random.default_rng(seed).integers(0, 255, shape, dtype=np.uint8)
    return Image.fromarray(pixels, mode)


def mpo(first: Image.Image, second: Image.Image) -> bytes:
    return encode(first, "MPO", save_all=True, append_images=[second], quality=90)


def with_transparency(img: Image.Image) -> Image.Image:
    img = img.convert("P")
    img.info["transparency"] = 0
    return img


# name → (maker, what a small Lambda must do with it). Each is <= 6 MiB on the wire.
HOSTILE: dict[str, Callable[[], bytes]] = {
    "png_rgba_6000x6000": lambda: png_bomb("RGBA", 6000, 6000),
    "png_la_6000x6000": lambda: png_bomb("LA", 6000, 6000),
    "png_palette_alpha_6000x6000": lambda: png_bomb("P", 6000, 6000, transparent=True),
    "png_grey_6000x6000": lambda: png_bomb("L", 6000, 6000),
    "png_rgba_9000x9000_pillow_limit": lambda: png_bomb("RGBA", 9000, 9000),
    "webp_rgba_6000x3000": lambda: encode(Image.new("RGBA", (6000, 3000)), "WEBP", lossless=True),
    "gif_palette_alpha_6000x6000": lambda: encode(
        with_transparency(Image.new("RGB", (6000, 6000))), "GIF"
    ),
    "jpeg_progressive_claims_12000x12000": lambda: jpeg_claiming(12000, 12000, True),
    "jpeg_baseline_claims_12000x12000": lambda: jpeg_claiming(12000, 12000, False),
    "jpeg_progressive_3000x2000": lambda: encode(
        noise(3000, 2000), "JPEG", progressive=True, quality=75
    ),
    "png_rgb_4000x4000_in_budget": lambda: png_bomb("RGB", 4000, 4000),
    "png_rgba_2800x2800_in_budget": lambda: png_bomb("RGBA", 2800, 2800),
    "mpo_2000x1500": lambda: mpo(noise(2000, 1500), noise(2000, 1500, seed=1)),
    "png16_grey_2000x2000": lambda: png16(np.full((2000, 2000), 40000, np.uint16)),
}
