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
        return sep.join(render(p, names) for p in parts)
    if "Ref" in value:
        return names.get(value["Ref"], f"<{value['Ref']}>")
    if "Fn::GetAtt" in value:
        logical, attr = value["Fn::GetAtt"]
        return names.get(logical, f"<{logical}.{attr}>")
    if "Fn::Sub" in value:
        return str(value["Fn::Sub"])
    raise AssertionError(f"cannot render {value}")


def state_machine_definition(
    template: dict[str, Any], names: dict[str, str] | None = None
) -> dict[str, Any]:
    machines = [
        v for v in template["Resources"].values() if v["Type"] == "AWS::StepFunctions::StateMachine"
    ]
    assert len(machines) == 1
    return json.loads(render(machines[0]["Properties"]["DefinitionString"], names))
