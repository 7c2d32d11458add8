"""`make demo-model`: train the demo heads on the shared photos and commit them.

The demo is what `traygo run` serves out of the box: five food labels, each a small head on the
shared EfficientNet-Lite0 backbone (which `traygo run` imports from its package, so it is not
committed). Each head is trained by the same job as any other version (same split, gates and
metadata) on the shared sources, in a throw-away store, with other_food/ as the background pool
(a root that holds no label's folder); then the files the Lambda needs are copied into
traygo/data/demo_models/<label>/.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from traygo import layout

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets"
SOURCES = (SHARED / "fastfood", SHARED / "pizza_not_pizza", SHARED / "other_food")
OUT = ROOT / "traygo" / "data" / "demo_models"
LABELS = ("pizza", "burger", "fries", "hot_dog", "sandwich")
# what `traygo run` publishes; model.keras and the report pictures stay out to keep it small
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
    parser.add_argument("--labels", default=",".join(LABELS))
    parser.add_argument("--images", type=Path, nargs="+", default=list(SOURCES))
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    missing = [str(p) for p in args.images if not p.is_dir()]
    if missing:
        raise SystemExit(f"demo-model needs {', '.join(missing)} (the shared benchmark data)")

    from training.job import TrainRequest, run  # TensorFlow loads only when training

    with tempfile.TemporaryDirectory(prefix="traygo-demo-") as tmp:
        store = Path(tmp) / "store"
        for label in args.labels.split(","):
            result = run(
                TrainRequest(
                    label, str(store), Path(tmp) / "cache", images=args.images, min_accuracy=0.0
                )
            )
            copy_demo(store, label, result.version, args.out / label)
            metrics = result.metadata["metrics"]
            print(
                f"demo model {label}/{result.version} written to {args.out / label}: "
                f"balanced accuracy {metrics['balanced_accuracy']:.3f}, "
                f"ROC AUC {metrics['roc_auc']:.3f}, n={metrics['n']}; "
                f"background pool {result.metadata['dataset']['background']}"
            )


if __name__ == "__main__":
    main()
