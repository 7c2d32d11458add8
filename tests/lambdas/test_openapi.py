"""schemathesis against the served /openapi.json: no 5xx, no response outside the schema."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


# Routes that serve documents, not the API: the page and the schema itself.
UNDOCUMENTED = {("GET", "/"), ("GET", "/openapi.json")}


def served_routes() -> set[tuple[str, str]]:
    """(method, path) of every route the app registers (powertools keeps them on the
    resolver; no public accessor)."""
    from lambdas.inference import api

    app = api.rest_app()
    return {(route.method, route.path) for route in app._static_routes + app._dynamic_routes}


def test_the_schema_documents_every_route_the_app_serves(server: str) -> None:
    schema = schemathesis.openapi.from_url(server + "openapi.json")
    documented = {(r.ok().method.upper(), r.ok().path) for r in schema.get_all_operations()}
    assert documented == served_routes() - UNDOCUMENTED
    assert ("POST", "/feedback") in documented


def test_every_operation_keeps_to_its_schema(server: str) -> None:
    # schemathesis' pytest plugin does not run under pytest 9 yet, so drive hypothesis directly
    schema = schemathesis.openapi.from_url(server + "openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} == {"/health", "/models", "/predict", "/feedback"}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=30,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(checks=CHECKS)

        check()
