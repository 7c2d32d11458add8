"""Shared pieces for acknowledging reviewed cdk-nag findings: reason texts and the helpers.

Each construct acknowledges its own findings, on the narrowest construct, next to the
resources they excuse. cdk-nag v3 acknowledges each finding by its full id (a wildcard
resource is its own finding), so a new wildcard anywhere still fails the synth until someone
reviews it there. This module imports nothing from the constructs or the stack.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from aws_cdk import Acknowledgment, Stack, Validations
from constructs import IConstruct

PREFIX_WILDCARD = (
    "keys (content hashes, versions, shards) are made at run time, so only a prefix fits"
)
NO_RESOURCE_LEVEL = (
    "these actions do not support resource-level permissions (AWS service authorization "
    "reference), so the resource must be *"
)
PUBLIC_ROUTE = (
    "Public by design: the demo page, health check and OpenAPI document carry no data; "
    "/predict, /feedback and /models need the API key and are throttled by the usage plan."
)
# What CDK grants a state machine for logging to CloudWatch Logs and for X-Ray tracing.
LOG_DELIVERY = (
    "logs:CreateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:DescribeLogGroups",
    "logs:DescribeResourcePolicies",
    "logs:GetLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:UpdateLogDelivery",
)
XRAY = (
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "xray:PutTelemetryRecords",
    "xray:PutTraceSegments",
)
CREATE_ONLY = "only with If-None-Match (create, never replace)"
# How cdk-nag renders this stack's account, region and partition inside an ARN.
STACK_ARN = "arn:<AWS::Partition>:{service}:<AWS::Region>:<AWS::AccountId>"


@dataclass(frozen=True)
class Grant:
    """What a policy allows on one wildcard resource: the claim each IAM5 reason starts with,
    which tests/infra/test_nag_reasons.py checks against the synthesized policy."""

    resource: str  # as cdk-nag renders it, e.g. "<Bucket.Arn>/models/*" or "*"
    actions: tuple[str, ...]
    create_only: tuple[str, ...] = ()  # allowed only on requests carrying If-None-Match

    def claim(self) -> str:
        return describe_grant(self.actions, self.create_only)


def describe_grant(actions: Iterable[str], create_only: Iterable[str] = ()) -> str:
    parts = [", ".join(sorted(actions))] if actions else []
    if create_only:
        parts.append(f"{', '.join(sorted(create_only))} {CREATE_ONLY}")
    return "allows " + "; ".join(parts)


def acknowledge_grant(construct: IConstruct | None, grant: Grant, why: str) -> None:
    """Accept the IAM5 wildcard finding for `grant`; the reason starts with its claim."""
    acknowledge(
        construct, f"AwsSolutions-IAM5[Resource::{grant.resource}]", f"{grant.claim()}: {why}."
    )


def acknowledge(construct: IConstruct | None, rule: str, reason: str) -> None:
    if construct is None:
        raise ValueError(f"no construct to acknowledge {rule} on")
    Validations.of(construct).acknowledge(Acknowledgment(id=rule, reason=reason))


def rendered_arn(construct: IConstruct) -> str:
    """The ARN of a resource as cdk-nag renders it in a finding's id: <LogicalId.Arn>."""
    stack = Stack.of(construct)
    logical_id = stack.resolve(stack.get_logical_id(construct.node.default_child))  # type: ignore[arg-type]
    return f"<{logical_id}.Arn>"
