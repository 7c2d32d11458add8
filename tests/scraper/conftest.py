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
    # Short, seeded pauses: the page's scroll handlers still get to run between steps.
    return Pacing(rng=random.Random(7), min_pause=0.05, max_pause=0.1)


def quick_downloader() -> Downloader:
    return Downloader(connect_timeout=1.0, read_timeout=0.5, max_bytes=1024 * 1024, backoff=0.0)


__all__ = ["Server", "quick_downloader", "quick_pacing"]
