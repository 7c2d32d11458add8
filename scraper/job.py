"""Scrape one query across engines: collect sources, download, validate, store, report."""

from __future__ import annotations

import logging
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from selenium.common.exceptions import WebDriverException
from selenium.webdriver.remote.webdriver import WebDriver
from tqdm import tqdm

from scraper import results
from scraper.download import Downloader
from scraper.engines import Engine, Source
from scraper.image_store import QueryImages
from traygo import layout
from traygo.store import Store

log = logging.getLogger(__name__)


@dataclass
class EngineReport:
    engine: str
    query: str
    found: int = 0
    downloaded: int = 0
    stored: int = 0
    skipped: Counter[str] = field(default_factory=Counter)  # sources that gave nothing new
    failures: Counter[str] = field(default_factory=Counter)  # every failed fetch, rescued or not
    problem: str | None = None
    layout: str | None = None  # which of the engine's layouts its parser read


@dataclass
class ScrapeSettings:
    max_sources: int = 200
    workers: int = 16
    engine_urls: dict[str, str] = field(default_factory=dict)
    pacing: results.Pacing = field(default_factory=results.Pacing)


def scrape_query(
    driver: WebDriver,
    store: Store,
    query: str,
    engines: list[Engine],
    settings: ScrapeSettings,
    downloader: Downloader,
) -> list[EngineReport]:
    images = QueryImages(store, query)
    reports = []
    for engine in engines:
        report = EngineReport(engine.name, query)
        url = engine.search_url(query, settings.engine_urls.get(engine.name))
        page = results.collect(driver, engine, url, settings.max_sources, settings.pacing)
        report.found = len(page.sources)
        report.layout = page.layout.layout
        if page.problem:
            report.problem = page.problem
            _save_debug(driver, store, images.slug, engine.name, page.problem)
        drifted = page.problem == "layout_changed"
        sources = _full_size_only(page.sources, report) if drifted else page.sources
        _download_all(sources, images, downloader, settings.workers, report)
        images.save_manifest()  # after each engine: a later crash loses nothing stored
        reports.append(report)
        log.info("%s %r: %s", engine.name, query, _line(report))
    return reports


def _full_size_only(sources: list[Source], report: EngineReport) -> list[Source]:
    """On a page we did not fully understand, only what it plainly offered as full size: its
    thumbnails would enter the training set looking like pictures."""
    kept = [replace(s, thumb=None) for s in sources if s.full]
    if len(kept) < len(sources):
        report.skipped["no_full_size"] += len(sources) - len(kept)
    return kept


def _download_all(
    sources: list[Source],
    images: QueryImages,
    downloader: Downloader,
    workers: int,
    report: EngineReport,
) -> None:
    if not sources:
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        outcomes = pool.map(lambda s: _one(s, images, downloader), sources)
        progress = tqdm(
            outcomes, total=len(sources), unit="img", desc=report.engine, leave=False, disable=None
        )  # no bar in batch logs
        for fetched, outcome, failures in progress:
            report.downloaded += fetched
            report.failures.update(failures)
            if outcome == "stored":
                report.stored += 1
            else:
                report.skipped[outcome] += 1


def _one(source: Source, images: QueryImages, downloader: Downloader) -> tuple[int, str, list[str]]:
    """Full size first, the thumbnail when it fails: (1 if an image arrived, outcome, the
    reasons of each failed attempt). Never raises: one bad image must not stop the job."""
    try:
        return _attempt(source, images, downloader)
    except Exception as exc:  # noqa: BLE001 - counted and logged, the job carries on
        log.warning("%s: unexpected error on %s: %r", source.engine, source.key, exc)
        return 0, "error", ["error"]


def _attempt(
    source: Source, images: QueryImages, downloader: Downloader
) -> tuple[int, str, list[str]]:
    failures: list[str] = []
    for url in (source.full, source.thumb):
        if not url:
            continue
        fetched = downloader.fetch(url)
        if fetched.data is None:
            failures.append(fetched.reason or "failed")
            continue
        outcome = images.admit(fetched.data, source, url)
        if outcome in ("stored", "duplicate", "near_duplicate"):
            return 1, outcome, failures
        failures.append(outcome)
    return 0, failures[-1] if failures else "no_url", failures


def _save_debug(driver: WebDriver, store: Store, slug: str, engine: str, problem: str) -> None:
    """The page's HTML and a screenshot, so a person can see what the engine showed us."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    prefix = f"{layout.debug_prefix(slug)}{stamp}-{engine}-{problem}"
    try:
        store.put_bytes(f"{prefix}.html", driver.page_source.encode("utf-8"))
        store.put_bytes(f"{prefix}.png", driver.get_screenshot_as_png())
    except WebDriverException as exc:
        log.warning("could not capture %s: %s", prefix, exc.msg)
    log.warning("%s for %s: %s; saved %s.html/.png", engine, slug, problem, store.url(prefix))


def _line(r: EngineReport) -> str:
    skipped = ", ".join(f"{k} {v}" for k, v in r.skipped.most_common()) or "none"
    problem = f", problem: {r.problem}" if r.problem else ""
    return (
        f"found {r.found}, downloaded {r.downloaded}, stored {r.stored}, skipped {skipped}{problem}"
    )
