"""Each engine's reader against a page in its real markup, in real headless Chromium."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scraper import results
from scraper.browser import chromium
from scraper.engines import choose, parse_engine_urls
from traygo import config
from traygo.errors import ConfigError

from .conftest import quick_pacing
from .fixture_site import TOTAL


@pytest.fixture(scope="module")
def driver() -> Iterator[object]:
    with chromium(config.get("chromium"), config.get("chromedriver")) as d:
        yield d


@pytest.mark.parametrize("name", ["google", "bing", "yahoo"])
def test_reads_every_result_through_scrolling_and_more_buttons(driver, site: str, name: str):
    engine = choose(name)[0]
    url = engine.search_url("red pizza", f"{site}/{name}")
    page = results.collect(driver, engine, url, limit=100, pacing=quick_pacing())

    assert page.problem is None
    assert len(page.sources) == TOTAL - 2  # results 18 and 19 repeat 8 and 9 exactly
    first = page.sources[0]
    assert first.full.startswith(f"{site}/img/") and first.full.endswith("-0.jpg")
    assert first.page_url == f"{site}/p/0"
    if name == "google":
        assert first.thumb.startswith("data:image/jpeg;base64,")  # inlined first results
        assert page.sources[10].thumb.startswith(f"{site}/thumb/")  # later ones lazy
    else:
        assert first.thumb.startswith(f"{site}/thumb/")


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
