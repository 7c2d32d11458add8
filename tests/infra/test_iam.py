"""Least privilege: each role's S3 actions and prefixes, and no wildcard action anywhere."""

from __future__ import annotations

from typing import Any

import pytest

from infra.batch_jobs import BACKBONE_CHECKPOINTS
from tests.infra.conftest import Synthesized
from tests.infra.template_paths import (
    STATE_MACHINES,
    actions,
    render,
    resources,
    statements_of_role,
)
from traygo import layout

# Actions that AWS lets no policy scope to a resource (so `*` is the only resource possible).
UNSCOPABLE = {
    "ecr:GetAuthorizationToken",
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "batch:DescribeJobs",
}


def s3_grants(statements: list[dict[str, Any]]) -> dict[str, set[str]]:
    """{resource as text: actions} for the S3 statements, denies prefixed with DENY."""
    grants: dict[str, set[str]] = {}
    for st in statements:
        s3_actions = [a for a in actions(st) if a.startswith("s3:")]
        for res in resources(st):
            key = ("DENY " if st["Effect"] == "Deny" else "") + render(res)
            grants.setdefault(key, set()).update(s3_actions)
    return {k: v for k, v in grants.items() if v}


@pytest.fixture(scope="module")
def bucket(synthesized: Synthesized) -> str:
    logical, _ = synthesized.one("AWS::S3::Bucket")
    return f"<{logical}.Arn>"


def test_no_wildcard_actions_and_no_star_resources_beyond_unscopable(
    synthesized: Synthesized,
) -> None:
    for res in synthesized.resources("AWS::IAM::Policy").values():
        for st in res["Properties"]["PolicyDocument"]["Statement"]:
            for action in actions(st):
                assert "*" not in action, st
            if "*" in resources(st):
                assert set(actions(st)) <= UNSCOPABLE, st


def test_scraper_writes_images_only(synthesized: Synthesized, bucket: str) -> None:
    grants = s3_grants(statements_of_role(synthesized.template, "JobsScrapeJobRole"))
    assert grants == {
        bucket: {"s3:ListBucket"},
        f"{bucket}/images/*": {"s3:GetObject", "s3:PutObject"},
    }


def test_training_creates_versions_once_and_never_moves_the_live_pointer(
    synthesized: Synthesized, bucket: str
) -> None:
    statements = statements_of_role(synthesized.template, "JobsTrainJobRole")
    create_only = [st for st in statements if st.get("Condition")]
    assert s3_grants([st for st in statements if not st.get("Condition")]) == {
        bucket: {"s3:ListBucket"},
        f"{bucket}/images/*": {"s3:GetObject"},
        f"{bucket}/models/*": {"s3:GetObject"},
        f"{bucket}/backbones/*": {"s3:GetObject"},
        f"{bucket}/features/*": {"s3:GetObject"},
        f"{bucket}/feedback/*": {"s3:GetObject"},  # the canteen's corrections: read only
        f"{bucket}/models/*/_checkpoints/*": {"s3:PutObject", "s3:DeleteObject"},
        f"{bucket}/backbones/current.json": {"s3:PutObject"},
        f"DENY {bucket}/models/*/live.json": {"s3:PutObject", "s3:DeleteObject"},
    }
    # Versions, backbones and features: PutObject only with If-None-Match, so S3 refuses (412)
    # to replace an existing key; and no delete at all outside the checkpoints.
    (statement,) = create_only
    assert statement["Effect"] == "Allow"
    assert statement["Condition"] == {"Null": {"s3:if-none-match": "false"}}
    assert s3_grants(create_only) == {
        f"{bucket}/{prefix}/*": {"s3:PutObject"} for prefix in ("models", "backbones", "features")
    }
    every_action = {a for st in statements if st["Effect"] == "Allow" for a in actions(st)}
    assert "s3:DeleteObjectVersion" not in every_action


def test_the_scheduled_retrain_trains_like_training_and_moves_live_pointers(
    synthesized: Synthesized, bucket: str
) -> None:
    train = statements_of_role(synthesized.template, "JobsTrainJobRole")
    retrain = statements_of_role(synthesized.template, "JobsRetrainJobRole")
    allowed = [st for st in train if st["Effect"] == "Allow"]
    assert [st for st in retrain if st not in allowed] == [
        st
        for st in retrain
        if s3_grants([st]) == {f"{bucket}/models/*/live.json": {"s3:PutObject"}}
    ]
    assert all(st in retrain for st in allowed)  # nothing of training's is missing
    assert all(st["Effect"] == "Allow" for st in retrain)


def test_backbone_tuning_creates_backbones_once_and_touches_no_model(
    synthesized: Synthesized, bucket: str
) -> None:
    statements = statements_of_role(synthesized.template, "JobsTuneJobRole")
    assert all(st["Effect"] == "Allow" for st in statements)
    create_only = [st for st in statements if st.get("Condition")]
    assert s3_grants([st for st in statements if not st.get("Condition")]) == {
        bucket: {"s3:ListBucket"},
        f"{bucket}/images/*": {"s3:GetObject"},  # the labels' pictures and the pool
        f"{bucket}/backbones/*": {"s3:GetObject"},
        # its scratch space: the only prefix it may delete in
        f"{bucket}/backbones/_checkpoints/*": {"s3:PutObject", "s3:DeleteObject"},
        f"{bucket}/backbones/current.json": {"s3:PutObject"},  # --make-current
    }
    assert layout.backbone_checkpoint_prefix("job-id").startswith(BACKBONE_CHECKPOINTS)
    # A new backbone version: PutObject only with If-None-Match.
    (statement,) = create_only
    assert statement["Condition"] == {"Null": {"s3:if-none-match": "false"}}
    assert s3_grants(create_only) == {f"{bucket}/backbones/*": {"s3:PutObject"}}
    # No model, no live pointer, not even a read: heads are the train and promote jobs' work;
    # no features or corrections either (it computes features in memory, tunes on web pictures)
    touched = {res for st in statements for res in map(render, resources(st))}
    assert not [res for res in touched if "/models/" in res or res.endswith("live.json")]
    assert not [res for res in touched if "/features/" in res or "/feedback/" in res]
    every_action = {a for st in statements for a in actions(st)}
    assert every_action == {"s3:ListBucket", "s3:GetObject", "s3:PutObject", "s3:DeleteObject"}


def test_promotion_only_moves_live_pointers(synthesized: Synthesized, bucket: str) -> None:
    grants = s3_grants(statements_of_role(synthesized.template, "JobsPromoteJobRole"))
    assert grants == {
        bucket: {"s3:ListBucket"},
        f"{bucket}/models/*": {"s3:GetObject"},
        f"{bucket}/models/*/live.json": {"s3:PutObject"},
    }


def test_lambda_reads_models_and_writes_only_new_feedback(
    synthesized: Synthesized, bucket: str
) -> None:
    statements = statements_of_role(synthesized.template, "InferenceFunctionRole")
    create_only = [st for st in statements if st.get("Condition")]
    assert s3_grants([st for st in statements if not st.get("Condition")]) == {
        bucket: {"s3:ListBucket"},
        f"{bucket}/models/*": {"s3:GetObject"},
        f"{bucket}/backbones/*": {"s3:GetObject"},
        # a repeated correction reads its record back
        f"{bucket}/feedback/records/*": {"s3:GetObject"},
    }
    # POST /feedback: pictures and records, created once (If-None-Match), never replaced.
    (statement,) = create_only
    assert statement["Effect"] == "Allow"
    assert statement["Condition"] == {"Null": {"s3:if-none-match": "false"}}
    assert s3_grants(create_only) == {f"{bucket}/feedback/*": {"s3:PutObject"}}
    writes = {
        a
        for st in statements
        for a in actions(st)
        if st["Effect"] == "Allow" and a.startswith("s3:") and a not in ("s3:GetObject",)
    }
    assert writes == {"s3:ListBucket", "s3:PutObject"}  # no delete, no tagging, no ACL
    others = {a for st in statements for a in actions(st) if not a.startswith("s3:")}
    assert others == {"logs:CreateLogStream", "logs:PutLogEvents"}
    # No managed policy either (AWSLambdaBasicExecutionRole would allow every log group).
    role = synthesized.template["Resources"][
        next(k for k in synthesized.resources("AWS::IAM::Role") if k.startswith("InferenceFunc"))
    ]
    assert "ManagedPolicyArns" not in role["Properties"]


MACHINE_ROLES = [f"{machine}Role" for machine in STATE_MACHINES]


@pytest.mark.parametrize("role", MACHINE_ROLES)
def test_state_machine_submits_only_to_its_queue(synthesized: Synthesized, role: str) -> None:
    statements = statements_of_role(synthesized.template, role)
    submit = [st for st in statements if "batch:SubmitJob" in actions(st)]
    assert len(submit) == 1
    targets = {render(r) for r in resources(submit[0])}
    queue, _ = synthesized.one("AWS::Batch::JobQueue")
    assert f"<{queue}.JobQueueArn>" in targets
    assert all(t.endswith(":job-definition/*") or "JobQueue" in t for t in targets)


@pytest.mark.parametrize("role", MACHINE_ROLES)
def test_state_machine_can_follow_and_terminate_what_it_started(
    synthesized: Synthesized, role: str
) -> None:
    """`.sync` Batch: without DescribeJobs and TerminateJob an aborted or timed-out execution
    leaves its jobs running; the events rule is how Step Functions hears that a job ended."""
    statements = statements_of_role(synthesized.template, role)
    by_action = {a: {render(r) for r in resources(st)} for st in statements for a in actions(st)}
    batch = "arn:<AWS::Partition>:batch:<AWS::Region>:<AWS::AccountId>"
    assert by_action["batch:TerminateJob"] == {f"{batch}:job/*"}
    assert by_action["batch:DescribeJobs"] == {"*"}
    rule = "StepFunctionsGetEventsForBatchJobsRule"
    for action in ("events:PutTargets", "events:PutRule", "events:DescribeRule"):
        (target,) = by_action[action]
        assert target.endswith(f":rule/{rule}")
