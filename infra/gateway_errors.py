"""Answers API Gateway gives itself, before the Lambda runs, in the product's error shape.

Without these a browser sees "network error" (no CORS header) and a client sees
{"message": ...} instead of {"error": {"code": ..., "message": ...}}.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from aws_cdk import aws_apigateway as apigw


@dataclass(frozen=True)
class GatewayError:
    kind: apigw.ResponseType
    status: str | None  # None keeps API Gateway's own status for the type
    code: str
    message: str  # literal text, or "" for API Gateway's own message


def gateway_errors(max_request_bytes: int) -> list[GatewayError]:
    types = apigw.ResponseType
    return [
        GatewayError(
            types.REQUEST_TOO_LARGE,
            "413",
            "too_large",
            f"the request body is over {max_request_bytes} bytes; send a smaller image "
            "(tray mode uses about 448 x 448 pixels of it, photo mode 224 x 224)",
        ),
        GatewayError(
            types.THROTTLED, "429", "throttled", "too many requests; wait a moment and retry"
        ),
        GatewayError(
            types.QUOTA_EXCEEDED,
            "429",
            "quota_exceeded",
            "this API key has used its daily quota; retry tomorrow or ask for a higher quota",
        ),
        GatewayError(
            types.INVALID_API_KEY,
            "403",
            "forbidden",
            "this route needs a valid API key in the x-api-key header",
        ),
        # A REST API answers an unknown path with 403 "Missing Authentication Token".
        GatewayError(types.MISSING_AUTHENTICATION_TOKEN, "404", "not_found", "no such route"),
        GatewayError(
            types.INTEGRATION_TIMEOUT,
            "504",
            "timeout",
            "the prediction took too long; retry, or send a smaller image",
        ),
        GatewayError(types.DEFAULT_4_XX, None, "refused", ""),
        GatewayError(
            types.DEFAULT_5_XX, None, "unavailable", "the service could not answer; retry later"
        ),
    ]


def body_template(error: GatewayError) -> str:
    # $context.error.messageString is API Gateway's own message, already a quoted JSON string.
    message = json.dumps(error.message) if error.message else "$context.error.messageString"
    return f'{{"error": {{"code": {json.dumps(error.code)}, "message": {message}}}}}'


def cors_headers(origins: tuple[str, ...]) -> dict[str, str]:
    """One origin: named. Several: the caller's Origin echoed (a header can name only one),
    which reveals nothing but these error bodies. None: same-origin only (the demo page)."""
    if not origins:
        return {}
    if len(origins) == 1:
        return {"Access-Control-Allow-Origin": f"'{origins[0]}'"}
    return {
        "Access-Control-Allow-Origin": "method.request.header.Origin",
        "Vary": "'Origin'",
    }


def add_gateway_responses(
    api: apigw.RestApi, origins: tuple[str, ...], max_request_bytes: int
) -> None:
    headers = {"Content-Type": "'application/json'", **cors_headers(origins)}
    for error in gateway_errors(max_request_bytes):
        api.add_gateway_response(
            f"Gateway{error.kind.response_type.title().replace('_', '')}",
            type=error.kind,
            status_code=error.status,
            response_headers=headers,
            templates={"application/json": body_template(error)},
        )
