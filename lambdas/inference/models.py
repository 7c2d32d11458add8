"""The live models: pointers re-checked at most every `ttl` seconds, bytes loaded once."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from lambdas.inference.interpreter import LoadedModel, ModelError
from traygo import layout
from traygo.errors import NotFoundError, StoreError, TraygoError
from traygo.registry import LivePointer
from traygo.store import Store

log = logging.getLogger(__name__)


@dataclass
class _Entry:
    checked_at: float
    etag: str | None
    version: str | None
    model: LoadedModel | None = None
    problem: str | None = None


class LiveModels:
    """What each label serves now; one instance per execution environment."""

    def __init__(
        self, store: Store, ttl: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.store = store
        self.ttl = ttl
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
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
            if entry is None or self._clock() - entry.checked_at >= self.ttl:
                entry = self._refresh(label, entry)
                self._entries[label] = entry
            return entry

    def _refresh(self, label: str, old: _Entry | None) -> _Entry:
        key = layout.live_key(label)
        try:
            data, etag = self.store.get_if_changed(key, old.etag if old else None)
        except NotFoundError:
            return _Entry(self._clock(), None, None)
        except StoreError as exc:
            log.warning("cannot read %s: %s", key, exc)
            if old is not None:  # keep serving what we have through a store hiccup
                old.checked_at = self._clock()
                return old
            return _Entry(self._clock(), None, None, problem=f"cannot read the live pointer: {exc}")
        if data is None and old is not None:  # unchanged
            old.checked_at = self._clock()
            return old
        try:
            pointer = LivePointer.parse(self.store.url(key), data or b"")
        except TraygoError as exc:
            return _Entry(self._clock(), etag, None, problem=str(exc))
        if old is not None and old.version == pointer.version and old.model is not None:
            return _Entry(self._clock(), etag, pointer.version, old.model)
        return self._load(label, pointer.version, etag)

    def _load(self, label: str, version: str, etag: str) -> _Entry:
        try:
            meta = json.loads(self.store.get_bytes(layout.metadata_key(label, version)))
            model_bytes = self.store.get_bytes(layout.artifact_key(label, version, "model.tflite"))
            model = LoadedModel(label, version, model_bytes, meta)
        except (StoreError, ModelError, ValueError) as exc:
            log.error("live model %s/%s is broken: %s", label, version, exc)
            return _Entry(self._clock(), etag, version, problem=str(exc))
        log.info("loaded %s/%s", label, version)
        return _Entry(self._clock(), etag, version, model)
