"""The stack's parameters, read from CDK context (`cdk synth -c spot=false`, or cdk.json).

Every value is checked here, so a bad one stops synth with a line that names it instead of a
template that fails half-way through a deploy.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from traygo import config
from traygo.errors import ConfigError

_STAGE = re.compile(r"^[a-z][a-z0-9-]{0,19}$")
_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off"}


@dataclass(frozen=True)
class StackSettings:
    stage: str = "prod"
    spot: bool = True
    max_vcpus: int = 16
    api_rate_limit: float = 10.0
    api_burst_limit: int = 20
    api_quota_per_day: int = 10_000
    cors_origins: tuple[str, ...] = ()
    lambda_bundle: Path = Path("build/lambda")
    lambda_memory_mb: int = 1024
    lambda_reserved_concurrency: int | None = 10  # None: share the account's unreserved pool
    map_concurrency: int = 4
    min_accuracy: float = config.default("min_accuracy")  # the train job's gate, written once
    log_retention_days: int = 30
    feedback_rate_limit: float = 2.0  # POST /feedback per key, below /predict's
    feedback_burst_limit: int = 5
    feedback_retention_days: int = 365  # canteen pictures can show people
    feedback_retrain_schedule: str | None = None  # None: the rule exists, disabled
    base_image: str | None = None
    image_source: Path | None = None  # None: the repository root

    @classmethod
    def from_context(cls, get: Any) -> StackSettings:
        """Settings from a context lookup (`node.try_get_context`); absent keys keep defaults."""
        d = cls()
        return cls(
            stage=_stage(_raw(get, "stage", d.stage)),
            spot=_bool("spot", _raw(get, "spot", d.spot)),
            max_vcpus=_int("maxVcpus", _raw(get, "maxVcpus", d.max_vcpus), 1, 256),
            api_rate_limit=_number("apiRateLimit", _raw(get, "apiRateLimit", d.api_rate_limit)),
            api_burst_limit=_int("apiBurstLimit", _raw(get, "apiBurstLimit", d.api_burst_limit)),
            api_quota_per_day=_int(
                "apiQuotaPerDay", _raw(get, "apiQuotaPerDay", d.api_quota_per_day)
            ),
            cors_origins=_origins(_raw(get, "corsOrigins", list(d.cors_origins))),
            lambda_bundle=Path(str(_raw(get, "lambdaBundle", str(d.lambda_bundle)))),
            lambda_memory_mb=_int(
                "lambdaMemoryMb", _raw(get, "lambdaMemoryMb", d.lambda_memory_mb), 128, 10240
            ),
            lambda_reserved_concurrency=_reserved(
                _raw(get, "lambdaReservedConcurrency", d.lambda_reserved_concurrency)
            ),
            map_concurrency=_int(
                "mapConcurrency", _raw(get, "mapConcurrency", d.map_concurrency), 1, 40
            ),
            min_accuracy=_fraction("minAccuracy", _raw(get, "minAccuracy", d.min_accuracy)),
            log_retention_days=_retention(_raw(get, "logRetentionDays", d.log_retention_days)),
            feedback_rate_limit=_number(
                "feedbackRateLimit", _raw(get, "feedbackRateLimit", d.feedback_rate_limit)
            ),
            feedback_burst_limit=_int(
                "feedbackBurstLimit", _raw(get, "feedbackBurstLimit", d.feedback_burst_limit)
            ),
            feedback_retention_days=_int(
                "feedbackRetentionDays",
                _raw(get, "feedbackRetentionDays", d.feedback_retention_days),
                1,
                3650,
            ),
            feedback_retrain_schedule=_schedule(get("feedbackRetrainSchedule")),
            base_image=_base_image(get("baseImage")),
            image_source=Path(str(get("imageSource"))) if get("imageSource") else None,
        )


def _raw(get: Any, key: str, default: Any) -> Any:
    value = get(key)
    return default if value is None else value


def _bad(key: str, value: Any, why: str) -> ConfigError:
    return ConfigError(f"context {key}={value!r}: {why}")


def _stage(value: Any) -> str:
    if not isinstance(value, str) or not _STAGE.match(value):
        raise _bad("stage", value, "must be lowercase letters, digits and -, at most 20")
    return value


def _bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise _bad(key, value, "must be true or false")


def _int(key: str, value: Any, low: int = 1, high: int = 2**31 - 1) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        raise _bad(key, value, "must be a whole number") from None
    if isinstance(value, bool) or not low <= number <= high:
        raise _bad(key, value, f"must be a whole number from {low} to {high}")
    return number


def _number(key: str, value: Any) -> float:
    try:
        number = float(str(value).strip())
    except ValueError:
        raise _bad(key, value, "must be a number") from None
    if isinstance(value, bool) or not number > 0 or number == float("inf"):
        raise _bad(key, value, "must be a positive number")
    return number


def _fraction(key: str, value: Any) -> float:
    try:
        number = float(str(value).strip())
    except ValueError:
        raise _bad(key, value, "must be a number between 0 and 1") from None
    if isinstance(value, bool) or not 0 <= number <= 1:
        raise _bad(key, value, "must be between 0 and 1")
    return number


def _reserved(value: Any) -> int | None:
    # Lambda keeps 100 executions unreserved per account, so a new account (often allowed only
    # 10 in all) cannot reserve any: "none" deploys without a reservation.
    if str(value).strip().lower() in ("none", ""):
        return None
    return _int("lambdaReservedConcurrency", value, 1, 1000)


# CloudWatch Logs accepts only these retention periods.
_RETENTIONS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827, 3653)


def _retention(value: Any) -> int:
    days = _int("logRetentionDays", value)
    if days not in _RETENTIONS:
        raise _bad("logRetentionDays", value, f"must be one of {', '.join(map(str, _RETENTIONS))}")
    return days


# EventBridge's two forms: rate(1 day) (singular for 1, plural above) and a six-field cron
# (minutes hours day-of-month month day-of-week year), one of the two days fields `?`.
_RATE = re.compile(r"^rate\((?P<n>[1-9][0-9]*) (?P<unit>minute|hour|day)(?P<plural>s?)\)$")
_CRON = re.compile(r"^cron\((?P<fields>[^()]+)\)$")
_SCHEDULE_HELP = "must be an EventBridge schedule like cron(0 3 * * ? *) or rate(1 day), or empty"


def _schedule(value: Any) -> str | None:
    """Empty or absent: no schedule (the rule is deployed disabled)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = value.strip() if isinstance(value, str) else ""
    rate, cron = _RATE.match(text), _CRON.match(text)
    if rate and (rate["n"] == "1") != bool(rate["plural"]):
        return text
    if cron:
        fields = cron["fields"].split()
        if len(fields) == 6 and [fields[2], fields[4]].count("?") == 1:
            return text
    raise _bad("feedbackRetrainSchedule", value, _SCHEDULE_HELP)


def _origins(value: Any) -> tuple[str, ...]:
    """A list (cdk.json) or a comma-separated or JSON string (`-c corsOrigins=...`)."""
    if isinstance(value, str):
        text = value.strip()
        items: Any = json.loads(text) if text.startswith("[") else text.split(",")
    else:
        items = value
    if not isinstance(items, list | tuple):
        raise _bad("corsOrigins", value, "must be a list of origins like https://example.com")
    return tuple(_origin(str(item).strip()) for item in items if str(item).strip())


def _origin(text: str) -> str:
    parts = urlsplit(text)
    local = parts.hostname in ("localhost", "127.0.0.1")
    scheme_ok = parts.scheme == "https" or (parts.scheme == "http" and local)
    if not scheme_ok or not parts.hostname or parts.path not in ("", "/") or parts.query:
        raise _bad(
            "corsOrigins",
            text,
            "each origin must be https://host[:port] (http only for localhost), no path",
        )
    return f"{parts.scheme}://{parts.netloc}"


def _base_image(value: Any) -> str | None:
    # Passed to the Dockerfiles as BASE_IMAGE; unset keeps their Debian bookworm default.
    if value is None or value == "":
        return None
    if not isinstance(value, str) or any(c.isspace() for c in value):
        raise _bad("baseImage", value, "must be an image reference like debian:bookworm-slim")
    return value


_STACK_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")


def stack_name(value: Any) -> str:
    name = "traygo" if value is None or value == "" else value
    if not isinstance(name, str) or not _STACK_NAME.match(name):
        raise _bad("stackName", value, "must be letters, digits and -, starting with a letter")
    return name
