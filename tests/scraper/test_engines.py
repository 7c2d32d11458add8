"""Each engine's reader against a page in its real markup, in real headless Chromium."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scraper import results
from scraper.browser import chromium
from scraper.engines import choose, parse_engine_urls
from traygo.errors import ConfigError

from .conftest import quick_pacing
from .fixture_site import TOTAL


@pytest.fixture(scope="module")
def driver(browser_binaries: tuple[str, str]) -> Iterator[object]:
    with chromium(*browser_binaries) as d:
        yield d


@pytest.mark.parametrize("name", ["google", "google-2022", "bing", "yahoo"])
def test_reads_every_result_through_scrolling_and_more_buttons(driver, site: str, name: str):
    engine = choose(name.split("-")[0])[0]
    url = engine.search_url("red pizza", f"{site}/{name}")
    page = results.collect(driver, engine, url, limit=100, pacing=quick_pacing())

    assert page.problem is None
    # results 18 and 19 repeat 8 and 9 exactly: only Google's current layout has ids to tell
    assert len(page.sources) == (TOTAL if name == "google" else TOTAL - 2)
    first = page.sources[0]
    assert first.full.startswith(f"{site}/img/") and first.full.endswith("-0.jpg")
    assert first.page_url == f"{site}/p/0"
    if name.startswith("google"):
        assert first.thumb.startswith("data:image/jpeg;base64,")  # inlined first results
        assert page.sources[15].thumb.startswith(f"{site}/thumb/")  # later ones by URL
    else:
        assert first.thumb.startswith(f"{site}/thumb/")


def test_google_current_layout_joins_the_data_blob_by_docid(driver, site: str) -> None:
    engine = choose("google")[0]
    url = engine.search_url("hundred pizza", f"{site}/google")
    page = results.collect(driver, engine, url, limit=200, pacing=quick_pacing())

    assert (page.problem, page.layout.layout, len(page.sources)) == (None, "current", 100)
    assert [s.page_url for s in page.sources] == [f"{site}/p/{i}" for i in range(100)]
    # full size for every result, its JSON escapes undone; never a placeholder GIF as thumbnail
    assert all(s.full.startswith(f"{site}/img/") for s in page.sources)
    assert all(s.full.endswith(".jpg?w=1024&h=768") for s in page.sources)
    assert all(not s.thumb.startswith("data:image/gif") for s in page.sources)
    assert sum(s.thumb.startswith("data:image/jpeg") for s in page.sources) == 12
    # the image viewer's older-style tile is not a result
    assert not any("viewer" in (s.thumb or "") for s in page.sources)


def test_reading_again_counts_no_result_twice(driver, site: str) -> None:
    engine = choose("google")[0]
    driver.get(engine.search_url("hundred pizza", f"{site}/google"))
    sources: dict = {}
    first = results.read(driver, engine, sources)
    again = results.read(driver, engine, sources)
    assert len(first.sources) == len(again.sources) == len(sources) == 10
    driver.execute_script("add(10)")  # the page grows as it would on a scroll
    results.read(driver, engine, sources)
    assert list(sources) == [f"docid:doc{i}" for i in range(20)]


@pytest.mark.parametrize(
    ("name", "layout"), [("google", "current"), ("bing", "a.iusc"), ("yahoo", "#sres li")]
)
def test_a_page_without_full_size_urls_is_layout_changed(driver, site: str, name, layout) -> None:
    engine = choose(name)[0]
    url = engine.search_url("drift pizza", f"{site}/{name}")
    page = results.collect(driver, engine, url, limit=30, pacing=quick_pacing())

    assert (page.problem, page.layout.layout) == ("layout_changed", layout)
    # containers found, but under half of them with a full-size URL (Google's hovered ones)
    assert 0 <= page.layout.with_full < len(page.layout.sources) / 2


def test_stops_at_the_limit(driver, site: str) -> None:
    engine = choose("bing")[0]
    page = results.collect(
        driver, engine, engine.search_url("q", f"{site}/bing"), 12, quick_pacing()
    )
    assert len(page.sources) == 12


@pytest.mark.parametrize(
    ("query", "problem"),
    [("captcha me", "captcha"), ("consent me", "consent_wall"), ("nothing here", "no_results")],
)
def test_pages_that_fight_back_are_recognised(driver, site: str, query: str, problem: str):
    engine = choose("google")[0]
    page = results.collect(
        driver, engine, engine.search_url(query, f"{site}/google"), 10, quick_pacing()
    )
    assert (page.sources, page.problem) == ([], problem)


def test_engine_names_and_urls_are_checked() -> None:
    assert [e.name for e in choose("bing,google")] == ["bing", "google"]
    with pytest.raises(ConfigError, match="unknown engine"):
        choose("altavista")
    with pytest.raises(ConfigError, match="ENGINE=http"):
        parse_engine_urls(["bing:localhost"])
    assert parse_engine_urls(["bing=http://127.0.0.1:9/x"]) == {"bing": "http://127.0.0.1:9/x"}
