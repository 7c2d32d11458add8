"""`traygo submit` against moto: a stack's outputs, submits, status, and the bad-input lines."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from infra import outputs
from tests.infra.conftest import Synthesized
from tests.infra.moto_aws import MotoStack, create_stack_resources, jobs_in, mocked_aws
from traygo import layout
from traygo.cli import main
from traygo.labels import get_label, load_background, load_labels
from traygo.slug import slugify

PIZZA = get_label("pizza")
POOL = load_background()
# A resource moto's CloudFormation can create; a stack needs at least one.
PARAMETER = {"Marker": {"Type": "AWS::SQS::Queue"}}


def stack_template(stack: MotoStack) -> str:
    """A stack with the traygo stack's outputs, pointing at the moto resources."""
    values = {
        outputs.JOB_QUEUE: stack.queue,
        outputs.STATE_MACHINE: stack.state_machine,
        outputs.BACKBONE_PIPELINE: stack.backbone_pipeline,
        outputs.BUCKET: stack.bucket,
        outputs.API_URL: "https://example.execute-api.us-east-1.amazonaws.com/prod/",
        outputs.API_KEY_ID: "key-id",
        **{outputs.JOB_DEFINITIONS[job]: arn for job, arn in stack.job_definitions.items()},
    }
    return json.dumps(
        {
            "Resources": PARAMETER,
            "Outputs": {key: {"Value": value} for key, value in values.items()},
        }
    )


@pytest.fixture
def deployed(synthesized: Synthesized, monkeypatch: pytest.MonkeyPatch) -> Iterator[MotoStack]:
    with mocked_aws(monkeypatch):
        stack = create_stack_resources(synthesized)
        boto3.client("cloudformation").create_stack(
            StackName="traygo-test", TemplateBody=stack_template(stack)
        )
        monkeypatch.setenv("TRAYGO_STACK", "traygo-test")
        yield stack


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["submit", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_train_submits_one_job_and_says_how_to_follow_it(
    deployed: MotoStack, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "train", "--label", "pizza", "--min-accuracy", "0.9")
    assert code == 0
    (job,) = jobs_in(deployed.queue)
    assert out.splitlines() == [
        f"submitted train job {job['jobId']} (label 'pizza')",
        f"follow: traygo submit status {job['jobId']} --wait",
    ]
    assert job["jobDefinition"] == deployed.job_definitions["train"]
    assert job["parameters"] == {"label": "pizza", "minAccuracy": "0.9"}

    code, out, _ = run(capsys, "status", job["jobId"])
    assert (code, out.strip()) == (0, f"{job['jobId']} SUCCEEDED")


def test_scrape_submits_one_job_per_query_of_the_label(
    deployed: MotoStack, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "scrape", "--label", "pizza", "--wait", "--interval", "0")
    assert code == 0
    jobs = jobs_in(deployed.queue)
    assert sorted(j["parameters"]["query"] for j in jobs) == sorted(PIZZA.queries)
    assert {j["jobDefinition"] for j in jobs} == {deployed.job_definitions["scrape"]}
    assert out.strip().splitlines()[-1] == f"all {len(PIZZA.queries)} succeeded"


def test_scrape_one_query(deployed: MotoStack, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = run(capsys, "scrape", "--query", "pizza slice")
    assert code == 0
    assert [j["parameters"] for j in jobs_in(deployed.queue)] == [{"query": "pizza slice"}]


def test_pipeline_starts_the_state_machine_with_the_labels_queries(
    deployed: MotoStack, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "pipeline", "--label", "pizza", "--wait", "--interval", "0.05")
    assert code == 0, err
    arn = out.splitlines()[0].removeprefix("started pipeline for pizza: ")
    execution = boto3.client("stepfunctions").describe_execution(executionArn=arn)
    assert json.loads(execution["input"]) == {"label": "pizza", "queries": list(PIZZA.queries)}
    # The bucket is empty: the pipeline's first step will scrape the pool, and says so.
    assert out.splitlines()[1] == (
        f"background pool: missing in s3://{deployed.bucket}, 0 of {len(POOL.queries)} pool "
        f"queries have images (0 images); the pipeline scrapes the {len(POOL.queries)} queries "
        "without images first (this run takes longer)"
    )
    assert f"{arn} SUCCEEDED" in out
    assert out.strip().splitlines()[-1] == "all 1 succeeded"
    jobs = jobs_in(deployed.queue)
    promoted = [j for j in jobs if j["jobDefinition"] == deployed.job_definitions["promote"]]
    assert [j["parameters"] for j in promoted] == [{"label": "pizza"}]
    pool = [j for j in jobs if j["jobDefinition"] == deployed.job_definitions["background"]]
    assert [j["parameters"] for j in pool] == [{"when": "--if-missing"}]


def test_pipeline_says_when_the_bucket_has_the_pool(
    deployed: MotoStack, capsys: pytest.CaptureFixture[str]
) -> None:
    half = (len(POOL.queries) + 1) // 2
    s3 = boto3.client("s3")
    for query in POOL.queries[:half]:
        key = layout.image_key(slugify(query), "a" * 64, "jpg")
        s3.put_object(Bucket=deployed.bucket, Key=key, Body=b"x")
    # --wait: an execution left running would go on submitting jobs into the next test's moto
    code, out, err = run(capsys, "pipeline", "--label", "pizza", "--wait", "--interval", "0.05")
    assert code == 0, err
    assert out.splitlines()[1] == (
        f"background pool: present in s3://{deployed.bucket}, {half} of {len(POOL.queries)} "
        f"pool queries have images ({half} images); the pipeline leaves it"
    )


def execution_input(arn: str) -> object:
    execution = boto3.client("stepfunctions").describe_execution(executionArn=arn)
    return json.loads(execution["input"])


def test_tune_starts_the_backbone_pipeline_for_every_label(
    deployed: MotoStack, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "tune", "--wait", "--interval", "0.05")
    assert code == 0, err
    labels = list(load_labels())
    first = out.splitlines()[0]
    assert first.startswith(f"started backbone pipeline for {len(labels)} label(s) (pizza, ")
    arn = first.rsplit(": ", 1)[1]
    assert arn.startswith(f"{deployed.backbone_pipeline.replace(':stateMachine:', ':execution:')}:")
    assert execution_input(arn) == {"labels": labels}
    assert f"{arn} SUCCEEDED" in out
    assert out.strip().splitlines()[-1] == "all 1 succeeded"
    jobs = jobs_in(deployed.queue)
    promoted = [j for j in jobs if j["jobDefinition"] == deployed.job_definitions["promote"]]
    assert sorted(j["parameters"]["label"] for j in promoted) == sorted(labels)


def test_tune_with_labels_trains_only_those_each_once(
    deployed: MotoStack, capsys: pytest.CaptureFixture[str]
) -> None:
    # --wait: an execution left running would go on submitting jobs into the next test's moto
    args = ["--label", "burger", "--label", "pizza", "--label", "burger"]
    code, out, err = run(capsys, "tune", *args, "--wait", "--interval", "0.05")
    assert code == 0, err
    first = out.splitlines()[0]
    assert first.startswith("started backbone pipeline for 2 label(s) (burger, pizza): ")
    assert execution_input(first.rsplit(": ", 1)[1]) == {"labels": ["burger", "pizza"]}


def test_tune_without_wait_says_how_to_follow_it(
    deployed: MotoStack, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOTO_SIMPLE_BATCH_FAIL_AFTER", "0")  # tune fails: the run ends at once
    code, out, err = run(capsys, "tune", "--label", "salad")
    assert code == 0, err
    started, follow = out.splitlines()
    arn = started.rsplit(": ", 1)[1]
    assert follow == f"follow: traygo submit status {arn} --wait"
    code, _, err = run(capsys, "status", arn, "--wait", "--interval", "0.05")
    assert code == 1
    assert "FAILED: TuneFailed" in err  # the first step: nothing after it ran
    (job,) = jobs_in(deployed.queue)
    assert job["jobDefinition"] == deployed.job_definitions["tune"]


def test_tune_unknown_label_is_one_line_before_any_aws_call(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run(capsys, "tune", "--label", "pizza", "--label", "Sushi!")
    assert code == 2
    assert err.strip().startswith("traygo: error: unknown label 'Sushi!'; known labels: ")
    assert "pizza" in err


@pytest.mark.parametrize(
    ("flags", "when"),
    [((), "--always"), (("--always",), "--always"), (("--if-missing",), "--if-missing")],
)
def test_scrape_background_submits_one_background_job(
    deployed: MotoStack, capsys: pytest.CaptureFixture[str], flags: tuple[str, ...], when: str
) -> None:
    code, out, err = run(capsys, "scrape", "--background", *flags)
    assert code == 0, err
    (job,) = jobs_in(deployed.queue)
    assert job["jobDefinition"] == deployed.job_definitions["background"]
    assert job["parameters"] == {"when": when}
    assert job["jobName"] == "traygo-scrape-background"
    assert out.splitlines()[0] == (
        f"submitted background job {job['jobId']} (background pool, {when.removeprefix('--')})"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give --label, --query (one or more) or --background: one of them"),
        (["--background", "--label", "pizza"], "or --background: one of them"),
        (["--background", "--query", "pizza"], "or --background: one of them"),
        (["--label", "pizza", "--if-missing"], "--if-missing and --always go with --background"),
    ],
)
def test_scrape_bad_flags_are_one_line_before_any_aws_call(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, _, err = run(capsys, "scrape", *args)
    assert code == 2 and message in err


def test_wait_exits_non_zero_with_the_cause_when_a_job_fails(
    deployed: MotoStack, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOTO_SIMPLE_BATCH_FAIL_AFTER", "0")  # moto: every Batch job fails
    code, _, err = run(capsys, "pipeline", "--label", "pizza", "--wait", "--interval", "0.05")
    assert code == 1
    (line,) = err.strip().splitlines()
    assert line.startswith("traygo: error: 1 of 1 failed; arn:aws:states:")
    assert "FAILED: BackgroundFailed" in line  # the first step: nothing after it ran
    assert [j for j in jobs_in(deployed.queue) if "promote" in j["jobDefinition"]] == []


def test_wrong_stack_name_is_one_line(
    deployed: MotoStack, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "train", "--label", "pizza", "--stack", "not-there")
    assert code == 1
    assert err.strip() == (
        "traygo: error: stack 'not-there' is not deployed in us-east-1: deploy it with "
        "`npx cdk deploy` (docs/deploy.md) or pass --stack NAME"
    )


def test_a_stack_without_traygo_outputs_is_named(
    deployed: MotoStack, capsys: pytest.CaptureFixture[str]
) -> None:
    boto3.client("cloudformation").create_stack(
        StackName="other",
        TemplateBody=json.dumps({"Resources": PARAMETER}),
    )
    code, _, err = run(capsys, "pipeline", "--label", "pizza", "--stack", "other")
    assert code == 1
    (line,) = err.strip().splitlines()
    assert line.startswith("traygo: error: stack 'other' (CREATE_COMPLETE) has no output ")
    assert "is it a traygo stack" in line


def test_unknown_label_is_one_line_before_any_aws_call(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run(capsys, "pipeline", "--label", "sushi")
    assert code == 2
    assert err.strip().startswith("traygo: error: unknown label 'sushi'; known labels: ")


def fresh_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """As in a new `traygo` process: no boto3 session that cached another test's credentials."""
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)


def test_no_region_is_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fresh_process(monkeypatch)
    for key in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    empty = tmp_path / "empty"
    empty.write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    code, _, err = run(capsys, "pipeline", "--label", "pizza")
    assert code == 1
    assert err.strip() == (
        "traygo: error: no AWS region set: export AWS_DEFAULT_REGION (e.g. eu-west-1) "
        "or set one in your profile"
    )


def test_no_credentials_is_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fresh_process(monkeypatch)
    for key in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        monkeypatch.delenv(key, raising=False)
    empty = tmp_path / "empty"
    empty.write_text("")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance role lookup
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    code, _, err = run(capsys, "train", "--label", "pizza")
    assert code == 1
    assert err.strip() == (
        "traygo: error: reading stack 'traygo': no AWS credentials found; set AWS_PROFILE or "
        "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (see docs/deploy.md)"
    )


def test_unknown_job_id_is_one_line(
    deployed: MotoStack, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "status", "no-such-job")
    assert code == 1
    assert err.strip() == "traygo: error: no Batch job 'no-such-job' in this account and region"
