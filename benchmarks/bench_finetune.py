"""`make bench-finetune`: would fine-tuning the shared backbone on food lift photos and trays?

An experiment, not a product path: the ImageNet Lite0 backbone (frozen, as served today)
against the same backbone with its last stages fine-tuned on the training photos (every
fastfood class and pizza_not_pizza's two folders as classes, BatchNorm statistics frozen,
horizontal flips). Both are run in Keras float32, so the comparison is like for like.

Split as in `make bench-tray`: a fifth of each fastfood class held out by file name. Of the
rest, another fifth by file name is the monitor split (photo and tray thresholds, and the
fine-tuning's validation). Each label's head is logistic regression on standardised pooled
features (scikit-learn, balanced classes), scored on held-out photos and on 400 synthetic trays
of held-out photos through the served tray regions (`traygo.tray`), the max over regions.
"""

from __future__ import annotations

import time
import zlib
from pathlib import Path

import numpy as np
from sklearn import metrics as skm
from sklearn.linear_model import LogisticRegression

from benchmarks.bench_tray import FASTFOOD, LABELS, PIZZA, TRAYS, held_out

EPOCHS = 6
FIRST_TUNED_BLOCK = 8  # of 16: the last three stages and the head convolution learn
SIZE = 224


def monitor(path: Path) -> bool:
    return zlib.crc32(path.name.encode()) % 5 == 0  # a stable fifth of the training photos


def load_photos() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pixels, folder names, and the test and monitor masks, for every shared photo."""
    from traygo.images.preprocess import preprocess

    paths = sorted(p for root in (FASTFOOD, PIZZA) for p in root.glob("*/*") if p.is_file())
    pixels = np.stack([preprocess(p.read_bytes(), (SIZE, SIZE)) for p in paths])
    folders = np.array([p.parent.name for p in paths])
    test = np.array([p.parent.parent == FASTFOOD and held_out(p) for p in paths])
    watch = np.array([not t and monitor(p) for p, t in zip(paths, test, strict=True)])
    return pixels, folders, test, watch


def make_trays(pixels, folders, mask, count, rng) -> tuple[np.ndarray, list[set[str]]]:
    """2 x 2 trays of four different fastfood classes (every other one with an empty cell)."""
    from traygo.tray import compose

    fastfood = sorted({p.name for p in FASTFOOD.iterdir() if p.is_dir()})
    by_class = {c: np.where(mask & (folders == c))[0] for c in fastfood}
    trays, present = [], []
    for i in range(count):
        chosen = list(rng.choice(fastfood, 4, replace=False))
        cells = [pixels[rng.choice(by_class[c])] for c in chosen]
        if i % 2:
            cells[3], chosen = None, chosen[:3]
        order = rng.permutation(4)
        trays.append(compose([cells[j] for j in order], 2 * SIZE))
        present.append(set(chosen))
    return np.stack(trays), present


def fine_tune(state: dict, pixels, folders, train, watch) -> tuple[object, float]:
    import keras

    from training.backbone import efficientnet_lite

    keras.utils.set_random_seed(0)
    base = efficientnet_lite.build(state, SIZE)
    for layer in base.layers:
        layer.trainable = _tuned(layer)
    classes = sorted(set(folders))
    target = np.array([classes.index(f) for f in folders])
    pixels_in = keras.Input((SIZE, SIZE, 3))
    flipped = keras.layers.RandomFlip("horizontal")(pixels_in)
    features = keras.layers.Dropout(0.2)(base(flipped, training=False))
    model = keras.Model(pixels_in, keras.layers.Dense(len(classes))(features))
    model.compile(
        keras.optimizers.Adam(3e-4),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    started = time.perf_counter()
    model.fit(
        pixels[train].astype(np.float32),
        target[train],
        batch_size=32,
        epochs=EPOCHS,
        validation_data=(pixels[watch].astype(np.float32), target[watch]),
        verbose=2,
    )
    return base, time.perf_counter() - started


def _tuned(layer) -> bool:
    import keras

    if isinstance(layer, keras.layers.BatchNormalization):
        return False  # ImageNet statistics kept: batches of 32 would only add noise
    if layer.name.startswith("blocks."):
        return int(layer.name.split(".")[1]) >= FIRST_TUNED_BLOCK
    return layer.name.startswith(("conv_head", "bn1"))


def tray_maps(state: dict, base, trays: np.ndarray) -> np.ndarray:
    """The 2x-size feature map with `base`'s weights, as the tray mode computes it."""
    from training.backbone import efficientnet_lite

    full = efficientnet_lite.build(state, 2 * SIZE, pooled=False)
    for layer in full.layers:
        if layer.weights:
            layer.set_weights(base.get_layer(layer.name).get_weights())
    return full.predict(trays.astype(np.float32), batch_size=16, verbose=0)


def score(features, folders, masks, maps, present) -> dict[str, tuple[float, ...]]:
    """Per label: photo BA / AUC, tray BA / AUC (thresholds from the monitor split)."""
    from traygo.tray import pooled, regions

    train, watch, test = masks
    (test_maps, watch_maps), (test_present, watch_present) = maps, present
    where = regions(test_maps.shape[1])
    out = {}
    for label in LABELS:
        pos = folders == label
        usable = pos | (folders != "not_pizza") | (label == "pizza")
        head, mean, std = _fit(features[train & usable], pos[train & usable])

        def prob(x, head=head, mean=mean, std=std):
            return head.predict_proba((x - mean) / std)[:, 1]

        def tray_prob(m, prob=prob):
            cells = np.stack([pooled(one, where) for one in m])
            return prob(cells.reshape(-1, cells.shape[-1])).reshape(len(m), -1).max(1)

        photo = _metrics(
            pos[watch & usable],
            prob(features[watch & usable]),
            pos[test & usable],
            prob(features[test & usable]),
        )
        trays = _metrics(
            np.array([label in s for s in watch_present]),
            tray_prob(watch_maps),
            np.array([label in s for s in test_present]),
            tray_prob(test_maps),
        )
        out[label] = photo + trays
    return out


def _fit(x, y):
    mean, std = x.mean(0), x.std(0) + 1e-6
    head = LogisticRegression(C=1 / (0.1 * len(x)), class_weight="balanced", max_iter=3000)
    return head.fit((x - mean) / std, y.astype(int)), mean, std


def _metrics(y_watch, p_watch, y_test, p_test) -> tuple[float, float]:
    cuts = np.quantile(p_watch, np.linspace(0.005, 0.995, 400))
    cut = max(cuts, key=lambda t: skm.balanced_accuracy_score(y_watch, p_watch >= t))
    return skm.balanced_accuracy_score(y_test, p_test >= cut), skm.roc_auc_score(y_test, p_test)


def main() -> None:
    from training.backbone import efficientnet_lite, torch_legacy

    if not (FASTFOOD.is_dir() and PIZZA.is_dir()):
        raise SystemExit(f"bench-finetune needs {FASTFOOD} and {PIZZA} (the shared data)")
    state = torch_legacy.load_state_dict(efficientnet_lite.package_checkpoint())
    pixels, folders, test, watch = load_photos()
    train = ~test & ~watch
    rng = np.random.default_rng(0)
    test_trays, test_present = make_trays(pixels, folders, test, TRAYS, rng)
    watch_trays, watch_present = make_trays(pixels, folders, watch, 300, rng)
    frozen = efficientnet_lite.build(state, SIZE)
    tuned, fit_s = fine_tune(state, pixels, folders, train, watch)
    results = {}
    for name, base in (("frozen (served today)", frozen), ("fine-tuned", tuned)):
        features = base.predict(pixels.astype(np.float32), batch_size=64, verbose=0)
        maps = (tray_maps(state, base, test_trays), tray_maps(state, base, watch_trays))
        results[name] = score(
            features, folders, (train, watch, test), maps, (test_present, watch_present)
        )
    print_table(results, int(test.sum()), len(test_trays), int(train.sum()), fit_s)


def print_table(results: dict, photos: int, trays: int, trained: int, fit_s: float) -> None:
    print(
        f"\n{photos} held-out photos, {trays} trays; fine-tuned on {trained} photos, "
        f"{EPOCHS} epochs from block {FIRST_TUNED_BLOCK}, {fit_s:.0f} s\n"
    )
    print("| backbone | label | photos BA / AUC | trays BA / AUC |")
    print("|---|---|---|---|")
    for name, per_label in results.items():
        for label, (pba, pauc, tba, tauc) in per_label.items():
            print(f"| {name} | {label} | {pba:.3f} / {pauc:.3f} | {tba:.3f} / {tauc:.3f} |")
        mean = np.mean(list(per_label.values()), axis=0)
        print(
            f"| {name} | **mean** | {mean[0]:.3f} / {mean[1]:.3f} | {mean[2]:.3f} / {mean[3]:.3f} |"
        )


if __name__ == "__main__":
    main()
