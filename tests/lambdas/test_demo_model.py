"""The committed demo model: it must serve here and under tflite-runtime 2.14."""

from __future__ import annotations

import json

import pytest

from .conftest import RED, image_bytes


@pytest.mark.compat
def test_shipped_demo_models_load_in_this_runtime() -> None:
    """The committed model must load here and under tflite-runtime 2.14 (see compat/)."""
    from lambdas.inference.demo_models import shipped
    from lambdas.inference.interpreter import LoadedModel
    from traygo.images.preprocess import preprocess

    folders = shipped()
    assert folders
    for folder in folders:
        meta = json.loads((folder / "metadata.json").read_text())
        model = LoadedModel(
            meta["label"], meta["version"], (folder / "model.tflite").read_bytes(), meta
        )
        assert 0.0 <= model.probability(preprocess(image_bytes(RED, "JPEG"))) <= 1.0
