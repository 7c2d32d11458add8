"""The whole scrape against the fixture engines: stores, manifests, counts, re-runs, S3."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scraper.download import decode_data_uri
from scraper.run import ScrapeRequest, run
from traygo import layout
from traygo.settings import ScrapeSettings, resolve
from traygo.store import open_store

from .conftest import quick_downloader, quick_pacing
from .fixture_site import engine_urls

MANIFEST_FIELDS = {
    "sha256",
    "query",
    "engine",
    "source",
    "page_url",
    "width",
    "height",
    "bytes",
    "phash",
    "fetched_at",
}


def scrape(
    site: str,
    store: str,
    *queries: str,
    engines: str = "google,bing,yahoo",
    urls: list[str] | None = None,
    max_sources: int = 30,
):
    browser = resolve(ScrapeSettings)  # where Chromium and ChromeDriver are, as the CLI finds them
    return run(
        ScrapeRequest(
            queries=list(queries),
            store=store,
            engines=engines,
            max_sources=max_sources,
            workers=8,
            chromium=browser.chromium,
            chromedriver=browser.chromedriver,
            engine_urls=urls or engine_urls(site),
            pacing=quick_pacing(),
            downloader=quick_downloader(),
        )
    )


def manifest(store: str, query: str) -> list[dict]:
    raw = open_store(store).get_bytes(layout.manifest_key(query.replace(" ", "-")))
    return [json.loads(line) for line in raw.decode().splitlines()]


def test_scrapes_three_engines_into_a_clean_image_set(site: str, tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    reports = scrape(site, store, "margherita pizza")

    by_engine = {r.engine: r for r in reports}
    assert set(by_engine) == {"google", "bing", "yahoo"}
    google = by_engine["google"]
    assert google.found == 30 and google.stored >= 20
    assert (google.layout, google.problem) == ("current", None)
    # every way an image host misbehaves is counted, none stops the job
    for reason in (
        "http_404",
        "wrong_content_type",
        "truncated",
        "redirect_loop",
        "too_large",
        "timeout",
        "not_an_image",
        "too_small",
    ):
        assert google.failures[reason] >= 1, (reason, google.failures)
    # the other engines point at the same pictures: stored once
    assert by_engine["bing"].stored + by_engine["yahoo"].stored <= 2
    assert by_engine["bing"].skipped["duplicate"] >= 15

    lines = manifest(store, "margherita pizza")
    stored_files = [
        k
        for k in open_store(store).list("images/margherita-pizza/")
        if not k.endswith("manifest.jsonl")
    ]
    assert len(lines) == len(stored_files) == sum(r.stored for r in reports)
    assert all(set(line) == MANIFEST_FIELDS for line in lines)
    assert {line["source"] for line in lines} >= {"data-uri"}  # google's inline thumbnails
    assert all(f"/{line['sha256']}." in " ".join(stored_files) for line in lines)
    assert all(min(line["width"], line["height"]) >= 64 for line in lines)


def test_a_rerun_stores_only_what_is_new(site: str, tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    first = scrape(site, store, "calzone", engines="bing", max_sources=15)
    before = manifest(store, "calzone")
    second = scrape(site, store, "calzone", engines="bing", max_sources=30)

    assert first[0].stored == len(before) > 0
    after = manifest(store, "calzone")
    assert after[: len(before)] == before  # nothing lost, nothing rewritten
    assert len(after) == len(before) + second[0].stored
    assert second[0].skipped["duplicate"] >= len(before) - 1


def test_blocked_engines_are_captured_and_the_others_carry_on(site: str, tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    urls = [f"google={site}/google", f"bing={site}/nowhere", f"yahoo={site}/yahoo"]
    reports = scrape(site, store, "consent pizza", urls=urls, max_sources=10)

    problems = {r.engine: r.problem for r in reports}
    assert problems == {"google": "consent_wall", "bing": "no_results", "yahoo": "consent_wall"}
    debug = list(open_store(store).list("images/_debug/consent-pizza/"))
    assert any(k.endswith("-google-consent_wall.html") for k in debug)
    assert any(k.endswith("-bing-no_results.png") for k in debug)


def test_google_current_layout_stores_100_full_size_images(site: str, tmp_path: Path) -> None:
    # 100 results, 80 of them with placeholder thumbnails: the data blob has every full size
    store = str(tmp_path / "store")
    [google] = scrape(site, store, "hundred pizza", engines="google", max_sources=100)

    assert (google.found, google.stored, google.problem) == (100, 100, None)
    lines = manifest(store, "hundred pizza")
    assert len(lines) == 100
    assert all(line["source"].startswith(f"{site}/img/") for line in lines)  # no thumbnails
    assert all((line["width"], line["height"]) == (640, 480) for line in lines)
    assert {line["page_url"] for line in lines} == {f"{site}/p/{i}" for i in range(100)}


def test_a_drifted_layout_is_reported_captured_and_stores_no_thumbnails(
    site: str, tmp_path: Path
) -> None:
    store = str(tmp_path / "store")
    [google] = scrape(site, store, "drift pizza", engines="google")

    assert (google.problem, google.layout, google.found) == ("layout_changed", "current", 30)
    # the hovered result's link was the one full-size URL; 12 inline thumbnails stay unused
    assert google.skipped["no_full_size"] == 29
    assert [line["source"].rsplit("-", 1)[1] for line in manifest(store, "drift pizza")] == [
        "24.jpg"
    ]
    debug = list(open_store(store).list("images/_debug/drift-pizza/"))
    assert any(k.endswith("-google-layout_changed.html") for k in debug)
    assert any(k.endswith("-google-layout_changed.png") for k in debug)


def test_the_s3_store_path(site: str, s3_bucket: str) -> None:
    store = f"s3://{s3_bucket}/scrapes"
    reports = scrape(site, store, "pizza slice", engines="yahoo", max_sources=8)
    assert reports[0].stored > 0
    assert len(manifest(store, "pizza slice")) == reports[0].stored


def test_retries_a_busy_host(site: str) -> None:
    fetched = quick_downloader().fetch(f"{site}/flaky/one.jpg")
    assert fetched.reason is None and fetched.data[:2] == b"\xff\xd8"


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        ("data:image/png;base64,iVBORw0KGgo=", None),
        ("data:image/png;base64", "bad_data_uri"),
        ("data:image/png;base64,", "bad_data_uri"),
    ],
)
def test_data_uris(uri: str, reason: str | None) -> None:
    assert decode_data_uri(uri).reason == reason
