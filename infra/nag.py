"""cdk-nag findings reviewed and accepted, each with its reason, on the narrowest construct.

cdk-nag v3 acknowledges each finding by its full id (a wildcard resource is its own finding),
so a new wildcard anywhere still fails the synth until someone reviews it here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aws_cdk import Acknowledgment, Stack, Validations
from constructs import IConstruct

from traygo import layout

if TYPE_CHECKING:
    from infra.stack import TraygoStack

PREFIX_WILDCARD = (
    "keys (content hashes, versions, shards) are made at run time, so only a prefix fits"
)
NO_RESOURCE_LEVEL = (
    "these actions do not support resource-level permissions (AWS service authorization "
    "reference), so the resource must be *"
)
PUBLIC_ROUTE = (
    "Public by design: the demo page, health check and OpenAPI document carry no data; "
    "/predict and /models need the API key and are throttled by the usage plan."
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


def suppress_reviewed_findings(stack: TraygoStack) -> None:
    bucket = f"<{_logical_id(stack, stack.storage.bucket)}.Arn>"

    def on(prefix: str) -> str:
        return f"{bucket}/{prefix}"

    images, models = f"{layout.IMAGES}/*", f"{layout.MODELS}/*"
    backbones, features = f"{layout.BACKBONES}/*", f"{layout.FEATURES}/*"
    read = ("s3:GetObject",)
    write_once = ("s3:PutObject",)
    roles = stack.jobs.roles
    _grant(roles["scrape"], Grant(on(images), ("s3:GetObject", "s3:PutObject")), PREFIX_WILDCARD)
    for prefix in (models, backbones, features):
        _grant(roles["train"], Grant(on(prefix), read, write_once), PREFIX_WILDCARD)
    _grant(roles["train"], Grant(on(images), read), PREFIX_WILDCARD)
    _grant(
        roles["train"],
        Grant(on(f"{layout.MODELS}/*/_checkpoints/*"), ("s3:DeleteObject", "s3:PutObject")),
        "its runs' scratch space (run ids are Batch job ids); published versions are not in it",
    )
    _grant(roles["promote"], Grant(on(models), read), PREFIX_WILDCARD)
    _grant(
        roles["promote"],
        Grant(on(f"{layout.MODELS}/*/live.json"), ("s3:PutObject",)),
        "one live pointer per label, and labels are configuration, not known to the stack",
    )
    for prefix in (models, backbones):
        _grant(stack.inference.function.role, Grant(on(prefix), read), PREFIX_WILDCARD)
    for definition in stack.jobs.definitions.values():
        _grant(
            definition.container.execution_role,
            Grant("*", ("ecr:GetAuthorizationToken",)),
            NO_RESOURCE_LEVEL,
        )
    machine_role = stack.pipeline.state_machine.role
    _grant(
        machine_role,
        Grant("*", (*LOG_DELIVERY, *XRAY, "batch:DescribeJobs")),
        "CloudWatch Logs delivery, X-Ray tracing and following its Batch jobs: "
        + NO_RESOURCE_LEVEL,
    )
    batch_arn = "arn:<AWS::Partition>:batch:<AWS::Region>:<AWS::AccountId>"
    _grant(
        machine_role,
        Grant(f"{batch_arn}:job-definition/*", ("batch:SubmitJob",)),
        "CDK's .sync grant: the definition's ARN carries a revision that changes on every "
        "deploy; SubmitJob also needs the queue, and only this stack's queue is granted",
    )
    _grant(
        machine_role,
        Grant(f"{batch_arn}:job/*", ("batch:TerminateJob",)),
        "job ids are made at submit time; Step Functions terminates the jobs its execution "
        "started when the execution is stopped or a task times out",
    )
    _ack(
        stack.storage.bucket,
        "AwsSolutions-S1",
        "One bucket by design; request auditing is CloudTrail data events (docs/deploy.md), "
        "which needs no second, unprotected log bucket.",
    )
    api = stack.inference.api
    _ack(
        stack.inference.function,
        "AwsSolutions-L1",
        "The bundle is built for python3.12 (contract 4: manylinux wheels for that version); "
        "move to a newer runtime together with build-bundle.sh.",
    )
    _ack(
        api,
        "AwsSolutions-APIG2",
        "The Lambda validates every request (JSON, base64, image type and size) and answers "
        "typed 4xx errors; a gateway model cannot describe raw image bodies.",
    )
    _ack(
        api.node.find_child("CloudWatchRole"),
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
        "AmazonAPIGatewayPushToCloudWatchLogs]",
        "API Gateway's account-wide logging role; AWS's policy is the documented one for it.",
    )
    _ack(
        api.deployment_stage,
        "AwsSolutions-APIG3",
        "WAF costs at least $5 a month plus $1 per rule; the usage plan's throttle and quota "
        "bound abuse. Add a web ACL for public production use.",
    )
    for route, method in stack.inference.methods.items():
        reason = (
            "The API key and usage plan authorize callers (a machine-to-machine API, no users)."
            if route in stack.inference.keyed_methods
            else PUBLIC_ROUTE
        )
        _ack(method, "AwsSolutions-APIG4", f"{route}: {reason}")
        _ack(method, "AwsSolutions-COG4", f"{route}: {reason}")


def _grant(construct: IConstruct | None, grant: Grant, why: str) -> None:
    _ack(construct, f"AwsSolutions-IAM5[Resource::{grant.resource}]", f"{grant.claim()}: {why}.")


def _ack(construct: IConstruct | None, rule: str, reason: str) -> None:
    if construct is None:
        raise ValueError(f"no construct to acknowledge {rule} on")
    Validations.of(construct).acknowledge(Acknowledgment(id=rule, reason=reason))


def _logical_id(stack: Stack, construct: IConstruct) -> str:
    return str(stack.resolve(stack.get_logical_id(construct.node.default_child)))  # type: ignore[arg-type]
