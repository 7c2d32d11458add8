"""cdk-nag findings reviewed and accepted, each with its reason, on the narrowest construct.

cdk-nag v3 acknowledges each finding by its full id (a wildcard resource is its own finding),
so a new wildcard anywhere still fails the synth until someone reviews it here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_cdk import Acknowledgment, Stack, Validations
from constructs import IConstruct

from traygo import layout

if TYPE_CHECKING:
    from infra.stack import TraygoStack

PREFIX_WILDCARD = (
    "A prefix grant: keys are content hashes and versions made at run time, so a role can only "
    "be scoped to its prefix (see docs/deploy.md, least privilege)."
)
NO_RESOURCE_LEVEL = (
    "These actions do not support resource-level permissions (AWS service authorization "
    "reference), so the resource must be *."
)
PUBLIC_ROUTE = (
    "Public by design: the demo page, health check and OpenAPI document carry no data; "
    "/predict and /models need the API key and are throttled by the usage plan."
)


def suppress_reviewed_findings(stack: TraygoStack) -> None:
    bucket_arn = f"<{_logical_id(stack, stack.storage.bucket)}.Arn>"

    def prefix(construct: IConstruct, *patterns: str) -> None:
        for pattern in patterns:
            _ack(construct, f"AwsSolutions-IAM5[Resource::{bucket_arn}/{pattern}]", PREFIX_WILDCARD)

    images, models = f"{layout.IMAGES}/*", f"{layout.MODELS}/*"
    roles = stack.jobs.roles
    prefix(roles["scrape"], images)
    prefix(roles["train"], images, models)
    prefix(roles["promote"], models, f"{layout.MODELS}/*/live.json")
    prefix(stack.inference.function.role, models)
    for definition in stack.jobs.definitions.values():
        _ack(
            definition.container.execution_role,
            "AwsSolutions-IAM5[Resource::*]",
            "ecr:GetAuthorizationToken: " + NO_RESOURCE_LEVEL,
        )
    machine_role = stack.pipeline.state_machine.role
    _ack(
        machine_role,
        "AwsSolutions-IAM5[Resource::*]",
        "CloudWatch Logs delivery and X-Ray tracing for the state machine: " + NO_RESOURCE_LEVEL,
    )
    _ack(
        machine_role,
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:batch:<AWS::Region>:"
        "<AWS::AccountId>:job-definition/*]",
        "Batch .sync submits the job definition by ARN with its revision, which changes on every "
        "deploy; the job queue is named exactly.",
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


def _ack(construct: IConstruct | None, rule: str, reason: str) -> None:
    if construct is None:
        raise ValueError(f"no construct to acknowledge {rule} on")
    Validations.of(construct).acknowledge(Acknowledgment(id=rule, reason=reason))


def _logical_id(stack: Stack, construct: IConstruct) -> str:
    return str(stack.resolve(stack.get_logical_id(construct.node.default_child)))  # type: ignore[arg-type]
