"""`make bench-finetune`: the frozen ImageNet backbone against one tuned on food, and its int8
pair, through the product path: `traygo backbone tune`'s job, `traygo train`'s job for the five
labels on each backbone, and the served code (LiteRT, `predict`) for every answer.

Data, all from ../shared/datasets (never needed by tests), as `make bench-tray` splits it:
- fastfood: a fifth of each class held out by file name; the rest, pizza_not_pizza and three
  other_food classes (the background pool) are what the backbone is tuned on and the heads
  learn from;
- the fourth other_food class (UNSEEN) is held out whole: false alarms on a dish nobody saw.

Per label and backbone: balanced accuracy / ROC AUC on held-out photos (photo mode), on canteen
trays (2 to 5 held-out items and the unseen dish on surfaces, tray mode) and on 2 x 2 trays of
held-out photos; recall on the photos and the canteen trays; the false-alarm rate on photos and
trays of the unseen dish. Goals: photos
>= 0.95, trays >= 0.90, false alarms no worse than frozen.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.bench_tray import (
    FASTFOOD,
    LABELS,
    OTHER,
    PIZZA,
    Item,
    answers,
    canteen_trays,
    grid_trays,
    held_out,
    link_tree,
    metrics,
    split_fastfood,
)

UNSEEN = "beet_salad"
TRAYS = 300
VARIANTS = ("frozen", "tuned", "tuned int8")
GOALS = {"photos": 0.95, "canteen trays": 0.90, "2x2 trays": 0.90}
# Rates at the served thresholds: recall where the label is there, false alarms on the dish
# nobody saw.
RATES = ("recall photos", "recall canteen trays", "FA unseen photos", "FA unseen trays")


def train_heads(store: Path, roots: list[Path], cache: Path, backbone: str | None) -> None:
    from training.job import TrainRequest, run

    for label in LABELS:
        started = time.perf_counter()
        request = TrainRequest(label, str(store), cache, images=roots, min_accuracy=0.0)
        request.promote, request.backbone, request.feedback = True, backbone, False
        run(request)
        print(f"{store.name}: trained {label} in {time.perf_counter() - started:.0f} s", flush=True)


def tune(
    store: Path, roots: list[Path], cache: Path, epochs: int, with_pool: bool
) -> tuple[dict, float, float]:
    """The tuned backbone's metadata, the job's wall time and peak RSS (MiB, this process)."""
    from training.backbone.tune import NotBetter, TuneRequest, run
    from training.backbone.tune_fit import Recipe
    from traygo import backbones
    from traygo.store import open_store

    started = time.perf_counter()
    request = TuneRequest(str(store), cache, images=roots, recipe=Recipe(epochs=epochs))
    request.make_current, request.resume = True, True  # a rerun continues a finished fit
    request.background = with_pool
    try:
        meta = run(request).metadata
    except NotBetter as exc:
        print(f"tune: {exc}")
        found = [k for k in open_store(str(store)).list("backbones/") if "-tuned-" in k]
        meta = backbones.metadata(open_store(str(store)), found[0].split("/")[1])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return meta, time.perf_counter() - started, peak


def measure(store: Path, sets: dict[str, list[Item]], precision: str) -> dict[str, dict]:
    scored = {
        "photos": answers(store, sets["photos"], "photo", precision=precision),
        "canteen trays": answers(store, sets["canteen"], "tray", precision=precision),
        "2x2 trays": answers(store, sets["grid"], "tray", precision=precision),
        "FA unseen photos": answers(store, sets["unseen photos"], "tray", precision=precision),
        "FA unseen trays": answers(store, sets["unseen trays"], "tray", precision=precision),
    }
    out: dict[str, dict] = {}
    for label in LABELS:
        row = out.setdefault(label, {})
        for column in GOALS:
            row[column] = metrics(sets[_set(column)], label, scored[column][label])
        for column in ("FA unseen photos", "FA unseen trays"):
            row[column] = float(scored[column][label][:, 1].mean())
        for column in ("photos", "canteen trays"):
            present = np.array([label in on_it for _, on_it in sets[_set(column)]])
            row[f"recall {column}"] = float(scored[column][label][present, 1].mean())
    return out


def _set(column: str) -> str:
    return {"photos": "photos", "canteen trays": "canteen", "2x2 trays": "grid"}[column]


def held_out_photos() -> dict[str, list[Path]]:
    """split_fastfood's held-out photos, without linking the rest again."""
    folders = sorted(p for p in FASTFOOD.iterdir() if p.is_dir())
    return {f.name: [p for p in sorted(f.iterdir()) if held_out(p)] for f in folders}


def build_sets(test: dict[str, list[Path]]) -> dict[str, list[Item]]:
    rng = np.random.default_rng(0)
    unseen = sorted((OTHER / UNSEEN).iterdir())
    return {
        "photos": [(p.read_bytes(), {c}) for c in sorted(test) for p in test[c]],
        "grid": grid_trays(test, rng)[:TRAYS],
        "canteen": canteen_trays({**test, UNSEEN: unseen}, TRAYS, (448, 448), rng),
        "unseen photos": [(p.read_bytes(), {UNSEEN}) for p in unseen],
        "unseen trays": canteen_trays({UNSEEN: unseen}, TRAYS // 2, (448, 448), rng),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--work", type=Path, help="keep the stores here (default: a temp dir)")
    parser.add_argument(
        "--tune-with-pool",
        action="store_true",
        help="tune on the background pool too (`backbone tune --with-background`)",
    )
    args = parser.parse_args()
    for needed in (FASTFOOD, PIZZA, OTHER / UNSEEN):
        if not needed.is_dir():
            raise SystemExit(f"bench-finetune needs {needed} (the shared benchmark data)")
    work = args.work or Path(tempfile.mkdtemp(prefix="traygo-bench-finetune-"))
    try:
        run_bench(work, args.epochs, args.tune_with_pool)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


def run_bench(work: Path, epochs: int, with_pool: bool = False) -> None:
    roots, cache = [work / "train", PIZZA, work / "pool"], work / "cache"
    frozen, tuned = work / "store-frozen", work / "store-tuned"
    fresh = not (work / "train").exists()  # else a rerun with --work: keep what is done
    test = split_fastfood(work) if fresh else held_out_photos()
    if fresh:
        pool = [OTHER / c for c in sorted(p.name for p in OTHER.iterdir() if p.is_dir())]
        link_tree([c for c in pool if c.name != UNSEEN], work / "pool")
        train_heads(frozen, roots, cache, None)
        for part in ("backbones", "features"):
            shutil.copytree(frozen / part, tuned / part)
    meta, wall, peak = tune(tuned, roots, cache, epochs, with_pool)
    train_heads(tuned, roots, cache, meta["version"])
    sets = build_sets(test)
    results = {
        "frozen": measure(frozen, sets, "float16"),
        "tuned": measure(tuned, sets, "float16"),
        "tuned int8": measure(tuned, sets, "int8"),
    }
    (work / "results.json").write_text(json.dumps({"results": results, "tune": meta}, indent=1))
    print_table(results, sets, meta, wall, peak)


def print_table(results: dict, sets: dict, meta: dict, wall: float, peak: float) -> None:
    n = {k: len(v) for k, v in sets.items()}
    fit = meta["provenance"]["fit"]
    print(
        f"\n{n['photos']} held-out photos, {n['canteen']} canteen trays, {n['grid']} 2x2 trays; "
        f"unseen {UNSEEN}: {n['unseen photos']} photos, {n['unseen trays']} trays"
    )
    print(
        f"tune job: {wall:.0f} s wall ({fit['seconds']:.0f} s fitting, {fit['epochs_run']} epochs),"
        f" peak RSS {peak:.0f} MiB; int8 served by the gate: {meta['int8']['served']} "
        f"({meta['int8']['why']})\n"
    )
    columns = [*GOALS, *RATES]
    print("| label | backbone | " + " | ".join(columns) + " |")
    print("|---|---|" + "---|" * len(columns))
    for label in [*LABELS, "mean"]:
        for variant in VARIANTS:
            print(f"| {label} | {variant} | " + " | ".join(_cells(results[variant], label)) + " |")


def _cells(result: dict, label: str) -> list[str]:
    rows = list(result.values()) if label == "mean" else [result[label]]
    cells = []
    for column in GOALS:
        ba, auc = np.mean([r[column] for r in rows], axis=0)
        cells.append(f"{ba:.3f} / {auc:.3f}")
    cells += [f"{np.mean([r[c] for r in rows]):.3f}" for c in RATES]
    return cells


if __name__ == "__main__":
    main()
