from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from traygo.cli import ENTRY_POINT_GROUP, main

VERBS = {
    "run",
    "serve",
    "train",
    "backbone",
    "scrape",
    "models",
    "submit",
    "predict",
    "feedback",
}


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_help_lists_every_verb(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "--help")
    assert code == 0
    listed = {line.split()[0] for line in out.split("Commands:")[1].splitlines() if line.strip()}
    assert listed == VERBS
    assert "not installed" not in out  # every part is installed in the dev environment


def test_every_entry_point_is_a_verb() -> None:
    assert {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)} == VERBS


@pytest.mark.parametrize("verb", sorted(VERBS))
def test_each_verb_explains_itself(capsys: pytest.CaptureFixture[str], verb: str) -> None:
    code, out, err = run_cli(capsys, verb, "--help")
    assert code == 0, err
    assert out.startswith(f"Usage: traygo {verb}") and "not installed" not in out
    description = out.split("\n\n")[1].strip()
    assert len(description) > 15


def test_models_subcommands(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run_cli(capsys, "models", "--help")
    for sub in ("list", "promote", "rollback"):
        assert sub in out


def test_user_error_is_one_line_with_nonzero_exit(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "models", "list", "--store", "gs://bucket")
    assert code == 2
    assert err.strip().splitlines() == [
        "traygo: error: store 'gs://bucket': unsupported scheme; "
        "use s3://bucket[/prefix] or a local directory"
    ]


def _verb_raising(monkeypatch: pytest.MonkeyPatch, exc: Exception) -> None:
    import click

    from traygo import cli

    @click.command()
    def boom() -> None:
        raise exc

    monkeypatch.setattr(cli.cli, "get_command", lambda ctx, name: boom)


def test_an_error_prints_its_message_and_hint_and_exits_with_its_code(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from traygo.errors import TraygoError

    _verb_raising(monkeypatch, TraygoError("no labels", hint="add one", exit_code=3))
    code, _, err = run_cli(capsys, "boom")
    assert code == 3
    assert err.splitlines() == ["traygo: error: no labels", "hint: add one"]


def test_a_terminal_gets_the_error_in_colour(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from traygo.errors import ConfigError

    _verb_raising(monkeypatch, ConfigError("--epochs=-1: must be positive", hint="try 10"))
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    monkeypatch.delenv("NO_COLOR", raising=False)  # the runner's colour settings must not matter
    monkeypatch.setenv("TERM", "xterm-256color")
    code, _, err = run_cli(capsys, "boom")
    assert code == 2  # ConfigError's default
    assert "\x1b[" in err and "--epochs=-1: must be positive" in err and "try 10" in err


def test_debug_shows_the_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "--debug", "models", "list", "--store", "gs://bucket")
    assert code == 2 and "Traceback" in err and "unsupported scheme" in err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "models", "promote", "pizza")
    assert code == 2 and "give a VERSION or --latest" in err
    code, _, err = run_cli(capsys, "no-such-verb")
    assert code == 2 and "No such command" in err


def test_models_cli_end_to_end(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from traygo.registry import Registry
    from traygo.store import open_store

    store = str(tmp_path)
    reg = Registry(open_store(store))
    for version, acc in (("v1", 0.8), ("v2", 0.9)):
        reg.publish(
            "pizza",
            version,
            {"model.tflite": version.encode()},
            {
                "created_at": "t",
                "classes": ["not_pizza", "pizza"],
                "threshold": 0.5,
                "input": {
                    "height": 1,
                    "width": 1,
                    "channels": 3,
                    "dtype": "float32",
                    "preprocessing": "p",
                },
                "metrics": {"accuracy": acc, "n": 5, "f1": {"pizza": acc}},
                "backbone": {"version": f"tiny-32-0000000{version[-1]}", "features": 4},
            },
        )
    assert run_cli(capsys, "models", "promote", "pizza", "--latest", "--store", store)[0] == 0
    code, out, _ = run_cli(capsys, "models", "list", "--store", store)
    assert code == 0 and "v2" in out and "0.900" in out
    live_row = next(line for line in out.splitlines() if "v2" in line)
    assert "●" in live_row and "tiny-32-00000002" in live_row  # the backbone its head runs on
    code, out, _ = run_cli(capsys, "models", "rollback", "pizza", "--store", store)
    assert code == 1 and reg.live("pizza").version == "v2"  # nothing earlier than v2 was live
    run_cli(capsys, "models", "promote", "pizza", "v1", "--store", store)
    run_cli(capsys, "models", "promote", "pizza", "v2", "--store", store)
    code, out, _ = run_cli(capsys, "models", "rollback", "pizza", "--store", store)
    assert code == 0 and "v1 is live again" in out


def test_models_list_on_an_empty_store(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run_cli(capsys, "models", "list", "--store", str(tmp_path))
    assert code == 0 and "no models in" in out


def test_console_script_is_installed() -> None:
    exe = Path(sys.executable).with_name("traygo")
    result = subprocess.run([str(exe), "--version"], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and "traygo, version" in result.stdout
