"""Is the background pool in the store? The one rule `traygo scrape --background --if-missing`
(the pipeline's first step) and `traygo submit pipeline` both apply.

The pool counts as **present** when at least half of its queries (rounded up) have at least one
stored image. A few queries that no engine answers (or that a crash cut short) do not make every
pipeline run scrape the pool again; a pool cut short before half of it was done is scraped again,
the queries that already have images left as they are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from traygo import layout
from traygo.labels import Background
from traygo.slug import slugify
from traygo.store import Store

PRESENT_SHARE = 0.5  # of the pool's queries that must have images for the pool to be there
# What the scraper stores and training reads under a query's prefix (not the manifest).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".gif")


@dataclass(frozen=True)
class PoolStatus:
    """Images stored per pool query, in the config's order."""

    counts: dict[str, int]

    @property
    def images(self) -> int:
        return sum(self.counts.values())

    @property
    def with_images(self) -> tuple[str, ...]:
        return tuple(q for q, n in self.counts.items() if n)

    @property
    def empty(self) -> tuple[str, ...]:
        """The pool queries with no image stored."""
        return tuple(q for q, n in self.counts.items() if not n)

    @property
    def needed(self) -> int:
        """How many queries must have images for the pool to count as present."""
        return math.ceil(PRESENT_SHARE * len(self.counts))

    @property
    def present(self) -> bool:
        """At least half the queries (rounded up) have images; never for a config without a
        pool (there is nothing to be present)."""
        return bool(self.counts) and len(self.with_images) >= self.needed

    def describe(self) -> str:
        """'12 of 29 pool queries have images (1,234 images)'."""
        return (
            f"{len(self.with_images)} of {len(self.counts)} pool queries have images "
            f"({self.images:,} image{'' if self.images == 1 else 's'})"
        )


def pool_status(store: Store, background: Background) -> PoolStatus:
    """Count the images stored directly under each pool query's prefix (one listing each)."""
    return PoolStatus({query: _images(store, query) for query in background.queries})


def _images(store: Store, query: str) -> int:
    prefix = layout.query_prefix(slugify(query))
    return sum(
        1
        for key in store.list(prefix)
        if "/" not in key[len(prefix) :] and key.lower().endswith(IMAGE_EXTENSIONS)
    )
