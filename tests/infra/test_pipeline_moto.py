"""The synthesized state machine, executed by moto's Step Functions over moto's Batch."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest

from tests.infra.conftest import Synthesized
from tests.infra.moto_aws import (
    MotoStack,
    by_definition,
    create_stack_resources,
    entered_states,
    fail_jobs_of,
    keep_running_jobs_of,
    mocked_aws,
    run_to_end,
    wait_for,
)
from traygo.labels import get_label

LABEL = get_label("pizza")
EXECUTION_INPUT = {"label": LABEL.name, "queries": list(LABEL.queries)}


@pytest.fixture
def stack(synthesized: Synthesized, monkeypatch: pytest.MonkeyPatch) -> Iterator[MotoStack]:
    with mocked_aws(monkeypatch):
        yield create_stack_resources(synthesized)


def test_pipeline_scrapes_every_query_trains_and_promotes(stack: MotoStack) -> None:
    result = run_to_end(stack.state_machine, EXECUTION_INPUT)
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


def test_failed_background_pool_fails_the_execution_before_anything_else(
    stack: MotoStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    fail_jobs_of(stack.job_definitions["background"], monkeypatch)
    result = run_to_end(stack.state_machine, EXECUTION_INPUT)
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
    result = run_to_end(stack.state_machine, EXECUTION_INPUT)
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
    from infra.abort import abort, jobs_started_by

    keep_running_jobs_of(stack.job_definitions["train"], monkeypatch)
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
