"""Every reviewed cdk-nag wildcard finding says what the policy allows; the template agrees.

Each IAM5 acknowledgment's reason starts with the grant it excuses ("allows s3:GetObject;
s3:PutObject only with If-None-Match ..."). Here that claim is rebuilt from the synthesized
policy of the construct it sits on, so a reason cannot promise scoping the policy lacks.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from infra.nag import describe_grant
from tests.infra.conftest import Synthesized
from tests.infra.template_paths import actions, render, resources, statements_of_role

_IAM5 = re.compile(r"^Annotation::AwsSolutions-IAM5\[Resource::(?P<resource>.+)\]$")
_CREATE_ONLY = {"Null": {"s3:if-none-match": "false"}}


def acknowledgments(synthesized: Synthesized) -> dict[str, dict[str, str]]:
    """{construct path: {rule: reason}} from the cloud assembly's metadata."""
    metadata = json.loads((synthesized.outdir / "traygo.metadata.json").read_text())
    found: dict[str, dict[str, str]] = {}
    for path, entries in metadata.items():
        for entry in entries:
            if entry["type"] == "aws:cdk:acknowledged-rules":
                found.setdefault(path, {}).update(entry["data"])
    return found


def granted_on(statements: list[dict[str, Any]], resource: str) -> str:
    """The claim for one resource as the template grants it: outright, and create-only."""
    outright: set[str] = set()
    create_only: set[str] = set()
    for st in statements:
        if st["Effect"] != "Allow" or resource not in {render(r) for r in resources(st)}:
            continue
        condition = st.get("Condition")
        assert condition in (None, _CREATE_ONLY), st
        (create_only if condition else outright).update(actions(st))
    return describe_grant(outright, create_only)


def iam5_reasons(synthesized: Synthesized) -> list[tuple[str, str, str]]:
    found = []
    for path, rules in acknowledgments(synthesized).items():
        for rule, reason in rules.items():
            match = _IAM5.match(rule)
            if match:
                found.append((path, match["resource"], reason))
    return found


def test_there_are_reviewed_wildcards_to_check(synthesized: Synthesized) -> None:
    paths = {path for path, _, _ in iam5_reasons(synthesized)}
    assert "/traygo/Jobs/TrainJobRole" in paths
    assert "/traygo/Pipeline/StateMachine/Role" in paths
    assert "/traygo/BackbonePipeline/StateMachine/Role" in paths
    assert "/traygo/Jobs/TuneJobRole" in paths
    assert len(iam5_reasons(synthesized)) >= 15


def test_each_wildcard_reason_states_exactly_what_the_policy_allows(
    synthesized: Synthesized,
) -> None:
    for path, resource, reason in iam5_reasons(synthesized):
        role = path.removeprefix("/traygo/").replace("/", "")
        statements = statements_of_role(synthesized.template, role)
        claim = granted_on(statements, resource)
        assert claim != "allows ", f"{path}: no statement grants anything on {resource}"
        assert reason.startswith(claim + ": "), f"{path} {resource}: {reason!r} vs {claim!r}"


def test_inference_claims_read_as_intended(synthesized: Synthesized) -> None:
    reasons = {
        r: why for p, r, why in iam5_reasons(synthesized) if p.endswith("Inference/FunctionRole")
    }
    (records,) = [why for r, why in reasons.items() if r.endswith("/feedback/records/*")]
    assert records.startswith("allows s3:GetObject: ")
    (create,) = [why for r, why in reasons.items() if r.endswith("/feedback/*")]
    assert create.startswith("allows s3:PutObject only with If-None-Match (create, never replace)")


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        ("/models/*", "allows s3:GetObject; s3:PutObject only with If-None-Match"),
        ("/models/*/_checkpoints/*", "allows s3:DeleteObject, s3:PutObject"),
        ("/images/*", "allows s3:GetObject"),
    ],
)
def test_training_claims_read_as_intended(
    synthesized: Synthesized, resource: str, expected: str
) -> None:
    reasons = {r: why for p, r, why in iam5_reasons(synthesized) if p.endswith("TrainJobRole")}
    (reason,) = [why for r, why in reasons.items() if r.endswith(resource)]
    assert reason.startswith(expected)


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        ("/backbones/*", "allows s3:GetObject; s3:PutObject only with If-None-Match"),
        ("/backbones/_checkpoints/*", "allows s3:DeleteObject, s3:PutObject"),
        ("/images/*", "allows s3:GetObject: "),
    ],
)
def test_tuning_claims_read_as_intended(
    synthesized: Synthesized, resource: str, expected: str
) -> None:
    reasons = {r: why for p, r, why in iam5_reasons(synthesized) if p.endswith("TuneJobRole")}
    assert not [r for r in reasons if any(p in r for p in ("/models/", "/features/", "/feedback/"))]
    (reason,) = [why for r, why in reasons.items() if r.endswith(resource)]
    assert reason.startswith(expected)


KEYED = {"POST /predict", "POST /feedback", "GET /models"}


def test_keyed_route_reasons_are_the_routes_that_need_the_key(synthesized: Synthesized) -> None:
    keyed_reason = "The API key and usage plan authorize callers"
    keyed = {
        props["HttpMethod"]
        for props in (
            r["Properties"] for r in synthesized.resources("AWS::ApiGateway::Method").values()
        )
        if props.get("ApiKeyRequired")
    }
    # POST /predict, POST /feedback, GET /models (test_inference_api checks)
    assert keyed == {"POST", "GET"}
    seen = set()
    for rules in acknowledgments(synthesized).values():
        reason = rules.get("Annotation::AwsSolutions-APIG4")
        if reason is not None:
            route = reason.split(":", 1)[0]
            seen.add(route)
            assert (keyed_reason in reason) == (route in KEYED), reason
    assert {*KEYED, "GET /health"} <= seen
