"""The deployed stack's Batch and Step Functions side, recreated in moto from the template."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from tests.infra.conftest import Synthesized
from tests.infra.template_paths import state_machine_definition

MOTO_CONFIG: Any = {
    "batch": {"use_docker": False},
    "stepfunctions": {"execute_state_machine": True},
}
REGION = "us-east-1"


def _operation(task: Any, service: str | None, action: str | None) -> Any:
    import botocore.session

    name = action or task.resource.api_action
    name = "".join(p[:1].upper() + p[1:] for p in name.split("_"))
    model = botocore.session.get_session().get_service_model(task._get_boto_service_name(service))
    return model.operation_model(name)


def _poll_sync_tasks_sooner(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's Step Functions checks a `.sync` task's Batch job every 0.5 s, so each step of an
    execution took about that long; its jobs finish at once, so look every 20 ms."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_callback as callback,
    )

    monkeypatch.setattr(callback, "_DELAY_SECONDS_SYNC_CONDITION_CHECK", 0.02)


def _patch_sfn_batch_casing(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto 5.2.5 ships Step Functions' request/response case mapping as a no-op, so a
    `batch:submitJob.sync` task sends `JobDefinition` where Batch's API says `jobDefinition`
    (KeyError) and then reads `JobId` from a `jobId` reply. These two methods do what the
    interpreter moto took them from (LocalStack) does, and what AWS does: map the state's
    PascalCase fields to the service's shapes and back.
    """
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_batch as batch_task,
    )

    def parameters(
        self: Any, parameters: dict, boto_service_name: Any = None, service_action_name: Any = None
    ) -> None:
        op = _operation(self, boto_service_name, service_action_name)
        self._to_boto_request(parameters, op.input_shape)

    def response(
        self: Any, response: Any, boto_service_name: Any = None, service_action_name: Any = None
    ) -> None:
        op = _operation(self, boto_service_name, service_action_name)
        self._from_boto_response(response, op.output_shape)

    cls = batch_task.StateTaskServiceBatch
    monkeypatch.setattr(cls, "_normalise_parameters", parameters)
    monkeypatch.setattr(cls, "_normalise_response", response)


@contextmanager
def mocked_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto in-process (its Step Functions interpreter calls Batch through the same stub)."""
    from moto import mock_aws

    _patch_sfn_batch_casing(monkeypatch)
    _poll_sync_tasks_sooner(monkeypatch)
    import traygo.store.s3 as s3_store

    # A session another test made may hold its endpoint and credentials: start afresh.
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    monkeypatch.setattr(s3_store._local, "client", None, raising=False)  # the store's S3 client
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    with mock_aws(config=MOTO_CONFIG):
        yield


@dataclass(frozen=True)
class MotoStack:
    queue: str
    job_definitions: dict[str, str]  # "scrape" | "background" | "train" | "retrain" | "promote"
    state_machine: str
    bucket: str


def camel(value: Any) -> Any:
    """CloudFormation's PascalCase properties as the Batch API's camelCase."""
    if isinstance(value, dict):
        return {k[0].lower() + k[1:]: camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [camel(v) for v in value]
    return value


def create_stack_resources(synthesized: Synthesized, name: str = "traygo") -> MotoStack:
    """Queue, the job definitions (from the template) and the state machine, in moto."""
    iam = boto3.client("iam")
    role = iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument="{}", Path="/")[
        "Role"
    ]["Arn"]
    batch = boto3.client("batch")
    env = batch.create_compute_environment(
        computeEnvironmentName=f"{name}-env", type="UNMANAGED", state="ENABLED", serviceRole=role
    )["computeEnvironmentArn"]
    queue_id, _ = synthesized.one("AWS::Batch::JobQueue")
    queue = batch.create_job_queue(
        jobQueueName=f"{name}-queue",
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": env}],
    )["jobQueueArn"]
    names: dict[str, str] = {"AWS::Partition": "aws", "AWS::Region": REGION, queue_id: queue}
    arns = {}
    for logical, res in synthesized.resources("AWS::Batch::JobDefinition").items():
        job = next(
            j
            for j in ("scrape", "background", "train", "retrain", "promote")
            if logical.startswith(f"Jobs{j.title()}")
        )
        props = res["Properties"]
        container = props["ContainerProperties"]
        arn = batch.register_job_definition(
            jobDefinitionName=f"{name}-{job}",
            type="container",
            parameters=props.get("Parameters", {}),
            retryStrategy=camel(props["RetryStrategy"]),
            timeout=camel(props["Timeout"]),
            containerProperties={
                "image": f"traygo-{job}:test",
                "command": container["Command"],
                "resourceRequirements": camel(container["ResourceRequirements"]),
            },
        )["jobDefinitionArn"]
        names[logical] = arns[job] = arn
    definition = state_machine_definition(synthesized.template, names)
    import json

    machine = boto3.client("stepfunctions").create_state_machine(
        name=f"{name}-pipeline", definition=json.dumps(definition), roleArn=role
    )["stateMachineArn"]
    bucket = f"{name}-bucket"
    boto3.client("s3").create_bucket(Bucket=bucket)
    return MotoStack(queue, arns, machine, bucket)


def jobs_in(queue: str) -> list[dict[str, Any]]:
    """Every job submitted to the queue, whatever its status, with its details."""
    batch = boto3.client("batch")
    ids = [
        j["jobId"]
        for status in (
            "SUBMITTED",
            "PENDING",
            "RUNNABLE",
            "STARTING",
            "RUNNING",
            "SUCCEEDED",
            "FAILED",
        )
        for j in batch.list_jobs(jobQueue=queue, jobStatus=status)["jobSummaryList"]
    ]
    return batch.describe_jobs(jobs=ids)["jobs"] if ids else []
