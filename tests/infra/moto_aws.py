"""The deployed stack's Batch and Step Functions side, recreated in moto from the template."""

from __future__ import annotations

import datetime
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from tests.infra.conftest import Synthesized
from tests.infra.template_paths import BACKBONE_PIPELINE, PIPELINE, state_machine_definition

MOTO_CONFIG: Any = {
    "batch": {"use_docker": False},
    "stepfunctions": {"execute_state_machine": True},
}
REGION = "us-east-1"
JOBS = ("scrape", "background", "train", "retrain", "promote", "tune")


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
        self: Any,
        parameters: dict[str, Any],
        boto_service_name: Any = None,
        service_action_name: Any = None,
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
    job_definitions: dict[str, str]  # by job name, each of JOBS
    state_machine: str  # the per-label pipeline
    backbone_pipeline: str  # tune, then every label
    bucket: str


def camel(value: Any) -> Any:
    """CloudFormation's PascalCase properties as the Batch API's camelCase."""
    if isinstance(value, dict):
        return {k[0].lower() + k[1:]: camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [camel(v) for v in value]
    return value


def create_stack_resources(synthesized: Synthesized, name: str = "traygo") -> MotoStack:
    """Queue, the job definitions (from the template) and the state machines, in moto."""
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
        job = next(j for j in JOBS if logical.startswith(f"Jobs{j.title()}"))
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
    machines = {
        prefix: boto3.client("stepfunctions").create_state_machine(
            name=f"{name}-{prefix}",
            definition=json.dumps(state_machine_definition(synthesized.template, names, prefix)),
            roleArn=role,
        )["stateMachineArn"]
        for prefix in (PIPELINE, BACKBONE_PIPELINE)
    }
    bucket = f"{name}-bucket"
    boto3.client("s3").create_bucket(Bucket=bucket)
    return MotoStack(queue, arns, machines[PIPELINE], machines[BACKBONE_PIPELINE], bucket)


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


def run_to_end(machine: str, execution_input: Any, deadline_s: float = 60.0) -> dict[str, Any]:
    """Start an execution and describe it once it has ended."""
    sfn = boto3.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=machine, input=json.dumps(execution_input))[
        "executionArn"
    ]
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        desc = sfn.describe_execution(executionArn=arn)
        if desc["status"] != "RUNNING":
            return dict(desc)
        time.sleep(0.1)  # polling for the end, not timing anything
    raise AssertionError(f"{arn} still RUNNING after {deadline_s}s")


def by_definition(stack: MotoStack) -> dict[str, list[dict[str, Any]]]:
    """The queue's jobs by job name (scrape, train, ...)."""
    names = {arn: job for job, arn in stack.job_definitions.items()}
    grouped: dict[str, list[dict[str, Any]]] = {job: [] for job in stack.job_definitions}
    for job in jobs_in(stack.queue):
        grouped[names[job["jobDefinition"]]].append(job)
    return grouped


def fail_jobs_of(definition: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's Batch fails the jobs of that definition and runs the others to success."""
    from moto.batch_simple.models import BatchSimpleBackend

    finish = BatchSimpleBackend._mark_job_as_finished

    def fail_those(self: Any, include_start_attempt: bool, job: Any) -> None:
        if job.job_definition.arn != definition:
            finish(self, include_start_attempt, job)
            return
        # moto's documented switch for a failing job, for this job only (no other job may run
        # alongside it: the tests that use this run no Map of several items at that step).
        os.environ["MOTO_SIMPLE_BATCH_FAIL_AFTER"] = "0"
        try:
            finish(self, include_start_attempt, job)
        finally:
            del os.environ["MOTO_SIMPLE_BATCH_FAIL_AFTER"]

    monkeypatch.setattr(BatchSimpleBackend, "_mark_job_as_finished", fail_those)


def keep_running_jobs_of(definition: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's Batch leaves the jobs of that definition RUNNING (as a real training job stays
    for hours) and runs the others to success."""
    from moto.batch_simple.models import BatchSimpleBackend

    finish = BatchSimpleBackend._mark_job_as_finished

    def keep_running(self: Any, include_start_attempt: bool, job: Any) -> None:
        if job.job_definition.arn != definition:
            finish(self, include_start_attempt, job)
            return
        self.backend._jobs[job.job_id] = job
        job.job_started_at = datetime.datetime.now()
        job._start_attempt()
        job.status = "RUNNING"

    monkeypatch.setattr(BatchSimpleBackend, "_mark_job_as_finished", keep_running)


def entered_states(execution_arn: str) -> list[str]:
    history = boto3.client("stepfunctions").get_execution_history(executionArn=execution_arn)
    return [
        e["stateEnteredEventDetails"]["name"]
        for e in history["events"]
        if "stateEnteredEventDetails" in e
    ]


def wait_for(probe: Callable[[], Any], deadline_s: float = 60.0) -> Any:
    """The probe's first truthy answer."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        found = probe()
        if found:
            return found
        time.sleep(0.1)  # polling for a state, not timing anything
    raise AssertionError(f"nothing after {deadline_s}s")
