"""The one preprocessing function: training images and served requests both go through it."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageOps

from traygo.images.decode import DEFAULT_MAX_PIXELS, load, open_header

# Named in every model's metadata; bump it when the output of preprocess() changes.
PREPROCESSING_ID = "traygo-rgb-bilinear-v1"
DEFAULT_SIZE = (180, 180)  # (height, width), the seed's input
_WHITE = (255, 255, 255)


def preprocess(
    data: bytes, size: tuple[int, int] = DEFAULT_SIZE, max_pixels: int = DEFAULT_MAX_PIXELS
) -> np.ndarray:
    """Bytes → uint8 array of shape (height, width, 3): decoded, upright, RGB, resized.

    The image is stretched to the size (no crop), as Keras' image_dataset_from_directory does,
    so models trained the seed's way see the same pixels.
    """
    img = open_header(data, max_pixels)
    height, width = size
    if img.format == "JPEG":
        # DCT-domain downscaling: decode at 1/2, 1/4 or 1/8 scale while staying >= the target.
        # Both axes must stay large enough whatever the EXIF rotation, hence the max.
        side = max(height, width)
        img.draft("RGB", (side, side))
    return preprocess_image(load(img), size)


def preprocess_image(img: Image.Image, size: tuple[int, int] = DEFAULT_SIZE) -> np.ndarray:
    """A decoded PIL image → uint8 array (height, width, 3); see preprocess()."""
    img = ImageOps.exif_transpose(img) or img
    img = to_rgb(img)
    height, width = size
    if img.size != (width, height):
        img = img.resize((width, height), Image.Resampling.BILINEAR, reducing_gap=None)
    return np.asarray(img, dtype=np.uint8)


def to_rgb(img: Image.Image) -> Image.Image:
    """RGB, with any transparency flattened onto white (a transparent photo is on a page)."""
    if img.mode == "RGB":
        return img
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (*_WHITE, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")
