"""Decode untrusted image bytes safely: allowed formats only, pixel-count guard, full load."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from traygo.errors import ImageError

ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF")
DEFAULT_MAX_PIXELS = 40_000_000
MIME_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}
EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif"}


@dataclass(frozen=True)
class ImageInfo:
    format: str
    width: int
    height: int
    bytes: int

    @property
    def mime_type(self) -> str:
        return MIME_TYPES[self.format]

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.format]


def open_header(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Open without decoding pixels; refuse what is not an allowed image or is too big."""
    if not data:
        raise ImageError("empty", "the image is empty (0 bytes)")
    with warnings.catch_warnings():
        # Pillow's own bomb check warns or raises at its global limit; ours is explicit below.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(data))
        except Image.DecompressionBombError:
            raise ImageError("too_many_pixels", "the image has too many pixels") from None
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
            raise ImageError(
                "not_an_image", "the data is not an image (expected JPEG, PNG, WebP or GIF)"
            ) from None
    if img.format not in ALLOWED_FORMATS:
        raise ImageError(
            "unsupported_format",
            f"{img.format} images are not supported; send JPEG, PNG, WebP or GIF",
        )
    width, height = img.size
    if width <= 0 or height <= 0:
        raise ImageError("not_an_image", "the image has no pixels")
    if width * height > max_pixels:
        raise ImageError(
            "too_many_pixels",
            f"the image is {width}x{height} ({width * height:,} pixels); "
            f"the limit is {max_pixels:,} pixels",
        )
    return img


def load(img: Image.Image) -> Image.Image:
    """Decode the pixels; truncated or corrupt data becomes an ImageError."""
    try:
        img.seek(0)  # the first frame of an animation
        img.load()
    except Image.DecompressionBombError:
        raise ImageError("too_many_pixels", "the image has too many pixels") from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        code = "truncated" if "truncated" in str(exc).lower() else "corrupt"
        raise ImageError(code, f"the image data is {code} ({exc})") from None
    return img


def decode(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Fully decoded first frame of an allowed image."""
    return load(open_header(data, max_pixels))


def inspect(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS, min_side: int = 1) -> ImageInfo:
    """Validate that `data` is a complete, allowed image at least `min_side` on each side."""
    img = decode(data, max_pixels)
    width, height = img.size
    if min(width, height) < min_side:
        raise ImageError(
            "too_small", f"the image is {width}x{height}; at least {min_side} px a side is needed"
        )
    return ImageInfo(str(img.format), width, height, len(data))
