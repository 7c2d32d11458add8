"""Tray scoring's geometry: the regions a tray picture is scored in, and synthetic trays.

A tray picture goes through the backbone once at TRAY_SIZE, letterboxed into that square (not
squashed; picture_box maps a region's box back into the picture), giving a GRID x GRID feature
map. Each region's features are the mean of the map over the region's cells, which is what the
backbone gives for a photo of that part of the tray at the training scale, so every label's
head (trained on whole photos) scores each region as it is. A label is present when any region
says so, against a threshold calibrated on synthetic trays at training time.

Regions: the whole picture, plus windows of half the picture's side on a 3 x 3 grid of
positions (the four quadrants, the centre and the four edge midpoints), so an item near a
quadrant border still falls whole inside one window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

TRAY_SIZE = 448  # the tray input of the 224 px backbone: 2 x 2 photos at the training size
STEPS = 3  # window positions per axis
STRIDE = 32  # the backbone's output stride: a tray pass's sides are multiples of it
MAX_ASPECT = 2.0  # a wider (or taller) picture is laid out at 2:1 (squashed the rest of the way)
AREA_WEIGHT = 0.2  # tray_shape: a quarter of the pixels left unused costs as much as 5% squash


def tray_size(photo_size: int) -> int:
    """A tray picture is scored at twice the photo size, so a quarter of the tray (one item)
    reaches the backbone at the scale its heads were trained at."""
    return 2 * photo_size


@dataclass(frozen=True)
class Region:
    name: str
    rows: slice
    cols: slice
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 as fractions of the picture


def regions(grid: int | tuple[int, int]) -> list[Region]:
    """The whole picture and the 3 x 3 half-size windows, on a feature map of grid x grid (or
    (rows, cols) for a picture laid out on its own aspect ratio: half-height, half-width)."""
    rows, cols = (grid, grid) if isinstance(grid, int) else grid
    found = [Region("whole", slice(0, rows), slice(0, cols), (0.0, 0.0, 1.0, 1.0))]
    half_rows, half_cols = rows // 2, cols // 2
    tops = np.linspace(0, rows - half_rows, STEPS).round().astype(int)
    lefts = np.linspace(0, cols - half_cols, STEPS).round().astype(int)
    for r, top in enumerate(tops):
        for c, left in enumerate(lefts):
            box = (left / cols, top / rows, (left + half_cols) / cols, (top + half_rows) / rows)
            where = (slice(top, top + half_rows), slice(left, left + half_cols))
            found.append(Region(f"r{r}c{c}", *where, box))
    return found


def tray_shape(
    width: int, height: int, side: int = TRAY_SIZE, stride: int = STRIDE
) -> tuple[int, int]:
    """(height, width) of a tray picture's backbone pass: at most about side x side pixels (the
    cost of the square pass), each side a multiple of the backbone's stride, near the picture's
    own aspect ratio (clamped to MAX_ASPECT) without giving up many pixels: the shape with the
    least |log aspect error| + AREA_WEIGHT x the share of the pixel budget left unused. A 4:3
    picture is scored at 384 x 512 and 16:9 at 320 x 576 instead of 448 x 448."""
    ratio = min(max(width / height, 1 / MAX_ASPECT), MAX_ASPECT)
    budget = side * side * 1.02  # rounding to the stride may take a little more
    best: tuple[float, int, int, int] | None = None
    for rows in range(stride, 2 * side + 1, stride):
        widest = int(budget / rows) // stride * stride
        cols = min(max(stride, round(ratio * rows / stride) * stride), widest)
        if cols < stride:
            break
        unused = 1 - rows * cols / (side * side)
        error = abs(math.log(cols / rows / ratio)) + AREA_WEIGHT * max(unused, 0.0)
        candidate = (round(error, 9), -rows * cols, rows, cols)
        best = candidate if best is None or candidate < best else best
    assert best is not None
    return best[2], best[3]


def pooled(feature_map: np.ndarray, where: list[Region]) -> np.ndarray:
    """[len(where), channels]: the map's mean over each region. `feature_map` is [h, w, c]."""
    return np.stack([feature_map[r.rows, r.cols].mean(axis=(0, 1)) for r in where])


Box = tuple[float, float, float, float]  # x0, y0, x1, y1 as fractions (x right, y down)
FULL: Box = (0.0, 0.0, 1.0, 1.0)


def picture_box(box: Box, content: Box) -> Box:
    """A box as fractions of the scored square → fractions of the client's picture, which sits
    at `content` in the square (letterboxed: the rest is padding), clipped to [0, 1]. A picture
    that fills the square (`content` FULL) keeps its box exactly."""
    if content == FULL:
        return box
    cx0, cy0, cx1, cy1 = content
    x0, y0, x1, y1 = box
    width, height = cx1 - cx0, cy1 - cy0

    def clip(v: float) -> float:
        return min(1.0, max(0.0, v))

    return (
        clip((x0 - cx0) / width),
        clip((y0 - cy0) / height),
        clip((x1 - cx0) / width),
        clip((y1 - cy0) / height),
    )


def in_picture(where: list[Region], content: Box) -> list[Region]:
    """The regions with their boxes in the client's picture (see picture_box)."""
    return [replace(r, box=picture_box(r.box, content)) for r in where]


def compose(cells: list[np.ndarray | None], size: int = TRAY_SIZE) -> np.ndarray:
    """A synthetic 2 x 2 tray: four uint8 photos of size/2 each, None for an empty cell (a
    plain light tray surface)."""
    half = size // 2
    tray = np.full((size, size, 3), 228, dtype=np.uint8)
    for i, photo in enumerate(cells[:4]):
        if photo is not None:
            if photo.shape[:2] != (half, half):
                raise ValueError(f"tray cells must be {half}x{half}, not {photo.shape[:2]}")
            row, col = divmod(i, 2)
            tray[row * half : (row + 1) * half, col * half : (col + 1) * half] = photo
    return tray
