"""Validated, deduplicated, content-addressed images for one query, and its manifest."""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from PIL import Image

from scraper.engines import Source
from traygo import layout
from traygo.errors import ImageError, NotFoundError
from traygo.images.decode import load, open_header, prepare
from traygo.images.hashing import PhashIndex, phash, sha256_hex
from traygo.slug import slugify
from traygo.store import Store

MIN_SIDE = 64  # placeholders, icons and spacer GIFs are smaller
HASH_SIDE = 128  # phash box-reduces to >= 128 px before its 32x32 resample: no need for more


@dataclass(frozen=True)
class ManifestLine:
    sha256: str
    query: str
    engine: str
    source: str  # the URL, or "data-uri"
    page_url: str | None
    width: int
    height: int
    bytes: int
    phash: str
    fetched_at: str


def decode_for_hash(data: bytes) -> tuple[Image.Image, tuple[int, int]]:
    """The validated image, decoded only as large as the perceptual hash needs, and its real
    size. A JPEG decodes at 1/2-1/8 scale in the DCT (every byte is still read, so truncation
    is still caught): half the cost of decode and hash, hashes within 2 bits of a full decode."""
    img = open_header(data)
    size = img.size
    return load(prepare(img, draft_to=HASH_SIDE)), size


class QueryImages:
    """What is stored for a query; admits new images once, thread-safe."""

    def __init__(self, store: Store, query: str) -> None:
        self.store = store
        self.query = query
        self.slug = slugify(query)
        self._lock = threading.Lock()
        self._lines: dict[str, dict[str, Any]] = {}
        self._phashes = PhashIndex()
        self._new: list[dict[str, Any]] = []
        for line in self._read_manifest():
            self._remember(line)

    def __len__(self) -> int:
        return len(self._lines)

    def admit(self, data: bytes, source: Source, url: str) -> str:
        """'stored', or why not: a validation code, 'duplicate' or 'near_duplicate'."""
        try:
            img, (width, height) = decode_for_hash(data)
        except ImageError as exc:
            return exc.code
        if min(width, height) < MIN_SIDE:
            return "too_small"
        sha = sha256_hex(data)
        hex_hash = phash(img)
        with self._lock:
            if sha in self._lines:
                return "duplicate"
            if self._phashes.find(hex_hash) is not None:
                return "near_duplicate"
            line = ManifestLine(
                sha,
                self.query,
                source.engine,
                "data-uri" if url.startswith("data:") else url,
                source.page_url,
                width,
                height,
                len(data),
                hex_hash,
                datetime.now(UTC).isoformat(timespec="seconds"),
            )
            self._remember(asdict(line))
            self._new.append(asdict(line))
        ext = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif"}[str(img.format)]
        self.store.put_bytes(layout.image_key(self.slug, sha, ext), data)
        return "stored"

    def save_manifest(self) -> int:
        """Merge this run's lines into the stored manifest (re-read first, so lines another
        writer added meanwhile are kept); returns how many lines were new."""
        if not self._new:
            return 0
        merged = {line["sha256"]: line for line in self._read_manifest()}
        for line in self._new:
            merged.setdefault(line["sha256"], line)
        body = "".join(json.dumps(line, sort_keys=True) + "\n" for line in merged.values())
        self.store.put_bytes(layout.manifest_key(self.slug), body.encode())
        added, self._new = len(self._new), []
        return added

    def _remember(self, line: dict[str, Any]) -> None:
        self._lines[line["sha256"]] = line
        if line.get("phash"):
            self._phashes.add(line["phash"], line["sha256"])

    def _read_manifest(self) -> list[dict[str, Any]]:
        try:
            raw = self.store.get_bytes(layout.manifest_key(self.slug))
        except NotFoundError:
            return []
        lines = []
        for text in raw.decode("utf-8", "replace").splitlines():
            try:
                lines.append(json.loads(text))
            except ValueError:
                continue  # a torn line is skipped, never fatal
        return [line for line in lines if isinstance(line, dict) and "sha256" in line]
