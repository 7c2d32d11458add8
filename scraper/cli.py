"""`traygo scrape`: image-search results for a query (or a label's queries) into the store."""

from __future__ import annotations

import logging

import click

from traygo import config


@click.command("scrape")
@click.option("--query", "queries", multiple=True, help="Search query (repeatable).")
@click.option("--label", help="Scrape every positive and negative query of this label.")
@config.option("engines")
@config.option("max_images", "--max")
@config.option("workers")
@config.option("store")
@config.option("labels_file", "--labels-file")
@config.option("chromium")
@config.option("chromedriver")
@click.option(
    "--engine-url",
    "engine_urls",
    multiple=True,
    metavar="ENGINE=URL",
    help="Base URL of an engine (tests point these at 127.0.0.1).",
)
def app(
    queries: tuple[str, ...],
    label: str | None,
    engines: str,
    max_images: int,
    workers: int,
    store: str,
    labels_file: str | None,
    chromium: str,
    chromedriver: str,
    engine_urls: tuple[str, ...],
) -> None:
    """Scrape image-search results into the store's images/<query>/ with a manifest."""
    from scraper.run import ScrapeRequest, run, summary_table

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if bool(queries) == bool(label):
        raise click.UsageError("give --query (one or more) or --label, not both")
    request = ScrapeRequest(
        queries=list(queries),
        label=label,
        engines=engines,
        max_sources=max_images,
        workers=workers,
        store=config.store_uri(store),
        labels_file=labels_file,
        chromium=chromium,
        chromedriver=chromedriver,
        engine_urls=list(engine_urls),
    )
    reports = run(request)
    click.echo(summary_table(reports))
    if not any(
        r.stored or r.skipped.get("duplicate") or r.skipped.get("near_duplicate") for r in reports
    ):
        raise click.ClickException("no engine produced any image; see the _debug/ captures")
