"""`make bench-feedback`: a canteen teaches traygo through POST /feedback.

A canteen camera is a source no head was trained on. It is simulated here with:
- a new dish, a whole `other_food` class held out of the background pool (default beet_salad:
  a canteen serves salads), standing for food that causes false alarms;
- synthetic 4:3 trays on a surface the training trays never used ("speckled_melamine"), each
  with one or two plates of the new dish and up to three fast-food items.

The five heads train as `traygo train` trains them (web photos: fastfood four fifths and
pizza_not_pizza; the pool: the other three other_food classes), and are promoted. Then, for N in
0, 10, 30 and 100, the first N "teaching" trays (new-dish photos of one half, fast food from the
training photos) are sent through the Lambda handler's POST /feedback with their truth (the
labels on them), every label is retrained with `traygo train`'s job (feedback on by default)
and promoted, and the rest is measured through the serving code (predict, LiteRT):
- false alarms and recall on test trays (the other half of the new dish, held-out fast food),
  tray mode;
- balanced accuracy and recall on the shared hold-out (a fifth of fastfood), photo mode;
- the retrain's wall time per label.
Goals: false alarms on the canteen trays halved by N=10 and <= 2% by N=30; the hold-out's
balanced accuracy and recall within 1 point of N=0; a retrain <= 60 s on 2 cores.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn import metrics as skm

from benchmarks.bench_tray import (
    FASTFOOD,
    LABELS,
    OTHER,
    PIZZA,
    answers,
    link_tree,
    split_fastfood,
)

STEPS = (0, 10, 30, 100)
TEACH_TRAYS = max(STEPS)
TEST_TRAYS = 300
SHAPE = (480, 640)  # a 4:3 camera frame
SURFACE = "speckled_melamine"

Item = tuple[bytes, set[str]]  # a tray picture and the labels on it


def trays(
    dish: list[Path], food: dict[str, list[Path]], count: int, rng: np.random.Generator
) -> list[Item]:
    """`count` trays: one or two plates of the new dish and zero to three fast-food items."""
    from training.tray_layouts import compose
    from traygo.images.preprocess import preprocess

    classes = sorted(food)
    out = []
    for _ in range(count):
        photos = [dish[int(i)] for i in rng.choice(len(dish), int(rng.integers(1, 3)), False)]
        chosen = [classes[int(j)] for j in rng.choice(len(classes), int(rng.integers(0, 4)), False)]
        photos += [food[c][int(rng.integers(len(food[c])))] for c in chosen]
        order = rng.permutation(len(photos))
        pixels = [preprocess(photos[i].read_bytes(), (256, 256)) for i in order]
        tray, _ = compose(pixels, SHAPE, SURFACE, rng)
        out.append((camera(tray, rng), {c for c in chosen if c in LABELS}))
    return out


def camera(tray: np.ndarray, rng: np.random.Generator) -> bytes:
    """The canteen's camera, not a web photo: warm ceiling light, flat contrast, a little
    blur and sensor noise, and a cheap JPEG encoder."""
    from PIL import Image, ImageFilter

    warm = tray.astype(np.float32) * np.array([1.08, 1.0, 0.84], np.float32) * 0.85 + 18
    noisy = warm + rng.normal(0, 5, warm.shape).astype(np.float32)
    img = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))
    img = img.filter(ImageFilter.GaussianBlur(1.2))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=70)
    return buf.getvalue()


def send(store: Path, items: list[Item]) -> list[int]:
    """Each tray through the Lambda handler's POST /feedback; the HTTP statuses."""
    from lambdas.inference import api
    from lambdas.inference.handler import handler
    from lambdas.inference.server import LocalContext, rest_event

    os.environ["TRAYGO_STORE"] = str(store)
    api.reset()
    statuses = []
    for picture, on_it in items:
        target = "/feedback?present=" + ",".join(sorted(on_it))
        event = rest_event("POST", target, {"Content-Type": "image/jpeg"}, picture)
        context = LocalContext(event["requestContext"]["requestId"])
        statuses.append(int(handler(event, context)["statusCode"]))
    return statuses


def train_all(
    store: Path, roots: list[Path], cache: Path, feedback: bool, weight: float
) -> dict[str, dict]:
    """Every label retrained and promoted whatever its gate says (the bench measures the
    head); per label its wall time, gate and feedback card."""
    from training.job import TrainRequest, run
    from traygo.registry import Registry
    from traygo.store import open_store

    registry = Registry(open_store(store))
    out = {}
    for label in LABELS:
        started = time.perf_counter()
        req = TrainRequest(label, str(store), cache, images=roots, min_accuracy=0.0)
        req.feedback, req.feedback_weight = feedback, weight
        result = run(req)
        seconds = time.perf_counter() - started
        registry.promote(label, result.version)
        meta = result.metadata
        out[label] = {"seconds": seconds, "gate": meta["gate"], "feedback": meta.get("feedback")}
        print(f"  {label}: {seconds:.1f} s, gate {meta['gate']['passed']}", flush=True)
    return out


def measure(store: Path, test: list[Item], photos: list[Item]) -> dict[str, dict[str, float]]:
    tray = answers(store, test, "tray")
    photo = answers(store, photos, "photo")
    out = {}
    for label in LABELS:
        on_tray = np.array([label in on for _, on in test])
        on_photo = np.array([label in on for _, on in photos])
        said_tray, said_photo = tray[label][:, 1] > 0, photo[label][:, 1] > 0
        out[label] = {
            "fa": float(said_tray[~on_tray].mean()),
            "recall": float(said_tray[on_tray].mean()),
            "auc": float(skm.roc_auc_score(on_tray, tray[label][:, 0])),
            "photo_bacc": float(skm.balanced_accuracy_score(on_photo, said_photo)),
            "photo_recall": float(said_photo[on_photo].mean()),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dish", default="beet_salad", help="the other_food class held out")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--weight", type=float, default=3.0, help="--feedback-weight of the retrains"
    )
    parser.add_argument(
        "--work", type=Path, help="keep the work here; a store trained at N=0 there is reused"
    )
    args = parser.parse_args()
    for needed in (FASTFOOD, PIZZA, OTHER / args.dish):
        if not needed.is_dir():
            raise SystemExit(f"bench-feedback needs {needed} (the shared benchmark data)")
    work = args.work or Path(tempfile.mkdtemp(prefix="traygo-bench-feedback-"))
    try:
        results = run_bench(work, args.dish, args.weight, np.random.default_rng(args.seed))
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    print_table(results, args.dish, args.weight)


def run_bench(work: Path, dish: str, weight: float, rng: np.random.Generator) -> dict[int, dict]:
    roots, train_food, test_food = lay_out(work, dish)
    store, cache, trained_n0 = work / "store", work / "cache", work / f"store-n0-{dish}"
    photos = sorted((OTHER / dish).iterdir())
    teach = trays([p for p in photos if hash_half(p)], train_food, TEACH_TRAYS, rng)
    test = trays([p for p in photos if not hash_half(p)], test_food, TEST_TRAYS, rng)
    hold_out = [(p.read_bytes(), {c} & set(LABELS)) for c, ps in test_food.items() for p in ps]
    print(f"{len(teach)} teaching trays, {len(test)} test trays, {len(hold_out)} hold-out photos")
    results: dict[int, dict] = {}
    sent = 0
    for n in STEPS:
        statuses = send(store, teach[sent:n]) if n > sent else []
        sent = n
        print(f"N={n}: sent {len(statuses)} corrections ({sorted(set(statuses))})", flush=True)
        if n == 0 and trained_n0.is_dir():  # --work: the same heads a fresh N=0 run trains
            shutil.copytree(trained_n0, store)
            trained = json.loads((trained_n0 / "trained.json").read_text())
        else:
            trained = train_all(store, roots, cache, n > 0, weight)
        if n == 0 and not trained_n0.is_dir():
            shutil.copytree(store, trained_n0)
            (trained_n0 / "trained.json").write_text(json.dumps(trained))
        results[n] = {"train": trained, "scores": measure(store, test, hold_out)}
        print(f"N={n}: {json.dumps(results[n]['scores'])}", flush=True)
    return results


def lay_out(
    work: Path, dish: str
) -> tuple[list[Path], dict[str, list[Path]], dict[str, list[Path]]]:
    """The training roots (web photos and the pool without `dish`), and fastfood's training and
    held-out photos by class."""
    for part in ("train", "pool", "store"):
        shutil.rmtree(work / part, ignore_errors=True)
    test_food = split_fastfood(work)
    train_food = {c: sorted((work / "train" / c).iterdir()) for c in test_food}
    pool = [OTHER / c for c in sorted(os.listdir(OTHER)) if (OTHER / c).is_dir() and c != dish]
    link_tree(pool, work / "pool")
    return [work / "train", PIZZA, work / "pool"], train_food, test_food


def hash_half(path: Path) -> bool:
    """A stable half of a class's photos, by a hash of the name."""
    return hashlib.sha256(path.name.encode()).digest()[0] % 2 == 0


def print_table(results: dict[int, dict], dish: str, weight: float) -> None:
    base = results[0]["scores"]
    print(
        f"\nA canteen camera, a new dish ({dish}) on a new surface: corrections through "
        f"/feedback, --feedback-weight {weight:g}"
    )
    print(
        "| label | N | false alarms (canteen trays) | recall (canteen trays) | tray ROC AUC | "
        "hold-out balanced acc. (Δ vs N=0) | hold-out recall (Δ) | retrain s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for label in LABELS:
        for n, got in results.items():
            s, b = got["scores"][label], base[label]
            print(
                f"| {label} | {n} | {s['fa']:.3f} | {s['recall']:.3f} | {s['auc']:.3f} | "
                f"{s['photo_bacc']:.3f} ({s['photo_bacc'] - b['photo_bacc']:+.3f}) | "
                f"{s['photo_recall']:.3f} ({s['photo_recall'] - b['photo_recall']:+.3f}) | "
                f"{got['train'][label]['seconds']:.0f} |"
            )
    print(
        "\n| N | mean false alarms | mean recall | mean hold-out bal. acc. | max retrain s "
        "| gates passed |"
    )
    print("|---|---|---|---|---|---|")
    for n, got in results.items():
        s = got["scores"]
        print(
            f"| {n} | {statistics.mean(s[x]['fa'] for x in LABELS):.3f} | "
            f"{statistics.mean(s[x]['recall'] for x in LABELS):.3f} | "
            f"{statistics.mean(s[x]['photo_bacc'] for x in LABELS):.3f} | "
            f"{max(got['train'][x]['seconds'] for x in LABELS):.0f} | "
            f"{sum(bool(got['train'][x]['gate']['passed']) for x in LABELS)}/{len(LABELS)} |"
        )


if __name__ == "__main__":
    main()
