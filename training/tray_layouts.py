"""Synthetic trays as a camera over a canteen checkout sees them.

A tray holds 2 to 5 items of varied size at random places, some on plates, some overlapping each
other or cut by the picture's edge and, at these sizes, most straddling the borders of the
scoring regions. Items lie on a surface (a plastic tray, wood, a light table, a checked cloth or
dark slate). A positive tray holds the label among other food; a negative tray holds other food
only, and a third of the negative trays are made of the background pool alone (the "everything
else" a canteen serves), which must not count as any label.

The 2 x 2 grids of `tray_calibration.grid_trays` were the calibration before these trays; they
stay for comparison.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from training.dataset import Sample
from traygo.images.preprocess import preprocess

SURFACES = ("plastic_tray", "wood", "light_table", "checked_cloth", "dark_slate")
# Never drawn for training or calibration: `make bench-feedback` stands a canteen's own camera
# on it, a surface the heads have not seen.
UNSEEN_SURFACES = ("speckled_melamine",)
ITEMS = (2, 5)  # fewest and most items on a tray
ITEM_SIDE = (0.28, 0.52)  # an item's side as a fraction of the tray's shorter side
POOL_ONLY = 3  # one negative tray in POOL_ONLY is made of the background pool alone
MAX_OVERLAP = 0.3  # of the smaller item's box, when placing a new item beside another


Box = tuple[int, int, int]  # an item's top, left and side in pixels (it may leave the picture)


@dataclass
class TraySet:
    pixels: np.ndarray  # [trays, height, width, 3] uint8
    targets: np.ndarray  # [trays] 1 when the label is on the tray
    kinds: list[str] = field(default_factory=list)  # "positive", "negative", "other_food"
    items: list[int] = field(default_factory=list)  # how many items each tray holds
    surfaces: list[str] = field(default_factory=list)
    boxes: list[list[Box]] = field(default_factory=list)  # each item's (top, left, side) in px
    members: list[list[str]] = field(default_factory=list)  # each item's picture (sha256)

    def __len__(self) -> int:
        return len(self.targets)

    def only(self, kind: str) -> np.ndarray:
        """The indices of the trays of one kind."""
        return np.array([i for i, k in enumerate(self.kinds) if k == kind], dtype=np.int64)


def canteen_trays(
    samples: list[Sample],
    seed: int,
    positives: int,
    negatives: int,
    shape: tuple[int, int] = (448, 448),
    surfaces: Sequence[str] = SURFACES,
) -> TraySet:
    """`positives` trays with the label and `negatives` without, of `shape` (height, width)."""
    rng = np.random.default_rng(seed)
    pos = [s for s in samples if s.target == 1]
    neg = [s for s in samples if s.target == 0]
    pool = [s for s in neg if s.background]
    if not pos or len(neg) < ITEMS[0]:
        return TraySet(np.empty((0, *shape, 3), np.uint8), np.empty(0, np.int64))
    photo = photo_cache(int(np.ceil(ITEM_SIDE[1] * min(shape))))
    out = TraySet(np.empty((0,)), np.empty(0))  # pixels and targets are stacked at the end
    trays, targets = [], []
    for i in range(positives + negatives):
        target = int(i < positives)
        count = int(rng.integers(ITEMS[0], ITEMS[1] + 1))
        pool_only = not target and len(pool) >= ITEMS[0] and (i - positives) % POOL_ONLY == 0
        others = pool if pool_only else neg
        chosen = pick_dishes(others, min(count - target, len(others)), rng)  # fewer on tiny sets
        if target:
            chosen.insert(int(rng.integers(len(chosen) + 1)), pos[int(rng.integers(len(pos)))])
        surface = surfaces[int(rng.integers(len(surfaces)))]
        pixels, boxes = compose([photo(s) for s in chosen], shape, surface, rng)
        trays.append(pixels)
        targets.append(target)
        out.boxes.append(boxes)
        out.members.append([s.sha256 for s in chosen])
        out.kinds.append("positive" if target else "other_food" if pool_only else "negative")
        out.items.append(len(chosen))
        out.surfaces.append(surface)
    out.pixels, out.targets = np.stack(trays), np.array(targets, dtype=np.int64)
    return out


def photo_cache(side: int) -> Callable[[Sample], np.ndarray]:
    """Each picture decoded once, at `side` x `side` (the largest an item takes on the trays)."""
    photos: dict[str, np.ndarray] = {}

    def photo(sample: Sample) -> np.ndarray:
        if sample.sha256 not in photos:
            photos[sample.sha256] = preprocess(sample.path.read_bytes(), (side, side))
        return photos[sample.sha256]

    return photo


def pick_dishes(candidates: list[Sample], count: int, rng: np.random.Generator) -> list[Sample]:
    """`count` different pictures, from differently named folders (different dishes: pizza/ in
    two roots is one dish) where there are enough."""
    by_folder: dict[str, list[Sample]] = {}
    for sample in candidates:
        by_folder.setdefault(sample.path.parent.name, []).append(sample)
    folders = list(by_folder)
    rng.shuffle(folders)
    if len(folders) >= count:
        return [by_folder[f][int(rng.integers(len(by_folder[f])))] for f in folders[:count]]
    return [candidates[int(i)] for i in rng.choice(len(candidates), count, replace=False)]


def compose(
    photos: list[np.ndarray], shape: tuple[int, int], surface: str, rng: np.random.Generator
) -> tuple[np.ndarray, list[Box]]:
    """One tray: the photos as items on the surface, later items over earlier ones; and where
    each item lies."""
    tray = make_surface(surface, shape, rng)
    placed: list[Box] = []
    shrink = 1.0 if len(photos) <= 3 else 0.85
    for pixels in photos:
        side = int(min(shape) * rng.uniform(*ITEM_SIDE) * shrink)
        top, left = _place(side, shape, placed, rng)
        placed.append((top, left, side))
        _paste(tray, pixels, top, left, side, plate=bool(rng.random() < 0.5))
    return tray, placed


def _place(
    side: int, shape: tuple[int, int], placed: list[Box], rng: np.random.Generator
) -> tuple[int, int]:
    """A spot for a new item: up to a tenth of it may leave the picture (the camera cuts it),
    and it overlaps the items already there as little as a few tries allow."""
    margin = side // 10
    best, best_overlap = (0, 0), np.inf
    for _ in range(12):
        top = int(rng.integers(-margin, shape[0] - side + margin + 1))
        left = int(rng.integers(-margin, shape[1] - side + margin + 1))
        overlap = max((_overlap((top, left, side), p) for p in placed), default=0.0)
        if overlap < best_overlap:
            best, best_overlap = (top, left), overlap
        if overlap <= MAX_OVERLAP / 2:
            break
    return best


def _overlap(a: Box, b: Box) -> float:
    rows = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    cols = min(a[1] + a[2], b[1] + b[2]) - max(a[1], b[1])
    return max(rows, 0) * max(cols, 0) / min(a[2], b[2]) ** 2


def _paste(
    tray: np.ndarray, pixels: np.ndarray, top: int, left: int, side: int, plate: bool
) -> None:
    """The item as a round plate (a light rim around the food) or a square-ish dish."""
    item = np.asarray(Image.fromarray(pixels).resize((side, side), Image.Resampling.BILINEAR))
    yy, xx = np.ogrid[0:side, 0:side]
    centre = (side - 1) / 2
    radius = np.hypot(yy - centre, xx - centre) / (side / 2)
    if plate:
        item = item.copy()
        item[radius > 0.82] = (236, 236, 232)  # the plate's rim
        mask = radius <= 1.0
    else:
        mask = np.maximum(abs(yy - centre), abs(xx - centre)) <= side / 2
    rows = slice(max(top, 0), min(top + side, tray.shape[0]))
    cols = slice(max(left, 0), min(left + side, tray.shape[1]))
    inner = (slice(rows.start - top, rows.stop - top), slice(cols.start - left, cols.stop - left))
    where = mask[inner]
    tray[rows, cols][where] = item[inner][where]


def make_surface(kind: str, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A tray or table surface with its own colour and texture, varied by `rng`. Drawn at half
    the size and doubled: the texture is coarser than a pixel anyway, and it is 4x cheaper."""
    half = _half_surface(kind, ((shape[0] + 1) // 2, (shape[1] + 1) // 2), rng)
    return np.repeat(np.repeat(half, 2, axis=0), 2, axis=1)[: shape[0], : shape[1]]


def _half_surface(kind: str, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    height, width = shape
    yy, xx = (np.arange(n, dtype=np.float32) for n in shape)
    yy = yy[:, None]
    tint = rng.uniform(-18, 18, 3)
    if kind == "plastic_tray":
        base = np.array([150, 150, 146]) + rng.uniform(-40, 50) + tint
        shade = np.ones((height, width), np.float32)
        rim = int(min(shape) * 0.04)
        shade[:rim], shade[-rim:], shade[:, :rim], shade[:, -rim:] = 0.8, 0.8, 0.8, 0.8
    elif kind == "wood":
        base = np.array([150, 105, 65]) + tint
        freq = rng.uniform(0.06, 0.16)
        shade = 1 + 0.12 * np.sin(yy * freq + 3 * np.sin(xx * freq / 7 + rng.uniform(0, 6)))
    elif kind == "light_table":
        base = np.array([226, 224, 218]) + tint / 2
        shade = np.ones((height, width), np.float32)
    elif kind == "checked_cloth":
        cloths = ([180, 80, 80], [80, 100, 165], [90, 140, 95])
        base = np.array(cloths[int(rng.integers(len(cloths)))]) + tint / 2
        period = int(rng.integers(9, 20))
        checks = ((yy // period + xx // period) % 2).astype(np.float32)
        shade = 0.55 + 0.45 * checks
    elif kind == "dark_slate":
        base = np.array([62, 64, 68]) + tint / 2
        shade = np.ones((height, width), np.float32)
    elif kind == "speckled_melamine":
        base = np.array([70, 150, 140]) + tint / 2
        speckles = rng.random((height, width)) < 0.04
        shade = np.where(speckles, 1.35, 1.0).astype(np.float32)
    else:
        known = ", ".join((*SURFACES, *UNSEEN_SURFACES))
        raise ValueError(f"unknown surface {kind!r}; known: {known}")
    noise = rng.standard_normal((height, width, 1), dtype=np.float32) * 5
    shade = np.broadcast_to(shade, (height, width))
    surface: np.ndarray = base.astype(np.float32) * shade[..., None] + noise
    pixels: np.ndarray = np.clip(surface, 0, 255).astype(np.uint8)
    return pixels
