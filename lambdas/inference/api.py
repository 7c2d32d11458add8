"""The HTTP API: routes, error bodies and logs, on aws-lambda-powertools' event handler."""

from __future__ import annotations

import base64
import json
from functools import cache
from importlib import resources
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import (
    APIGatewayHttpResolver,
    APIGatewayRestResolver,
    CORSConfig,
    Response,
)
from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver

from lambdas.inference import predict as prediction
from lambdas.inference import requests_in
from lambdas.inference.errors import ApiError, from_image_error
from lambdas.inference.models import LiveModels
from traygo import config
from traygo.errors import ImageError, TraygoError
from traygo.store import open_store

logger = Logger(service="traygo-inference")


@cache
def live_models() -> LiveModels:
    """One per execution environment: models stay loaded across invocations."""
    return LiveModels(open_store(config.store_uri()), float(config.get("pointer_ttl")))


def static(name: str) -> str:
    return resources.files("lambdas.inference").joinpath(f"static/{name}").read_text("utf-8")


def json_response(status: int, body: Any) -> Response:
    return Response(status, "application/json", json.dumps(body), {"Cache-Control": "no-store"})


def register(app: ApiGatewayResolver) -> ApiGatewayResolver:
    @app.get("/")
    def index() -> Response:
        return Response(200, "text/html; charset=utf-8", static("index.html"))

    @app.get("/health")
    def health() -> Response:
        return json_response(200, {"status": "ok"})

    @app.get("/openapi.json")
    def openapi() -> Response:
        return Response(200, "application/json", static("openapi.json"))

    @app.get("/models")
    def models() -> Response:
        live = live_models()
        out = []
        for label in live.labels():
            entry = live.get(label)
            out.append(
                {
                    "label": label,
                    "version": entry.version,
                    "status": "ok" if entry.model else "unavailable",
                    "code": entry.code,
                    "problem": entry.problem,
                    **_model_card(entry.model),
                }
            )
        return json_response(200, {"models": out, "backbone": _backbone_status(live, out)})

    @app.post("/predict")
    def predict() -> Response:
        event = app.current_event
        request = requests_in.parse(
            _body_bytes(event),
            event.headers.get("content-type") or "",
            (event.query_string_parameters or {}).get("labels"),
            int(config.get("max_request_bytes")),
            float(config.get("fetch_timeout")),
        )
        answer = prediction.predict(
            live_models(),
            request.image,
            request.labels,
            int(config.get("max_pixels")),
            (event.query_string_parameters or {}).get("mode") or "tray",
        )
        logger.info(
            "predicted",
            extra={"source": request.source, "bytes": len(request.image), **answer["timings_ms"]},
        )
        return json_response(200, answer)

    @app.exception_handler(ApiError)
    def api_error(exc: ApiError) -> Response:
        logger.info("refused", extra={"status": exc.status, "code": exc.code, "why": exc.message})
        return error_response(exc)

    @app.exception_handler(ImageError)
    def image_error(exc: ImageError) -> Response:
        return api_error(from_image_error(exc))

    @app.exception_handler(TraygoError)
    def store_error(exc: TraygoError) -> Response:
        # The message names store paths and buckets: logs only.
        logger.error("store unavailable", extra={"why": str(exc)})
        return error_response(
            ApiError(503, "unavailable", "the model store is unavailable; try again later")
        )

    @app.not_found
    def not_found(exc: Exception) -> Response:
        return error_response(
            ApiError(404, "not_found", "no such route; see GET /openapi.json for the routes")
        )

    return app


def _model_card(model: Any) -> dict[str, Any]:
    """What the demo page's model card shows: data, validation metrics, thresholds."""
    meta = model.meta if model is not None else {}
    metrics = meta.get("metrics", {})
    tray = meta.get("tray") or {}
    return {
        "threshold": model.threshold if model is not None else None,
        "tray_threshold": tray.get("threshold"),
        "backbone_version": getattr(model, "backbone_version", None),
        "created_at": meta.get("created_at"),
        "architecture": meta.get("training", {}).get("architecture"),
        "counts": meta.get("dataset", {}).get("counts"),
        "accuracy": metrics.get("accuracy"),
        "balanced_accuracy": metrics.get("balanced_accuracy"),
        "roc_auc": metrics.get("roc_auc"),
        "n": metrics.get("n"),
        "tray_metrics": tray.get("metrics"),
    }


def _backbone_status(live: LiveModels, models: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The shared backbone, when any live label is a head on it."""
    if not any(m["backbone_version"] for m in models):
        return None
    entry = live.backbone()
    return {
        "version": entry.version,
        "status": "ok" if entry.model else "unavailable",
        "code": entry.code,
        "problem": entry.problem,
    }


def error_response(exc: ApiError) -> Response:
    """The error body and an X-Request-Id header, both with the id the logs carry."""
    request_id = logger.get_correlation_id()
    headers = {"Cache-Control": "no-store"}
    if request_id:
        headers["X-Request-Id"] = str(request_id)
    return Response(exc.status, "application/json", json.dumps(exc.body(request_id)), headers)


def _body_bytes(event: Any) -> bytes:
    body = event.body or ""
    if event.is_base64_encoded:
        try:
            return base64.b64decode(body, validate=True)
        except ValueError:
            raise ApiError(
                400, "bad_base64", "the request body is not valid base64; send it encoded again"
            ) from None
    return body.encode("utf-8")


def cors() -> CORSConfig | None:
    """CORS for the browser origins the stack allows; none unless configured."""
    origins = [o.strip() for o in str(config.get("cors_origins")).split(",") if o.strip()]
    if not origins:
        return None
    return CORSConfig(
        allow_origin=origins[0],
        extra_origins=origins[1:],
        allow_headers=["Content-Type", "x-api-key"],
        max_age=600,
    )


@cache
def rest_app() -> APIGatewayRestResolver:
    return register(APIGatewayRestResolver(cors=cors()))


@cache
def http_app() -> APIGatewayHttpResolver:
    return register(APIGatewayHttpResolver(cors=cors()))
