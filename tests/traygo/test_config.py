from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from traygo import config
from traygo.errors import ConfigError


def test_default_then_env_then_explicit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRAYGO_WORKERS", raising=False)
    assert config.get("workers") == 16
    monkeypatch.setenv("TRAYGO_WORKERS", "4")
    assert config.get("workers") == 4
    assert config.get("workers", 2) == 2


def test_first_listed_env_var_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "9000")
    monkeypatch.delenv("TRAYGO_PORT", raising=False)
    assert config.get("port") == 9000
    monkeypatch.setenv("TRAYGO_PORT", "9100")
    assert config.get("port") == 9100


def test_bad_env_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRAYGO_WORKERS", "many")
    with pytest.raises(ConfigError, match="TRAYGO_WORKERS='many'"):
        config.get("workers")


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
