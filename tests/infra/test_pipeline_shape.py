"""The state machine's shape: Map over the queries, then train, then promote; failures end it."""

from __future__ import annotations

from typing import Any

import pytest

from infra.pipeline import failed_state
from tests.infra.conftest import Synthesized
from tests.infra.template_paths import state_machine_definition


@pytest.fixture(scope="module")
def definition(synthesized: Synthesized) -> dict[str, Any]:
    return state_machine_definition(synthesized.template)


def test_scrape_map_then_train_then_promote(definition: dict[str, Any]) -> None:
    states = definition["States"]
    assert definition["StartAt"] == "ScrapeQueries"
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
    tasks = {"Scrape": inner, "Train": states["Train"], "Promote": states["Promote"]}
    expected_params = {
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
    for state, step in (("ScrapeQueries", "Scrape"), ("Train", "Train"), ("Promote", "Promote")):
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
    _, machine = synthesized.one("AWS::StepFunctions::StateMachine")
    props = machine["Properties"]
    assert props["LoggingConfiguration"]["Level"] == "ALL"
    assert props["TracingConfiguration"] == {"Enabled": True}
