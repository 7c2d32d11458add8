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
        ("feedbackRateLimit", "0", "feedbackRateLimit='0'"),
        ("feedbackRateLimit", "slow", "feedbackRateLimit='slow'"),
        ("feedbackBurstLimit", "-1", "feedbackBurstLimit='-1'"),
        ("feedbackBurstLimit", 2.5, "feedbackBurstLimit=2.5"),
        ("feedbackRetentionDays", 0, "feedbackRetentionDays=0"),
        ("feedbackRetentionDays", "3651", "feedbackRetentionDays='3651'"),
        ("feedbackRetentionDays", "a year", "feedbackRetentionDays='a year'"),
        ("feedbackRetrainSchedule", "nightly", "feedbackRetrainSchedule='nightly'"),
        ("feedbackRetrainSchedule", "0 3 * * ? *", "feedbackRetrainSchedule='0 3 * * ? *'"),
        ("feedbackRetrainSchedule", "cron(0 3 * * *)", "feedbackRetrainSchedule='cron(0 3 * * *)'"),
        (
            "feedbackRetrainSchedule",
            "cron(0 3 * * 1 *)",  # a day of month and a day of week: EventBridge refuses it
            "feedbackRetrainSchedule='cron(0 3 * * 1 *)'",
        ),
        ("feedbackRetrainSchedule", "rate(1 days)", "feedbackRetrainSchedule='rate(1 days)'"),
        ("feedbackRetrainSchedule", "rate(2 day)", "feedbackRetrainSchedule='rate(2 day)'"),
        ("feedbackRetrainSchedule", "rate(0 days)", "feedbackRetrainSchedule='rate(0 days)'"),
        ("feedbackRetrainSchedule", 3, "feedbackRetrainSchedule=3"),
    ],
)
def test_bad_values_name_themselves(key: str, value: Any, named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings(**{key: value})
    message = str(caught.value)
    assert message.startswith(f"context {named}: ")
    assert "\n" not in message


def test_feedback_settings() -> None:
    d = settings()
    assert (d.feedback_rate_limit, d.feedback_burst_limit) == (2.0, 5)
    assert d.feedback_retention_days == 365
    assert d.feedback_retrain_schedule is None  # the rule is deployed, disabled
    parsed = settings(
        feedbackRateLimit="0.5",
        feedbackBurstLimit="2",
        feedbackRetentionDays="3650",
        feedbackRetrainSchedule=" cron(30 2 ? * MON-FRI *) ",
    )
    assert (parsed.feedback_rate_limit, parsed.feedback_burst_limit) == (0.5, 2)
    assert parsed.feedback_retention_days == 3650
    assert parsed.feedback_retrain_schedule == "cron(30 2 ? * MON-FRI *)"
    assert settings(feedbackRetrainSchedule="rate(12 hours)").feedback_retrain_schedule == (
        "rate(12 hours)"
    )
    assert settings(feedbackRetrainSchedule="rate(1 day)").feedback_retrain_schedule == (
        "rate(1 day)"
    )
    assert settings(feedbackRetrainSchedule="").feedback_retrain_schedule is None


def test_bad_schedule_says_what_is_expected() -> None:
    with pytest.raises(ConfigError, match=r"cron\(0 3 \* \* \? \*\) or rate\(1 day\)"):
        settings(feedbackRetrainSchedule="daily")


def test_cdk_json_context_is_the_defaults() -> None:
    """cdk.json lists each setting with its default; a deploy from it builds the default stack."""
    context = json.loads((REPO / "cdk.json").read_text())["context"]
    assert settings(**context) == StackSettings()
    for key in ("feedbackRateLimit", "feedbackBurstLimit", "feedbackRetentionDays"):
        assert key in context
    assert context["feedbackRetrainSchedule"] == ""  # the retrain rule deployed disabled


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
