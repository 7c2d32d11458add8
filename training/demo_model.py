"""`make demo-model`: train `default` on the shared pizza photos and commit it as the demo model.

The demo model is what `traygo run` serves out of the box. It is trained by the same job as any
other version (same split, gates and metadata) in a throw-away store, then the files the
Lambda needs are copied into traygo/data/demo_models/<label>/.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from traygo import layout

ROOT = Path(__file__).resolve().parents[1]
DATASET = ROOT.parent / "shared" / "datasets" / "pizza_not_pizza"
OUT = ROOT / "traygo" / "data" / "demo_models"
# what `traygo run` publishes; model.keras stays out to keep the repository small
DEMO_FILES = ("model.tflite", "metadata.json", "report/metrics.json")


def copy_demo(store_root: Path, label: str, version: str, out: Path) -> None:
    """Copy one published version's serving files from a local store into `out`."""
    source = store_root / layout.version_prefix(label, version)
    if out.exists():
        shutil.rmtree(out)  # a stale report from an older model must not linger
    for name in DEMO_FILES:
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / name, out / name)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", default="pizza")
    parser.add_argument("--images", type=Path, default=DATASET)
    parser.add_argument("--out", type=Path, help="default: traygo/data/demo_models/<label>")
    parser.add_argument("--epochs", type=int, default=40)
    args = parser.parse_args(argv)
    if not args.images.is_dir():
        raise SystemExit(f"demo-model needs {args.images} (the shared benchmark data)")

    from training.job import TrainRequest, run  # TensorFlow loads only when training

    with tempfile.TemporaryDirectory(prefix="traygo-demo-") as tmp:
        store = Path(tmp) / "store"
        result = run(
            TrainRequest(
                args.label,
                str(store),
                Path(tmp) / "cache",
                images=args.images,
                epochs=args.epochs,
                min_accuracy=0.0,
            )
        )
        out = args.out or OUT / args.label
        copy_demo(store, args.label, result.version, out)
    metrics = result.metadata["metrics"]
    print(
        f"demo model {args.label}/{result.version} written to {out}: "
        f"accuracy {metrics['accuracy']:.3f}, balanced {metrics['balanced_accuracy']:.3f}, "
        f"n={metrics['n']}"
    )


if __name__ == "__main__":
    main()
