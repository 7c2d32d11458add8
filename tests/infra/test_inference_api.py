"""The REST API: routes, the API key on /predict, /feedback and /models, throttling, quota,
logs, CORS."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from tests.infra.conftest import Synthesized, synth


def methods(synthesized: Synthesized) -> dict[str, dict[str, Any]]:
    """{"VERB /path": properties}, paths rebuilt from the resources' PathPart chain."""
    paths: dict[str, str] = {}
    for logical, res in synthesized.resources("AWS::ApiGateway::Resource").items():
        paths[logical] = res["Properties"]["PathPart"]
    found = {}
    for res in synthesized.resources("AWS::ApiGateway::Method").values():
        props = res["Properties"]
        ref = props["ResourceId"]
        path = paths[ref["Ref"]] if "Ref" in ref else ""
        found[f"{props['HttpMethod']} /{path}"] = props
    return found


def test_routes_and_which_need_the_api_key(synthesized: Synthesized) -> None:
    found = methods(synthesized)
    keyed = {route for route, props in found.items() if props.get("ApiKeyRequired")}
    assert keyed == {"POST /predict", "POST /feedback", "GET /models"}
    assert {"GET /", "GET /health", "GET /openapi.json"} <= set(found)
    routes = ("GET /", "GET /health", "GET /openapi.json", "POST /predict", "POST /feedback")
    for route in (*routes, "GET /models"):
        integration = found[route]["Integration"]
        assert integration["Type"] == "AWS_PROXY"


def test_binary_media_types_for_raw_images(synthesized: Synthesized) -> None:
    _, api = synthesized.one("AWS::ApiGateway::RestApi")
    assert set(api["Properties"]["BinaryMediaTypes"]) == {"image/*", "application/octet-stream"}


def test_usage_plan_throttles_and_caps_predict_and_feedback(synthesized: Synthesized) -> None:
    _, plan = synthesized.one("AWS::ApiGateway::UsagePlan")
    props = plan["Properties"]
    assert props["Throttle"] == {"RateLimit": 10, "BurstLimit": 20}
    assert props["Quota"] == {"Limit": 10000, "Period": "DAY"}
    (stage,) = props["ApiStages"]
    assert stage["Throttle"] == {
        "/predict/POST": {"RateLimit": 10, "BurstLimit": 20},
        # its own, lower: each correction stores a picture
        "/feedback/POST": {"RateLimit": 2, "BurstLimit": 5},
    }
    _, key_link = synthesized.one("AWS::ApiGateway::UsagePlanKey")
    key, _ = synthesized.one("AWS::ApiGateway::ApiKey")
    assert key_link["Properties"]["KeyId"] == {"Ref": key}


def test_feedback_throttle_from_context(tmp_path: Path) -> None:
    custom = synth(tmp_path, {"feedbackRateLimit": "0.5", "feedbackBurstLimit": "3"})
    _, plan = custom.one("AWS::ApiGateway::UsagePlan")
    (stage,) = plan["Properties"]["ApiStages"]
    assert stage["Throttle"]["/feedback/POST"] == {"RateLimit": 0.5, "BurstLimit": 3}
    assert stage["Throttle"]["/predict/POST"] == {"RateLimit": 10, "BurstLimit": 20}


def test_stage_has_access_logs_and_a_throttle(synthesized: Synthesized) -> None:
    _, stage = synthesized.one("AWS::ApiGateway::Stage")
    props = stage["Properties"]
    assert props["StageName"] == "prod"
    assert "DestinationArn" in props["AccessLogSetting"]
    assert '"status"' in props["AccessLogSetting"]["Format"]
    (settings,) = props["MethodSettings"]
    assert settings["ThrottlingRateLimit"] > 0 and settings["ThrottlingBurstLimit"] > 0


def test_cors_preflight_for_the_configured_origin(synthesized: Synthesized) -> None:
    for route in ("OPTIONS /predict", "OPTIONS /feedback"):
        options = methods(synthesized)[route]
        headers = options["Integration"]["IntegrationResponses"][0]["ResponseParameters"]
        allow = headers["method.response.header.Access-Control-Allow-Origin"]
        assert allow == "'https://demo.example.com'"
        assert options.get("ApiKeyRequired") is not True  # a browser preflight carries no key


def test_lambda_runs_the_bundle_handler_with_its_store(synthesized: Synthesized) -> None:
    _, function = _our_function(synthesized)
    props = function["Properties"]
    assert props["Handler"] == "lambdas.inference.handler.handler"
    assert props["Runtime"] == "python3.12"
    assert props["Architectures"] == ["x86_64"]
    assert props["MemorySize"] == 1024
    assert props["Timeout"] < 29  # inside API Gateway's integration limit
    env = props["Environment"]["Variables"]
    bucket, _ = synthesized.one("AWS::S3::Bucket")
    assert env["TRAYGO_STORE"] == {"Fn::Join": ["", ["s3://", {"Ref": bucket}]]}
    assert env["TRAYGO_CORS_ORIGINS"] == "https://demo.example.com"


def _our_function(synthesized: Synthesized) -> tuple[str, dict[str, Any]]:
    # CDK adds its own helper function (restricting the default security group); skip it.
    ours = {
        k: v
        for k, v in synthesized.resources("AWS::Lambda::Function").items()
        if k.startswith("InferenceFunction")
    }
    assert len(ours) == 1
    return next(iter(ours.items()))


def test_outputs_name_everything_submit_and_users_need(synthesized: Synthesized) -> None:
    from infra import outputs

    expected = {
        outputs.API_URL,
        outputs.API_KEY_ID,
        outputs.BUCKET,
        outputs.JOB_QUEUE,
        outputs.STATE_MACHINE,
        outputs.RETRAIN_RULE,
        *outputs.JOB_DEFINITIONS.values(),
    }
    assert expected <= set(synthesized.template["Outputs"])
    key, _ = synthesized.one("AWS::ApiGateway::ApiKey")
    assert synthesized.template["Outputs"][outputs.API_KEY_ID]["Value"] == {"Ref": key}


def test_lambda_body_limit_fits_lambdas_payload_after_base64(synthesized: Synthesized) -> None:
    _, function = _our_function(synthesized)
    limit = int(function["Properties"]["Environment"]["Variables"]["TRAYGO_MAX_REQUEST_BYTES"])
    assert limit <= int(4.4 * 1024 * 1024)
    # API Gateway hands binary bodies to Lambda base64-encoded; Lambda takes 6 MB synchronous.
    assert 4 * math.ceil(limit / 3) + 128 * 1024 <= 6 * 1024 * 1024
    assert limit >= 4 * 1024 * 1024  # still room for a phone photo


def test_reserved_concurrency_from_context(synthesized: Synthesized, tmp_path: Path) -> None:
    _, function = _our_function(synthesized)
    assert function["Properties"]["ReservedConcurrentExecutions"] == 10
    custom = synth(tmp_path / "custom", {"lambdaReservedConcurrency": "25"})
    assert _our_function(custom)[1]["Properties"]["ReservedConcurrentExecutions"] == 25
    unreserved = synth(tmp_path / "none", {"lambdaReservedConcurrency": "none"})
    assert "ReservedConcurrentExecutions" not in _our_function(unreserved)[1]["Properties"]


def gateway_responses(synthesized: Synthesized) -> dict[str, dict[str, Any]]:
    found = synthesized.resources("AWS::ApiGateway::GatewayResponse").values()
    return {r["Properties"]["ResponseType"]: r["Properties"] for r in found}


def test_gateway_errors_have_the_json_shape_and_cors(synthesized: Synthesized) -> None:
    responses = gateway_responses(synthesized)
    assert {"REQUEST_TOO_LARGE", "THROTTLED", "QUOTA_EXCEEDED", "DEFAULT_4XX", "DEFAULT_5XX"} <= (
        set(responses)
    )
    for kind, props in responses.items():
        headers = props["ResponseParameters"]
        origin = headers["gatewayresponse.header.Access-Control-Allow-Origin"]
        assert origin == "'https://demo.example.com'", kind
        assert headers["gatewayresponse.header.Content-Type"] == "'application/json'"
        template = props["ResponseTemplates"]["application/json"]
        # API Gateway's own message variable is already a quoted JSON string.
        body = json.loads(template.replace("$context.error.messageString", '"its message"'))
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, kind
    too_large = responses["REQUEST_TOO_LARGE"]
    assert too_large["StatusCode"] == "413"
    assert json.loads(too_large["ResponseTemplates"]["application/json"])["error"]["code"] == (
        "too_large"
    )
    assert responses["THROTTLED"]["StatusCode"] == "429"


def test_several_origins_echo_the_callers_origin(tmp_path: Path) -> None:
    several = synth(tmp_path, {"corsOrigins": "https://a.example.com,https://b.example.com"})
    headers = gateway_responses(several)["DEFAULT_4XX"]["ResponseParameters"]
    origin = headers["gatewayresponse.header.Access-Control-Allow-Origin"]
    assert origin == "method.request.header.Origin"
    assert headers["gatewayresponse.header.Vary"] == "'Origin'"
