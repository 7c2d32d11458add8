"""Backbone features per image, computed once per (backbone version, image sha256).

The cache lives in the store as immutable shards, features/<backbone>/<view>/<shard>.npz, each
holding the sha256s and features of one batch of images. A shard's name is a hash of what it
holds, so two jobs that compute the same images write the same bytes to the same key, and jobs
that compute different images write different keys: nothing is ever overwritten with something
else, and readers take the union. Shards are mirrored in the local cache directory, since they
never change.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from tqdm import tqdm

from training import tflite
from training.dataset import Sample
from traygo import layout
from traygo.errors import StoreError
from traygo.images.preprocess import preprocess
from traygo.store import Store

log = logging.getLogger(__name__)

SHARD_SIZE = 256  # images per shard: a killed job loses at most this much work
VIEW = "pooled"


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"hits": self.hits, "misses": self.misses, "seconds": round(self.seconds, 1)}


class Runner(Protocol):
    version: str

    def run(self, paths: list[Path]) -> np.ndarray:
        """One row of features per file, in order."""
        ...


def verified_artifact(store: Store, meta: dict[str, Any], name: str) -> bytes:
    """A published backbone file, refused unless it matches its recorded sha256."""
    artifact = meta["artifacts"][name]
    data = store.get_bytes(artifact["key"])
    if hashlib.sha256(data).hexdigest() != artifact["sha256"]:
        raise StoreError(f"{store.url(artifact['key'])} does not match its sha256")
    return data


class BackboneRunner:
    """The backbone exactly as served: the published TFLite on the shared preprocessing."""

    def __init__(self, store: Store, meta: dict[str, Any]) -> None:
        self.model = verified_artifact(store, meta, "backbone.tflite")
        self.version: str = meta["version"]
        self.size = (int(meta["input"]["height"]), int(meta["input"]["width"]))
        self.features = int(meta["features"])

    def run(self, paths: list[Path]) -> np.ndarray:
        """Features for each file, in order. Decoding overlaps the backbone's invokes."""
        workers = max(1, (os.cpu_count() or 1))
        with ThreadPoolExecutor(workers) as pool:
            images = np.stack(list(pool.map(self._image, paths))) if paths else None
        if images is None:
            return np.empty((0, self.features), dtype=np.float32)
        return tflite.run_features(self.model, images)

    def _image(self, path: Path) -> np.ndarray:
        return preprocess(path.read_bytes(), self.size)


class FeatureCache:
    def __init__(self, store: Store, backbone_version: str, local_dir: Path, view: str = VIEW):
        self.store = store
        self.backbone = backbone_version
        self.view = view
        self.local = local_dir / layout.feature_prefix(backbone_version, view)

    def load(self) -> dict[str, np.ndarray]:
        """Every cached feature vector for this backbone, by image sha256."""
        known: dict[str, np.ndarray] = {}
        for key in self.store.list(layout.feature_prefix(self.backbone, self.view)):
            if key.endswith(".npz"):
                shas, feats = self._read(key)
                known.update(zip(shas, feats, strict=True))
        return known

    def add(self, shas: list[str], feats: np.ndarray) -> str:
        """Write one shard; returns its key."""
        digest = hashlib.sha256("\n".join(sorted(shas)).encode()).hexdigest()[:24]
        key = layout.feature_shard_key(self.backbone, self.view, digest)
        buf = io.BytesIO()
        np.savez(buf, sha256=np.array(shas, dtype="S64"), features=feats.astype(np.float16))
        # write-once: a key already there holds these very features (its name is their hash)
        self.store.put_new(key, buf.getvalue(), "application/octet-stream")
        self._remember(key, buf.getvalue())
        return key

    def _read(self, key: str) -> tuple[list[str], np.ndarray]:
        path = self.local / key.rsplit("/", 1)[-1]
        data = path.read_bytes() if path.is_file() else self.store.get_bytes(key)
        if not path.is_file():
            self._remember(key, data)
        with np.load(io.BytesIO(data), allow_pickle=False) as shard:
            return [s.decode() for s in shard["sha256"]], shard["features"].astype(np.float32)

    def _remember(self, key: str, data: bytes) -> None:
        path = self.local / key.rsplit("/", 1)[-1]
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.part")
        tmp.write_bytes(data)
        tmp.replace(path)


def features_for(
    samples: list[Sample], cache: FeatureCache, runner: Runner
) -> tuple[np.ndarray, CacheStats]:
    """Features for `samples` in order: from the cache, computing (and caching) what's missing."""
    started = time.perf_counter()
    known = cache.load()
    missing = list({s.sha256: s for s in samples if s.sha256 not in known}.values())
    misses = sum(s.sha256 not in known for s in samples)
    stats = CacheStats(hits=len(samples) - misses, misses=misses)
    log.info("features: %d cached, %d to compute with %s", stats.hits, len(missing), cache.backbone)
    with tqdm(total=len(missing), desc="features", unit="img", leave=False) as bar:
        for chunk in _chunks(missing, SHARD_SIZE):
            # rounded as the cache stores them, so a cold run and a warm run train alike
            feats = runner.run([s.path for s in chunk]).astype(np.float16).astype(np.float32)
            cache.add([s.sha256 for s in chunk], feats)
            known.update(zip((s.sha256 for s in chunk), feats, strict=True))
            bar.update(len(chunk))
    stats.seconds = time.perf_counter() - started
    out = np.stack([known[s.sha256] for s in samples]) if samples else np.empty((0, 0))
    return out.astype(np.float32), stats


def _chunks(items: list[Sample], size: int) -> Iterator[list[Sample]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
