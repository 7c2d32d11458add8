"""The `traygo` command group, and the verbs of the core: `models` and `predict`.

Each deployable part contributes its verbs through the entry-point group `traygo.commands`
(see pyproject.toml), so this module never imports the parts, and a container that installs
one part still gets a CLI whose other verbs say what is missing.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from traygo import __version__, config, endpoint_client
from traygo.errors import RegistryError, TraygoError
from traygo.images.shrink import ApiLimits
from traygo.registry import Registry
from traygo.settings import resolve
from traygo.store import open_store

ENTRY_POINT_GROUP = "traygo.commands"
# Which extra installs each verb's part, for the message when its import fails.
EXTRAS = {
    "train": "training",
    "backbone": "training",
    "scrape": "scraper",
    "serve": "inference",
    "run": "inference",
    "submit": "cli",
    "predict": "cli",
    "models": "cli",
    "feedback": "cli",
}


def _as_click(obj: Any, name: str) -> click.Command:
    if not isinstance(obj, click.Command):
        raise TypeError(f"entry point {name!r} is not a click command")
    return obj


def _unavailable(name: str, error: Exception) -> click.Command:
    extra = EXTRAS.get(name, name)
    message = (
        f"`traygo {name}` is not installed here ({error}); install it with "
        f"pip install 'traygo[{extra}]'"
    )

    @click.command(
        name=name,
        help=f"(not installed: needs traygo[{extra}])",
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )
    def command() -> None:
        raise TraygoError(message)

    return command


class LazyGroup(click.Group):
    """Loads a verb's module only when that verb (or the verb list) is asked for."""

    def _entry_points(self) -> dict[str, EntryPoint]:
        return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self._entry_points())

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = self._entry_points().get(cmd_name)
        if entry is None:
            return None
        try:
            return _as_click(entry.load(), cmd_name)
        except ImportError as exc:
            return _unavailable(cmd_name, exc)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--debug", is_flag=True, envvar="TRAYGO_DEBUG", help="Show tracebacks and debug logs."
)
@click.version_option(__version__, prog_name="traygo")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """traygo: web image searches turned into food classifiers served over HTTPS.

    Scrape images for a label, train a classifier, serve it locally or on AWS.
    Settings come from flags, then TRAYGO_* environment variables, then defaults.
    """
    ctx.obj = {"debug": debug}
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("botocore", "boto3", "urllib3", "s3transfer", "PIL", "selenium"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if debug else logging.WARNING)


@click.command("predict")
@click.argument("image_or_url")
@config.option("endpoint")
@config.option("api_key", "--api-key")
@click.option("--labels", help="Comma-separated labels to ask about (default: every live one).")
@click.option("--json", "as_json", is_flag=True, help="Print the raw JSON answer.")
@click.option(
    "--no-shrink",
    is_flag=True,
    help="Send the file as it is, even when the API would refuse it as too big.",
)
def predict_app(
    image_or_url: str,
    endpoint: str,
    api_key: str | None,
    labels: str | None,
    as_json: bool,
    no_shrink: bool,
) -> None:
    """Send IMAGE_OR_URL (a local image file or an http(s) URL) to the endpoint and print
    which labels it sees. A file over the API's size limits is sent as a smaller JPEG."""
    limits = None if no_shrink else resolve(ApiLimits)
    request = endpoint_client.request_body(image_or_url, labels, limits)
    if request.note:
        click.echo(f"traygo: {request.note}", err=True)
    answer = endpoint_client.ask(endpoint, request, api_key)
    if as_json:
        click.echo(json.dumps(answer, indent=2))
        return
    for p in answer.get("predictions", []):
        mark = "yes" if p["present"] else "no "
        click.echo(
            f"{p['label']:<12} {mark}  p={p['probability']:.3f}  "
            f"(threshold {p['threshold']:.3f}, model {p['model_version']})"
        )
    for u in answer.get("unavailable", []):
        click.echo(f"{u['label']:<12} unavailable: {u['message']}")


@click.group("models")
def models_app() -> None:
    """List model versions, promote one, or roll back."""


@models_app.command("list")
@config.option("store")
@click.option("--label", help="Only this label.")
def list_models(store: str, label: str | None) -> None:
    """Every version of every label (or one label): the backbone a head runs on, its scores,
    and which version is live."""
    registry = Registry(open_store(store))
    table = Table("label", "version", "backbone", "accuracy", "f1", "n", "live")
    for name in [label] if label else registry.labels():
        live = registry.live(name)
        for version in registry.versions(name):
            meta = registry.metadata(name, version)
            metrics = meta["metrics"]
            f1 = metrics.get("f1")
            f1_text = f"{f1[name]:.3f}" if isinstance(f1, dict) and name in f1 else "-"
            is_live = "●" if live and live.version == version else ""
            backbone = (meta.get("backbone") or {}).get("version") or "- (whole image)"
            table.add_row(
                name,
                version,
                backbone,
                f"{metrics['accuracy']:.3f}",
                f1_text,
                str(metrics["n"]),
                is_live,
            )
    if not table.row_count:
        click.echo(f"no models in {registry.store.uri}" + (f" for {label}" if label else ""))
        return
    Console().print(table)


@models_app.command()
@click.argument("label")
@click.argument("version", required=False)
@click.option("--latest", is_flag=True, help="Use the newest published version.")
@click.option(
    "--if-gate-passed",
    is_flag=True,
    help="Only if the version's training recorded a passed promotion gate.",
)
@config.option("store")
def promote(
    label: str, version: str | None, latest: bool, if_gate_passed: bool, store: str
) -> None:
    """Make VERSION of LABEL live (the Lambda picks it up within its pointer TTL)."""
    if latest == (version is not None):
        raise click.UsageError("give a VERSION or --latest (one of them)")
    registry = Registry(open_store(store))
    if latest:
        versions = registry.versions(label)
        if not versions:
            raise RegistryError(f"{label}: no published versions in {registry.store.uri}")
        version = versions[-1]
    assert version is not None
    if if_gate_passed:
        _, message = registry.promote_if_gate_passed(label, version)
        click.echo(message)
        return
    pointer = registry.promote(label, version)
    click.echo(f"{label}: {pointer.version} is live (previous: {pointer.previous or 'none'})")


@models_app.command()
@click.argument("label")
@click.option("--to", help="Go to this version instead of the previous one.")
@config.option("store")
def rollback(label: str, to: str | None, store: str) -> None:
    """Return LABEL to the version that was live before (or to --to)."""
    pointer = Registry(open_store(store)).rollback(label, to)
    click.echo(f"{label}: {pointer.version} is live again")


def report_error(exc: TraygoError) -> None:
    """The one CLI view of the error family: the message, then what to do, on stderr.

    Rich colours only on a terminal, so pipes and tests read plain lines.
    """
    if sys.stderr.isatty():
        _print_rich(exc)
        return
    click.echo(f"traygo: error: {exc.message}", err=True)
    if exc.hint:
        click.echo(f"hint: {exc.hint}", err=True)


def _print_rich(exc: TraygoError) -> None:
    console = Console(stderr=True, highlight=False)
    console.print(Text("traygo: error: ", style="bold red") + Text(exc.message))
    if exc.hint:
        console.print(Text("hint: ", style="bold yellow") + Text(exc.hint))


def main(argv: list[str] | None = None) -> int:
    """Console-script entry: one clear line and a non-zero exit on error."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        cli.main(args=args, prog_name="traygo", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("traygo: aborted", err=True)
        return 130
    except KeyboardInterrupt:
        click.echo("traygo: interrupted", err=True)
        return 130
    except TraygoError as exc:
        if debug:
            traceback.print_exc()
        report_error(exc)
        return exc.exit_code
    except Exception as exc:  # noqa: BLE001 - the last line of defence for a CLI
        if debug:
            traceback.print_exc()
        hint = "" if debug else " (run with --debug for the traceback)"
        click.echo(f"traygo: error: {type(exc).__name__}: {exc}{hint}", err=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
