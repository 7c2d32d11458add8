"""The HTTP API: routes, error bodies and logs, on aws-lambda-powertools' event handler."""

from __future__ import annotations

import base64
import json
from functools import cache
from importlib import resources
from typing import Any, TypeVar

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import (
    APIGatewayHttpResolver,
    APIGatewayRestResolver,
    CORSConfig,
    Response,
)
from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver

from lambdas.inference import feedback as corrections
from lambdas.inference import predict as prediction
from lambdas.inference import requests_in
from lambdas.inference.errors import ApiError, to_api_error
from lambdas.inference.models import LiveModels
from traygo.errors import TraygoError
from traygo.settings import InferenceSettings, resolve
from traygo.store import open_store

logger = Logger(service="traygo-inference")
_App = TypeVar("_App", bound=ApiGatewayResolver)


_configured: InferenceSettings | None = None  # the local server's, from configure()


@cache
def settings() -> InferenceSettings:
    """Resolved once per execution environment (the cold start) from `TRAYGO_…` variables,
    unless the local server's entry point gave its own."""
    return _configured or resolve(InferenceSettings)


def configure(conf: InferenceSettings) -> None:
    """Serve with `conf` (resolved by `traygo serve` from its flags) instead of the environment."""
    global _configured
    reset()
    _configured = conf


@cache
def live_models() -> LiveModels:
    """One per execution environment: models stay loaded across invocations."""
    conf = settings()
    return LiveModels(open_store(conf.store), conf.pointer_ttl, precision=conf.backbone_precision)


def reset() -> None:
    """Forget the settings, models and apps, as a fresh execution environment would."""
    global _configured
    _configured = None
    for cached in (settings, live_models, rest_app, http_app):
        cached.cache_clear()


def static(name: str) -> str:
    return resources.files("lambdas.inference").joinpath(f"static/{name}").read_text("utf-8")


def json_response(status: int, body: Any) -> Response[str]:
    return Response(status, "application/json", json.dumps(body), {"Cache-Control": "no-store"})


def register(app: _App, conf: InferenceSettings) -> _App:
    """Every route and the error mapping on one resolver (REST or HTTP API events)."""
    _pages(app)
    _models(app)
    _predict(app, conf)
    _feedback(app, conf)
    _errors(app)
    return app


def _pages(app: ApiGatewayResolver) -> None:
    @app.get("/")
    def index() -> Response[str]:
        return Response(200, "text/html; charset=utf-8", static("index.html"))

    @app.get("/health")
    def health() -> Response[str]:
        return json_response(200, {"status": "ok"})

    @app.get("/openapi.json")
    def openapi() -> Response[str]:
        return Response(200, "application/json", static("openapi.json"))


def _models(app: ApiGatewayResolver) -> None:
    @app.get("/models")
    def models() -> Response[str]:
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


def _predict(app: ApiGatewayResolver, conf: InferenceSettings) -> None:
    @app.post("/predict")
    def predict() -> Response[str]:
        event = app.current_event
        request = requests_in.parse(
            _body_bytes(event),
            event.headers.get("content-type") or "",
            (event.query_string_parameters or {}).get("labels"),
            conf,
        )
        answer = prediction.predict(
            live_models(),
            request.image,
            request.labels,
            conf.max_pixels,
            (event.query_string_parameters or {}).get("mode") or "tray",
        )
        logger.info(
            "predicted",
            extra={"source": request.source, "bytes": len(request.image), **answer["timings_ms"]},
        )
        # the id a correction names (POST /feedback "corrects") and the logs carry
        answer["request_id"] = logger.get_correlation_id()
        return json_response(200, answer)


def _feedback(app: ApiGatewayResolver, conf: InferenceSettings) -> None:
    @app.post("/feedback")
    def feedback() -> Response[str]:
        event = app.current_event
        live = live_models()
        stored = corrections.take(
            live,
            live.store,
            conf,
            (
                _body_bytes(event),
                event.headers.get("content-type") or "",
                dict(event.query_string_parameters or {}),
            ),
            _api_key_id(event),
        )
        record = stored.record
        logger.info(
            "feedback",
            extra={
                "record": record["id"],
                "new_record": stored.created,
                "present": record["truth"]["present"],
                "unsure": record["truth"]["unsure"],
            },
        )
        body = {"id": record["id"], "created": stored.created, "record": record}
        return json_response(201 if stored.created else 200, body)


def _errors(app: ApiGatewayResolver) -> None:
    @app.exception_handler(TraygoError)  # type: ignore[untyped-decorator]
    def traygo_error(exc: TraygoError) -> Response[str]:
        # The one mapping of the error family to HTTP; the original message (which may name
        # store paths and buckets) goes to the logs only.
        answer = to_api_error(exc)
        level = logger.info if answer.status < 500 else logger.error
        level("refused", extra={"status": answer.status, "code": exc.code, "why": exc.message})
        return error_response(answer)

    @app.not_found
    def not_found(exc: Exception) -> Response[str]:
        return error_response(
            ApiError(404, "not_found", "no such route; see GET /openapi.json for the routes")
        )


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
        "background": meta.get("dataset", {}).get("background"),
        "tray_metrics": tray.get("metrics"),
        "tray_false_alarm_target": (tray.get("calibration") or {}).get("false_alarm_target"),
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


def error_response(exc: ApiError) -> Response[str]:
    """The error body and an X-Request-Id header, both with the id the logs carry."""
    request_id = logger.get_correlation_id()
    headers = {"Cache-Control": "no-store"}
    if request_id:
        headers["X-Request-Id"] = str(request_id)
    return Response(exc.status, "application/json", json.dumps(exc.body(request_id)), headers)


def _api_key_id(event: Any) -> str | None:
    """The id (not the secret) of the API key the gateway checked; REST events only."""
    identity = (event.raw_event.get("requestContext") or {}).get("identity") or {}
    key_id = identity.get("apiKeyId")
    return str(key_id) if key_id else None


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


def cors(origins: tuple[str, ...]) -> CORSConfig | None:
    """CORS for the browser origins the stack allows; none unless configured."""
    if not origins:
        return None
    return CORSConfig(
        allow_origin=origins[0],
        extra_origins=list(origins[1:]),
        allow_headers=["Content-Type", "x-api-key"],
        max_age=600,
    )


@cache
def rest_app() -> APIGatewayRestResolver:
    return register(APIGatewayRestResolver(cors=cors(settings().cors_origins)), settings())


@cache
def http_app() -> APIGatewayHttpResolver:
    return register(APIGatewayHttpResolver(cors=cors(settings().cors_origins)), settings())
