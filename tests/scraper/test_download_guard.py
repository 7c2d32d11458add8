"""The scraper's downloader goes through the shared guard: no address inside the network,
redirects re-vetted, one total deadline, and pixel bombs are a counted skip, never stored."""

from __future__ import annotations

from pathlib import Path

import pytest

from scraper.download import Downloader
from scraper.engines import Source
from scraper.image_store import QueryImages
from tests.traygo.hostile_images import HOSTILE
from tests.trickle_host import elapsed, host
from traygo.store import open_store


def local_downloader(**options: float) -> Downloader:
    return Downloader(
        connect_timeout=0.5, read_timeout=0.5, backoff=0.0, allow_loopback=True, **options
    )


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.8/a.jpg",
        "http://[::ffff:192.168.1.1]/a.jpg",
    ],
)
def test_a_redirect_into_the_network_is_refused(target: str) -> None:
    with host("redirect", location=target) as base:
        fetched = local_downloader().fetch(f"{base}/a.jpg")
    assert (fetched.data, fetched.reason) == (None, "url_refused")


def test_private_addresses_are_refused_before_connecting() -> None:
    downloader = Downloader(connect_timeout=0.5, read_timeout=0.5)  # no loopback allowance
    for url in ("http://10.1.2.3/a.jpg", "http://169.254.169.254/", "http://127.0.0.1:9/a.jpg"):
        assert downloader.fetch(url).reason == "url_refused"


def test_a_trickling_host_is_cut_at_the_total_deadline() -> None:
    with host("trickle_body") as base:
        fetched, seconds = elapsed(lambda: local_downloader(deadline=1.0, retries=0).fetch(base))
    assert fetched.reason == "timeout"  # type: ignore[attr-defined]
    assert seconds < 2.0


def test_a_pixel_bomb_is_a_counted_skip_and_never_stored(tmp_path: Path) -> None:
    bomb = HOSTILE["png_rgba_6000x6000"]()
    store = open_store(str(tmp_path / "store"))
    images = QueryImages(store, "pizza")
    with host("image", body=bomb) as base:
        source = Source("bing", f"{base}/bomb.png", None, None)
        fetched = local_downloader().fetch(f"{base}/bomb.png")  # as the job does, then admit
    assert fetched.data == bomb
    assert images.admit(fetched.data, source, f"{base}/bomb.png") == "too_large_to_decode"
    assert len(images) == 0 and not list(store.list("images/"))
