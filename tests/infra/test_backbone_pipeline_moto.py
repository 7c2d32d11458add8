"""The synthesized backbone pipeline, executed by moto's Step Functions over moto's Batch."""

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

LABELS = ["pizza", "burger", "salad"]


@pytest.fixture
def stack(synthesized: Synthesized, monkeypatch: pytest.MonkeyPatch) -> Iterator[MotoStack]:
    with mocked_aws(monkeypatch):
        yield create_stack_resources(synthesized)


def test_tunes_then_trains_and_promotes_every_label(stack: MotoStack) -> None:
    result = run_to_end(stack.backbone_pipeline, {"labels": LABELS})
    assert result["status"] == "SUCCEEDED", result
    jobs = by_definition(stack)
    (tune,) = jobs["tune"]
    assert tune["status"] == "SUCCEEDED"
    assert tune["parameters"] == {}  # the definition's command as it is
    assert tune["container"]["command"] == ["backbone", "tune", "--make-current", "--resume"]
    trained = {j["parameters"]["label"]: j for j in jobs["train"]}
    promoted = {j["parameters"]["label"]: j for j in jobs["promote"]}
    assert sorted(trained) == sorted(promoted) == sorted(LABELS)  # each label once
    # The train job definition's default gate travels with each label's job.
    assert all(j["parameters"] == {"label": n, "minAccuracy": "0.8"} for n, j in trained.items())
    assert all(j["parameters"] == {"label": n} for n, j in promoted.items())
    assert all(j["status"] == "SUCCEEDED" for group in jobs.values() for j in group)
    # Heads train only on the tuned backbone; each label is promoted after its own training.
    assert min(j["createdAt"] for j in jobs["train"]) >= tune["stoppedAt"]
    for label in LABELS:
        assert promoted[label]["createdAt"] >= trained[label]["stoppedAt"]
    # The per-label pipeline's other steps are not part of it.
    assert jobs["scrape"] == jobs["background"] == []


def test_failed_tune_ends_in_tune_failed_and_trains_nothing(
    stack: MotoStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tuned backbone no better than its parent fails the job (it publishes, and leaves
    current.json alone): no head may be trained or promoted after it."""
    fail_jobs_of(stack.job_definitions["tune"], monkeypatch)
    result = run_to_end(stack.backbone_pipeline, {"labels": LABELS})
    assert result["status"] == "FAILED"
    assert result["error"] == "TuneFailed"
    cause = json.loads(result["cause"])  # the failed job, as Batch described it
    assert cause["JobDefinition"] == stack.job_definitions["tune"]
    assert cause["Status"] == "FAILED"
    jobs = by_definition(stack)
    assert [j["status"] for j in jobs["tune"]] == ["FAILED"]
    assert jobs["train"] == jobs["promote"] == []
    assert entered_states(result["executionArn"]) == ["Tune", "TuneFailed"]


def test_failed_training_ends_in_train_failed_and_promotes_nothing(
    stack: MotoStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Inside the Map: the label's Fail state fails the Map, and the execution with its error.
    One label, so the failing job runs alone (fail_jobs_of's switch is process-wide)."""
    fail_jobs_of(stack.job_definitions["train"], monkeypatch)
    result = run_to_end(stack.backbone_pipeline, {"labels": ["pizza"]})
    assert result["status"] == "FAILED"
    assert result["error"] == "TrainFailed"
    assert json.loads(result["cause"])["JobDefinition"] == stack.job_definitions["train"]
    jobs = by_definition(stack)
    assert [j["status"] for j in jobs["tune"]] == ["SUCCEEDED"]
    assert [j["status"] for j in jobs["train"]] == ["FAILED"]
    assert jobs["promote"] == []
    entered = entered_states(result["executionArn"])
    assert "Promote" not in entered
    assert "TrainFailed" in entered


def test_aborting_terminates_the_training_jobs_inside_the_map(
    stack: MotoStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`traygo submit abort` finds the jobs the Map's iterations submitted in the execution's
    history, terminates the running ones, and leaves the finished tune job alone."""
    from infra.abort import abort, jobs_started_by

    keep_running_jobs_of(stack.job_definitions["train"], monkeypatch)
    sfn = boto3.client("stepfunctions")
    arn = sfn.start_execution(
        stateMachineArn=stack.backbone_pipeline, input=json.dumps({"labels": LABELS[:2]})
    )["executionArn"]
    training = wait_for(lambda: len(by_definition(stack)["train"]) == 2 and by_definition(stack))
    running = {j["jobId"] for j in training["train"]}
    assert {j["status"] for j in training["train"]} == {"RUNNING"}
    # the jobs exist a moment before the execution's history records their submission
    wait_for(lambda: running <= set(jobs_started_by(arn)))

    terminated = abort(arn, "operator abort in test")

    assert set(terminated) == running
    after = by_definition(stack)
    assert {j["statusReason"] for j in after["train"]} == {"operator abort in test"}
    (tune,) = after["tune"]
    assert tune["status"] == "SUCCEEDED" and "statusReason" not in tune  # finished: left alone

    def ended() -> str | None:
        status = sfn.describe_execution(executionArn=arn)["status"]
        return None if status == "RUNNING" else status

    # AWS says ABORTED. moto 5's interpreter, stopped inside a Map iteration, trips over its own
    # abort event (AttributeError in its iteration worker) and ends the execution FAILED.
    assert wait_for(ended) in {"ABORTED", "FAILED"}
    assert by_definition(stack)["promote"] == []  # nothing went on after the stop
