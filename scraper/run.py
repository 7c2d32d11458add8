"""The scrape job as the CLI and the batch job run it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from scraper.browser import chromium as open_chromium
from scraper.download import Downloader
from scraper.engines import choose, parse_engine_urls
from scraper.job import EngineReport, ScrapeSettings, scrape_query
from scraper.results import Pacing
from traygo.labels import get_label
from traygo.store import open_store


@dataclass
class ScrapeRequest:
    queries: list[str]
    store: str
    engines: str = "google,bing,yahoo"
    label: str | None = None
    max_sources: int = 200
    workers: int = 16
    labels_file: str | None = None
    chromium: str = "/usr/bin/chromium"
    chromedriver: str = "/usr/bin/chromedriver"
    engine_urls: list[str] = field(default_factory=list)
    pacing: Pacing = field(default_factory=Pacing)
    downloader: Downloader | None = None


def run(req: ScrapeRequest) -> list[EngineReport]:
    engines = choose(req.engines)
    settings = ScrapeSettings(
        req.max_sources, req.workers, parse_engine_urls(req.engine_urls), req.pacing
    )
    queries = list(req.queries)
    if req.label:
        queries += list(get_label(req.label, req.labels_file).queries)
    store = open_store(req.store)
    downloader = req.downloader or Downloader(pool_size=req.workers)
    reports: list[EngineReport] = []
    with open_chromium(req.chromium, req.chromedriver) as driver:
        for query in dict.fromkeys(queries):
            reports += scrape_query(driver, store, query, engines, settings, downloader)
    return reports


def summary_table(reports: list[EngineReport]) -> str:
    header = (
        "query",
        "engine",
        "found",
        "downloaded",
        "stored",
        "skipped",
        "failed fetches",
        "problem",
    )
    rows = [header] + [
        (
            r.query,
            r.engine,
            str(r.found),
            str(r.downloaded),
            str(r.stored),
            _counts(r.skipped),
            _counts(r.failures),
            r.problem or "-",
        )
        for r in reports
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    )


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counter.most_common()) or "-"
