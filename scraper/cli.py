"""`traygo scrape`: image-search results for a query (a label's queries, or the background
pool's) into the store."""

from __future__ import annotations

import logging

import click

from traygo import config
from traygo.settings import ScrapeSettings, resolve


@click.command("scrape")
@click.option("--query", "queries", multiple=True, help="Search query (repeatable).")
@click.option("--label", help="Scrape every positive and negative query of this label.")
@click.option(
    "--background",
    is_flag=True,
    help="Scrape the background pool: the [background] queries of the labels file.",
)
@click.option(
    "--if-missing/--always",
    "if_missing",
    default=None,
    help="With --background: scrape only when the store lacks the pool (fewer than half of its "
    "queries have images; then only the queries without images), else print so and exit 0. "
    "--always (the default) scrapes every pool query.",
)
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
@click.option(
    "--check-layout",
    is_flag=True,
    help="Read one results page per engine (the first --query, else 'pizza'), download "
    "nothing, and print what each parser found; exits 1 if any engine has a problem.",
)
def app(
    queries: tuple[str, ...],
    label: str | None,
    background: bool,
    if_missing: bool | None,
    engines: str,
    max_images: int,
    workers: int,
    store: str,
    labels_file: str | None,
    chromium: str,
    chromedriver: str,
    engine_urls: tuple[str, ...],
    check_layout: bool,
) -> None:
    """Scrape image-search results into the store's images/<query>/ with a manifest."""
    from scraper import run as job

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    given = [bool(queries), bool(label), background].count(True)
    if not check_layout and given != 1:
        raise click.UsageError("give --query (one or more), --label or --background: one of them")
    if if_missing is not None and not background:
        raise click.UsageError("--if-missing and --always go with --background")
    flags = {"engines": engines, "max_images": max_images, "workers": workers, "store": store}
    flags |= {"labels_file": labels_file, "chromium": chromium, "chromedriver": chromedriver}
    # click has applied the variables to the flags; the environment gives the rest (the
    # test-only loopback allowance, which has no flag)
    conf = resolve(ScrapeSettings, flags)
    request = job.ScrapeRequest(
        queries=list(queries),
        label=label,
        background=background,
        if_missing=bool(if_missing),
        engines=conf.engines,
        max_sources=conf.max_images,
        workers=conf.workers,
        store=conf.store,
        labels_file=conf.labels_file,
        chromium=conf.chromium,
        chromedriver=conf.chromedriver,
        engine_urls=list(engine_urls),
        allow_loopback_fetch=conf.allow_loopback_fetch,
    )
    if check_layout:
        checks = job.check_layout(request, queries[0] if queries else "pizza")
        click.echo(job.layout_table(checks))
        if any(c.page.problem for c in checks):
            raise click.ClickException("an engine's page has a problem (see the table)")
        return
    planned = job.plan(request)
    if planned.note:
        click.echo(planned.note)
    if not planned.queries:
        return  # --if-missing and the pool is there: nothing to do
    reports = job.run(request, planned)
    click.echo(job.summary_table(reports))
    click.echo(job.problem_counts(reports))
    why = job.failure(reports)
    if why:
        raise click.ClickException(why)
