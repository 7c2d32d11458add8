"""The backbone pipeline's shape: tune, then a Map over the labels of train then promote; each
failure ends it in its step's Fail state; its timeout is the derived worst case."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from infra import timeouts
from infra.backbone_pipeline import STEPS
from infra.batch_steps import failed_state
from infra.settings import StackSettings
from tests.infra.conftest import Synthesized, synth
from tests.infra.template_paths import BACKBONE_PIPELINE, state_machine, state_machine_definition
from traygo.labels import load_labels

MAP = "TrainEveryLabel"


@pytest.fixture(scope="module")
def definition(synthesized: Synthesized) -> dict[str, Any]:
    return state_machine_definition(synthesized.template, prefix=BACKBONE_PIPELINE)


def inner(definition: dict[str, Any]) -> dict[str, Any]:
    """The Map's item processor: one label's states."""
    processor: dict[str, Any] = definition["States"][MAP]["ItemProcessor"]
    return processor


def test_tune_then_a_map_over_the_labels_of_train_then_promote(
    definition: dict[str, Any],
) -> None:
    states = definition["States"]
    assert definition["StartAt"] == "Tune"
    assert states["Tune"]["Next"] == MAP
    assert states["Tune"]["ResultPath"] is None  # the labels go on to the Map as they came in
    every_label = states[MAP]
    assert every_label["Type"] == "Map"
    assert every_label["ItemsPath"] == "$.labels"
    assert every_label["ItemSelector"] == {"label.$": "$$.Map.Item.Value"}
    assert every_label["MaxConcurrency"] == StackSettings().map_concurrency
    assert every_label["ResultPath"] is None
    assert every_label["Next"] == "Done"
    assert states["Done"]["Type"] == "Succeed"
    one_label = inner(definition)
    assert one_label["StartAt"] == "Train"
    assert one_label["States"]["Train"]["Next"] == "Promote"
    assert one_label["States"]["Promote"]["End"] is True


def test_every_step_is_a_sync_batch_job_with_its_parameters(definition: dict[str, Any]) -> None:
    one_label = inner(definition)["States"]
    tasks = {
        "Tune": definition["States"]["Tune"],
        "Train": one_label["Train"],
        "Promote": one_label["Promote"],
    }
    expected_params = {
        "Tune": None,  # its command has no Ref::, nothing to pass
        "Train": {"label.$": "$.label"},
        "Promote": {"label.$": "$.label"},
    }
    for name, task in tasks.items():
        assert task["Resource"].endswith(":states:::batch:submitJob.sync"), name
        assert task["Parameters"].get("Parameters") == expected_params[name], name
        # The same job definitions as the per-label pipeline's train and promote steps.
        assert f"Jobs{name}Job" in task["Parameters"]["JobDefinition"], name
        assert "JobsQueue" in task["Parameters"]["JobQueue"]
        # No per-task override of the job definitions' attempt timeouts or retries.
        assert "Timeout" not in task["Parameters"]
        assert "RetryStrategy" not in task["Parameters"]


def test_failures_end_the_execution_with_the_cause(definition: dict[str, Any]) -> None:
    where = {
        "Tune": definition["States"],
        "Train": inner(definition)["States"],
        "Promote": inner(definition)["States"],
    }
    assert tuple(where) == STEPS
    for step, states in where.items():
        (catch,) = states[step]["Catch"]
        assert catch == {
            "ErrorEquals": ["States.ALL"],
            "ResultPath": "$.failure",
            "Next": failed_state(step),
        }
        # A Fail state ends the execution (inside the Map: fails the Map, and so the execution
        # with that error): a failed tune trains nothing, a failed training promotes nothing.
        assert states[failed_state(step)] == {
            "Type": "Fail",
            "Error": f"{step}Failed",
            "CausePath": "$.failure.Cause",
        }
    # Nothing catches the Map's error, so the execution's error is the step's own.
    assert "Catch" not in definition["States"][MAP]


def _worst_run_seconds(synthesized: Synthesized) -> dict[str, int]:
    """Each step's job's every attempt at its full timeout, read from the job definitions."""
    worst = {}
    for logical, res in synthesized.resources("AWS::Batch::JobDefinition").items():
        name = next((n for n in STEPS if logical.startswith(f"Jobs{n}Job")), None)
        if name:
            props = res["Properties"]
            worst[name] = (
                props["RetryStrategy"]["Attempts"] * props["Timeout"]["AttemptDurationSeconds"]
            )
    assert set(worst) == set(STEPS)
    return worst


def test_timeout_is_the_derived_worst_case_and_covers_the_jobs(
    synthesized: Synthesized, definition: dict[str, Any]
) -> None:
    """Tune, then every configured label's train and promote in rounds of the Map's
    concurrency, each job with every attempt at its full timeout."""
    concurrency = definition["States"][MAP]["MaxConcurrency"]
    derived = timeouts.backbone_pipeline_timeout(concurrency)
    assert definition["TimeoutSeconds"] == derived.to_seconds()
    worst = _worst_run_seconds(synthesized)
    rounds = math.ceil(len(load_labels()) / concurrency)
    assert rounds >= 2  # the shipped labels outnumber the default concurrency
    needed = worst["Tune"] + rounds * (worst["Train"] + worst["Promote"])
    assert definition["TimeoutSeconds"] >= needed


def test_map_concurrency_setting_sets_the_labels_at_once_and_the_timeout(tmp_path: Path) -> None:
    two_at_a_time = synth(tmp_path, {"mapConcurrency": "2"}).template
    definition = state_machine_definition(two_at_a_time, prefix=BACKBONE_PIPELINE)
    assert definition["States"][MAP]["MaxConcurrency"] == 2
    assert definition["TimeoutSeconds"] == timeouts.backbone_pipeline_timeout(2).to_seconds()


def test_timeout_grows_with_rounds_of_labels() -> None:
    per_label = sum(timeouts.step_worst_case(job).to_seconds() for job in ("train", "promote"))
    one_round = timeouts.backbone_pipeline_timeout(4, labels=4).to_seconds()
    assert timeouts.backbone_pipeline_timeout(4, labels=5).to_seconds() == one_round + per_label
    assert timeouts.backbone_pipeline_timeout(1, labels=4).to_seconds() == one_round + 3 * per_label


def test_logs_to_its_own_vended_logs_group_and_traces(synthesized: Synthesized) -> None:
    _, machine = state_machine(synthesized.template, BACKBONE_PIPELINE)
    props = machine["Properties"]
    assert props["LoggingConfiguration"]["Level"] == "ALL"
    assert props["LoggingConfiguration"]["IncludeExecutionData"] is True
    assert props["TracingConfiguration"] == {"Enabled": True}
    (destination,) = props["LoggingConfiguration"]["Destinations"]
    logical = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
    name = synthesized.template["Resources"][logical]["Properties"]["LogGroupName"]
    assert name == "/aws/vendedlogs/states/traygo-backbone-pipeline"
