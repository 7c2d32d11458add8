from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from traygo import config


def test_first_listed_env_var_wins() -> None:
    @click.command()
    @config.option("port")
    def show(port: int) -> None:
        click.echo(f"port={port}")

    runner = CliRunner()
    assert runner.invoke(show, [], env={"PORT": "9000", "TRAYGO_PORT": None}).output == (
        "port=9000\n"
    )
    both = {"PORT": "9000", "TRAYGO_PORT": "9100"}
    assert runner.invoke(show, [], env=both).output == "port=9100\n"


def test_cli_option_applies_flag_over_env_over_default(monkeypatch: pytest.MonkeyPatch) -> None:
    @click.command()
    @config.option("workers")
    def show(workers: int) -> None:
        click.echo(f"workers={workers}")

    runner = CliRunner()
    monkeypatch.delenv("TRAYGO_WORKERS", raising=False)
    assert runner.invoke(show, []).output == "workers=16\n"
    assert runner.invoke(show, [], env={"TRAYGO_WORKERS": "3"}).output == "workers=3\n"
    assert runner.invoke(show, ["--workers", "5"], env={"TRAYGO_WORKERS": "3"}).output == (
        "workers=5\n"
    )
    bad = runner.invoke(show, ["--workers", "0"])
    assert bad.exit_code == 2 and "positive" in bad.output


def test_every_setting_has_help_and_a_traygo_env_var() -> None:
    for spec in config.SETTINGS.values():
        assert spec.help and spec.envvars[0].startswith("TRAYGO_")
