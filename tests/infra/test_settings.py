"""Context values: good ones parsed, bad ones stop synth with a line naming the value."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.settings import StackSettings, stack_name
from tests.infra.conftest import make_inputs
from traygo.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def settings(**context: Any) -> StackSettings:
    return StackSettings.from_context(context.get)


def test_defaults_and_cli_strings() -> None:
    assert settings() == StackSettings()
    parsed = settings(
        spot="false",
        maxVcpus="32",
        apiRateLimit="2.5",
        corsOrigins="https://a.example.com, http://localhost:8080",
        stage="dev",
    )
    assert parsed.spot is False
    assert parsed.max_vcpus == 32
    assert parsed.api_rate_limit == 2.5
    assert parsed.cors_origins == ("https://a.example.com", "http://localhost:8080")
    assert settings(corsOrigins=["https://b.example.com/"]).cors_origins == (
        "https://b.example.com",
    )
    assert settings(corsOrigins='["https://c.example.com"]').cors_origins == (
        "https://c.example.com",
    )


def test_reserved_concurrency_is_a_number_or_none() -> None:
    assert settings().lambda_reserved_concurrency == 10
    assert settings(lambdaReservedConcurrency="50").lambda_reserved_concurrency == 50
    assert settings(lambdaReservedConcurrency="none").lambda_reserved_concurrency is None


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("spot", "maybe", "spot='maybe'"),
        ("maxVcpus", -1, "maxVcpus=-1"),
        ("maxVcpus", "lots", "maxVcpus='lots'"),
        ("apiRateLimit", "fast", "apiRateLimit='fast'"),
        ("apiRateLimit", "-3", "apiRateLimit='-3'"),
        ("apiBurstLimit", "0", "apiBurstLimit='0'"),
        ("apiQuotaPerDay", 1.5, "apiQuotaPerDay=1.5"),
        ("corsOrigins", "not a url", "corsOrigins='not a url'"),
        ("corsOrigins", "http://example.com", "corsOrigins='http://example.com'"),
        ("corsOrigins", "https://example.com/page", "corsOrigins='https://example.com/page'"),
        ("stage", "Prod!", "stage='Prod!'"),
        ("lambdaMemoryMb", 64, "lambdaMemoryMb=64"),
        ("lambdaReservedConcurrency", 0, "lambdaReservedConcurrency=0"),
        ("lambdaReservedConcurrency", "many", "lambdaReservedConcurrency='many'"),
        ("minAccuracy", "1.5", "minAccuracy='1.5'"),
        ("logRetentionDays", 10, "logRetentionDays=10"),
        ("baseImage", "two words", "baseImage='two words'"),
    ],
)
def test_bad_values_name_themselves(key: str, value: Any, named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings(**{key: value})
    message = str(caught.value)
    assert message.startswith(f"context {named}: ")
    assert "\n" not in message


def test_stack_name() -> None:
    assert stack_name(None) == "traygo"
    assert stack_name("traygo-dev") == "traygo-dev"
    with pytest.raises(ConfigError, match="stackName='1bad'"):
        stack_name("1bad")


def run_app(context: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    """`python -m infra.app` the way the CDK CLI runs it (context in CDK_CONTEXT_JSON)."""
    env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps(context)}
    return subprocess.run(
        [sys.executable, "-m", "infra.app"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_synth_stops_on_a_bad_value_with_one_line(tmp_path: Path) -> None:
    result = run_app({**make_inputs(tmp_path), "spot": "maybe"})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "traygo infra: error: context spot='maybe': must be true or false"
    )
    assert "Traceback" not in result.stderr


def test_synth_says_to_build_the_lambda_bundle_when_it_is_missing(tmp_path: Path) -> None:
    context = {**make_inputs(tmp_path), "lambdaBundle": str(tmp_path / "nowhere")}
    result = run_app(context)
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert f"lambdaBundle='{tmp_path / 'nowhere'}'" in last
    assert "make lambda-bundle" in last


def test_job_defaults_come_from_the_shared_definitions() -> None:
    from traygo import config

    assert StackSettings().min_accuracy == config.default("min_accuracy")
    assert settings(minAccuracy="0.9").min_accuracy == 0.9
