"""Every setting in one place: CLI flags over `TRAYGO_…` environment variables over defaults.

The CLI gets a setting's flag from `option()`, which hands click the environment variable and
the default named here, so click applies the precedence. Each part's entry point (a CLI verb, the
Lambda's cold start) then builds its typed settings object with `traygo.settings.resolve()`,
which applies the same order from these definitions; code below takes that object.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:  # click is the cli extra's, imported only where options are built
    import click


@dataclass(frozen=True)
class Setting:
    name: str
    envvars: tuple[str, ...]
    default: Any
    help: str
    parse: Callable[[str], Any] = str
    has_flag: bool = True  # False: only the Lambda reads it, from its variable

    @property
    def flag(self) -> str | None:
        return f"--{self.name.replace('_', '-')}" if self.has_flag else None


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError("must be a positive integer")
    return value


PRECISIONS = ("auto", "float16")


def _precision(text: str) -> str:
    if text not in PRECISIONS:
        raise ValueError(f"must be one of {', '.join(PRECISIONS)}")
    return text


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise ValueError("must be a positive number")
    return value


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise ValueError("must be between 0 and 1")
    return value


def _origins(text: str) -> tuple[str, ...]:
    return tuple(o.strip() for o in text.split(",") if o.strip())


def _switch(text: str) -> bool:
    if text not in ("0", "1"):
        raise ValueError("must be 1 (on) or 0 (off)")
    return text == "1"


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise ValueError("must be a port number between 0 and 65535")
    return value


_SETTINGS: list[Setting] = [
    # --- shared ---
    Setting(
        "store",
        ("TRAYGO_STORE",),
        "./.traygo/store",
        "Where images and models live: s3://bucket[/prefix] or a local directory.",
    ),
    Setting(
        "labels_file",
        ("TRAYGO_LABELS",),
        None,
        "Label config (TOML); default: the one shipped in traygo/labels.toml.",
    ),
    Setting(
        "cache_dir",
        ("TRAYGO_CACHE",),
        "./.traygo/cache",
        "Local cache for synced images and prepared arrays.",
    ),
    Setting(
        "max_pixels",
        ("TRAYGO_MAX_PIXELS",),
        40_000_000,
        "Refuse images with more pixels than this (decompression bombs).",
        _positive_int,
        has_flag=False,
    ),
    # --- inference ---
    Setting("host", ("TRAYGO_HOST",), "127.0.0.1", "Address the local server listens on."),
    Setting("port", ("TRAYGO_PORT", "PORT"), 8080, "Port the local server listens on.", _port),
    Setting(
        "pointer_ttl",
        ("TRAYGO_POINTER_TTL",),
        30.0,
        "Seconds between checks of a label's live.json.",
        _positive_float,
        has_flag=False,
    ),
    Setting(
        "backbone_precision",
        ("TRAYGO_BACKBONE_PRECISION",),
        "auto",
        "auto: serve a backbone's int8 models where its metadata marks them served (faster, "
        "checked at tune time); float16: always the float16 ones.",
        _precision,
        has_flag=False,
    ),
    Setting(
        "max_request_bytes",
        ("TRAYGO_MAX_REQUEST_BYTES",),
        6 * 1024 * 1024,
        "Largest request body accepted (Lambda's synchronous limit).",
        _positive_int,
        has_flag=False,
    ),
    Setting(
        "fetch_timeout",
        ("TRAYGO_FETCH_TIMEOUT",),
        10.0,
        "Total seconds allowed to fetch an image URL.",
        _positive_float,
        has_flag=False,
    ),
    Setting(
        "endpoint",
        ("TRAYGO_ENDPOINT",),
        "http://127.0.0.1:8080",
        "Inference endpoint that `traygo predict` calls.",
    ),
    Setting("api_key", ("TRAYGO_API_KEY",), None, "API key sent as x-api-key."),
    Setting(
        "cors_origins",
        ("TRAYGO_CORS_ORIGINS",),
        "",
        "Comma-separated origins allowed to call the API from a browser (none by default).",
        _origins,
        has_flag=False,
    ),
    Setting(
        "allow_loopback_fetch",
        ("TRAYGO_TEST_ALLOW_LOOPBACK_FETCH",),
        False,
        # Loopback only, never private or link-local addresses: for a suite or a smoke test
        # fetching from its own 127.0.0.1 server. Never set it in a deployment.
        "1 lets URL fetches (API and scraper) reach 127.0.0.1; tests only.",
        _switch,
        has_flag=False,
    ),
    # --- scraper ---
    Setting("engines", ("TRAYGO_ENGINES",), "google,bing,yahoo", "Search engines to scrape."),
    Setting(
        "max_images",
        ("TRAYGO_MAX_IMAGES",),
        200,
        "Sources to collect per engine and query.",
        _positive_int,
    ),
    Setting("workers", ("TRAYGO_WORKERS",), 16, "Concurrent image downloads.", _positive_int),
    Setting("chromium", ("TRAYGO_CHROMIUM",), "/usr/bin/chromium", "Chromium binary."),
    Setting(
        "chromedriver", ("TRAYGO_CHROMEDRIVER",), "/usr/bin/chromedriver", "ChromeDriver binary."
    ),
    # --- training ---
    Setting(
        "epochs",
        ("TRAYGO_EPOCHS",),
        None,
        "Most epochs to train (default: 300 for a backbone head, 40 for scratch and seed).",
        _positive_int,
    ),
    Setting("seed", ("TRAYGO_SEED",), 1337, "Random seed for split and training.", int),
    Setting(
        "min_accuracy",
        ("TRAYGO_MIN_ACCURACY",),
        0.8,
        "Promotion gate: least validation accuracy (0 to 1).",
        _fraction,
    ),
    Setting(
        "false_alarm",
        ("TRAYGO_FALSE_ALARM",),
        0.02,
        "Most false alarms a head's thresholds may allow (0 to 1): per tray on its calibration "
        "trays, per photo on the background pool's held-out photos; a lower rate costs recall, "
        "shown on the model card.",
        _fraction,
    ),
    Setting(
        "feedback_weight",
        ("TRAYGO_FEEDBACK_WEIGHT",),
        3.0,
        "How many web pictures one canteen correction weighs in a head's training (each of its "
        "rows: the whole picture, and its regions in tray mode).",
        _positive_float,
    ),
    # --- infra / submit ---
    Setting("stack", ("TRAYGO_STACK",), "traygo", "CloudFormation stack name."),
]

SETTINGS: dict[str, Setting] = {s.name: s for s in _SETTINGS}


def setting(name: str) -> Setting:
    try:
        return SETTINGS[name]
    except KeyError:
        raise KeyError(f"unknown setting {name!r}") from None


def default(name: str) -> Any:
    return setting(name).default


_Command = TypeVar("_Command", bound=Callable[..., Any])


def option(name: str, *param_decls: str, **kwargs: Any) -> Callable[[_Command], _Command]:
    """A click option decorator for a setting, with its env vars, default and help from here."""
    import click

    spec = setting(name)
    if spec.flag is None:
        raise ValueError(f"setting {name!r} has no flag; mark it has_flag=True to give it one")
    decls = param_decls or (spec.flag,)
    kwargs.setdefault("help", spec.help)
    kwargs.setdefault("show_default", spec.default is not None)
    kwargs.setdefault("show_envvar", True)
    if spec.parse is not str and "type" not in kwargs:
        kwargs["type"] = _click_type(spec)
    return click.option(*decls, name, default=spec.default, envvar=list(spec.envvars), **kwargs)


def _click_type(spec: Setting) -> click.ParamType[Any, Any]:
    import click

    # ParamType is generic only in recent click; subscripting it would break the >=8.1 floor.
    class Parsed(click.ParamType):  # type: ignore[type-arg]
        name = spec.parse.__name__.strip("_").replace("_", " ")

        def convert(
            self, value: Any, param: click.Parameter | None, ctx: click.Context | None
        ) -> Any:
            if not isinstance(value, str):
                return value
            try:
                return spec.parse(value)
            except ValueError as exc:
                self.fail(f"{value!r}: {exc}", param, ctx)

    return Parsed()
