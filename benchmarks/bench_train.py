"""`make bench-train`: backbone heads against the from-image networks, on photos never trained on.

Each architecture trains `pizza` on ../shared/datasets/pizza_not_pizza (same 80/20 split, same
seed) from an empty store and cache, and is scored twice: on its held-out 20%, and on another
source, ../shared/datasets/fastfood (pizza against the nine other dishes), with the threshold it
chose itself. For the backbone it also measures the other direction (train on fastfood, score on
pizza_not_pizza) and a new label (burger) whose features are already cached.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from sklearn import metrics as skm

from training import dataset as ds
from training import tflite
from training.evaluate import probabilities
from training.features import BackboneRunner, FeatureCache, features_for
from training.job import TrainRequest, run
from traygo import backbones, layout
from traygo.images.preprocess import preprocess
from traygo.store import Store, open_store

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
PIZZA = SHARED / "pizza_not_pizza"
FASTFOOD = SHARED / "fastfood"


def train(label: str, arch: str, images: Path, store: str, cache: Path) -> tuple[Any, float]:
    started = time.perf_counter()
    result = run(
        TrainRequest(label, store, cache, images=images, architecture=arch, min_accuracy=0.0)
    )
    return result, time.perf_counter() - started


def cross_source(store: Store, cache: Path, label: str, version: str, root: Path) -> dict:
    """Balanced accuracy and ROC AUC of a published version on another source's photos."""
    meta = store.get_json(layout.metadata_key(label, version))
    model = store.get_bytes(layout.artifact_key(label, version, "model.tflite"))
    data = ds.from_folders(root, tuple(meta["classes"]))  # type: ignore[arg-type]
    targets = np.array([s.target for s in data.samples])
    if meta.get("backbone"):
        bb = backbones.metadata(store, meta["backbone"]["version"])
        feature_cache = FeatureCache(store, bb["version"], cache)
        inputs, _ = features_for(data.samples, feature_cache, BackboneRunner(store, bb))
    else:
        size = (meta["input"]["height"], meta["input"]["width"])
        inputs = np.stack([preprocess(s.path.read_bytes(), size) for s in data.samples])
    probs = probabilities(tflite.run(model, inputs))
    return {
        "balanced": skm.balanced_accuracy_score(targets, probs >= meta["threshold"]),
        "roc_auc": skm.roc_auc_score(targets, probs),
        "n": len(targets),
    }


def row(name: str, result: Any, wall: float, other: dict | None, model_bytes: int) -> dict:
    meta = result.metadata
    return {
        "run": name,
        "balanced": meta["metrics"]["balanced_accuracy"],
        "roc_auc": meta["metrics"]["roc_auc"],
        "n": meta["metrics"]["n"],
        "other_balanced": other["balanced"] if other else None,
        "other_roc_auc": other["roc_auc"] if other else None,
        "other_n": other["n"] if other else None,
        "wall_s": wall,
        "fit_s": meta["training"]["seconds"],
        "features": meta["training"].get("feature_cache"),
        "model_bytes": model_bytes,
    }


def bench_arch(arch: str, work: Path) -> list[dict]:
    store_dir, cache = work / arch / "store", work / arch / "cache"
    store = open_store(store_dir)
    result, wall = train("pizza", arch, PIZZA, str(store_dir), cache)
    size = result.metadata["artifacts"]["model.tflite"]["bytes"]
    other = cross_source(store, cache, "pizza", result.version, FASTFOOD)
    rows = [row(f"{arch}: pizza_not_pizza -> fastfood", result, wall, other, size)]
    if arch != "backbone":
        return rows
    result, wall = train("pizza", arch, FASTFOOD, str(store_dir), cache)
    other = cross_source(store, cache, "pizza", result.version, PIZZA)
    rows.append(row("backbone: fastfood -> pizza_not_pizza", result, wall, other, size))
    result, wall = train("burger", arch, FASTFOOD, str(store_dir), cache)
    rows.append(row("backbone: new label burger, features cached", result, wall, None, size))
    return rows


def table(rows: list[dict]) -> str:
    cols = ["run", "balanced", "roc_auc", "n", "other_balanced", "other_roc_auc", "other_n"]
    cols += ["wall_s", "fit_s", "model_bytes"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        cells = [
            "-" if r[c] is None else f"{r[c]:.3f}" if isinstance(r[c], float) else str(r[c])
            for c in cols
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", default="backbone,scratch,seed")
    args = parser.parse_args()
    if not (PIZZA.is_dir() and FASTFOOD.is_dir()):
        raise SystemExit(f"bench-train needs {PIZZA} and {FASTFOOD} (the shared benchmark data)")
    work = Path(tempfile.mkdtemp(prefix="traygo-bench-train-"))
    rows: list[dict] = []
    try:
        for arch in args.archs.split(","):
            rows += bench_arch(arch, work)
            print(table(rows), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(rows, indent=1, default=str))
    print("\n" + table(rows))
    print(
        "\nbalanced/roc_auc: held-out 20% of the training source; other_*: the other source, "
        "with the model's own threshold. wall_s: the whole `traygo train` from an empty store "
        "and cache for the first row of each arch (backbone import included)."
    )


if __name__ == "__main__":
    main()
