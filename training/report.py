"""The pictures in a version's report/: confusion matrix, training curves, worst mistakes."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # jobs have no display

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def confusion_matrix_png(matrix: list[list[int]], classes: tuple[str, str]) -> bytes:
    fig, ax = plt.subplots(figsize=(3.6, 3.2))
    ax.imshow(np.array(matrix), cmap="Blues")
    for (row, col), value in np.ndenumerate(np.array(matrix)):
        ax.text(col, row, str(value), ha="center", va="center")
    ax.set_xticks([0, 1], classes)
    ax.set_yticks([0, 1], classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    return _png(fig)


def training_curves_png(history: dict[str, list[float]]) -> bytes:
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(8, 3))
    for name, ax in (("loss", loss_ax), ("accuracy", acc_ax)):
        for prefix, label in (("", "train"), ("val_", "early-stopping split")):
            values = history.get(prefix + name, [])
            ax.plot(range(1, len(values) + 1), values, label=label)
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.legend()
    return _png(fig)


def worst_mistakes_png(
    images: np.ndarray,
    targets: np.ndarray,
    probs: np.ndarray,
    classes: tuple[str, str],
    limit: int = 16,
) -> bytes:
    """A contact sheet of the most confidently wrong validation images."""
    wrongness = np.abs(probs - targets)
    order = [i for i in np.argsort(-wrongness) if wrongness[i] > 0.5][:limit]
    cols = 4
    rows = max(1, -(-len(order) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(2.2 * cols, 2.4 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, order, strict=False):
        ax.imshow(images[i])
        ax.set_title(f"{classes[int(targets[i])]}\nP={probs[i]:.2f}", fontsize=8)
    if not order:
        axes.flat[0].text(0.5, 0.5, "no mistakes", ha="center", va="center")
    return _png(fig)
