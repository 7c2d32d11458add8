"""One interface over a storage location: `s3://bucket[/prefix]` or a local directory."""

from __future__ import annotations

from pathlib import Path

from traygo.errors import ConfigError
from traygo.store.base import ObjectInfo, Store

__all__ = ["ObjectInfo", "Store", "open_store"]


def open_store(uri: str | Path) -> Store:
    """Open the store named by `uri` (the entry point resolves it from the `store` setting)."""
    text = str(uri).strip()
    if text.startswith("s3://"):
        from traygo.store.s3 import S3Store

        return S3Store.from_uri(text)
    if "://" in text or text.startswith(("s3:", "gs:", "http:", "https:")):
        raise ConfigError(
            f"store {text!r}: unsupported scheme; use s3://bucket[/prefix] or a local directory"
        )
    if not text:
        raise ConfigError("store is empty; use s3://bucket[/prefix] or a local directory")
    from traygo.store.local import LocalStore

    return LocalStore(Path(text))
