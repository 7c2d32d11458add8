"""Image decoding, validation, the one preprocessing function, and hashing."""

from traygo.images.decode import ALLOWED_FORMATS, ImageInfo, decode, inspect
from traygo.images.preprocess import PREPROCESSING_ID, preprocess, preprocess_image

__all__ = [
    "ALLOWED_FORMATS",
    "PREPROCESSING_ID",
    "ImageInfo",
    "decode",
    "inspect",
    "preprocess",
    "preprocess_image",
]
