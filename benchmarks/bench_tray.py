"""`make bench-tray`: false alarms on food that is none of the labels, and accuracy on trays.

Today's recipe (no background pool, tray thresholds at the best balanced accuracy on 2 x 2
grids) against the new one (the background pool, canteen trays, a false-alarm target), both
trained with `traygo train`'s job and scored through the serving code (`predict`, LiteRT).

Data, all from ../shared/datasets (never needed by tests):
- fastfood: a fifth of each class held out by file name (the same photos every run); the five
  labels train on the rest plus pizza_not_pizza.
- other_food (four classes): held out a whole class at a time. The new recipe trains four times,
  each time with three classes as the background pool, and is measured on the fourth: a dish no
  head saw. Today's recipe never sees other_food, so each class is unseen for it.

Per label, averaged over the four held-out classes where a fold applies:
- false alarms on the unseen class: single photos (tray mode, the default, and photo mode) and
  trays made only of it (2 to 5 items on a surface);
- balanced accuracy / ROC AUC on the held-out fastfood photos (photo mode), on new canteen trays
  of held-out photos (2 to 5 items, fast food and the unseen class, on surfaces), and on the old
  2 x 2 trays of held-out fastfood photos;
- 4:3 canteen trays scored on their own aspect ratio (served: 384 x 512), letterboxed into the
  448 px square, and squashed to it (before).
"""

from __future__ import annotations

import io
import json
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn import metrics as skm

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
FASTFOOD, PIZZA, OTHER = (SHARED / n for n in ("fastfood", "pizza_not_pizza", "other_food"))
LABELS = ("pizza", "burger", "fries", "hot_dog", "sandwich")
GRID_TRAYS = 400
CANTEEN_TRAYS = 400  # of held-out fastfood photos and the unseen class
OTHER_TRAYS = 150  # made only of the unseen class
CELL = 224


def held_out(path: Path) -> bool:
    # names are sha256 prefixes: a stable fifth (digits 8-16: the first 8 already shaped the set)
    return int(path.stem[8:16], 16) % 5 == 0


def link_tree(folders: list[Path], into: Path) -> None:
    for folder in folders:
        (into / folder.name).mkdir(parents=True)
        for photo in sorted(folder.iterdir()):
            (into / folder.name / photo.name).symlink_to(photo)


def split_fastfood(work: Path) -> dict[str, list[Path]]:
    """Links the training four fifths under work/train; returns the held-out photos by class."""
    test: dict[str, list[Path]] = {}
    for folder in sorted(p for p in FASTFOOD.iterdir() if p.is_dir()):
        (work / "train" / folder.name).mkdir(parents=True)
        for photo in sorted(folder.iterdir()):
            if held_out(photo):
                test.setdefault(folder.name, []).append(photo)
            else:
                (work / "train" / folder.name / photo.name).symlink_to(photo)
    return test


@dataclass
class Recipe:
    name: str
    pool: list[str]  # other_food classes trained on as the background pool
    unseen: list[str]  # other_food classes measured as unseen food
    layout: str = "canteen"
    results: dict[str, dict[str, list[float]]] = field(default_factory=dict)


def train(recipe: Recipe, work: Path, seeded: Path | None) -> Path:
    """A store with the five labels trained by `recipe`; `seeded` lends its backbone and
    feature cache so that no fold imports or computes them again."""
    from training.job import TrainRequest, run

    store = work / f"store-{recipe.name}"
    if seeded is not None:
        for part in ("backbones", "features"):
            shutil.copytree(seeded / part, store / part)
    roots = [work / "train", PIZZA]
    if recipe.pool:
        roots.append(work / f"pool-{recipe.name}")
        link_tree([OTHER / c for c in recipe.pool], roots[-1])
    for label in LABELS:
        started = time.perf_counter()
        cache = work / "cache"
        options = {"min_accuracy": 0.0, "promote": True, "tray_layout": recipe.layout}
        run(TrainRequest(label, str(store), cache, images=roots, **options))  # type: ignore[arg-type]
        print(f"{recipe.name}: trained {label} in {time.perf_counter() - started:.1f} s")
    return store


def jpeg(pixels: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG", quality=90)
    return buf.getvalue()


Item = tuple[bytes, set[str]]  # a picture and the classes on it


def grid_trays(test: dict[str, list[Path]], rng: np.random.Generator) -> list[Item]:
    """The old bench's trays: 2 x 2 held-out photos of four different fastfood classes, half of
    them three items and an empty cell."""
    from traygo.images.preprocess import preprocess
    from traygo.tray import compose

    classes, trays = sorted(test), []
    for i in range(GRID_TRAYS):
        chosen = [classes[j] for j in rng.choice(len(classes), 4 - i % 2, replace=False)]
        cells: list[np.ndarray | None] = [
            preprocess(test[c][int(rng.integers(len(test[c])))].read_bytes(), (CELL, CELL))
            for c in chosen
        ]
        cells += [None] * (4 - len(cells))
        order = rng.permutation(4)
        trays.append((jpeg(compose([cells[j] for j in order], 2 * CELL)), set(chosen)))
    return trays


def canteen_trays(
    pools: dict[str, list[Path]], count: int, shape: tuple[int, int], rng: np.random.Generator
) -> list[Item]:
    """2 to 5 items of the classes in `pools` (each item a different class where there are
    enough) on the generator's surfaces, as the training job composes its calibration trays."""
    from training.tray_layouts import ITEMS, SURFACES, compose
    from traygo.images.preprocess import preprocess

    classes, trays = sorted(pools), []
    for _ in range(count):
        n = int(rng.integers(ITEMS[0], ITEMS[1] + 1))
        chosen = [classes[int(j)] for j in rng.choice(len(classes), n, len(classes) < n)]
        photos = [
            preprocess(pools[c][int(rng.integers(len(pools[c])))].read_bytes(), (256, 256))
            for c in chosen
        ]
        surface = SURFACES[int(rng.integers(len(SURFACES)))]
        trays.append((jpeg(compose(photos, shape, surface, rng)[0]), set(chosen)))
    return trays


def answers(
    store: Path, items: list[Item], mode: str, fit: str = "aspect", precision: str = "auto"
) -> dict[str, np.ndarray]:
    """Per label, [items, 2]: probability and present, through the serving code (the backbone
    at `precision`, as LiveModels takes it)."""
    from lambdas.inference.models import LiveModels
    from lambdas.inference.predict import predict
    from traygo.store import open_store

    models = LiveModels(open_store(store), 3600.0, precision=precision)
    out: dict[str, list[tuple[float, bool]]] = {label: [] for label in LABELS}
    for image, _ in items:
        answer = predict(models, image, list(LABELS), 40_000_000, mode, tray_fit=fit)
        for p in answer["predictions"]:
            out[p["label"]].append((p["probability"], p["present"]))
    if precision != "auto":  # what was asked for is what ran
        assert models.backbone().model.precision == precision
    return {label: np.array(v, dtype=float) for label, v in out.items()}


def metrics(items: list[Item], label: str, scored: np.ndarray) -> tuple[float, float]:
    truth = np.array([label in on_it for _, on_it in items])
    return (
        float(skm.balanced_accuracy_score(truth, scored[:, 1] > 0)),
        float(skm.roc_auc_score(truth, scored[:, 0])),
    )


def measure(recipe: Recipe, store: Path, sets: dict[str, dict[str, list[Item]]]) -> None:
    """Adds every column of the table for `recipe`, one value per unseen class."""
    r = recipe.results
    photos = sets["photos"]["all"]
    for mode, column in (("photo", "photos"), ("tray", "photos (tray mode)")):
        got = answers(store, photos, mode)
        for label in LABELS:
            r.setdefault(label, {}).setdefault(column, []).append(
                metrics(photos, label, got[label])
            )
    grid = answers(store, sets["grid"]["all"], "tray")
    for label in LABELS:
        r[label].setdefault("2x2 trays", []).append(
            metrics(sets["grid"]["all"], label, grid[label])
        )
    for unseen in recipe.unseen:
        _measure_unseen(recipe, store, sets, unseen)


def _measure_unseen(
    recipe: Recipe, store: Path, sets: dict[str, dict[str, list[Item]]], unseen: str
) -> None:
    r = recipe.results
    columns = {
        "FA photos (tray mode)": answers(store, sets["other_photos"][unseen], "tray"),
        "FA photos (photo mode)": answers(store, sets["other_photos"][unseen], "photo"),
        "FA other-food trays": answers(store, sets["other_trays"][unseen], "tray"),
    }
    canteen = sets["canteen"][unseen]
    served = answers(store, canteen, "tray")
    fits = {
        f"4:3 {name}": answers(store, sets["canteen_43"][unseen], "tray", fit)
        for fit, name in (("stretch", "squashed"), ("pad", "letterboxed"), ("aspect", "own aspect"))
    }
    for label in LABELS:
        for column, got in columns.items():
            r[label].setdefault(column, []).append((float(got[label][:, 1].mean()), float("nan")))
        r[label].setdefault("canteen trays", []).append(metrics(canteen, label, served[label]))
        for column, got in fits.items():
            r[label].setdefault(column, []).append(
                metrics(sets["canteen_43"][unseen], label, got[label])
            )


def other_classes() -> list[str]:
    return sorted(p.name for p in OTHER.iterdir() if p.is_dir())


def build_sets(test: dict[str, list[Path]]) -> dict[str, dict[str, list[Item]]]:
    rng = np.random.default_rng(0)
    others = {c: sorted((OTHER / c).iterdir()) for c in other_classes()}
    sets: dict[str, dict[str, list[Item]]] = {
        "photos": {"all": [(p.read_bytes(), {c}) for c in sorted(test) for p in test[c]]},
        "grid": {"all": grid_trays(test, rng)},
    }
    for name in ("other_photos", "other_trays", "canteen", "canteen_43"):
        sets[name] = {}
    for c, photos in others.items():
        sets["other_photos"][c] = [(p.read_bytes(), {c}) for p in photos]
        mix = {**test, c: photos}
        sets["other_trays"][c] = canteen_trays({c: photos}, OTHER_TRAYS, (448, 448), rng)
        sets["canteen"][c] = canteen_trays(mix, CANTEEN_TRAYS, (448, 448), rng)
        sets["canteen_43"][c] = canteen_trays(mix, CANTEEN_TRAYS // 2, (480, 640), rng)
    return sets


def main() -> None:
    for needed in (FASTFOOD, PIZZA, OTHER):
        if not needed.is_dir():
            raise SystemExit(f"bench-tray needs {needed} (the shared benchmark data)")
    work = Path(tempfile.mkdtemp(prefix="traygo-bench-tray-"))
    classes = other_classes()
    recipes = [Recipe("today", [], classes, layout="grid")]
    recipes += [Recipe(f"pool-{c}", [k for k in classes if k != c], [c]) for c in classes]
    try:
        test = split_fastfood(work)
        sets = build_sets(test)
        seeded = None
        for recipe in recipes:
            store = train(recipe, work, seeded)
            seeded = seeded or store
            measure(recipe, store, sets)
            print(f"{recipe.name}: measured {json.dumps(recipe.results)}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print_table(recipes, sets)


COLUMNS = (
    "FA photos (tray mode)",
    "FA photos (photo mode)",
    "FA other-food trays",
    "photos",
    "photos (tray mode)",
    "canteen trays",
    "2x2 trays",
    "4:3 squashed",
    "4:3 letterboxed",
    "4:3 own aspect",
)


def print_table(recipes: list[Recipe], sets: dict[str, dict[str, list[Item]]]) -> None:
    new = Recipe("new", [], [])
    for recipe in recipes[1:]:  # the folds: every value of every fold, averaged below
        for label, columns in recipe.results.items():
            for column, values in columns.items():
                new.results.setdefault(label, {}).setdefault(column, []).extend(values)
    n = {k: len(next(iter(v.values()))) for k, v in sets.items()}
    print(
        f"\n{n['photos']} held-out fastfood photos; per unseen other_food class: "
        f"{n['other_photos']} photos, {n['other_trays']} other-food trays, {n['canteen']} "
        f"canteen trays, {n['canteen_43']} 4:3 trays; {n['grid']} 2x2 trays"
    )
    print("FA: share of unseen other food called the label (mean over the four held-out classes)")
    print("others: balanced accuracy at the served threshold / ROC AUC\n")
    print("| label | recipe | " + " | ".join(COLUMNS) + " |")
    print("|---|---|" + "---|" * len(COLUMNS))
    for label in LABELS:
        for recipe in (recipes[0], new):
            cells = [_cell(recipe.results[label][c]) for c in COLUMNS]
            print(f"| {label} | {recipe.name} | " + " | ".join(cells) + " |")


def _cell(values: list[tuple[float, float]]) -> str:
    first = statistics.fmean(v[0] for v in values)
    if all(np.isnan(v[1]) for v in values):
        return f"{first:.3f}"
    return f"{first:.3f} / {statistics.fmean(v[1] for v in values):.3f}"


if __name__ == "__main__":
    main()
