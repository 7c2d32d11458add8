"""Reading things out of a synthesized template: statements per role, the state machine."""

from __future__ import annotations

import json
from typing import Any


def statements_of_role(template: dict[str, Any], role_prefix: str) -> list[dict[str, Any]]:
    """Every statement of every policy attached to the role whose logical id starts so."""
    roles = [k for k, v in template["Resources"].items() if v["Type"] == "AWS::IAM::Role"]
    matches = [r for r in roles if r.startswith(role_prefix)]
    assert len(matches) == 1, f"{role_prefix}: {matches}"
    found = []
    for res in template["Resources"].values():
        if res["Type"] != "AWS::IAM::Policy":
            continue
        if {"Ref": matches[0]} in res["Properties"]["Roles"]:
            found += res["Properties"]["PolicyDocument"]["Statement"]
    return found


def actions(statement: dict[str, Any]) -> list[str]:
    value = statement["Action"]
    return [value] if isinstance(value, str) else list(value)


def resources(statement: dict[str, Any]) -> list[Any]:
    value = statement["Resource"]
    return value if isinstance(value, list) else [value]


def render(value: Any, names: dict[str, str] | None = None) -> str:
    """A resource value as text: `Fn::Join` flattened, refs shown as <LogicalId> or by name."""
    names = names or {}
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        sep, parts = value["Fn::Join"]
        return str(sep).join(render(p, names) for p in parts)
    if "Ref" in value:
        return names.get(value["Ref"], f"<{value['Ref']}>")
    if "Fn::GetAtt" in value:
        logical, attr = value["Fn::GetAtt"]
        return names.get(logical, f"<{logical}.{attr}>")
    if "Fn::Sub" in value:
        return str(value["Fn::Sub"])
    raise AssertionError(f"cannot render {value}")


# The logical id prefixes of the stack's state machines (construct path Pipeline/StateMachine,
# BackbonePipeline/StateMachine); no prefix is the start of another.
PIPELINE = "PipelineStateMachine"
BACKBONE_PIPELINE = "BackbonePipelineStateMachine"
STATE_MACHINES = (PIPELINE, BACKBONE_PIPELINE)


def state_machine(template: dict[str, Any], prefix: str) -> tuple[str, dict[str, Any]]:
    """The state machine resource whose logical id starts with `prefix`, and that id."""
    resources: dict[str, dict[str, Any]] = template["Resources"]
    machines = [
        (k, v)
        for k, v in resources.items()
        if v["Type"] == "AWS::StepFunctions::StateMachine" and k.startswith(prefix)
    ]
    assert len(machines) == 1, f"{prefix}: {[k for k, _ in machines]}"
    return machines[0]


def state_machine_definition(
    template: dict[str, Any], names: dict[str, str] | None = None, prefix: str = PIPELINE
) -> dict[str, Any]:
    _, machine = state_machine(template, prefix)
    definition: dict[str, Any] = json.loads(
        render(machine["Properties"]["DefinitionString"], names)
    )
    return definition
