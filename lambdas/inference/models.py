"""The live models and the shared backbone, each re-checked at most every `ttl` seconds.

Each label is isolated: a label whose pointer, metadata or model is broken is reported
unavailable with a reason code while every other label answers. A failed load is retried after
the TTL, backing off while it keeps failing, so a fixed model comes back without a redeploy.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from lambdas.inference.interpreter import LoadedBackbone, LoadedHead, LoadedModel, ModelError
from traygo import backbones, layout
from traygo.errors import NotFoundError, StoreError, TraygoError
from traygo.metadata import BackboneMetadata, ModelMetadata, problems
from traygo.registry import LivePointer
from traygo.store import Store

log = logging.getLogger(__name__)

MAX_BACKOFF = 300.0  # seconds between retries of a load that keeps failing
# Backbones loaded at once: the current one and one other, so that switching to a new backbone
# is never an outage (heads answer on their own backbone until each is retrained on the new
# one). Heads on any further backbone are unavailable (`backbone_limit`, predict.py).
MAX_BACKBONES = 2
T = TypeVar("T")


@dataclass
class _Entry:
    """What one label (or the backbone) serves now, or why it cannot."""

    checked_at: float
    etag: str | None
    version: str | None
    model: Any = None  # LoadedModel | LoadedHead | LoadedBackbone
    problem: str | None = None
    code: str | None = None
    failures: int = 0

    def due(self, now: float, ttl: float) -> bool:
        if self.problem is None:
            return now - self.checked_at >= ttl
        wait = min(ttl * 2.0 ** max(self.failures - 1, 0), MAX_BACKOFF)
        return now - self.checked_at >= wait


class LiveModels:
    """What each label serves now; one instance per execution environment."""

    def __init__(
        self,
        store: Store,
        ttl: float,
        clock: Callable[[], float] = time.monotonic,
        precision: str = "auto",
    ) -> None:
        self.store = store
        self.ttl = ttl
        # "auto": int8 where a backbone's metadata serves it; "float16": never; "int8": wherever
        # published, served or not (benchmarks measure what the gate refused)
        self.precision = precision
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._backbone: _Entry | None = None
        self._others: OrderedDict[str, _Entry] = OrderedDict()  # by version, least recent first
        self._labels: tuple[float, list[str]] | None = None
        self._lock = threading.Lock()

    def labels(self) -> list[str]:
        """Labels that have a live pointer (listing is cached for `ttl` too)."""
        now = self._clock()
        if self._labels is None or now - self._labels[0] >= self.ttl:
            prefix = f"{layout.MODELS}/"
            found = sorted(
                key[len(prefix) : -len("/live.json")]
                for key in self.store.list(prefix)
                if key.endswith("/live.json") and key.count("/") == 2
            )
            self._labels = (now, found)
        return list(self._labels[1])

    def get(self, label: str) -> _Entry:
        with self._lock:
            entry = self._entries.get(label)
            if entry is None or entry.due(self._clock(), self.ttl):
                entry = self._refresh(layout.live_key(label), entry, self._load_label(label))
                self._entries[label] = entry
            return entry

    def backbone(self) -> _Entry:
        """The current shared backbone, loaded on first need."""
        with self._lock:
            entry = self._backbone
            if entry is None or entry.due(self._clock(), self.ttl):
                entry = self._refresh(layout.current_backbone_key(), entry, self._load_backbone)
                self._backbone = entry
            return entry

    def backbone_for(self, version: str) -> _Entry:
        """Backbone `version`, whether current or not, loaded on first need. A version is
        write-once, so a loaded one is never re-read; one that failed is retried after the
        TTL, backing off. Besides the current one, only the most recently used other stays
        loaded (MAX_BACKBONES)."""
        current = self.backbone()
        if current.version == version:
            return current
        with self._lock:
            entry = self._others.get(version)
            if entry is None or (entry.model is None and entry.due(self._clock(), self.ttl)):
                entry = self._load_other(version, entry)
            self._others[version] = entry
            self._others.move_to_end(version)
            while len(self._others) > MAX_BACKBONES - 1:
                dropped, _ = self._others.popitem(last=False)
                log.info("backbone %s unloaded: at most %d at once", dropped, MAX_BACKBONES)
            return entry

    def _load_other(self, version: str, old: _Entry | None) -> _Entry:
        try:
            published = self.store.exists(layout.backbone_key(version, "metadata.json"))
        except StoreError:
            published = True  # let the load say what the store says
        if not published:
            log.error("backbone %s is not in the store", version)
            return self._failed(old, "", version, "backbone_missing", "it is not in the store")
        entry = self._load_backbone(version, "")
        if entry.problem is None:
            return entry
        return self._failed(old, "", version, entry.code or "model_unloadable", entry.problem)

    # --- refreshing a pointer ---
    def _refresh(self, key: str, old: _Entry | None, load: Callable[[str, str], _Entry]) -> _Entry:
        now = self._clock()
        retry = old is not None and old.problem is not None
        try:
            data, etag = self.store.get_if_changed(key, None if retry or not old else old.etag)
        except NotFoundError:
            return _Entry(now, None, None)
        except StoreError as exc:
            log.warning("cannot read %s: %s", key, exc)
            if old is not None and old.model is not None:  # serve on through a store hiccup
                old.checked_at = now
                return old
            return self._failed(old, None, None, "store_unreachable", "cannot read the store")
        if data is None and old is not None:  # unchanged and healthy
            old.checked_at = now
            return old
        try:
            version = _pointer_version(self.store.url(key), data or b"")
        except TraygoError as exc:
            log.error("%s: %s", key, exc)
            return self._failed(old, etag, None, "pointer_corrupt", "its live pointer is corrupt")
        if old is not None and old.version == version and old.model is not None:
            return _Entry(now, etag, version, old.model)
        entry = load(version, etag)
        if entry.problem is not None:
            return self._failed(old, etag, version, entry.code or "model_unloadable", entry.problem)
        return entry

    def _failed(
        self, old: _Entry | None, etag: str | None, version: str | None, code: str, problem: str
    ) -> _Entry:
        same = old is not None and old.version == version and old.code == code
        failures = old.failures + 1 if same and old else 1
        return _Entry(self._clock(), etag, version, None, problem, code, failures)

    # --- loading a version ---
    def _load_label(self, label: str) -> Callable[[str, str], _Entry]:
        def load(version: str, etag: str) -> _Entry:
            def build() -> LoadedModel | LoadedHead:
                meta = self._document(layout.metadata_key(label, version), ModelMetadata)
                model = self._artifact(meta, "model.tflite")
                kind = LoadedHead if meta.get("backbone") else LoadedModel
                return kind(label, version, model, meta)

            return self._guarded(f"{label}/{version}", version, etag, build)

        return load

    def _load_backbone(self, version: str, etag: str) -> _Entry:
        def build() -> LoadedBackbone:
            key = layout.backbone_key(version, "metadata.json")
            meta = self._document(key, BackboneMetadata)
            served = (meta.get("int8") or {}).get("served")
            if self.precision == "int8" or (self.precision == "auto" and served):
                try:
                    return self._open_backbone(version, meta, "int8")
                except (ModelError, NotFoundError, KeyError, TypeError) as exc:
                    # float16 is always published beside it: slower, never unavailable
                    log.warning("backbone %s: int8 unusable (%r); serving float16", version, exc)
            return self._open_backbone(version, meta, "float16")

        return self._guarded(f"backbone {version}", version, etag, build)

    def _open_backbone(self, version: str, meta: dict[str, Any], precision: str) -> LoadedBackbone:
        tray = meta.get("tray")
        if precision == "int8":
            names = meta["int8"]["artifacts"]
            photo, tray_name = names["photo"], names["tray"] if tray else None
        else:
            photo, tray_name = "backbone.tflite", tray["artifact"] if tray else None
        tray_model = self._artifact(meta, tray_name) if tray_name else None
        return LoadedBackbone(version, self._artifact(meta, photo), meta, tray_model, precision)

    def _guarded(self, name: str, version: str, etag: str, build: Callable[[], T]) -> _Entry:
        try:
            model = build()
        except ModelError as exc:
            log.error("%s cannot serve: %s", name, exc)
            return _Entry(self._clock(), etag, version, None, str(exc), exc.code)
        except NotFoundError:
            log.error("%s: an artifact is missing", name)
            problem = "an artifact is missing"
            return _Entry(self._clock(), etag, version, None, problem, "artifact_missing")
        except StoreError as exc:
            log.error("%s: %s", name, exc)
            return _Entry(self._clock(), etag, version, None, "store error", "store_unreachable")
        log.info("loaded %s", name)
        return _Entry(self._clock(), etag, version, model)

    def _document(self, key: str, schema: Any) -> dict[str, Any]:
        meta: dict[str, Any] = self.store.get_json(key)
        found = problems(schema, meta)
        if found:
            log.error("%s: unusable metadata: %s", key, "; ".join(found))
            raise ModelError(f"unusable metadata ({found[0]})", "metadata_invalid")
        return meta

    def _artifact(self, meta: dict[str, Any], name: str) -> bytes:
        spec = meta["artifacts"][name]
        data = self.store.get_bytes(spec["key"])
        if hashlib.sha256(data).hexdigest() != spec["sha256"]:
            raise ModelError(f"{name} does not match its recorded sha256", "artifact_corrupt")
        return data


def _pointer_version(where: str, data: bytes) -> str:
    """The version a live.json or backbones/current.json names."""
    if where.endswith("/current.json"):
        return backbones.parse_current(where, data)
    return LivePointer.parse(where, data).version
