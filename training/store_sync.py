"""Mirror a label's scraped images from the store into the local cache.

Keys are content-addressed (`images/<slug>/<sha256>.<ext>`), so a cached file whose name
matches is already right and is never fetched twice.
"""

from __future__ import annotations

import logging
from pathlib import Path

from tqdm import tqdm

from traygo import layout
from traygo.background import IMAGE_EXTENSIONS
from traygo.errors import ConfigError
from traygo.images.hashing import sha256_hex
from traygo.labels import Background, Label
from traygo.slug import slugify
from traygo.store import Store

log = logging.getLogger(__name__)


def sync_label(store: Store, label: Label, cache: Path) -> dict[int, list[Path]]:
    """Local files per target (0 negative queries, 1 positive queries) for `label`."""
    by_target: dict[int, list[Path]] = {0: [], 1: []}
    for target, queries in ((1, label.positive), (0, label.negative)):
        for query in queries:
            by_target[target] += sync_query(store, query, cache)
    if not by_target[1] or not by_target[0]:
        missing = "positive" if not by_target[1] else "negative"
        raise ConfigError(
            f"{label.name}: the store {store.uri} has no images for its {missing} queries under "
            f"{layout.IMAGES}/; run `traygo scrape --label {label.name}` first, or train from "
            "a folder with --images DIR"
        )
    return by_target


def sync_background(store: Store, background: Background, cache: Path) -> list[Path]:
    """Local files of the background pool: every pool query's scraped images. Empty, with a
    warning, when the store has none: the label still trains, on its own negatives only."""
    files = [path for query in background.queries for path in sync_query(store, query, cache)]
    if background.queries and not files:
        log.warning(
            "the store %s has no background pool under %s/; heads train without it and will "
            "raise more false alarms on other food: run `traygo scrape --background`",
            store.uri,
            layout.IMAGES,
        )
    return files


def sync_query(store: Store, query: str, cache: Path) -> list[Path]:
    slug = slugify(query)
    prefix = layout.query_prefix(slug)
    keys = [
        k
        for k in store.list(prefix)
        if "/" not in k[len(prefix) :] and k.lower().endswith(IMAGE_EXTENSIONS)
    ]
    folder = cache / "images" / slug
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    fetched = 0
    for key in tqdm(keys, desc=f"sync {slug}", unit="img", disable=not keys, leave=False):
        path = folder / key.rsplit("/", 1)[1]
        if not _is_cached(path):
            data = store.get_bytes(key)
            tmp = path.with_suffix(path.suffix + ".part")
            tmp.write_bytes(data)
            tmp.replace(path)
            fetched += 1
        files.append(path)
    log.info(
        "%s: %d images (%d fetched, %d cached)", prefix, len(files), fetched, len(files) - fetched
    )
    return files


def _is_cached(path: Path) -> bool:
    return path.is_file() and sha256_hex(path.read_bytes()) == path.stem
