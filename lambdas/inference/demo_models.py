"""Install the demo models shipped in the package into a store with nothing live."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from traygo.registry import Registry


def shipped() -> list[Path]:
    root = Path(str(resources.files("traygo").joinpath("data/demo_models")))
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if (p / "metadata.json").is_file())


def backbone_versions() -> set[str]:
    """The shared backbone versions the shipped heads were trained on."""
    metas = [json.loads((f / "metadata.json").read_text()) for f in shipped()]
    return {m["backbone"]["version"] for m in metas if m.get("backbone")}


def install(registry: Registry) -> list[str]:
    """Publish each shipped demo model and make it live where its label has nothing live.
    Returns what it did, one line each."""
    done = []
    for folder in shipped():
        meta = json.loads((folder / "metadata.json").read_text())
        label, version = meta["label"], meta["version"]
        if registry.live(label) is not None:
            continue
        artifacts = {
            str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != "metadata.json"
        }
        meta.pop("artifacts", None)
        registry.publish(label, version, artifacts, meta)
        registry.promote(label, version)
        done.append(f"installed demo model {label}/{version}")
    return done
