"""Content hashes: sha256 for exact duplicates, a perceptual hash for near-duplicates."""

from __future__ import annotations

import hashlib

import numpy as np
from PIL import Image

from traygo.images.preprocess import to_rgb

# Hamming distance (of 64 bits) at or below which two pictures are one image: a thumbnail and
# its full-size original differ by a few bits, different photos by ~32.
NEAR_DUPLICATE_DISTANCE = 6
_REDUCIBLE = {"L", "LA", "RGB", "RGBA", "RGBa", "CMYK", "YCbCr", "I", "F"}


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def phash(img: Image.Image) -> str:
    """64-bit DCT perceptual hash as 16 hex digits."""
    import imagehash  # only the parts that deduplicate install it (not the Lambda)

    # The hash looks at a 32x32 greyscale copy; box-reducing to >= 128 px first makes it ~3x
    # cheaper than resampling the full picture, as stable across a thumbnail and its original.
    if img.mode not in _REDUCIBLE:  # palette, 1-bit, 16-bit: Pillow cannot reduce these
        img = to_rgb(img)
    factor = max(1, min(img.size) // 128)
    small = img.reduce(factor) if factor > 1 else img
    return str(imagehash.phash(to_rgb(small)))


def hamming(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


class PhashIndex:
    """Perceptual hashes seen so far; finds a near-duplicate with one vectorized XOR."""

    def __init__(self, max_distance: int = NEAR_DUPLICATE_DISTANCE) -> None:
        self.max_distance = max_distance
        self._hashes = np.empty(0, dtype=np.uint64)
        self._ids: list[str] = []
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def find(self, hex_hash: str) -> str | None:
        """The id of a stored near-duplicate of `hex_hash`, or None."""
        if not self._count:
            return None
        xor = np.bitwise_xor(self._hashes[: self._count], np.uint64(int(hex_hash, 16)))
        distances = np.bitwise_count(xor)
        best = int(np.argmin(distances))
        return self._ids[best] if distances[best] <= self.max_distance else None

    def add(self, hex_hash: str, item_id: str) -> None:
        if self._count == len(self._hashes):
            grown = np.empty(max(64, 2 * self._count), dtype=np.uint64)
            grown[: self._count] = self._hashes[: self._count]
            self._hashes = grown
        self._hashes[self._count] = np.uint64(int(hex_hash, 16))
        self._ids.append(item_id)
        self._count += 1
