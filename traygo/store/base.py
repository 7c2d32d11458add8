"""The store interface the parts program against; keys are '/'-separated, like S3's."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from traygo.errors import AlreadyExists, StoreError


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    etag: str


def check_key(uri: str, key: str) -> str:
    """Refuse keys that would escape the store or mean different things on S3 and disk."""
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise StoreError(f"{uri}: invalid key {key!r}")
    return key


class Store(ABC):
    uri: str

    @abstractmethod
    def get_bytes(self, key: str) -> bytes:
        """The object's bytes; NotFoundError if absent."""

    @abstractmethod
    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        """Write the object whole, replacing any; readers never see part of it."""

    @abstractmethod
    def create_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        """Write the object only if no object has the key yet (AlreadyExists otherwise): S3's
        If-None-Match, which the training role's write-once policy requires for published
        artifacts."""

    @abstractmethod
    def head(self, key: str) -> ObjectInfo | None:
        """Size and ETag of the object, or None if absent."""

    @abstractmethod
    def list(self, prefix: str = "") -> Iterator[str]:
        """Every key under `prefix` (recursive), sorted."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object; absent objects are fine."""

    @abstractmethod
    def get_if_changed(self, key: str, etag: str | None) -> tuple[bytes | None, str]:
        """Conditional read: (None, etag) when the object still has `etag`, else (bytes, etag)."""

    @abstractmethod
    def replace_json(self, key: str, value: Any, if_match: str | None = None) -> str:
        """Atomically replace a small JSON object; with `if_match`, only if its ETag is that
        (PreconditionFailed otherwise; `if_match=""` means the object must not exist yet).
        Returns the new ETag."""

    def put_new(self, key: str, data: bytes, content_type: str | None = None) -> bool:
        """Write-once: create the object, or accept the same bytes already there (a retried
        job re-publishing what it wrote before). Returns whether it wrote. Other bytes under
        the key are an error: published things never change."""
        try:
            self.create_bytes(key, data, content_type)
            return True
        except AlreadyExists:
            if self.get_bytes(key) != data:
                raise StoreError(
                    f"{self.url(key)} already exists with other content; published objects "
                    "are write-once"
                ) from None
            return False

    def exists(self, key: str) -> bool:
        return self.head(key) is not None

    def get_json(self, key: str) -> Any:
        data = self.get_bytes(key)
        try:
            return json.loads(data)
        except ValueError as exc:
            raise StoreError(f"{self.uri}: {key} is not valid JSON ({exc})") from None

    def put_json(self, key: str, value: Any) -> None:
        self.put_bytes(key, dump_json(value), "application/json")

    def url(self, key: str) -> str:
        return f"{self.uri.rstrip('/')}/{key}"


def dump_json(value: Any) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True) + "\n").encode()
