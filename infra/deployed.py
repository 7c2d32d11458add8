"""What `traygo submit` needs from a deployed stack, read from its CloudFormation outputs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
)

from infra import outputs
from traygo.errors import TraygoError

NO_REGION = (
    "no AWS region set: export AWS_DEFAULT_REGION (e.g. eu-west-1) or set one in your profile"
)


class SubmitError(TraygoError):
    """The deployed stack, AWS access or a submitted job is not as `traygo submit` needs."""


@dataclass(frozen=True)
class Deployed:
    stack: str
    job_queue: str
    job_definitions: dict[str, str]
    state_machine: str
    backbone_pipeline: str
    bucket: str


def client(service: str) -> Any:
    try:
        # a service named at run time; boto3's stubs type only literal service names
        return boto3.client(service)  # type: ignore[call-overload]
    except NoRegionError:
        raise SubmitError(NO_REGION) from None


def find_stack(name: str) -> Deployed:
    """The stack's resources from its outputs; one clear error for every way that fails."""
    with aws_errors(f"reading stack {name!r}"):
        try:
            stacks = client("cloudformation").describe_stacks(StackName=name)["Stacks"]
        except ClientError as exc:
            if "does not exist" in str(exc):
                raise SubmitError(
                    f"stack {name!r} is not deployed in {_region()}: deploy it with "
                    "`npx cdk deploy` (docs/deploy.md) or pass --stack NAME"
                ) from None
            raise
    found = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    needed = [outputs.JOB_QUEUE, outputs.STATE_MACHINE, outputs.BACKBONE_PIPELINE, outputs.BUCKET]
    needed += list(outputs.JOB_DEFINITIONS.values())
    missing = [key for key in needed if key not in found]
    if missing:
        status = stacks[0].get("StackStatus", "?")
        raise SubmitError(
            f"stack {name!r} ({status}) has no output {', '.join(missing)}: "
            "is it a traygo stack, and did its deploy finish? (A stack deployed by an older "
            "traygo lacks the newer outputs: deploy it again.)"
        )
    return Deployed(
        stack=name,
        job_queue=found[outputs.JOB_QUEUE],
        job_definitions={job: found[key] for job, key in outputs.JOB_DEFINITIONS.items()},
        state_machine=found[outputs.STATE_MACHINE],
        backbone_pipeline=found[outputs.BACKBONE_PIPELINE],
        bucket=found[outputs.BUCKET],
    )


@contextmanager
def aws_errors(doing: str) -> Iterator[None]:
    """Turns boto's credential, region and network errors into one line that says what to do."""
    try:
        yield
    except (NoCredentialsError, PartialCredentialsError):
        raise SubmitError(
            f"{doing}: no AWS credentials found; set AWS_PROFILE or "
            "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (see docs/deploy.md)"
        ) from None
    except NoRegionError:
        raise SubmitError(f"{doing}: {NO_REGION}") from None
    except EndpointConnectionError as exc:
        raise SubmitError(f"{doing}: cannot reach AWS ({exc})") from None
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise SubmitError(
            f"{doing}: {error.get('Code', 'error')}: {error.get('Message', exc)}"
        ) from None
    except BotoCoreError as exc:
        raise SubmitError(f"{doing}: {exc}") from None


def _region() -> str:
    return boto3.session.Session().region_name or "the default region"
