"""The `traygo` command. Each deployable part contributes its verbs through the entry-point
group `traygo.commands` (see pyproject.toml), so this module never imports the parts, and a
container that installs one part still gets a CLI whose other verbs say what is missing.
"""

from __future__ import annotations

import logging
import sys
import traceback
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import click

from traygo import __version__
from traygo.errors import TraygoError

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


def report_error(exc: TraygoError) -> None:
    """The one CLI view of the error family: the message, then what to do, on stderr.

    Rich colours only on a terminal, so pipes and tests read plain lines.
    """
    if sys.stderr.isatty() and _print_rich(exc):
        return
    click.echo(f"traygo: error: {exc.message}", err=True)
    if exc.hint:
        click.echo(f"hint: {exc.hint}", err=True)


def _print_rich(exc: TraygoError) -> bool:
    try:  # rich comes with the cli extra, not the core: without it, plain lines
        from rich.console import Console
        from rich.text import Text
    except ImportError:
        return False
    console = Console(stderr=True, highlight=False)
    console.print(Text("traygo: error: ", style="bold red") + Text(exc.message))
    if exc.hint:
        console.print(Text("hint: ", style="bold yellow") + Text(exc.hint))
    return True


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
