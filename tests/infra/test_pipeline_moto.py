"""The synthesized state machine, executed by moto's Step Functions over moto's Batch."""

from __future__ import annotations

import datetime
import json
import os
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from tests.infra.conftest import Synthesized
from tests.infra.moto_aws import MotoStack, create_stack_resources, jobs_in, mocked_aws
from traygo.labels import get_label

LABEL = get_label("pizza")
EXECUTION_INPUT = {"label": LABEL.name, "queries": list(LABEL.queries)}


@pytest.fixture
def stack(synthesized: Synthesized, monkeypatch: pytest.MonkeyPatch) -> Iterator[MotoStack]:
    with mocked_aws(monkeypatch):
        yield create_stack_resources(synthesized)


def run_to_end(machine: str, deadline_s: float = 60.0) -> dict[str, Any]:
    sfn = boto3.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=machine, input=json.dumps(EXECUTION_INPUT))[
        "executionArn"
    ]
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        desc = sfn.describe_execution(executionArn=arn)
        if desc["status"] != "RUNNING":
            return desc
        time.sleep(0.1)  # polling for the end, not timing anything
    raise AssertionError(f"{arn} still RUNNING after {deadline_s}s")


def by_definition(stack: MotoStack) -> dict[str, list[dict[str, Any]]]:
    names = {arn: job for job, arn in stack.job_definitions.items()}
    grouped: dict[str, list[dict[str, Any]]] = {job: [] for job in stack.job_definitions}
    for job in jobs_in(stack.queue):
        grouped[names[job["jobDefinition"]]].append(job)
    return grouped


def test_pipeline_scrapes_every_query_trains_and_promotes(stack: MotoStack) -> None:
    result = run_to_end(stack.state_machine)
    assert result["status"] == "SUCCEEDED", result
    jobs = by_definition(stack)
    # First the background pool, if missing (the job decides: a no-op when it is there).
    (background,) = jobs["background"]
    assert background["parameters"] == {"when": "--if-missing"}
    assert background["status"] == "SUCCEEDED"
    assert background["stoppedAt"] <= min(j["createdAt"] for j in jobs["scrape"])
    scraped = sorted(j["parameters"]["query"] for j in jobs["scrape"])
    assert scraped == sorted(LABEL.queries)
    assert [j["parameters"]["label"] for j in jobs["train"]] == ["pizza"]
    assert [j["parameters"]["label"] for j in jobs["promote"]] == ["pizza"]
    # The job definition's default gate travels with the training job.
    assert jobs["train"][0]["parameters"]["minAccuracy"] == "0.8"
    assert all(j["status"] == "SUCCEEDED" for group in jobs.values() for j in group)
    # Training started only after every scrape job had finished.
    last_scrape = max(j["stoppedAt"] for j in jobs["scrape"])
    assert jobs["train"][0]["createdAt"] >= last_scrape


def fail_jobs_of(definition: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's Batch fails the jobs of that definition and runs the others to success."""
    from moto.batch_simple.models import BatchSimpleBackend

    finish = BatchSimpleBackend._mark_job_as_finished

    def fail_those(self: Any, include_start_attempt: bool, job: Any) -> None:
        if job.job_definition.arn != definition:
            finish(self, include_start_attempt, job)
            return
        # moto's documented switch for a failing job, for this job only (no other job runs
        # alongside it: the pipeline's steps run one after another, and these tests fail a
        # step that runs no Map).
        os.environ["MOTO_SIMPLE_BATCH_FAIL_AFTER"] = "0"
        try:
            finish(self, include_start_attempt, job)
        finally:
            del os.environ["MOTO_SIMPLE_BATCH_FAIL_AFTER"]

    monkeypatch.setattr(BatchSimpleBackend, "_mark_job_as_finished", fail_those)


def entered_states(execution_arn: str) -> list[str]:
    history = boto3.client("stepfunctions").get_execution_history(executionArn=execution_arn)
    return [
        e["stateEnteredEventDetails"]["name"]
        for e in history["events"]
        if "stateEnteredEventDetails" in e
    ]


def test_failed_background_pool_fails_the_execution_before_anything_else(
    stack: MotoStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    fail_jobs_of(stack.job_definitions["background"], monkeypatch)
    result = run_to_end(stack.state_machine)
    assert result["status"] == "FAILED"
    assert result["error"] == "BackgroundFailed"
    cause = json.loads(result["cause"])
    assert cause["JobDefinition"] == stack.job_definitions["background"]
    jobs = by_definition(stack)
    assert [j["status"] for j in jobs["background"]] == ["FAILED"]
    assert jobs["scrape"] == jobs["train"] == jobs["promote"] == []
    assert entered_states(result["executionArn"]) == ["ScrapeBackground", "BackgroundFailed"]


def test_failed_training_fails_the_execution_and_promotes_nothing(
    stack: MotoStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    train_definition = stack.job_definitions["train"]
    fail_jobs_of(train_definition, monkeypatch)
    result = run_to_end(stack.state_machine)
    assert result["status"] == "FAILED"
    assert result["error"] == "TrainFailed"
    cause = json.loads(result["cause"])  # the failed job, as Batch described it
    assert cause["JobDefinition"] == train_definition
    assert cause["Status"] == "FAILED"
    jobs = by_definition(stack)
    assert len(jobs["scrape"]) == len(LABEL.queries)
    assert [j["status"] for j in jobs["train"]] == ["FAILED"]
    assert jobs["promote"] == []
    entered = entered_states(result["executionArn"])
    assert "Promote" not in entered
    assert entered[-1] == "TrainFailed"


def test_aborting_an_execution_terminates_its_running_batch_job(
    stack: MotoStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The training job stays RUNNING (as a real one would for hours); `traygo submit abort`
    stops the execution and terminates that job, and leaves the finished scrape jobs alone.

    moto's Step Functions does not itself terminate a `.sync` job on stop (AWS does, given
    batch:TerminateJob: test_iam checks the role has it); this tests our abort path end to end.
    """
    from moto.batch_simple.models import BatchSimpleBackend

    from infra.abort import abort, jobs_started_by

    finish = BatchSimpleBackend._mark_job_as_finished
    train_definition = stack.job_definitions["train"]

    def keep_training_running(self: Any, include_start_attempt: bool, job: Any) -> None:
        if job.job_definition.arn != train_definition:
            finish(self, include_start_attempt, job)
            return
        self.backend._jobs[job.job_id] = job
        job.job_started_at = datetime.datetime.now()
        job._start_attempt()
        job.status = "RUNNING"

    monkeypatch.setattr(BatchSimpleBackend, "_mark_job_as_finished", keep_training_running)
    sfn = boto3.client("stepfunctions")
    arn = sfn.start_execution(
        stateMachineArn=stack.state_machine, input=json.dumps(EXECUTION_INPUT)
    )["executionArn"]
    training = wait_for(lambda: by_definition(stack)["train"])
    assert [j["status"] for j in training] == ["RUNNING"]
    # the job exists a moment before the execution's history records its submission
    wait_for(lambda: training[0]["jobId"] in jobs_started_by(arn))

    terminated = abort(arn, "operator abort in test")

    assert terminated == [training[0]["jobId"]]
    (job,) = by_definition(stack)["train"]
    assert job["statusReason"] == "operator abort in test"  # moto records TerminateJob so

    def ended() -> str | None:
        status = sfn.describe_execution(executionArn=arn)["status"]
        return None if status == "RUNNING" else status

    assert wait_for(ended) == "ABORTED"
    finished = by_definition(stack)
    scrapes = finished["scrape"] + finished["background"]
    assert len(scrapes) == len(LABEL.queries) + 1
    assert all("statusReason" not in j for j in scrapes)  # finished: left alone


def wait_for(probe: Any, deadline_s: float = 60.0) -> Any:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        found = probe()
        if found:
            return found
        time.sleep(0.1)  # polling for a state, not timing anything
    raise AssertionError(f"nothing after {deadline_s}s")
