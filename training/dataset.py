"""Collect a label's images, skip what is unusable, and collapse duplicates.

Skipped files and duplicates are counted, never silently dropped: the counts land in the
model's metadata and the log.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from traygo.errors import ConfigError, ImageError
from traygo.images.decode import decode
from traygo.images.hashing import PhashIndex, phash, sha256_hex

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif"}
MIN_SIDE = 32  # smaller pictures are icons or thumbnails, not food photos
MIN_PER_CLASS = 8  # below this a split leaves too few validation images to mean anything


@dataclass(frozen=True)
class Sample:
    path: Path
    target: int  # index into the label's classes: 0 negative, 1 positive
    sha256: str
    group: int  # near-duplicates share a group, so the split keeps them together


@dataclass
class Dataset:
    classes: tuple[str, str]
    samples: list[Sample] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    exact_duplicates: int = 0
    near_duplicate_groups: int = 0

    @property
    def counts(self) -> dict[str, int]:
        counter = Counter(s.target for s in self.samples)
        return {name: counter[i] for i, name in enumerate(self.classes)}

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
            "skipped": dict(sorted(self.skipped.items())),
            "duplicates_removed": {
                "exact": self.exact_duplicates,
                "near_duplicate_groups": self.near_duplicate_groups,
            },
        }


def class_folders(root: Path, classes: tuple[str, str]) -> dict[int, Path]:
    """The two class folders under `root`, or a clear error saying what layout is expected."""
    if not root.is_dir():
        raise ConfigError(f"--images {root}: no such folder")
    found = {i: root / name for i, name in enumerate(classes) if (root / name).is_dir()}
    if len(found) < 2:
        present = sorted(p.name for p in root.iterdir() if p.is_dir())
        raise ConfigError(
            f"--images {root}: expected one folder per class, {classes[1]}/ (positives) and "
            f"{classes[0]}/ (negatives); found {present or 'no folders'}"
        )
    return found


def image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))


def collect(files_by_target: dict[int, list[Path]], classes: tuple[str, str]) -> Dataset:
    """Validate every file, drop exact duplicates, group near-duplicates."""
    dataset = Dataset(classes)
    seen: dict[str, int] = {}
    index = PhashIndex()
    groups: dict[str, int] = {}
    for target, files in sorted(files_by_target.items()):
        for path in files:
            sample = _admit(path, target, dataset, seen, index, groups)
            if sample is not None:
                dataset.samples.append(sample)
    dataset.near_duplicate_groups = len(dataset.samples) - len(set(groups.values()))
    _log_summary(dataset)
    return dataset


def _admit(
    path: Path,
    target: int,
    dataset: Dataset,
    seen: dict[str, int],
    index: PhashIndex,
    groups: dict[str, int],
) -> Sample | None:
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        dataset.skipped["not_an_image"] += 1
        log.info("skip %s: not an image file name", path)
        return None
    data = path.read_bytes()
    try:
        img = decode(data)
        if min(img.size) < MIN_SIDE:
            raise ImageError("too_small", f"{img.size[0]}x{img.size[1]} px")
    except ImageError as exc:
        dataset.skipped[exc.code] += 1
        log.info("skip %s: %s", path, exc)
        return None
    sha = sha256_hex(data)
    if sha in seen:
        dataset.exact_duplicates += 1
        if seen[sha] != target:
            dataset.skipped["conflicting_label"] += 1
        return None
    seen[sha] = target
    hex_hash = phash(img)
    twin = index.find(hex_hash)
    group = groups[twin] if twin is not None else len(groups)
    index.add(hex_hash, sha)
    groups[sha] = group
    return Sample(path, target, sha, group)


def check_usable(dataset: Dataset, where: str) -> None:
    """Refuse before training when a class is empty or too small to split."""
    for name, count in dataset.counts.items():
        if count < MIN_PER_CLASS:
            raise ConfigError(
                f"{where}: class {name!r} has {count} usable images; at least {MIN_PER_CLASS} "
                "are needed per class (skipped: "
                f"{dict(dataset.skipped) or 'none'}, duplicates: {dataset.exact_duplicates})"
            )


def from_folders(root: Path, classes: tuple[str, str]) -> Dataset:
    folders = class_folders(root, classes)
    return collect({t: image_files(f) for t, f in folders.items()}, classes)


def _log_summary(dataset: Dataset) -> None:
    log.info(
        "dataset: %s usable, skipped %s, %d exact duplicates, %d near-duplicates grouped",
        dataset.counts,
        dict(dataset.skipped) or "none",
        dataset.exact_duplicates,
        dataset.near_duplicate_groups,
    )
