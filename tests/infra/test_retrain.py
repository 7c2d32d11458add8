"""The scheduled retrain: an EventBridge rule, off by default, that submits the retrain job (the
feedback command, promoting through the gate); checked in the template and recreated in moto."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from infra import outputs
from tests.infra.conftest import Synthesized, synth
from tests.infra.moto_aws import MotoStack, create_stack_resources, mocked_aws
from tests.infra.template_paths import actions, render, resources, statements_of_role

COMMAND = [
    "train",
    "--all-labels",
    "--promote",
    "--if-new-feedback",
    "--min-accuracy",
    "Ref::minAccuracy",
]


def the_rule(synthesized: Synthesized) -> tuple[str, dict[str, Any]]:
    return synthesized.one("AWS::Events::Rule")


def the_target(synthesized: Synthesized) -> dict[str, Any]:
    target: dict[str, Any]
    (target,) = the_rule(synthesized)[1]["Properties"]["Targets"]
    return target


def logical(synthesized: Synthesized, kind: str, prefix: str) -> str:
    (found,) = [k for k in synthesized.resources(kind) if k.startswith(prefix)]
    return found


def role_of(target: dict[str, Any]) -> str:
    """The logical id of the role EventBridge submits with (CDK makes it)."""
    return str(target["RoleArn"]["Fn::GetAtt"][0])


def test_rule_is_deployed_disabled_with_a_nightly_schedule(synthesized: Synthesized) -> None:
    _, rule = the_rule(synthesized)
    assert rule["Properties"]["State"] == "DISABLED"
    assert rule["Properties"]["ScheduleExpression"] == "cron(0 3 * * ? *)"


def test_target_submits_the_retrain_job_to_the_queue(synthesized: Synthesized) -> None:
    target = the_target(synthesized)
    queue = logical(synthesized, "AWS::Batch::JobQueue", "JobsQueue")
    retrain = logical(synthesized, "AWS::Batch::JobDefinition", "JobsRetrainJob")
    assert target["Arn"] == {"Fn::GetAtt": [queue, "JobQueueArn"]}
    assert target["BatchParameters"]["JobDefinition"] == {"Ref": retrain}
    assert "Input" not in target  # the definition's own command, not an override
    definition = synthesized.template["Resources"][retrain]["Properties"]
    assert definition["ContainerProperties"]["Command"] == COMMAND
    assert definition["Parameters"] == {"minAccuracy": "0.8"}
    # No Batch retry override: it would replace the definition's retry-on-infrastructure rules.
    assert "RetryStrategy" not in target["BatchParameters"]
    assert target["RetryPolicy"]["MaximumRetryAttempts"] >= 1


def test_rule_role_may_only_submit_the_retrain_job_to_the_queue(synthesized: Synthesized) -> None:
    role = role_of(the_target(synthesized))
    statements = statements_of_role(synthesized.template, role)
    assert [actions(st) for st in statements] == [["batch:SubmitJob"]]
    queue = logical(synthesized, "AWS::Batch::JobQueue", "JobsQueue")
    retrain = logical(synthesized, "AWS::Batch::JobDefinition", "JobsRetrainJob")
    expected = {f"<{queue}.JobQueueArn>", f"<{retrain}>"}
    assert {render(r) for r in resources(statements[0])} == expected
    trusted = synthesized.template["Resources"][role]["Properties"]["AssumeRolePolicyDocument"]
    assert trusted["Statement"][0]["Principal"] == {"Service": "events.amazonaws.com"}


def test_rule_name_is_a_stack_output(synthesized: Synthesized) -> None:
    rule, _ = the_rule(synthesized)
    assert synthesized.template["Outputs"][outputs.RETRAIN_RULE]["Value"] == {"Ref": rule}


def test_a_schedule_from_context_enables_the_rule(tmp_path: Path) -> None:
    scheduled = synth(tmp_path, {"feedbackRetrainSchedule": "rate(1 day)"})
    _, rule = the_rule(scheduled)
    assert rule["Properties"]["State"] == "ENABLED"
    assert rule["Properties"]["ScheduleExpression"] == "rate(1 day)"


@pytest.fixture
def stack(synthesized: Synthesized, monkeypatch: pytest.MonkeyPatch) -> Iterator[MotoStack]:
    with mocked_aws(monkeypatch):
        yield create_stack_resources(synthesized)


def put_rule_from_template(synthesized: Synthesized, stack: MotoStack) -> str:
    """The rule and its target as CloudFormation would create them, ids resolved to moto's."""
    _, rule = the_rule(synthesized)
    props = rule["Properties"]
    events = boto3.client("events")
    events.put_rule(
        Name="traygo-retrain",
        ScheduleExpression=props["ScheduleExpression"],
        State=props["State"],
        Description=props["Description"],
    )
    (target,) = props["Targets"]
    role = boto3.client("iam").create_role(
        RoleName="traygo-retrain-events", AssumeRolePolicyDocument="{}"
    )["Role"]["Arn"]
    names = {
        logical(synthesized, "AWS::Batch::JobQueue", "JobsQueue"): stack.queue,
        logical(synthesized, "AWS::Batch::JobDefinition", "JobsRetrainJob"): stack.job_definitions[
            "retrain"
        ],
        role_of(target): role,
    }
    resolved = {
        "Id": target["Id"],
        "Arn": render(target["Arn"], names),
        "RoleArn": render(target["RoleArn"], names),
        "RetryPolicy": target["RetryPolicy"],
        "BatchParameters": {k: render(v, names) for k, v in target["BatchParameters"].items()},
    }
    failed = events.put_targets(Rule="traygo-retrain", Targets=[resolved])
    assert failed["FailedEntryCount"] == 0, failed
    return "traygo-retrain"


def test_moto_keeps_the_rule_disabled_and_its_batch_target(
    synthesized: Synthesized, stack: MotoStack
) -> None:
    name = put_rule_from_template(synthesized, stack)
    events = boto3.client("events")
    rule = events.describe_rule(Name=name)
    assert rule["State"] == "DISABLED"
    assert rule["ScheduleExpression"] == "cron(0 3 * * ? *)"
    (target,) = events.list_targets_by_rule(Rule=name)["Targets"]
    assert target["Arn"] == stack.queue
    assert target["BatchParameters"]["JobDefinition"] == stack.job_definitions["retrain"]
    assert target["BatchParameters"]["JobName"] == "traygo-retrain"


def test_the_target_submits_a_job_that_runs_the_retrain_command(
    synthesized: Synthesized, stack: MotoStack
) -> None:
    """What EventBridge does when the rule fires (moto does not fire schedules): SubmitJob with
    the target's queue, definition and name."""
    name = put_rule_from_template(synthesized, stack)
    (target,) = boto3.client("events").list_targets_by_rule(Rule=name)["Targets"]
    batch = boto3.client("batch")
    job_id = batch.submit_job(
        jobName=target["BatchParameters"]["JobName"],
        jobQueue=target["Arn"],
        jobDefinition=target["BatchParameters"]["JobDefinition"],
    )["jobId"]
    (job,) = batch.describe_jobs(jobs=[job_id])["jobs"]
    assert job["jobDefinition"] == stack.job_definitions["retrain"]
    assert job["container"]["command"][:4] == COMMAND[:4]  # not the train job's `--label ...`
