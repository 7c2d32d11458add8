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


def make_trays(
    test: dict[str, list[Path]], rng: np.random.Generator
) -> tuple[list[tuple[bytes, set]], list[list[int]]]:
    """The trays (JPEG, classes on it), and for each the indices of its photos in the
    held-out photo list (in `photo_list` order)."""
    from traygo.images.preprocess import preprocess
    from traygo.tray import compose

    classes = sorted(test)
    first = {c: sum(len(test[k]) for k in classes[:i]) for i, c in enumerate(classes)}
    trays, members = [], []
    for i in range(TRAYS):
        chosen = [classes[j] for j in rng.choice(len(classes), 4, replace=False)]
        if i % 2:
            chosen = chosen[:3]
        picks = [(c, int(rng.integers(len(test[c])))) for c in chosen]
        cells: list[np.ndarray | None] = [
            preprocess(test[c][k].read_bytes(), (CELL, CELL)) for c, k in picks
        ]
        cells += [None] * (4 - len(cells))
        order = rng.permutation(4)
        trays.append((jpeg(compose([cells[j] for j in order], 2 * CELL)), set(chosen)))
        members.append([first[c] + k for c, k in picks])
    return trays, members


def photo_list(test: dict[str, list[Path]]) -> list[tuple[bytes, set]]:
    return [(p.read_bytes(), {c}) for c in sorted(test) for p in test[c]]


def answers(items: list[tuple[bytes, set]], mode: str) -> tuple[dict, dict]:
    """Per label, each item's probability and present flag, through the serving code."""
    from lambdas.inference.api import live_models
    from lambdas.inference.predict import predict

    probs: dict[str, list[float]] = {label: [] for label in LABELS}
    present: dict[str, list[bool]] = {label: [] for label in LABELS}
    for image, _ in items:
        answer = predict(live_models(), image, list(LABELS), 40_000_000, mode)
        for p in answer["predictions"]:
            probs[p["label"]].append(p["probability"])
            present[p["label"]].append(p["present"])
    return probs, present


def score(items: list[tuple[bytes, set]], answered: tuple[dict, dict]) -> dict[str, tuple]:
    """Per label: (balanced accuracy, ROC AUC) of one mode's answers, at its own threshold."""
    probs, present = answered
    return {label: _metrics(items, label, present[label], probs[label]) for label in LABELS}


def _metrics(items: list, label: str, present: list[bool], probs: list[float]) -> tuple:
    truth = np.array([label in on_it for _, on_it in items])
    return skm.balanced_accuracy_score(truth, present), skm.roc_auc_score(truth, probs)


def perfect_crops(
    photo_probs: dict[str, list[float]], trays: list[tuple[bytes, set]], members: list[list[int]]
) -> dict[str, tuple[float, float]]:
    """The ceiling that the photo classifier sets on trays: each item scored alone, as a
    photo cut exactly from the tray, the tray's score the max over its items. BA at the best
    threshold on these very trays (an oracle), so no tray scoring can beat either number."""
    out = {}
    for label in LABELS:
        truth = np.array([label in on_it for _, on_it in trays])
        best = np.array([max(photo_probs[label][i] for i in items) for items in members])
        cuts = np.unique(best)
        oracle = max(skm.balanced_accuracy_score(truth, best >= t) for t in cuts)
        out[label] = (oracle, skm.roc_auc_score(truth, best))
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
        photos = photo_list(test)
        trays, members = make_trays(test, np.random.default_rng(0))
        answered = {key: answers(photos if key[0] == "photos" else trays, key[1]) for key in KEYS}
        results = {
            key: score(photos if key[0] == "photos" else trays, answered[key]) for key in KEYS
        }
        photo_probs = answered[("photos", "photo")][0]  # each item alone: the ceiling's input
        results[("trays", "crops")] = perfect_crops(photo_probs, trays, members)
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
    head += "| trays: whole BA / AUC | trays: tray BA / AUC | trays: perfect crops (ceiling) |"
    print(f"\n{photos} held-out single photos, {trays} synthetic trays\n")
    print(head)
    print("|---|---|---|---|---|---|")
    for label in LABELS:
        cells = [
            "{:.3f} / {:.3f}".format(*results[key][label]) for key in (*KEYS, ("trays", "crops"))
        ]
        print(f"| {label} | " + " | ".join(cells) + " |")
    print("\nperfect crops: each item scored alone as a photo, the max over a tray's items; its BA")
    print("is at the best threshold on these trays (an oracle): the ceiling the photo classifier")
    print("sets, whatever the tray scoring.")


if __name__ == "__main__":
    main()
