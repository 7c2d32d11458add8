"""The one "is the background pool there?" rule the scraper and `traygo submit` share."""

from __future__ import annotations

from pathlib import Path

import pytest

from traygo import layout
from traygo.background import pool_status
from traygo.labels import Background, load_background
from traygo.slug import slugify
from traygo.store.local import LocalStore

POOL = Background(("pasta dish", "fruit bowl", "cake slice", "empty plate top view"))


def put_images(store: LocalStore, slug: str, n: int) -> None:
    for i in range(n):
        store.put_bytes(layout.image_key(slug, f"{i:064x}", "jpg"), b"x")


def test_counts_the_images_under_each_pool_query_and_nothing_else(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    put_images(store, "pasta-dish", 3)
    store.put_bytes(layout.image_key("fruit-bowl", "f" * 64, "webp"), b"x")
    # not images of the pool: its manifest, debug captures, a nested key, another query
    store.put_bytes(layout.manifest_key("cake-slice"), b"{}\n")
    store.put_bytes(f"{layout.debug_prefix('cake-slice')}t-bing-captcha.png", b"x")
    store.put_bytes("images/cake-slice/old/abc.jpg", b"x")
    put_images(store, "cake-slices", 2)

    status = pool_status(store, POOL)

    assert status.counts == {
        "pasta dish": 3,
        "fruit bowl": 1,
        "cake slice": 0,
        "empty plate top view": 0,
    }
    assert status.images == 4
    assert status.empty == ("cake slice", "empty plate top view")
    assert status.describe() == "2 of 4 pool queries have images (4 images)"


@pytest.mark.parametrize(
    ("with_images", "present"),
    [(0, False), (1, False), (2, True), (4, True)],
)
def test_present_when_at_least_half_the_queries_have_images(
    tmp_path: Path, with_images: int, present: bool
) -> None:
    store = LocalStore(tmp_path)
    for query in POOL.queries[:with_images]:
        put_images(store, slugify(query), 1)
    status = pool_status(store, POOL)
    assert status.needed == 2
    assert status.present is present


def test_half_rounds_up_for_an_odd_pool(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    put_images(store, "pasta-dish", 5)
    three = Background(POOL.queries[:3])
    assert pool_status(store, three).needed == 2
    assert not pool_status(store, three).present  # 1 of 3 is not half


def test_no_pool_configured_is_never_present(tmp_path: Path) -> None:
    status = pool_status(LocalStore(tmp_path), Background(()))
    assert status.counts == {} and not status.present


def test_the_shipped_pool_is_checked_by_slug(tmp_path: Path) -> None:
    shipped = load_background()
    assert len(shipped.queries) >= 20
    store = LocalStore(tmp_path)
    for query in shipped.queries[: (len(shipped.queries) + 1) // 2]:
        put_images(store, slugify(query), 1)
    assert pool_status(store, shipped).present
