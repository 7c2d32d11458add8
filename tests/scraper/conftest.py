from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from scraper.download import Downloader
from scraper.results import Pacing

from .fixture_site import Server, start


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    server, base = start()
    yield base
    server.shutdown()


def quick_pacing() -> Pacing:
    # Short, seeded pauses, long enough for most of a smooth scroll (a few hundred ms) to
    # happen, so the page's scroll handlers see the bottom within the four stale scrolls.
    return Pacing(rng=random.Random(7), min_pause=0.2, max_pause=0.3)


def quick_downloader() -> Downloader:
    return Downloader(
        connect_timeout=1.0,
        read_timeout=0.5,
        max_bytes=1024 * 1024,
        backoff=0.0,
        allow_loopback=True,
    )


__all__ = ["Server", "quick_downloader", "quick_pacing"]
