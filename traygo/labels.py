"""The label config: each label's positive and negative search queries, and the background pool.

The `[background]` table is not a label: its queries are "none of the labels" (the dishes a
canteen serves that are not on the menu, trays and plates seen from above), scraped once into the
store like a label's, and a negative for every label's training.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from traygo.errors import ConfigError
from traygo.slug import slugify

_LABEL_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
BACKGROUND = "background"  # the reserved table: the pool, never a label


@dataclass(frozen=True)
class Label:
    name: str
    positive: tuple[str, ...]
    negative: tuple[str, ...]

    @property
    def queries(self) -> tuple[str, ...]:
        """Every query, positives first, each once."""
        return tuple(dict.fromkeys(self.positive + self.negative))

    @property
    def classes(self) -> tuple[str, str]:
        """Class names, negative first (index 1 = the item is present)."""
        return (f"not_{self.name}", self.name)


@dataclass(frozen=True)
class Background:
    """The background pool's queries: a negative for every label, never a positive."""

    queries: tuple[str, ...]


def default_path() -> Path:
    return Path(str(resources.files("traygo").joinpath("labels.toml")))


def load_labels(path: str | Path | None = None) -> dict[str, Label]:
    """Every label in the config file `path` (default: the one shipped in the package).

    Entry points pass the resolved `labels_file` setting (--labels-file, TRAYGO_LABELS)."""
    source, raw = _read(path)
    tables = {name: body for name, body in raw.items() if name != BACKGROUND}
    if not tables:
        raise ConfigError(f"label config {source}: defines no labels")
    return {name: _parse(source, name, body) for name, body in tables.items()}


def load_background(path: str | Path | None = None) -> Background:
    """The config's `[background]` pool; empty (no queries) when the config has none."""
    source, raw = _read(path)
    body = raw.get(BACKGROUND)
    if body is None:
        return Background(())
    where = f"label config {source}: [{BACKGROUND}]"
    if not isinstance(body, dict) or set(body) != {"queries"}:
        raise ConfigError(f"{where}: must be a table with one key, queries (a list of queries)")
    queries = _queries(where, "queries", body["queries"])
    labels = load_labels(path)
    positives = {slugify(q) for label in labels.values() for q in label.positive}
    clash = sorted(positives & {slugify(q) for q in queries})
    if clash:
        raise ConfigError(f"{where}: a label's positive query cannot be background: {clash}")
    return Background(queries)


def _read(path: str | Path | None) -> tuple[Path, dict[str, object]]:
    source = Path(path) if path else default_path()
    try:
        return source, tomllib.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"label config {source}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"label config {source}: cannot read it ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"label config {source}: not valid TOML ({exc})") from None


def get_label(name: str, path: str | Path | None = None) -> Label:
    labels = load_labels(path)
    if name not in labels:
        known = ", ".join(sorted(labels))
        raise ConfigError(f"unknown label {name!r}; known labels: {known}")
    return labels[name]


def _parse(source: Path, name: str, body: object) -> Label:
    where = f"label config {source}: [{name}]"
    if not _LABEL_NAME.match(name):
        raise ConfigError(f"{where}: a label name is lowercase letters, digits and _")
    if not isinstance(body, dict):
        raise ConfigError(f"{where}: must be a table with positive and negative lists")
    unknown = set(body) - {"positive", "negative"}
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}")
    lists = {side: _queries(where, side, body.get(side)) for side in ("positive", "negative")}
    overlap = {slugify(q) for q in lists["positive"]} & {slugify(q) for q in lists["negative"]}
    if overlap:
        raise ConfigError(f"{where}: queries on both sides: {sorted(overlap)}")
    return Label(name, lists["positive"], lists["negative"])


def _queries(where: str, side: str, queries: object) -> tuple[str, ...]:
    if not isinstance(queries, list) or not queries:
        raise ConfigError(f"{where}: {side} must be a non-empty list of queries")
    for query in queries:
        if not isinstance(query, str):
            raise ConfigError(f"{where}: {side} query {query!r} is not a string")
        try:
            slugify(query)
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    return tuple(dict.fromkeys(q.strip() for q in queries))
