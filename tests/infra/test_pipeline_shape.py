"""The state machine's shape: the background pool if missing, Map over the queries, then train,
then promote; failures end it."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from infra.batch_steps import failed_state
from infra.pipeline import STEPS
from tests.infra.conftest import Synthesized, synth
from tests.infra.template_paths import PIPELINE, state_machine, state_machine_definition
from traygo.labels import load_labels


@pytest.fixture(scope="module")
def definition(synthesized: Synthesized) -> dict[str, Any]:
    return state_machine_definition(synthesized.template)


def test_background_then_scrape_map_then_train_then_promote(definition: dict[str, Any]) -> None:
    states = definition["States"]
    assert definition["StartAt"] == "ScrapeBackground"
    assert states["ScrapeBackground"]["Next"] == "ScrapeQueries"
    # its job's result is dropped: the label and queries go on to the Map as they came in
    assert states["ScrapeBackground"]["ResultPath"] is None
    scrape = states["ScrapeQueries"]
    assert scrape["Type"] == "Map"
    assert scrape["ItemsPath"] == "$.queries"
    assert scrape["ItemSelector"] == {"query.$": "$$.Map.Item.Value"}
    assert scrape["Next"] == "Train"
    assert states["Train"]["Next"] == "Promote"
    assert states["Promote"]["Next"] == "Done"
    assert states["Done"]["Type"] == "Succeed"


def test_every_step_is_a_sync_batch_job_with_its_parameters(definition: dict[str, Any]) -> None:
    states = definition["States"]
    inner = states["ScrapeQueries"]["ItemProcessor"]["States"]["Scrape"]
    tasks = {
        "Background": states["ScrapeBackground"],
        "Scrape": inner,
        "Train": states["Train"],
        "Promote": states["Promote"],
    }
    expected_params = {
        # A literal: an execution started without `traygo submit` (a schedule) gets it too.
        "Background": {"when": "--if-missing"},
        "Scrape": {"query.$": "$.query"},
        "Train": {"label.$": "$.label"},
        "Promote": {"label.$": "$.label"},
    }
    for name, task in tasks.items():
        assert task["Resource"].endswith(":states:::batch:submitJob.sync"), name
        assert task["Parameters"]["Parameters"] == expected_params[name]
        assert f"Jobs{name}Job" in task["Parameters"]["JobDefinition"]
        assert "JobsQueue" in task["Parameters"]["JobQueue"]


def test_failures_end_the_execution_with_the_cause(definition: dict[str, Any]) -> None:
    states = definition["States"]
    steps = (
        ("ScrapeBackground", "Background"),
        ("ScrapeQueries", "Scrape"),
        ("Train", "Train"),
        ("Promote", "Promote"),
    )
    assert tuple(step for _, step in steps) == STEPS
    for state, step in steps:
        (catch,) = states[state]["Catch"]
        assert catch == {
            "ErrorEquals": ["States.ALL"],
            "ResultPath": "$.failure",
            "Next": failed_state(step),
        }
        # A Fail state ends the execution: nothing leads from a failure to promotion.
        assert states[failed_state(step)] == {
            "Type": "Fail",
            "Error": f"{step}Failed",
            "CausePath": "$.failure.Cause",
        }


def test_state_machine_logs_and_traces(synthesized: Synthesized) -> None:
    _, machine = state_machine(synthesized.template, PIPELINE)
    props = machine["Properties"]
    assert props["LoggingConfiguration"]["Level"] == "ALL"
    assert props["TracingConfiguration"] == {"Enabled": True}


def _worst_run_seconds(synthesized: Synthesized) -> dict[str, int]:
    """Each job's every attempt at its full timeout, read from the job definitions."""
    worst = {}
    for logical, res in synthesized.resources("AWS::Batch::JobDefinition").items():
        if logical.startswith(("JobsRetrain", "JobsTune")):  # not this pipeline's steps
            continue
        name = next(n for n in STEPS if logical.startswith(f"Jobs{n}"))
        props = res["Properties"]
        attempts = props["RetryStrategy"]["Attempts"]
        worst[name] = attempts * props["Timeout"]["AttemptDurationSeconds"]
    return worst


def test_pipeline_timeout_covers_the_worst_case(
    synthesized: Synthesized, definition: dict[str, Any]
) -> None:
    """The background pool, scrape (in rounds of the Map's concurrency), train and promote,
    each with every attempt at its full timeout: the execution must not be killed while a job
    could still succeed."""
    worst = _worst_run_seconds(synthesized)
    states = definition["States"]
    rounds = math.ceil(
        max(len(label.queries) for label in load_labels().values())
        / states["ScrapeQueries"]["MaxConcurrency"]
    )
    needed = worst["Background"] + rounds * worst["Scrape"] + worst["Train"] + worst["Promote"]
    assert definition["TimeoutSeconds"] >= needed
    # The tasks do not override the job definitions' attempt timeouts the sum is made of.
    inner = states["ScrapeQueries"]["ItemProcessor"]["States"]["Scrape"]
    for task in (states["ScrapeBackground"], inner, states["Train"], states["Promote"]):
        assert "Timeout" not in task["Parameters"]
        assert "RetryStrategy" not in task["Parameters"]


def test_pipeline_timeout_grows_with_rounds_of_queries(
    synthesized: Synthesized, definition: dict[str, Any], tmp_path: Path
) -> None:
    one_at_a_time = state_machine_definition(synth(tmp_path, {"mapConcurrency": "1"}).template)
    extra_rounds = 10 - 3  # pizza's 10 queries: 10 rounds one at a time, 3 four at a time
    grown = one_at_a_time["TimeoutSeconds"] - definition["TimeoutSeconds"]
    assert grown >= extra_rounds * _worst_run_seconds(synthesized)["Scrape"]


def test_state_machine_logs_to_a_vended_logs_group(synthesized: Synthesized) -> None:
    _, machine = state_machine(synthesized.template, PIPELINE)
    (destination,) = machine["Properties"]["LoggingConfiguration"]["Destinations"]
    logical = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
    name = synthesized.template["Resources"][logical]["Properties"]["LogGroupName"]
    assert name == "/aws/vendedlogs/states/traygo-pipeline"
