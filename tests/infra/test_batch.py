"""The Batch side: network without NAT, Fargate (Spot first), the job definitions' contract."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from infra.batch_jobs import RETRY_ATTEMPTS, RETRY_ON_REASON, RETRY_ON_STATUS
from infra.timeouts import JOB_TIMEOUTS, POOL_QUERY_TIME
from tests.infra.conftest import Synthesized, synth
from traygo.labels import load_background

JOBS = ("Scrape", "Background", "Train", "Retrain", "Promote", "Tune")


def job_definitions(synthesized: Synthesized) -> dict[str, dict[str, Any]]:
    found = {}
    for logical, res in synthesized.resources("AWS::Batch::JobDefinition").items():
        name = next(n for n in JOBS if logical.startswith(f"Jobs{n}"))
        found[name.lower()] = res["Properties"]
    assert set(found) == {job.lower() for job in JOBS}
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
        ("background", ["scrape", "--background", "Ref::when"]),
        (
            "train",
            ["train", "--label", "Ref::label", "--resume", "--min-accuracy", "Ref::minAccuracy"],
        ),
        ("promote", ["models", "promote", "Ref::label", "--latest", "--if-gate-passed"]),
        ("tune", ["backbone", "tune", "--make-current", "--resume"]),
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
    found = job_definitions(synthesized)
    for name in ("train", "retrain"):  # the scheduled retrain gates like the pipeline
        assert found[name]["Parameters"] == {"minAccuracy": "0.8"}
        assert "Ref::minAccuracy" in found[name]["ContainerProperties"]["Command"]


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
    # Six job definitions, two images: the background pool runs on the scraper's image,
    # promotion and backbone tuning on the training image.
    found = job_definitions(synthesized)
    image = {job: json.dumps(p["ContainerProperties"]["Image"]) for job, p in found.items()}
    assert len(set(image.values())) == 2
    assert image["background"] == image["scrape"] and image["promote"] == image["train"]
    assert image["tune"] == image["train"]


def test_tune_job_has_trainings_resources_its_own_role_and_timeout(
    synthesized: Synthesized,
) -> None:
    found = job_definitions(synthesized)
    tune = found["tune"]
    requirements = {
        r["Type"]: r["Value"] for r in tune["ContainerProperties"]["ResourceRequirements"]
    }
    assert requirements == {"VCPU": "4", "MEMORY": "16384"}
    assert tune["Timeout"]["AttemptDurationSeconds"] == JOB_TIMEOUTS["tune"].to_seconds()
    assert "Parameters" not in tune  # nothing comes from the execution: no Ref:: in it
    role = tune["ContainerProperties"]["JobRoleArn"]["Fn::GetAtt"][0]
    assert role.startswith("JobsTuneJobRole")  # test_iam checks what it may do
    others = {p["ContainerProperties"]["JobRoleArn"]["Fn::GetAtt"][0] for p in found.values()}
    assert len(others) == len(found) - 1  # only the background job borrows a role (scrape's)


def test_spot_off_means_on_demand_only_with_the_given_limit(tmp_path: Path) -> None:
    on_demand = synth(tmp_path, {"spot": "false", "maxVcpus": "4"})
    envs = on_demand.resources("AWS::Batch::ComputeEnvironment").values()
    assert [e["Properties"]["ComputeResources"]["Type"] for e in envs] == ["FARGATE"]
    assert [e["Properties"]["ComputeResources"]["MaxvCpus"] for e in envs] == [4]


def test_background_job_is_a_scrape_of_the_pool_with_a_timeout_for_all_of_it(
    synthesized: Synthesized,
) -> None:
    found = job_definitions(synthesized)
    background, scrape = found["background"], found["scrape"]
    # The pipeline's default: a no-op when the bucket has the pool.
    assert background["Parameters"] == {"when": "--if-missing"}
    # The scrape job's role: images/* only (test_iam checks what that role may do).
    role = background["ContainerProperties"]["JobRoleArn"]
    assert role == scrape["ContainerProperties"]["JobRoleArn"]
    assert role["Fn::GetAtt"][0].startswith("JobsScrapeJobRole")
    # One job scrapes every pool query one after another.
    pool = len(load_background().queries)
    seconds = background["Timeout"]["AttemptDurationSeconds"]
    assert pool >= 20 and seconds == pool * POOL_QUERY_TIME.to_seconds()


@pytest.mark.parametrize("when", ["--if-missing", "--always"])
def test_background_command_is_a_traygo_scrape_that_parses(
    synthesized: Synthesized,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    when: str,
) -> None:
    """The job's command, with `when` substituted as Batch does, run by the real CLI on a store
    that has the pool: --if-missing ends at once (no browser), --always gets as far as
    starting the browser (here a missing one: that error, not a usage error)."""
    from traygo.cli import main

    command = job_definitions(synthesized)["background"]["ContainerProperties"]["Command"]
    args = [when if word == "Ref::when" else word for word in command]
    labels = tmp_path / "labels.toml"
    labels.write_text(
        '[pizza]\npositive = ["pizza"]\nnegative = ["salad"]\n'
        '[background]\nqueries = ["pasta dish"]\n'
    )
    store = tmp_path / "store"
    (store / "images" / "pasta-dish").mkdir(parents=True)
    (store / "images" / "pasta-dish" / f"{'a' * 64}.jpg").write_bytes(b"x")
    monkeypatch.setenv("TRAYGO_STORE", str(store))  # as the job definition sets it
    monkeypatch.setenv("TRAYGO_LABELS", str(labels))
    monkeypatch.setenv("TRAYGO_CHROMIUM", str(tmp_path / "no-chromium"))

    code = main(args)

    out, err = capsys.readouterr()
    if when == "--if-missing":
        assert code == 0, err
        assert "background pool present" in out and "nothing to scrape" in out
    else:
        assert code == 2 and "Chromium not found" in err and "Usage:" not in err
        assert out.startswith("background pool: scraping its 1 queries")


def test_tune_command_is_a_traygo_backbone_tune_that_parses(
    synthesized: Synthesized,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The job's command run by the real CLI on an empty bucket: the tune job's own clear
    error (nothing to tune on), not a usage error."""
    from traygo.cli import main

    command = job_definitions(synthesized)["tune"]["ContainerProperties"]["Command"]
    monkeypatch.setenv("TRAYGO_STORE", str(tmp_path / "store"))  # as the job definition sets it
    monkeypatch.setenv("TRAYGO_CACHE", str(tmp_path / "cache"))
    code = main(list(command))
    err = capsys.readouterr().err
    assert code != 0 and "Usage:" not in err
    assert "tuning needs pictures of at least 2 classes" in err
