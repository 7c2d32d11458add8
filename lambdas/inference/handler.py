"""The Lambda entry point for API Gateway REST (v1) and HTTP API (v2) proxy events."""

from __future__ import annotations

import json
from typing import Any

from lambdas.inference.api import http_app, logger, rest_app
from lambdas.inference.errors import ApiError


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId", clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    app = http_app() if event.get("version") == "2.0" else rest_app()
    try:
        return app.resolve(event, context)
    except Exception:  # noqa: BLE001 - the last line of defence: log it, never leak a trace
        logger.exception("unhandled error")
        request_id = logger.get_correlation_id()
        internal = ApiError(
            500,
            "internal",
            "internal error",
            hint="try again, and quote the request id if it persists",
        )
        return {
            "statusCode": internal.status,
            "headers": {"Content-Type": "application/json", "X-Request-Id": str(request_id)},
            "body": json.dumps(internal.body(request_id)),
            "isBase64Encoded": False,
        }
