"""`make bench-train`: the seed's recipe against ours on the same split of real photos.

Trains `seed` and `default` on ../shared/datasets/pizza_not_pizza, prints a table, and (with
--demo-out) copies the default model into the repo as the demo model `make run` serves.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from training import tflite
from training.demo_model import DATASET, copy_demo
from training.job import TrainRequest, run
from traygo import layout
from traygo.store import open_store


def invoke_ms(model: bytes, runs: int = 50) -> float:
    import numpy as np

    interpreter = tflite.interpreter_class()(model_content=model, num_threads=1)
    interpreter.allocate_tensors()
    index = interpreter.get_input_details()[0]["index"]
    image = np.random.default_rng(0).uniform(0, 255, (1, 180, 180, 3)).astype(np.float32)
    times = []
    for _ in range(runs):
        interpreter.set_tensor(index, image)
        started = time.perf_counter()
        interpreter.invoke()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def train_one(arch: str, epochs: int, store: str, cache: Path) -> dict:
    result = run(
        TrainRequest(
            "pizza",
            store,
            cache,
            images=DATASET,
            architecture=arch,
            epochs=epochs,
            min_accuracy=0.0,
        )
    )
    meta = result.metadata
    model = open_store(store).get_bytes(
        layout.artifact_key("pizza", result.version, "model.tflite")
    )
    seen = sum(meta["dataset"]["counts"].values()) * 0.7 * meta["training"]["epochs"]
    return {
        "arch": arch,
        "version": result.version,
        "accuracy": meta["metrics"]["accuracy"],
        "balanced_accuracy": meta["metrics"]["balanced_accuracy"],
        "f1_pizza": meta["metrics"]["f1"]["pizza"],
        "roc_auc": meta["metrics"]["roc_auc"],
        "epochs": meta["training"]["epochs"],
        "seconds": meta["training"]["seconds"],
        "images_per_s": seen / meta["training"]["seconds"],
        "params": meta["training"]["parameters"],
        "tflite_bytes": len(model),
        "invoke_ms": invoke_ms(model),
    }


def table(rows: list[dict]) -> str:
    cols = [
        "arch",
        "accuracy",
        "balanced_accuracy",
        "f1_pizza",
        "roc_auc",
        "epochs",
        "seconds",
        "images_per_s",
        "params",
        "tflite_bytes",
        "invoke_ms",
    ]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in rows:
        cells = [
            f"{row[c]:.3f}"
            if isinstance(row[c], float) and c not in ("seconds", "images_per_s", "invoke_ms")
            else f"{row[c]:.1f}"
            if isinstance(row[c], float)
            else str(row[c])
            for c in cols
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--archs", default="seed,default")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--demo-out", type=Path, help="copy the default model here")
    args = parser.parse_args()
    if not DATASET.is_dir():
        raise SystemExit(f"bench-train needs {DATASET} (the shared benchmark data)")
    work = Path(tempfile.mkdtemp(prefix="traygo-bench-train-"))
    store = str(work / "store")
    rows = [train_one(arch, args.epochs, store, work / "cache") for arch in args.archs.split(",")]
    print(table(rows))
    print(json.dumps(rows, indent=1))
    default = next((r for r in rows if r["arch"] == "default"), None)
    if args.demo_out and default:
        copy_demo(Path(store), "pizza", default["version"], args.demo_out)
        print(f"demo model {default['version']} written to {args.demo_out}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
