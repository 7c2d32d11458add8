"""The Batch side: network without NAT, Fargate (Spot first), the job definitions' contract."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from infra.batch_jobs import RETRY_ATTEMPTS, RETRY_ON_REASON, RETRY_ON_STATUS
from tests.infra.conftest import Synthesized, synth


def job_definitions(synthesized: Synthesized) -> dict[str, dict[str, Any]]:
    found = {}
    for logical, res in synthesized.resources("AWS::Batch::JobDefinition").items():
        name = next(n for n in ("Scrape", "Train", "Promote") if logical.startswith(f"Jobs{n}"))
        found[name.lower()] = res["Properties"]
    assert set(found) == {"scrape", "train", "promote"}
    return found


def test_no_nat_gateway_public_subnets_and_an_s3_gateway_endpoint(
    synthesized: Synthesized,
) -> None:
    assert not synthesized.resources("AWS::EC2::NatGateway")
    assert not synthesized.resources("AWS::EC2::EIP")
    subnets = synthesized.resources("AWS::EC2::Subnet").values()
    assert subnets and all(s["Properties"]["MapPublicIpOnLaunch"] for s in subnets)
    _, endpoint = synthesized.one("AWS::EC2::VPCEndpoint")
    assert endpoint["Properties"]["VpcEndpointType"] == "Gateway"
    assert "s3" in str(endpoint["Properties"]["ServiceName"])
    groups = [
        g
        for g in synthesized.resources("AWS::EC2::SecurityGroup").values()
        if "batch jobs" in g["Properties"]["GroupDescription"]
    ]
    assert len(groups) == 1 and "SecurityGroupIngress" not in groups[0]["Properties"]


def test_fargate_spot_first_then_on_demand(synthesized: Synthesized) -> None:
    envs = synthesized.resources("AWS::Batch::ComputeEnvironment")
    kinds = {k: v["Properties"]["ComputeResources"]["Type"] for k, v in envs.items()}
    assert sorted(kinds.values()) == ["FARGATE", "FARGATE_SPOT"]
    _, queue = synthesized.one("AWS::Batch::JobQueue")
    order = {
        e["Order"]: kinds[e["ComputeEnvironment"]["Fn::GetAtt"][0]]
        for e in queue["Properties"]["ComputeEnvironmentOrder"]
    }
    assert order == {1: "FARGATE_SPOT", 2: "FARGATE"}
    for env in envs.values():
        assert env["Properties"]["ComputeResources"]["MaxvCpus"] == 16


@pytest.mark.parametrize(
    ("job", "command"),
    [
        ("scrape", ["scrape", "--query", "Ref::query"]),
        (
            "train",
            ["train", "--label", "Ref::label", "--resume", "--min-accuracy", "Ref::minAccuracy"],
        ),
        ("promote", ["models", "promote", "Ref::label", "--latest", "--if-gate-passed"]),
    ],
)
def test_job_commands_follow_the_batch_contract(
    synthesized: Synthesized, job: str, command: list[str]
) -> None:
    props = job_definitions(synthesized)[job]
    container = props["ContainerProperties"]
    assert container["Command"] == command
    assert props["PlatformCapabilities"] == ["FARGATE"]
    assert container["NetworkConfiguration"] == {"AssignPublicIp": "ENABLED"}
    env = {e["Name"]: e["Value"] for e in container["Environment"]}
    bucket, _ = synthesized.one("AWS::S3::Bucket")
    assert env["TRAYGO_STORE"] == {"Fn::Join": ["", ["s3://", {"Ref": bucket}]]}
    assert container["LogConfiguration"]["LogDriver"] == "awslogs"
    assert props["Timeout"]["AttemptDurationSeconds"] > 0


def test_training_gate_default_comes_from_context(synthesized: Synthesized) -> None:
    assert job_definitions(synthesized)["train"]["Parameters"] == {"minAccuracy": "0.8"}


def test_retries_what_fargate_spot_throws_and_exits_on_the_jobs_own(
    synthesized: Synthesized,
) -> None:
    for props in job_definitions(synthesized).values():
        strategy = props["RetryStrategy"]
        assert strategy["Attempts"] == RETRY_ATTEMPTS
        rules = strategy["EvaluateOnExit"]
        assert len(rules) <= 5  # Batch's limit
        retried = [r for r in rules if r["Action"] == "RETRY"]
        on_reason = [r["OnReason"] for r in retried if "OnReason" in r]
        on_status = [r["OnStatusReason"] for r in retried if "OnStatusReason" in r]
        assert on_reason == list(RETRY_ON_REASON)
        assert on_status == list(RETRY_ON_STATUS)
        # Fargate's start failures are the container's reason; Spot reclaim is the status.
        assert "CannotPullContainerError*" in on_reason
        assert "ResourceInitializationError*" in on_reason
        assert any(s.startswith("Your Spot Task was interrupted") for s in on_status)
        assert not any(s.startswith("Host EC2") for s in on_status)  # EC2 compute only
        # The last rule catches everything else: a job's own failure is not retried.
        assert rules[-1] == {"Action": "EXIT", "OnReason": "*"}
        # Batch matches a trailing * only.
        assert all("*" not in r.rstrip("*") for r in on_reason + on_status)


def test_images_are_assets_from_the_parts_dockerfiles_not_built_at_synth(
    synthesized: Synthesized,
) -> None:
    import json

    manifest = json.loads((synthesized.outdir / "traygo.assets.json").read_text())
    images = manifest["dockerImages"].values()
    files = sorted(img["source"]["dockerFile"] for img in images)
    assert files == ["scraper/Dockerfile", "training/Dockerfile"]
    assert all(img["source"].get("platform") == "linux/amd64" for img in images)
    # Three job definitions, two images: promotion runs on the training image.
    images_used = {
        json.dumps(p["ContainerProperties"]["Image"]) for p in job_definitions(synthesized).values()
    }
    assert len(images_used) == 2


def test_spot_off_means_on_demand_only_with_the_given_limit(tmp_path: Path) -> None:
    on_demand = synth(tmp_path, {"spot": "false", "maxVcpus": "4"})
    envs = on_demand.resources("AWS::Batch::ComputeEnvironment").values()
    assert [e["Properties"]["ComputeResources"]["Type"] for e in envs] == ["FARGATE"]
    assert [e["Properties"]["ComputeResources"]["MaxvCpus"] for e in envs] == [4]
