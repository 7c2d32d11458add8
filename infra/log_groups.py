"""CloudWatch log groups with the stack's retention (CloudWatch takes only certain periods)."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs
from constructs import Construct

_BY_DAYS = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}


def log_group(
    scope: Construct, construct_id: str, days: int, name: str | None = None
) -> logs.LogGroup:
    # Logs go with the stack; the bucket (the data) is what is kept.
    return logs.LogGroup(
        scope,
        construct_id,
        log_group_name=name,
        retention=_BY_DAYS[days],
        removal_policy=RemovalPolicy.DESTROY,
    )


def vended_logs_name(service: str, stack_name: str, part: str) -> str:
    """/aws/vendedlogs/<service>/...: CloudWatch Logs then needs no resource-policy entry per
    log group (that policy has a 5,120-character limit per account and region)."""
    return f"/aws/vendedlogs/{service}/{stack_name}-{part}"
