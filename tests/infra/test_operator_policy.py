"""docs/operator-iam.json grants what `traygo submit`, `abort`, `models promote` and `backbone
rollback` call."""

from __future__ import annotations

import json
from pathlib import Path

from tests.infra.conftest import Synthesized
from tests.infra.template_paths import STATE_MACHINES

DOC = Path(__file__).resolve().parents[2] / "docs" / "operator-iam.json"

# The AWS calls infra/cli.py, infra/abort.py, infra/deployed.py and the registry make.
NEEDED = {
    "cloudformation:DescribeStacks",
    "batch:SubmitJob",
    "batch:DescribeJobs",
    "batch:TerminateJob",
    "states:StartExecution",
    "states:DescribeExecution",
    "states:GetExecutionHistory",
    "states:StopExecution",
    "s3:ListBucket",
    "s3:GetObject",
    "s3:PutObject",
    "apigateway:GET",
    "sts:AssumeRole",
}


def granted() -> dict[str, list[str]]:
    policy = json.loads(DOC.read_text())
    found: dict[str, list[str]] = {}
    for st in policy["Statement"]:
        assert st["Effect"] == "Allow"
        acts = [st["Action"]] if isinstance(st["Action"], str) else st["Action"]
        res = [st["Resource"]] if isinstance(st["Resource"], str) else st["Resource"]
        for action in acts:
            assert "*" not in action, action
            found.setdefault(action, []).extend(res)
    return found


def test_operator_policy_covers_every_call_and_no_wildcard_action() -> None:
    assert set(granted()) >= NEEDED


def test_operator_writes_only_live_pointers_and_star_only_where_aws_requires_it() -> None:
    grants = granted()
    assert grants["s3:PutObject"] == [  # promote/rollback, and `traygo backbone rollback`
        "arn:aws:s3:::BUCKET_NAME/models/*/live.json",
        "arn:aws:s3:::BUCKET_NAME/backbones/current.json",
    ]
    stars = {action for action, res in grants.items() if "*" in res}
    assert stars == {"batch:DescribeJobs"}


def test_operator_starts_follows_and_aborts_every_state_machine(synthesized: Synthesized) -> None:
    """CloudFormation names a state machine after its logical id (plus a suffix), so each of
    the stack's machines must match a `<LogicalIdPrefix>*` pattern of the policy."""
    grants = granted()
    states = "arn:aws:states:REGION:ACCOUNT_ID"
    logical_ids = list(synthesized.resources("AWS::StepFunctions::StateMachine"))
    assert len(logical_ids) == len(STATE_MACHINES) == 2
    for prefix in STATE_MACHINES:
        (logical,) = [k for k in logical_ids if k.startswith(prefix)]
        assert f"{states}:stateMachine:{prefix}*" in grants["states:StartExecution"], logical
        for action in (
            "states:DescribeExecution",
            "states:GetExecutionHistory",
            "states:StopExecution",
        ):
            assert f"{states}:execution:{prefix}*:*" in grants[action], (logical, action)
