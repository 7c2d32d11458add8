"""The pictures a backbone is tuned on: every class that the store or the --images folders
hold, validated and deduplicated like a label's data, split three ways by group.

From the store, a label's positive queries are one class (the label), its negative queries
another (not_<label>); from --images folders, every folder is a class. The background pool
(the store's pool queries, a class each; an --images root none of whose folders is a label's)
joins only with `background`: tuned on it, the backbone learns the pool, and heads whose
thresholds hold a false-alarm rate on that pool then raise more false alarms on food nobody saw
(`make bench-finetune`: 0.9 % -> 4.3 % of unseen-dish trays; without it 1.1 %).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from training import dataset as ds
from training.store_sync import sync_query
from traygo.errors import ConfigError
from traygo.images.preprocess import preprocess
from traygo.labels import Label, load_background, load_labels
from traygo.slug import slugify
from traygo.store import Store

log = logging.getLogger(__name__)

SPLITS = ("train", "monitor", "test")
MIN_CLASSES = 2


@dataclass(frozen=True)
class TuneData:
    dataset: ds.Dataset
    splits: dict[str, list[ds.Sample]]
    labels: tuple[str, ...]  # the configured labels among the classes (their heads are scored)
    sources: tuple[str, ...]

    def classes_of(self, samples: list[ds.Sample]) -> np.ndarray:
        return np.array([s.target for s in samples])


def from_store(
    store: Store, cache: Path, labels_file: str | Path | None, background: bool
) -> dict[str, list[Path]]:
    """Files per class from the store's scraped queries (see the module docstring)."""
    files: dict[str, list[Path]] = defaultdict(list)
    for label in load_labels(labels_file).values():
        _add_label(files, store, label, cache)
    for query in load_background(labels_file).queries if background else ():
        files[f"pool:{slugify(query)}"] += sync_query(store, query, cache)
    return {name: paths for name, paths in files.items() if paths}


def _add_label(files: dict[str, list[Path]], store: Store, label: Label, cache: Path) -> None:
    for query in label.positive:
        files[label.name] += sync_query(store, query, cache)
    for query in label.negative:
        files[f"not_{label.name}"] += sync_query(store, query, cache)


def from_folders(roots: list[Path], labels: list[str], background: bool) -> dict[str, list[Path]]:
    """Files per class: every folder under each root is a class (same name, same class); a
    root that is a background pool only with `background`."""
    files: dict[str, list[Path]] = defaultdict(list)
    for root in roots:
        if not root.is_dir():
            raise ConfigError(f"--images {root}: no such folder")
        if not background and ds.is_pool_root(root, labels):
            log.info("%s is a background pool: not tuned on (--with-background)", root)
            continue
        for folder in sorted(p for p in root.iterdir() if p.is_dir()):
            files[folder.name] += ds.image_files(folder)
    return dict(files)


def gather(
    files: dict[str, list[Path]], labels: list[str], max_per_class: int, sources: list[str]
) -> TuneData:
    """Validated, deduplicated classes, each capped at `max_per_class` (the memory bound),
    split by group: a near-duplicate never lands on two sides."""
    names = tuple(sorted(files))
    if len(names) < MIN_CLASSES:
        raise ConfigError(
            f"tuning needs pictures of at least {MIN_CLASSES} classes; found {list(names)} in "
            f"{', '.join(sources)}: scrape the labels and the background pool first"
        )
    data = ds.collect_classes(files)
    data.samples = _capped(data.samples, max_per_class)
    splits: dict[str, list[ds.Sample]] = {name: [] for name in SPLITS}
    for sample in data.samples:
        splits[_side(sample)].append(sample)
    for name in SPLITS:
        if not splits[name]:
            raise ConfigError(f"too few pictures to tune on: the {name} split is empty")
    found = tuple(label for label in labels if label in names)
    log.info("tuning data: %d classes, %s", len(names), {k: len(v) for k, v in splits.items()})
    return TuneData(data, splits, found, tuple(sources))


def _capped(samples: list[ds.Sample], most: int) -> list[ds.Sample]:
    by_class: dict[int, list[ds.Sample]] = defaultdict(list)
    for sample in sorted(samples, key=lambda s: s.sha256):  # a stable, content-based choice
        by_class[sample.target].append(sample)
    dropped = sum(max(0, len(v) - most) for v in by_class.values())
    if dropped:
        log.info("capped at %d pictures per class: %d left out", most, dropped)
    return [s for members in by_class.values() for s in members[:most]]


def _side(sample: ds.Sample) -> str:
    """A tenth of the groups monitor the fit, a fifth are held out: by the group's number,
    which the collector gives in admission order (sorted paths per class), so a rerun on the
    same files splits the same way."""
    slot = (sample.group * 2654435761) % 10  # Knuth's multiplicative hash spreads neighbours
    return "test" if slot < 2 else "monitor" if slot == 2 else "train"


def pixels(samples: list[ds.Sample], size: int, what: str) -> np.ndarray:
    """uint8 pictures (a quarter of float32's memory), shown with a progress bar."""
    out = np.empty((len(samples), size, size, 3), dtype=np.uint8)
    for i, sample in enumerate(tqdm(samples, desc=f"reading {what}", unit="picture")):
        out[i] = preprocess(sample.path.read_bytes(), (size, size))
    return out
