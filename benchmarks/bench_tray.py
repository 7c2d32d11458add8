"""`make bench-tray`: five labels on single photos and on trays, whole-picture vs tray scoring.

A fifth of every ../shared/datasets/fastfood class is held out (by file name, so the same photos
every run). The five demo labels are trained with `traygo train`'s job on the rest, plus
../shared/datasets/pizza_not_pizza, into a fresh store. Then, through the serving code:
- single held-out photos, scored as a photo (`mode=photo`) and as a tray (`mode=tray`);
- synthetic trays: 2x2 held-out photos of four different fastfood classes (look-alike negatives
  included), half of them three items and an empty cell, scored as a whole picture
  (`mode=photo`) and with tray scoring (`mode=tray`).
Balanced accuracy uses each mode's own published threshold; ROC AUC needs none. Latency: warm
p50 through the Lambda handler on one core, for a 448 px tray JPEG with five labels and for a
single photo.
"""

from __future__ import annotations

import base64
import io
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn import metrics as skm

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
FASTFOOD, PIZZA = SHARED / "fastfood", SHARED / "pizza_not_pizza"
LABELS = ("pizza", "burger", "fries", "hot_dog", "sandwich")
TRAYS = 400
CELL = 224


def held_out(path: Path) -> bool:
    # names are sha256 prefixes: a stable fifth (digits 8-16: the first 8 already shaped the set)
    return int(path.stem[8:16], 16) % 5 == 0


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


def train_labels(store: str, work: Path) -> None:
    from training.job import TrainRequest, run

    for label in LABELS:
        started = time.perf_counter()
        run(
            TrainRequest(
                label,
                store,
                work / "cache",
                images=[work / "train", PIZZA],
                min_accuracy=0.0,
                promote=True,
            )
        )
        print(f"trained {label} in {time.perf_counter() - started:.1f} s", flush=True)


def jpeg(pixels: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def make_trays(test: dict[str, list[Path]], rng: np.random.Generator) -> list[tuple[bytes, set]]:
    from traygo.images.preprocess import preprocess
    from traygo.tray import compose

    classes = sorted(test)
    trays = []
    for i in range(TRAYS):
        chosen = [classes[j] for j in rng.choice(len(classes), 4, replace=False)]
        if i % 2:
            chosen = chosen[:3]
        cells: list[np.ndarray | None] = [
            preprocess(test[c][int(rng.integers(len(test[c])))].read_bytes(), (CELL, CELL))
            for c in chosen
        ]
        cells += [None] * (4 - len(cells))
        order = rng.permutation(4)
        trays.append((jpeg(compose([cells[j] for j in order], 2 * CELL)), set(chosen)))
    return trays


def score(items: list[tuple[bytes, set]], mode: str) -> dict[str, tuple[float, float]]:
    """Per label: (balanced accuracy, ROC AUC) over the items, through the serving code."""
    from lambdas.inference.api import live_models
    from lambdas.inference.predict import predict

    probs: dict[str, list[float]] = {label: [] for label in LABELS}
    present: dict[str, list[bool]] = {label: [] for label in LABELS}
    for image, _ in items:
        answer = predict(live_models(), image, list(LABELS), 40_000_000, mode)
        for p in answer["predictions"]:
            probs[p["label"]].append(p["probability"])
            present[p["label"]].append(p["present"])
    out = {}
    for label in LABELS:
        truth = np.array([label in on_it for _, on_it in items])
        out[label] = (
            skm.balanced_accuracy_score(truth, present[label]),
            skm.roc_auc_score(truth, probs[label]),
        )
    return out


def latency_ms(image: bytes, mode: str, runs: int = 100) -> float:
    from lambdas.inference.handler import handler
    from lambdas.inference.server import LocalContext

    event = {
        "httpMethod": "POST",
        "path": "/predict",
        "resource": "/predict",
        "headers": {"Content-Type": "image/jpeg"},
        "queryStringParameters": {"mode": mode, "labels": ",".join(LABELS)},
        "requestContext": {"requestId": "bench", "stage": "bench"},
        "body": base64.b64encode(image).decode(),
        "isBase64Encoded": True,
    }
    times = []
    for _ in range(runs + 1):
        started = time.perf_counter()
        response = handler(event, LocalContext("bench"))
        times.append((time.perf_counter() - started) * 1000)
        assert response["statusCode"] == 200, response
    return statistics.median(times[1:])


def main() -> None:
    if not (FASTFOOD.is_dir() and PIZZA.is_dir()):
        raise SystemExit(f"bench-tray needs {FASTFOOD} and {PIZZA} (the shared benchmark data)")
    work = Path(tempfile.mkdtemp(prefix="traygo-bench-tray-"))
    try:
        test = split_fastfood(work)
        store = str(work / "store")
        train_labels(store, work)
        os.environ["TRAYGO_STORE"] = store
        photos = [(p.read_bytes(), {c}) for c, paths in test.items() for p in paths]
        trays = make_trays(test, np.random.default_rng(0))
        results = {
            ("photos", "photo"): score(photos, "photo"),
            ("photos", "tray"): score(photos, "tray"),
            ("trays", "photo"): score(trays, "photo"),
            ("trays", "tray"): score(trays, "tray"),
        }
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core for the latency
        tray_ms = latency_ms(trays[0][0], "tray")
        photo_ms = latency_ms(photos[0][0], "photo")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print_table(results, len(photos), len(trays))
    print(f"\nwarm p50 on one core, 5 labels: tray (448 px JPEG, mode=tray) {tray_ms:.1f} ms, ")
    print(f"single photo (mode=photo) {photo_ms:.1f} ms; tray/photo {tray_ms / photo_ms:.2f}x")


KEYS = (("photos", "photo"), ("photos", "tray"), ("trays", "photo"), ("trays", "tray"))


def print_table(results: dict, photos: int, trays: int) -> None:
    head = "| label | photos: whole BA / AUC | photos: tray BA / AUC "
    head += "| trays: whole BA / AUC | trays: tray BA / AUC |"
    print(f"\n{photos} held-out single photos, {trays} synthetic trays\n")
    print(head)
    print("|---|---|---|---|---|")
    for label in LABELS:
        cells = [
            "{:.3f} / {:.3f}".format(*results[key][label])
            for key in (
                ("photos", "photo"),
                ("photos", "tray"),
                ("trays", "photo"),
                ("trays", "tray"),
            )
        ]
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
