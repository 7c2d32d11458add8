"""The scrape job as the CLI and the batch job run it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from scraper.browser import chromium as open_chromium
from scraper.download import Downloader
from scraper.engines import choose, parse_engine_urls
from scraper.job import EngineReport, ScrapeSettings, scrape_query
from scraper.results import Pacing, PageResult, collect
from traygo.background import pool_status
from traygo.errors import ConfigError
from traygo.labels import get_label, load_background
from traygo.store import open_store


@dataclass
class ScrapeRequest:
    queries: list[str]
    store: str
    engines: str = "google,bing,yahoo"
    label: str | None = None
    background: bool = False  # the label config's [background] pool
    if_missing: bool = False  # with background: only when the store lacks the pool
    max_sources: int = 200
    workers: int = 16
    labels_file: str | None = None
    chromium: str = "/usr/bin/chromium"
    chromedriver: str = "/usr/bin/chromedriver"
    engine_urls: list[str] = field(default_factory=list)
    pacing: Pacing = field(default_factory=Pacing)
    downloader: Downloader | None = None
    allow_loopback_fetch: bool = False  # tests only: TRAYGO_TEST_ALLOW_LOOPBACK_FETCH


@dataclass
class LayoutCheck:
    engine: str
    query: str
    page: PageResult

    def row(self) -> tuple[str, ...]:
        found = self.page.layout.sources
        return (
            self.engine,
            self.page.layout.layout or "(none recognised)",
            str(len(found)),
            str(sum(1 for s in found if s.full)),
            str(sum(1 for s in found if s.thumb)),
            str(sum(1 for s in found if s.page_url)),
            self.page.problem or "-",
        )

    def example(self) -> str | None:
        return next((s.full for s in self.page.layout.sources if s.full), None)


@dataclass(frozen=True)
class Plan:
    queries: list[str]  # what the run scrapes, each once
    note: str | None = None  # what --background decided, for the operator


def plan(req: ScrapeRequest) -> Plan:
    """The queries a request scrapes: its --query, its label's, the background pool's (all of
    them, or with `if_missing` none when the store has the pool, else the ones without images)."""
    queries = list(req.queries)
    if req.label:
        queries += list(get_label(req.label, req.labels_file).queries)
    note = None
    if req.background:
        pool, note = _pool_queries(req)
        queries += pool
    return Plan(list(dict.fromkeys(queries)), note)


def _pool_queries(req: ScrapeRequest) -> tuple[list[str], str]:
    pool = load_background(req.labels_file)
    if not pool.queries:
        if req.if_missing:
            return (
                [],
                "background pool: the label config has no [background] queries; nothing to do",
            )
        raise ConfigError(
            "the label config has no [background] table with queries: nothing to scrape",
            hint="add `[background] queries = [...]` to the labels file (see traygo/labels.toml)",
        )
    if not req.if_missing:
        return list(pool.queries), f"background pool: scraping its {len(pool.queries)} queries"
    store = open_store(req.store)
    status, where = pool_status(store, pool), store.uri
    if status.present:
        return [], f"background pool present in {where}: {status.describe()}; nothing to scrape"
    empty = list(status.empty)
    return empty, (
        f"background pool missing in {where}: {status.describe()}, {status.needed} needed; "
        f"scraping the {len(empty)} without images"
    )


def run(req: ScrapeRequest, planned: Plan | None = None) -> list[EngineReport]:
    """Scrape what `plan(req)` chose (`planned`, or planned here); no browser when it is none."""
    engines = choose(req.engines)
    settings = ScrapeSettings(
        req.max_sources, req.workers, parse_engine_urls(req.engine_urls), req.pacing
    )
    queries = (planned or plan(req)).queries
    if not queries:
        return []
    store = open_store(req.store)
    downloader = req.downloader or Downloader(
        pool_size=req.workers, allow_loopback=req.allow_loopback_fetch
    )
    reports: list[EngineReport] = []
    with open_chromium(req.chromium, req.chromedriver) as driver:
        for query in queries:
            reports += scrape_query(driver, store, query, engines, settings, downloader)
    return reports


def check_layout(req: ScrapeRequest, query: str, sample: int = 20) -> list[LayoutCheck]:
    """One results page per engine, read but not downloaded: what each parser finds."""
    settings = ScrapeSettings(req.max_sources, req.workers, parse_engine_urls(req.engine_urls))
    checks = []
    with open_chromium(req.chromium, req.chromedriver) as driver:
        for engine in choose(req.engines):
            url = engine.search_url(query, settings.engine_urls.get(engine.name))
            page = collect(driver, engine, url, sample, req.pacing)
            checks.append(LayoutCheck(engine.name, query, page))
    return checks


def failure(reports: list[EngineReport]) -> str | None:
    """Why the job as a whole failed, or None: every engine drifted, or nothing came in."""
    engines = {r.engine for r in reports}
    drifted = {r.engine for r in reports if r.problem == "layout_changed"} - {
        r.engine for r in reports if r.problem != "layout_changed"
    }
    if engines and drifted == engines:
        return (
            f"every engine's results page changed layout ({', '.join(sorted(drifted))}): "
            "the parsers in scraper/engines/ need updating; see the _debug/ captures and "
            "`traygo scrape --check-layout`"
        )
    if not any(
        r.stored or r.skipped.get("duplicate") or r.skipped.get("near_duplicate") for r in reports
    ):
        return "no engine produced any image; see the _debug/ captures"
    return None


def problem_counts(reports: list[EngineReport]) -> str:
    """One line under the table: each problem, how often, and for which engines."""
    counts = Counter(r.problem for r in reports if r.problem)
    if not counts:
        return "problems: none"
    parts = []
    for problem, n in counts.most_common():
        engines = sorted({r.engine for r in reports if r.problem == problem})
        parts.append(f"{problem} {n} ({', '.join(engines)})")
    return "problems: " + "; ".join(parts)


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
    return _table(rows)


def _table(rows: Sequence[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    )


def layout_table(checks: list[LayoutCheck]) -> str:
    header = ("engine", "layout", "results", "full size", "thumbnails", "pages", "problem")
    examples = [f"{c.engine}: {c.example()}" for c in checks if c.example()]
    table = _table([header] + [c.row() for c in checks])
    return "\n".join([table, "", "first full-size URL per engine:", *examples])


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counter.most_common()) or "-"
