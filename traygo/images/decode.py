"""Decode untrusted image bytes within a memory budget: the one decode path.

Before any pixel is decoded, the peak memory of decoding and turning the picture into RGB is
worked out from the header (after JPEG draft, in the mode Pillow will really decode to) and
checked against a budget. A 2 KB file that would take a gigabyte is refused, never decoded.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from traygo.errors import ImageError

ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF")
DEFAULT_MAX_PIXELS = 40_000_000
# Peak bytes for decoding one image and its RGB copy. With the request's own copies this keeps
# a 6 MB request under ~100 MiB of RSS; a 12 MP RGB or 6 MP RGBA PNG still fits.
DEFAULT_MAX_DECODE_BYTES = 64 * 1024 * 1024
MIME_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}
EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif"}
_ONE_BYTE_MODES = {"1", "L", "P"}  # Pillow pads every other 8-bit mode (RGB, LA) to 4 bytes
ORIENTATION = 0x0112


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
        # Pillow's own bomb check warns below twice its limit and raises above; ours follows.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(data))
        except Image.DecompressionBombError:
            raise ImageError("too_many_pixels", "the image has too many pixels") from None
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
            raise ImageError(
                "not_an_image", "the data is not an image (expected JPEG, PNG, WebP or GIF)"
            ) from None
    if img.format == "MPO":  # a phone's JPEG with a second picture: its first frame is a JPEG
        img.format = "JPEG"
    if img.format not in ALLOWED_FORMATS:
        raise ImageError(
            "unsupported_format",
            f"{img.format} images are not supported; send JPEG, PNG, WebP or GIF",
        )
    width, height = img.size
    if width <= 0 or height <= 0:
        raise ImageError("not_an_image", "the image has no pixels")
    # Known only before a draft changes the size; load() counts it whatever the caller drafts.
    img.coefficient_bytes = _progressive_coefficient_bytes(img)  # type: ignore[attr-defined]
    return img


def bytes_per_pixel(mode: str) -> int:
    """Bytes Pillow keeps per pixel in memory for `mode`."""
    if mode in _ONE_BYTE_MODES:
        return 1
    return 2 if mode.startswith("I;16") else 4


def is_rotated(img: Image.Image) -> bool:
    """Whether EXIF asks for a turn or flip (read from the header: JPEG, or PNG/WebP when the
    EXIF comes before the pixels; a later one is caught by check_budget before turning)."""
    if "exif" not in img.info:
        return False
    return img.getexif().get(ORIENTATION, 1) not in (0, 1)


def peak_bytes(img: Image.Image, coefficient_bytes: int = 0) -> int:
    """Peak memory to decode `img` at its current (drafted) size and make it upright RGB."""
    width, height = img.size
    rgb = width * height * 4
    decoded = width * height * bytes_per_pixel(img.mode)
    if img.format == "WEBP":
        decoded += 2 * rgb  # libwebp's canvas and Pillow's bytes copy of it, beside the image
    peak = decoded + (rgb if img.mode != "RGB" else 0)
    if is_rotated(img):
        peak = max(peak, 2 * rgb)  # the upright copy beside the RGB one
    return peak + coefficient_bytes


def check_budget(img: Image.Image, need: int, max_bytes: int) -> None:
    if need > max_bytes:
        width, height = img.size
        raise ImageError(
            "too_large_to_decode",
            f"the image ({width}x{height}, {img.mode}) needs {need / 2**20:.0f} MiB to decode; "
            f"the limit is {max_bytes / 2**20:.0f} MiB: send a smaller image",
        )


def prepare(
    img: Image.Image,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_bytes: int = DEFAULT_MAX_DECODE_BYTES,
    draft_to: int | None = None,
) -> Image.Image:
    """Draft a JPEG (to `draft_to` px a side, else to the largest scale in budget), then
    check the pixel limit and the memory budget, all before any pixel is decoded."""
    coefficients = _coefficients(img)
    if img.format == "JPEG":
        _draft(img, draft_to, max_bytes - coefficients)
    width, height = img.size
    if width * height > max_pixels:
        raise ImageError(
            "too_many_pixels",
            f"the image is {width}x{height} ({width * height:,} pixels); "
            f"the limit is {max_pixels:,} pixels",
        )
    check_budget(img, peak_bytes(img, coefficients), max_bytes)
    return img


def _coefficients(img: Image.Image) -> int:
    return int(getattr(img, "coefficient_bytes", 0))


def _progressive_coefficient_bytes(img: Image.Image) -> int:
    """libjpeg holds a progressive JPEG's DCT coefficients at full size, whatever the draft:
    64 two-byte coefficients per 8x8 block of each component, at its own sampling."""
    if img.format != "JPEG" or not img.info.get("progressive"):
        return 0
    width, height = img.size
    # A JPEG's layer: (component id, horizontal sampling, vertical sampling, quantization table).
    layers: list[tuple[str, int, int, int]]
    layers = getattr(img, "layer", None) or [("", 1, 1, 0)] * len(img.getbands())
    h_max = max(layer[1] for layer in layers)
    v_max = max(layer[2] for layer in layers)
    blocks = sum(
        -(-width * h // (8 * h_max)) * -(-height * v // (8 * v_max)) for _, h, v, _ in layers
    )
    return blocks * 64 * 2


def _draft(img: Image.Image, draft_to: int | None, max_bytes: int) -> None:
    width, height = img.size
    if draft_to is not None:
        img.draft("RGB", (draft_to, draft_to))
        return
    for scale in (1, 2, 4, 8):  # DCT scaling: decode at 1/2, 1/4 or 1/8 only when needed
        size = (-(-width // scale), -(-height // scale))
        if size[0] * size[1] * 4 * (2 if img.mode != "RGB" else 1) <= max_bytes or scale == 8:
            if scale > 1:
                img.draft(img.mode if img.mode in ("RGB", "L") else "RGB", size)
            return


def load(img: Image.Image, max_bytes: int = DEFAULT_MAX_DECODE_BYTES) -> Image.Image:
    """Decode the pixels of the first frame, once the memory budget allows it at the current
    (perhaps drafted) size; truncated or corrupt data becomes an ImageError."""
    check_budget(img, peak_bytes(img, _coefficients(img)), max_bytes)
    try:
        img.load()
    except Image.DecompressionBombError:
        raise ImageError("too_many_pixels", "the image has too many pixels") from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        code = "truncated" if "truncated" in str(exc).lower() else "corrupt"
        raise ImageError(code, f"the image data is {code}: send the whole file") from None
    return img


def decode(
    data: bytes,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_bytes: int = DEFAULT_MAX_DECODE_BYTES,
) -> Image.Image:
    """Fully decoded first frame of an allowed image, within the memory budget (a JPEG too
    big for it is decoded at 1/2, 1/4 or 1/8 scale)."""
    return load(prepare(open_header(data, max_pixels), max_pixels, max_bytes), max_bytes)


def inspect(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS, min_side: int = 1) -> ImageInfo:
    """Validate that `data` is a complete, allowed image at least `min_side` on each side."""
    img = decode(data, max_pixels)
    width, height = img.size
    if min(width, height) < min_side:
        raise ImageError(
            "too_small", f"the image is {width}x{height}; at least {min_side} px a side is needed"
        )
    return ImageInfo(str(img.format), width, height, len(data))
