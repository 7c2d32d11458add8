"""`traygo backbone import`: checkpoint -> Keras -> TFLite, checked, published to the store.

The version is a function of the checkpoint's bytes, the input size and the conversion recipe,
so importing again (a second job, `make run` on a laptop) writes the same keys, and an import
that finds its version complete only moves `current`.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from training.backbone import publish, torch_legacy
from traygo import backbones
from traygo.errors import BackboneError
from traygo.store import Store

log = logging.getLogger(__name__)

NAME = "efficientnet-lite0"
LICENSE = "Apache-2.0"
# Bump when the Keras rebuild or the TFLite conversion changes what the artifact computes.
RECIPE = "keras-tflite-float16-v2"  # v2: adds the tray feature map model
DEFAULT_SIZE = 224


@dataclass(frozen=True)
class Source:
    path: Path
    package: str
    package_version: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def find_source(path: Path | None = None, package: str | None = None) -> Source:
    from training.backbone import efficientnet_lite

    if path is not None:
        if not path.is_file():
            raise BackboneError(f"--from {path}: no such file")
        return Source(path, "file", "-")
    name = package or efficientnet_lite.SOURCE_PACKAGE
    if name != efficientnet_lite.SOURCE_PACKAGE:
        raise BackboneError(
            f"--package {name}: only {efficientnet_lite.SOURCE_PACKAGE} is supported; "
            "pass a checkpoint file with --from PATH"
        )
    try:
        checkpoint = efficientnet_lite.package_checkpoint()
    except FileNotFoundError as exc:
        raise BackboneError(str(exc)) from None
    return Source(checkpoint, name, importlib.metadata.version(name))


def import_backbone(
    store: Store, source: Source, size: int = DEFAULT_SIZE, make_current: bool = True
) -> dict[str, Any]:
    """Publish the backbone built from `source` (once) and return its metadata."""
    if size % 32 or size < 32:
        raise BackboneError(f"--size {size}: must be a multiple of 32 (the network's stride)")
    version = backbones.version_id(NAME, size, source.sha256, RECIPE)
    if not backbones.exists(store, version):
        _publish(store, version, source, size)
    else:
        log.info("backbone %s is already in %s", version, store.uri)
    if make_current and backbones.current_version(store) != version:
        backbones.set_current(store, version)
        log.info("backbone %s is current", version)
    return backbones.metadata(store, version)


def ensure_current(store: Store) -> dict[str, Any]:
    """The current backbone's metadata, importing it from the installed package on first use."""
    version = backbones.current_version(store)
    if version is not None:
        return backbones.metadata(store, version)
    log.info("no backbone in %s yet: importing %s from its package", store.uri, NAME)
    return import_backbone(store, find_source())


def _publish(store: Store, version: str, source: Source, size: int) -> None:
    from training.backbone import efficientnet_lite

    log.info("importing %s from %s at %d px", NAME, source.path, size)
    try:
        state = torch_legacy.load_state_dict(source.path)
        built = publish.Built(efficientnet_lite.build(state, size), size)
    except ValueError as exc:
        raise BackboneError(f"{source.path}: {exc}") from None
    artifacts, parity, _ = publish.convert(built, int8_pictures=None)
    meta = publish.describe(NAME, version, built, efficientnet_lite.FEATURES) | {
        "source": {
            "package": source.package,
            "package_version": source.package_version,
            "file": source.path.name,
            "sha256": source.sha256,
            "license": LICENSE,
        },
        "recipe": RECIPE,
        "parity": parity,
    }
    publish.publish(store, version, artifacts, meta)
