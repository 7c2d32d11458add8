"""Collect a label's images, skip what is unusable, and collapse duplicates.

Skipped files and duplicates are counted, never silently dropped: the counts land in the
model's metadata and the log.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from traygo.errors import ConfigError, ImageError
from traygo.images.decode import decode
from traygo.images.hashing import NEAR_DUPLICATE_DISTANCE, PhashIndex, hamming, phash, sha256_hex

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif"}
MIN_SIDE = 32  # smaller pictures are icons or thumbnails, not food photos
MIN_PER_CLASS = 8  # below this a split leaves too few validation images to mean anything
# Closer than NEAR_DUPLICATE_DISTANCE is the same picture (resized, re-encoded): collapsed.
# Closer than this is a related shot (a crop, an edit): kept, but on one side of the split.
SIMILAR_DISTANCE = 10


@dataclass(frozen=True)
class Sample:
    path: Path
    target: int  # index into the label's classes: 0 negative, 1 positive
    sha256: str
    group: int  # similar pictures share a group, so the split keeps them together
    background: bool = False  # from the background pool: none of the labels, a negative for all
    feedback: bool = False  # a canteen's correction (training/feedback_data.py)


@dataclass
class Dataset:
    classes: tuple[str, ...]  # two for a label's data; many for a backbone's tuning data
    samples: list[Sample] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    exact_duplicates: int = 0
    near_duplicates: int = 0
    grouped: int = 0  # kept pictures that joined another's group

    @property
    def counts(self) -> dict[str, int]:
        counter = Counter(s.target for s in self.samples)
        return {name: counter[i] for i, name in enumerate(self.classes)}

    @property
    def background(self) -> int:
        """How many negatives come from the background pool."""
        return sum(s.background for s in self.samples)

    @property
    def fingerprint(self) -> str:
        """Same images with the same targets give the same fingerprint, whatever their paths."""
        digest = hashlib.sha256()
        for sha, target in sorted((s.sha256, s.target) for s in self.samples):
            digest.update(f"{sha}:{target}\n".encode())
        return digest.hexdigest()

    def summary(self) -> dict[str, object]:
        return {
            "fingerprint": self.fingerprint,
            "counts": self.counts,
            "background": self.background,
            "skipped": dict(sorted(self.skipped.items())),
            "duplicates_removed": {
                "exact": self.exact_duplicates,
                "near": self.near_duplicates,
            },
            "similar_grouped": self.grouped,
        }


BACKGROUND = 2  # label_folders' key for the background pool's folders (negatives, target 0)


def label_folders(
    roots: list[Path], label: str, known: Collection[str] = ()
) -> dict[int, list[Path]]:
    """The class folders for `label` under each root: positives are the folders named `label`;
    negatives are every other folder, except that `not_X` is a negative for label X only.

    So one folder of folders (pizza/, burger/, fries/, not_pizza/ ...) trains every label. A
    root none of whose folders is a `known` label (or `not_<label>`) is a background pool, such
    as other_food/: its folders are listed under BACKGROUND, a negative for every label.
    """
    found: dict[int, list[Path]] = {0: [], 1: [], BACKGROUND: []}
    present: list[str] = []
    for root in roots:
        if not root.is_dir():
            raise ConfigError(f"--images {root}: no such folder")
        folders = sorted(p for p in root.iterdir() if p.is_dir())
        pool = _is_pool(folders, known)
        for folder in folders:
            present.append(folder.name)
            if pool and folder.name != label:
                found[BACKGROUND].append(folder)
            elif folder.name == label:
                found[1].append(folder)
            elif not folder.name.startswith("not_") or folder.name == f"not_{label}":
                found[0].append(folder)
    where = " ".join(str(r) for r in roots)
    if not found[1] or not (found[0] or found[BACKGROUND]):
        missing = f"{label}/ (the positives)" if not found[1] else "any other folder (negatives)"
        raise ConfigError(
            f"--images {where}: expected one folder per class, {label}/ for the positives and "
            f"other classes or not_{label}/ for the negatives; no {missing}; "
            f"found {sorted(set(present)) or 'no folders'}"
        )
    return found


def is_pool_root(root: Path, known: Collection[str]) -> bool:
    """Whether `root` is a background pool: none of its folders is a `known` label's."""
    return _is_pool(sorted(p for p in root.iterdir() if p.is_dir()), known)


def _is_pool(folders: list[Path], known: Collection[str]) -> bool:
    names = {f.name.removeprefix("not_") for f in folders}
    return bool(known) and not names & set(known)


def image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))


def collect(files_by_target: dict[int, list[Path]], classes: tuple[str, str]) -> Dataset:
    """Validate every file, collapse exact and near duplicates, group similar pictures.

    Keys are targets, and BACKGROUND for the pool: negatives, admitted last, so that a pool
    picture that is also a label's picture is a duplicate of it and never trained on twice, and
    a copy of a positive is counted as conflicting."""
    collector = _Collector(Dataset(classes))
    for key, files in sorted(files_by_target.items()):
        pool = key == BACKGROUND
        for path in files:
            collector.admit(path, 0 if pool else key, background=pool)
    _log_summary(collector.dataset)
    return collector.dataset


def collect_classes(files_by_class: dict[str, list[Path]]) -> Dataset:
    """Many classes (a backbone's tuning data): targets index the sorted class names; the
    same validation, deduplication and grouping as a label's two."""
    names = tuple(sorted(files_by_class))
    collector = _Collector(Dataset(names))
    for target, name in enumerate(names):
        for path in files_by_class[name]:
            collector.admit(path, target)
    _log_summary(collector.dataset)
    return collector.dataset


class _Collector:
    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset
        self.targets: dict[str, int] = {}  # sha256 -> target, of every distinct file seen
        self.index = PhashIndex(SIMILAR_DISTANCE)
        self.hashes: dict[str, str] = {}  # sha256 -> phash, of kept samples
        self.groups: dict[str, int] = {}  # sha256 -> group, of kept samples

    def admit(self, path: Path, target: int, background: bool = False) -> None:
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            self._skip(path, "not_an_image")
            return
        data = path.read_bytes()
        img = self._decoded(path, data)
        if img is None:
            return
        sha = sha256_hex(data)
        if sha in self.targets:
            self._duplicate("exact", path, self.targets[sha], target)
            return
        self.targets[sha] = target
        hex_hash = phash(img)
        similar = self.index.find(hex_hash)
        if similar is not None and hamming(self.hashes[similar], hex_hash) <= (
            NEAR_DUPLICATE_DISTANCE
        ):
            self._duplicate("near", path, self.targets[similar], target)
            return
        group = self.groups[similar] if similar is not None else len(self.groups)
        self.dataset.grouped += similar is not None
        self.index.add(hex_hash, sha)
        self.hashes[sha] = hex_hash
        self.groups[sha] = group
        self.dataset.samples.append(Sample(path, target, sha, group, background))

    def _decoded(self, path: Path, data: bytes) -> Image.Image | None:
        try:
            img = decode(data)
            if min(img.size) < MIN_SIDE:
                raise ImageError("too_small", f"{img.size[0]}x{img.size[1]} px")
        except ImageError as exc:
            self._skip(path, exc.code)
            return None
        return img

    def _skip(self, path: Path, reason: str) -> None:
        self.dataset.skipped[reason] += 1
        log.info("skip %s: %s", path, reason)

    def _duplicate(self, kind: str, path: Path, kept_target: int, target: int) -> None:
        # the first copy wins; a copy filed under the other class is counted, never trained on
        if kind == "exact":
            self.dataset.exact_duplicates += 1
        else:
            self.dataset.near_duplicates += 1
        if kept_target != target:
            self.dataset.skipped["conflicting_label"] += 1
        log.info("skip %s: %s duplicate", path, kind)


def check_usable(dataset: Dataset, where: str) -> None:
    """Refuse before training when a class is empty or too small to split."""
    for name, count in dataset.counts.items():
        if count < MIN_PER_CLASS:
            raise ConfigError(
                f"{where}: class {name!r} has {count} usable images; at least {MIN_PER_CLASS} "
                "are needed per class (skipped: "
                f"{dict(dataset.skipped) or 'none'}, duplicates: {dataset.exact_duplicates})"
            )


def from_folders(
    roots: Path | list[Path],
    classes: tuple[str, str],
    known: Collection[str] = (),
    background: bool = True,
) -> Dataset:
    """The dataset for the label `classes[1]` from folders of class folders (label_folders);
    `known` (the configured labels) tells a background root from a root of classes, and
    `background=False` leaves such roots out."""
    folders = label_folders(roots if isinstance(roots, list) else [roots], classes[1], known)
    if not background:
        folders.pop(BACKGROUND)
    return collect(
        {t: [f for d in dirs for f in image_files(d)] for t, dirs in folders.items()}, classes
    )


def _log_summary(dataset: Dataset) -> None:
    log.info(
        "dataset: %s usable (%d from the background pool), skipped %s, duplicates removed: "
        "%d exact, %d near; %d grouped",
        dataset.counts,
        dataset.background,
        dict(dataset.skipped) or "none",
        dataset.exact_duplicates,
        dataset.near_duplicates,
        dataset.grouped,
    )
