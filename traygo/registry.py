"""Model versions and the live pointer per label, as the storage contract lays them out.

A version is complete once its metadata.json exists: publish() writes every artifact first and
the metadata last, so a reader never follows a half-written version. live.json is the one
pointer the Lambda follows; it changes only through promote() and rollback(), each a
compare-and-swap on the pointer's ETag so concurrent promotions never lose one another.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from traygo import layout
from traygo.errors import AlreadyExists, NotFoundError, PreconditionFailed, RegistryError
from traygo.metadata import ModelMetadata, artifact_table
from traygo.metadata import problems as schema_problems
from traygo.store import Store
from traygo.store.base import dump_json

HISTORY_LIMIT = 20
_CAS_ATTEMPTS = 20


def utcnow() -> datetime:
    return datetime.now(UTC)


def timestamp(now: datetime | None = None) -> str:
    return (now or utcnow()).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_version(fingerprint: bytes | str, now: datetime | None = None) -> str:
    """A version id that sorts by time: 20261123T120000Z-<8 hex of the fingerprint>."""
    data = fingerprint.encode() if isinstance(fingerprint, str) else fingerprint
    stamp = (now or utcnow()).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{hashlib.sha256(data).hexdigest()[:8]}"


def metadata_problems(meta: Any) -> list[str]:
    """What is missing or mistyped in a metadata document (empty when it is usable)."""
    return schema_problems(ModelMetadata, meta)


@dataclass(frozen=True)
class LivePointer:
    version: str
    promoted_at: str
    previous: str | None = None
    history: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "promoted_at": self.promoted_at,
            "previous": self.previous,
            "history": list(self.history),
        }

    @classmethod
    def parse(cls, where: str, data: bytes) -> LivePointer:
        try:
            raw = json.loads(data)
            version = raw["version"]
            if not isinstance(version, str) or not version:
                raise ValueError("version is empty")
            history = tuple(
                raw.get("history") or ([raw["previous"]] if raw.get("previous") else [])
            )
            return cls(version, str(raw.get("promoted_at", "")), raw.get("previous"), history)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise RegistryError(
                f"{where} is corrupt ({exc}); fix it with `traygo models promote` or rollback"
            ) from None


class Registry:
    def __init__(self, store: Store) -> None:
        self.store = store

    # --- reading ---
    def labels(self) -> list[str]:
        """Labels that have at least one key under models/."""
        names = {key.split("/")[1] for key in self.store.list(f"{layout.MODELS}/")}
        return sorted(n for n in names if not n.startswith("_"))

    def versions(self, label: str) -> list[str]:
        """Complete versions of a label, oldest first."""
        prefix = layout.label_prefix(label)
        return sorted(
            key[len(prefix) :].split("/")[0]
            for key in self.store.list(prefix)
            if key.endswith("/metadata.json") and key.count("/") == 3
        )

    def metadata(self, label: str, version: str) -> dict[str, Any]:
        key = layout.metadata_key(label, version)
        try:
            meta: dict[str, Any] = self.store.get_json(key)
        except NotFoundError:
            raise RegistryError(f"{label}: no version {version!r} in {self.store.uri}") from None
        problems = metadata_problems(meta)
        if problems:
            raise RegistryError(f"{self.store.url(key)}: unusable metadata: {'; '.join(problems)}")
        return meta

    def live(self, label: str) -> LivePointer | None:
        return self.live_with_etag(label)[0]

    def live_with_etag(self, label: str) -> tuple[LivePointer | None, str]:
        """The live pointer and its ETag ("" when the label has none)."""
        key = layout.live_key(label)
        try:
            data, etag = self.store.get_if_changed(key, None)
        except NotFoundError:
            return None, ""
        assert data is not None
        return LivePointer.parse(self.store.url(key), data), etag

    # --- writing ---
    def publish(
        self, label: str, version: str, artifacts: dict[str, bytes], metadata: dict[str, Any]
    ) -> dict[str, Any]:
        """Write a version: artifacts, then metadata.json (with each artifact's key, sha256 and
        size). Publishing the same version again with the same artifacts writes nothing."""
        meta = dict(metadata, label=label, version=version)
        meta["artifacts"] = artifact_table(
            artifacts, lambda name: layout.artifact_key(label, version, name)
        )
        problems = metadata_problems(meta)
        if problems:
            raise RegistryError(f"{label}/{version}: refusing to publish: {'; '.join(problems)}")
        meta_key = layout.metadata_key(label, version)
        if self.store.exists(meta_key):
            existing: dict[str, Any] = self.store.get_json(meta_key)
            if existing.get("artifacts") == meta["artifacts"]:
                return existing
            raise RegistryError(f"{self.store.url(meta_key)} already exists with other artifacts")
        for name, data in artifacts.items():
            self.store.put_new(layout.artifact_key(label, version, name), data)
        try:
            self.store.create_bytes(meta_key, dump_json(meta), "application/json")
        except AlreadyExists:  # a concurrent publisher of this very version got there first
            return self.publish(label, version, artifacts, metadata)
        return meta

    def promote(self, label: str, version: str) -> LivePointer:
        """Point live.json at `version` (which must be complete)."""
        self.metadata(label, version)
        return self._swap(label, lambda cur: _promoted(cur, version))

    def rollback(self, label: str, to: str | None = None) -> LivePointer:
        """Go back to the version live before this one, or to `to`."""
        if to is not None:
            self.metadata(label, to)

        def back(cur: LivePointer | None) -> LivePointer:
            if cur is None:
                raise RegistryError(f"{label}: nothing is live, so there is nothing to roll back")
            if to is not None:
                return _promoted(cur, to)
            if not cur.history:
                raise RegistryError(f"{label}: {cur.version} has no earlier version to return to")
            target, rest = cur.history[0], cur.history[1:]
            return LivePointer(target, timestamp(), rest[0] if rest else None, rest)

        return self._swap(label, back)

    def promote_if_gate_passed(self, label: str, version: str) -> tuple[bool, str]:
        """Promote a version whose training recorded a passed gate; say why not otherwise."""
        gate = self.metadata(label, version).get("gate") or {}
        if not gate.get("passed"):
            reason = gate.get("reason") or "the version records no promotion gate result"
            return False, f"{label}/{version} not promoted: {reason}"
        self.promote(label, version)
        return True, f"{label}/{version} is live"

    def _swap(self, label: str, change: Callable[[LivePointer | None], LivePointer]) -> LivePointer:
        key = layout.live_key(label)
        for _ in range(_CAS_ATTEMPTS):
            try:
                current, etag = self.live_with_etag(label)
            except RegistryError:
                current, etag = None, self._etag(key)  # a corrupt pointer may be overwritten
            new = change(current)
            try:
                self.store.replace_json(key, new.to_json(), if_match=etag)
            except PreconditionFailed:
                continue
            return new
        raise RegistryError(f"{self.store.url(key)}: too many concurrent changes; try again")

    def _etag(self, key: str) -> str:
        info = self.store.head(key)
        return info.etag if info else ""


def _promoted(current: LivePointer | None, version: str) -> LivePointer:
    if current is None:
        return LivePointer(version, timestamp())
    if current.version == version:
        return current
    history = (current.version, *current.history)[:HISTORY_LIMIT]
    return LivePointer(version, timestamp(), current.version, history)
