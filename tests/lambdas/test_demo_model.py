"""The committed demo heads: they load here and under tflite-runtime 2.14, on the backbone the
installed package gives."""

from __future__ import annotations

import json

import numpy as np
import pytest


@pytest.mark.compat
def test_shipped_demo_heads_load_in_this_runtime() -> None:
    from lambdas.inference.demo_models import shipped
    from lambdas.inference.interpreter import LoadedHead

    folders = shipped()
    assert {f.name for f in folders} == {"pizza", "burger", "fries", "hot_dog", "sandwich"}
    for folder in folders:
        meta = json.loads((folder / "metadata.json").read_text())
        head = LoadedHead(
            meta["label"], meta["version"], (folder / "model.tflite").read_bytes(), meta
        )
        features = np.random.default_rng(0).uniform(0, 6, head.features).astype(np.float32)
        assert 0.0 <= head.probability(features) <= 1.0


def test_demo_heads_name_the_backbone_the_package_rebuilds() -> None:
    """`make run` imports the backbone offline; its version must be the one the heads need."""
    import hashlib

    from lambdas.inference.demo_models import backbone_versions
    from training.backbone import artifact
    from traygo import backbones

    source = artifact.find_source()
    checkpoint = hashlib.sha256(source.path.read_bytes()).hexdigest()
    expected = backbones.version_id(artifact.NAME, 224, checkpoint, artifact.RECIPE)
    assert backbone_versions() == {expected}
