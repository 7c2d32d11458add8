"""Walk a results page like a person: smooth, paced scrolling, "more results" clicks, until
enough sources, the end of results, or a few scrolls that bring nothing new."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from scraper import page_checks
from scraper.engines import Engine, Parsed, Source

log = logging.getLogger(__name__)

SCROLL_JS = """
const step = Math.round(window.innerHeight * arguments[0]);
window.scrollBy({top: step, behavior: 'smooth'});
return [window.scrollY + window.innerHeight, document.body.scrollHeight];
"""


@dataclass
class Pacing:
    """Human-like pauses; `sleep` is injectable so tests run without waiting."""

    rng: random.Random = field(default_factory=random.Random)
    min_pause: float = 0.4
    max_pause: float = 1.6
    sleep: Callable[[float], None] = time.sleep
    stale_scrolls: int = 4  # scrolls that bring nothing new before we stop

    def pause(self) -> None:
        self.sleep(self.rng.uniform(self.min_pause, self.max_pause))


@dataclass
class PageResult:
    sources: list[Source]
    problem: str | None = None  # captcha, consent_wall, no_results, load_failed, layout_changed
    layout: Parsed = field(default_factory=lambda: Parsed(None, []))  # the page's last read


def collect(driver: WebDriver, engine: Engine, url: str, limit: int, pacing: Pacing) -> PageResult:
    try:
        driver.get(url)
    except (TimeoutException, WebDriverException) as exc:
        log.warning("%s: cannot load %s: %s", engine.name, url, str(exc).splitlines()[0])
        return PageResult([], "load_failed")
    problem = page_checks.blocked(driver)
    if problem:
        return PageResult([], problem)
    sources: dict[str, Source] = {}
    try:
        last = _walk(driver, engine, limit, pacing, sources)
    except WebDriverException as exc:  # the page changed under us: keep what we have
        log.warning(
            "%s: page error after %d sources: %s",
            engine.name,
            len(sources),
            (exc.msg or str(exc)).splitlines()[0],
        )
        return PageResult(list(sources.values())[:limit], "page_error")
    found = list(sources.values())[:limit]
    if page_checks.layout_changed(last):
        return PageResult(found, "layout_changed", last)
    return PageResult(found, None if found else "no_results", last)


def _walk(
    driver: WebDriver, engine: Engine, limit: int, pacing: Pacing, sources: dict[str, Source]
) -> Parsed:
    stale = 0
    last = Parsed(None, [])
    while len(sources) < limit and stale < pacing.stale_scrolls:
        before = len(sources)
        last = read(driver, engine, sources)
        if len(sources) >= limit or _ended(driver, engine):
            break
        if not _click_more(driver, engine):
            driver.execute_script(SCROLL_JS, pacing.rng.uniform(0.7, 1.2))
        pacing.pause()
        last = read(driver, engine, sources)
        stale = stale + 1 if len(sources) == before else 0
        if stale:
            _nudge(driver)
    return last


# A page that loads its next batch from a scroll listener can miss its cue: a smooth scroll
# that stops a pixel short of the page's own threshold, or at the very bottom where a scroll
# moves nothing. A person who sees nothing new scrolls back up a little and down again.
NUDGE_JS = "window.scrollBy({top: -Math.round(window.innerHeight / 3), behavior: 'instant'});"


def _nudge(driver: WebDriver) -> None:
    driver.execute_script(NUDGE_JS)


def read(driver: WebDriver, engine: Engine, sources: dict[str, Source]) -> Parsed:
    """Parse the page as it is now into `sources`, new results only: a result read before
    keeps its place, and is replaced only when this read found its full-size URL."""
    parsed = engine.parse(driver.execute_script(engine.read_js))
    for source in parsed.sources:
        known = sources.get(source.key)
        if source.key and (known is None or (source.full and not known.full)):
            sources[source.key] = source
    return parsed


def _ended(driver: WebDriver, engine: Engine) -> bool:
    return any(e.is_displayed() for e in driver.find_elements(By.CSS_SELECTOR, engine.end_selector))


def _click_more(driver: WebDriver, engine: Engine) -> bool:
    for button in driver.find_elements(By.CSS_SELECTOR, engine.more_selector):
        if button.is_displayed() and button.is_enabled():
            driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", button)
            driver.execute_script("arguments[0].click();", button)  # overlays block real clicks
            return True
    return False
