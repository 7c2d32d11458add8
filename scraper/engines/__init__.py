"""One module per search engine: where its results page is and how to read it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

from traygo.errors import ConfigError


@dataclass(frozen=True)
class Source:
    """One search result: the full-size image, its thumbnail, and the page it came from."""

    engine: str
    full: str | None
    thumb: str | None
    page_url: str | None
    item_id: str | None = None  # the engine's own id for the result, where it has one

    @property
    def key(self) -> str:
        """Identity on the page: the engine's id, else the URLs (two results may share a broken
        full-size URL, and a thumbnail's URL changes once the page loads it)."""
        return self.item_id or f"{self.full or ''} {self.thumb or ''}".strip()


@dataclass(frozen=True)
class Parsed:
    """What one read of a results page found: which layout it was, and one source per result
    container (a container with no URL at all is still counted, for the layout check)."""

    layout: str | None
    sources: list[Source]

    @property
    def with_full(self) -> int:
        return sum(1 for s in self.sources if s.full)


@dataclass(frozen=True)
class Engine:
    name: str
    base_url: str
    search_path: str  # with {q} for the quoted query
    read_js: str  # returns what `parse` reads: the page's result containers and data so far
    parse: Callable[[Any], Parsed]
    more_selector: str  # a "show more results" button
    end_selector: str  # shown when there are no more results

    def search_url(self, query: str, base_url: str | None = None) -> str:
        base = (base_url or self.base_url).rstrip("/")
        return base + self.search_path.format(q=quote_plus(query))


def sources_from_items(engine: str, items: list[dict[str, str]] | None) -> list[Source]:
    """`[{full, thumb, page}]` as the engines' page scripts return them."""
    return [
        Source(engine, i.get("full") or None, i.get("thumb") or None, i.get("page") or None)
        for i in items or []
    ]


def registry() -> dict[str, Engine]:
    from scraper.engines import bing, google, yahoo

    return {e.ENGINE.name: e.ENGINE for e in (google, bing, yahoo)}


def choose(names: str | list[str]) -> list[Engine]:
    known = registry()
    wanted = [n.strip() for n in names.split(",")] if isinstance(names, str) else names
    unknown = [n for n in wanted if n not in known]
    if unknown or not wanted:
        raise ConfigError(
            f"unknown engine(s) {', '.join(unknown) or '(none given)'}; choose from "
            f"{', '.join(known)}"
        )
    return [known[n] for n in dict.fromkeys(wanted)]


def parse_engine_urls(pairs: tuple[str, ...] | list[str]) -> dict[str, str]:
    """ENGINE=URL pairs from --engine-url."""
    out = {}
    for pair in pairs:
        name, sep, url = pair.partition("=")
        if not sep or not url.startswith(("http://", "https://")):
            raise ConfigError(f"--engine-url {pair!r}: expected ENGINE=http(s)://HOST[:PORT]")
        out[name.strip()] = url.strip()
    if out:
        choose(list(out))  # names must be known engines
    return out
