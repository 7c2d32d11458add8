"""The label config: each label's positive and negative search queries."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from traygo.errors import ConfigError
from traygo.slug import slugify

_LABEL_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


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


def default_path() -> Path:
    return Path(str(resources.files("traygo").joinpath("labels.toml")))


def load_labels(path: str | Path | None = None) -> dict[str, Label]:
    """Every label in the config file `path` (default: the one shipped in the package).

    Entry points pass the resolved `labels_file` setting (--labels-file, TRAYGO_LABELS)."""
    source = Path(path) if path else default_path()
    try:
        raw = tomllib.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"label config {source}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"label config {source}: cannot read it ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"label config {source}: not valid TOML ({exc})") from None
    if not raw:
        raise ConfigError(f"label config {source}: defines no labels")
    return {name: _parse(source, name, body) for name, body in raw.items()}


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
    lists = {}
    for side in ("positive", "negative"):
        queries = body.get(side)
        if not isinstance(queries, list) or not queries:
            raise ConfigError(f"{where}: {side} must be a non-empty list of queries")
        for query in queries:
            if not isinstance(query, str):
                raise ConfigError(f"{where}: {side} query {query!r} is not a string")
            try:
                slugify(query)
            except ValueError as exc:
                raise ConfigError(f"{where}: {exc}") from None
        lists[side] = tuple(q.strip() for q in queries)
    overlap = {slugify(q) for q in lists["positive"]} & {slugify(q) for q in lists["negative"]}
    if overlap:
        raise ConfigError(f"{where}: queries on both sides: {sorted(overlap)}")
    return Label(name, lists["positive"], lists["negative"])
