"""A label's head on cached features: deterministic, and it learns what the features say."""

from __future__ import annotations

import numpy as np

from training import head


def features(seed: int, n: int = 120) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    targets = rng.integers(0, 2, n)
    x = rng.normal(size=(n, 16)).astype(np.float32)
    x[:, 3] += 2.5 * targets  # one informative feature among noise
    return x, targets.astype(np.int64)


def test_same_features_same_seed_same_weights() -> None:
    train, monitor = features(0), features(1, 40)
    first = head.fit(train, monitor, epochs=15, seed=7)
    second = head.fit(train, monitor, epochs=15, seed=7)
    for a, b in zip(first.model.get_weights(), second.model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert first.history == second.history


def test_head_learns_the_informative_feature() -> None:
    fitted = head.fit(features(0, 400), features(1, 100), epochs=200, seed=7)
    x, y = features(2, 200)
    accuracy = np.mean(np.argmax(fitted.model.predict(x, verbose=0), axis=1) == y)
    assert accuracy > 0.85
    assert fitted.epochs_run == 200 // head.STEPS_PER_EPOCH
    assert fitted.history["loss"][-1] < fitted.history["loss"][0] / 2
    weights = fitted.model.get_layer("logits").get_weights()[0]
    margin = np.abs(weights[:, 1] - weights[:, 0])
    assert np.argmax(margin) == 3


def test_classes_are_weighted_to_balance() -> None:
    np.testing.assert_allclose(
        head.balanced_weights(np.array([0, 0, 0, 1])), [4 / 6, 4 / 6, 4 / 6, 2.0], rtol=1e-6
    )
