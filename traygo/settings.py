"""Typed settings, one frozen object per part, resolved once at a process's start.

Each field is a setting of `traygo.config` (its flag, `TRAYGO_…` variables, default and parser
live there), so a default is written once. Entry points build the object; everything below
takes it, or the values it needs, as arguments and never reads the environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, TypeVar

from traygo import config
from traygo.errors import ConfigError

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

_Settings = TypeVar("_Settings", bound="DataclassInstance")


@dataclass(frozen=True)
class InferenceSettings:
    """The inference Lambda's (and the local server's) settings."""

    store: str
    pointer_ttl: float
    backbone_precision: str
    max_request_bytes: int
    fetch_timeout: float
    max_pixels: int
    cors_origins: tuple[str, ...]
    allow_loopback_fetch: bool


@dataclass(frozen=True)
class ScrapeSettings:
    """`traygo scrape` and the scrape batch job."""

    engines: str
    max_images: int
    workers: int
    store: str
    labels_file: str | None
    chromium: str
    chromedriver: str
    allow_loopback_fetch: bool


@dataclass(frozen=True)
class TrainSettings:
    """`traygo train` and the train batch job."""

    store: str
    cache_dir: str
    labels_file: str | None
    epochs: int | None
    seed: int
    min_accuracy: float
    false_alarm: float
    feedback_weight: float


def resolve(
    kind: type[_Settings],
    flags: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> _Settings:
    """`kind` with each field from `flags`, else its `TRAYGO_…` variable, else its default.

    A verb whose fields are all flags passes `environ={}`: click has applied the variables.
    """
    given = flags or {}
    env = os.environ if environ is None else environ
    values = {f.name: _value(f.name, given.get(f.name), env) for f in fields(kind)}
    return kind(**values)


def _value(name: str, flag: Any, environ: Mapping[str, str]) -> Any:
    spec = config.setting(name)
    if flag is not None:
        return _parse(spec, flag, spec.flag or name)
    for var in spec.envvars:
        raw = environ.get(var)
        if raw is not None and raw != "":
            return _parse(spec, raw, var)
    return _parse(spec, spec.default, None) if isinstance(spec.default, str) else spec.default


def _parse(spec: config.Setting, value: Any, source: str | None) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return spec.parse(value)
    except ValueError as exc:
        where = f"{source}={value!r}" if source else f"default {value!r}"
        fix = f"the flag {spec.flag} or " if spec.flag else ""
        raise ConfigError(f"{where}: {exc}; fix {fix}the variable {spec.envvars[0]}") from None
