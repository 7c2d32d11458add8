"""The shared pretrained backbone in the store: its versions and the `current` pointer.

A backbone version is written once by `traygo backbone import` (or by training on first use):
backbone.tflite, backbone.keras, then metadata.json last, so a reader never follows a
half-written version. backbones/current.json names the one new heads train on (and the one it
replaced); heads record the version they were trained on, and the Lambda serves each on it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from traygo import layout
from traygo.errors import NotFoundError, RegistryError
from traygo.metadata import BackboneMetadata, problems
from traygo.registry import timestamp
from traygo.store import Store


def version_id(name: str, size: int, checkpoint_sha256: str, recipe: str) -> str:
    """Same checkpoint, input size and conversion recipe: same version, on any machine.

    So a second import (another job, another laptop) writes the very same keys and every head
    trained anywhere names a version that `make run` can rebuild offline.
    """
    digest = hashlib.sha256(f"{checkpoint_sha256}:{recipe}".encode()).hexdigest()[:8]
    return f"{name}-{size}-{digest}"


def current_version(store: Store) -> str | None:
    """The version backbones/current.json names, or None when nothing was imported yet."""
    key = layout.current_backbone_key()
    try:
        data = store.get_bytes(key)
    except NotFoundError:
        return None
    return parse_current(store.url(key), data)


def parse_current(where: str, data: bytes) -> str:
    """The version a backbones/current.json document names (RegistryError when corrupt)."""
    try:
        pointer = json.loads(data)
    except ValueError:
        pointer = None
    version = pointer.get("version") if isinstance(pointer, dict) else None
    if not isinstance(version, str) or not version:
        raise RegistryError(f"{where} is corrupt; fix it with `traygo backbone import`")
    return version


def metadata(store: Store, version: str) -> dict[str, Any]:
    key = layout.backbone_key(version, "metadata.json")
    try:
        meta: dict[str, Any] = store.get_json(key)
    except NotFoundError:
        raise RegistryError(f"no backbone {version!r} in {store.uri}") from None
    found = problems(BackboneMetadata, meta)
    if found:
        raise RegistryError(f"{store.url(key)}: unusable backbone metadata: {'; '.join(found)}")
    return meta


def tray_stride(meta: dict[str, Any]) -> int:
    """The pixels per cell of a backbone's tray feature map: a tray pass takes any multiple of
    it (traygo.tray.tray_shape)."""
    side = int(meta["tray"]["size"])
    return side // int(meta["tray"].get("grid") or side // 32)


def exists(store: Store, version: str) -> bool:
    return store.exists(layout.backbone_key(version, "metadata.json"))


def set_current(store: Store, version: str) -> None:
    """Make `version` current, remembering the one it replaces (for `rollback`)."""
    metadata(store, version)  # only a complete version may become current
    doc: dict[str, Any] = {"version": version, "set_at": timestamp()}
    previous = _current_or_none(store)
    if previous is not None and previous != version:
        doc["previous"] = previous
    store.replace_json(layout.current_backbone_key(), doc)


def previous_version(store: Store) -> str | None:
    """The version current before this one, as backbones/current.json records it."""
    try:
        doc = store.get_json(layout.current_backbone_key())
    except NotFoundError:
        return None
    previous = doc.get("previous") if isinstance(doc, dict) else None
    return previous if isinstance(previous, str) and previous else None


def _current_or_none(store: Store) -> str | None:
    try:
        return current_version(store)
    except RegistryError:  # a corrupt pointer is what set_current repairs
        return None
