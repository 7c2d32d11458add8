"""A store with live models (the committed red detector), events as API Gateway sends them."""

from __future__ import annotations

import base64
import io
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from traygo.images.preprocess import PREPROCESSING_ID
from traygo.registry import Registry
from traygo.store import open_store

MODEL = Path(__file__).with_name("fixtures") / "red_detector.tflite"


def metadata(label: str) -> dict[str, Any]:
    return {
        "created_at": "2026-11-24T00:00:00+00:00",
        "classes": [f"not_{label}", label],
        "input": {
            "height": 180,
            "width": 180,
            "channels": 3,
            "dtype": "float32",
            "preprocessing": PREPROCESSING_ID,
            "range": [0, 255],
        },
        "output": {"kind": "logits", "positive_index": 1},
        "threshold": 0.5,
        "metrics": {"accuracy": 1.0, "n": 10},
        "dataset": {"fingerprint": "f" * 64, "counts": {}},
        "training": {"architecture": "fixture", "epochs": 0, "seconds": 0},
        "parity": {"max_abs_diff": 0.0},
        "quantization": "none",
    }


def publish(registry: Registry, label: str, version: str, model: bytes) -> None:
    registry.publish(label, version, {"model.tflite": model}, metadata(label))
    registry.promote(label, version)


def image_bytes(colour: tuple[int, int, int], fmt: str = "PNG", size: int = 64) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buf, fmt)
    return buf.getvalue()


RED = (230, 20, 20)
BLUE = (20, 20, 230)


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Registry]:
    """pizza and burger live (both the red detector), the handler pointed at them."""
    from lambdas.inference import api

    root = tmp_path / "store"
    registry = Registry(open_store(str(root)))
    publish(registry, "pizza", "20261124T000000Z-aaaaaaaa", MODEL.read_bytes())
    publish(registry, "burger", "20261124T000000Z-bbbbbbbb", MODEL.read_bytes())
    monkeypatch.setenv("TRAYGO_STORE", str(root))
    monkeypatch.setenv("TRAYGO_POINTER_TTL", "0.001")
    api.live_models.cache_clear()
    yield registry
    api.live_models.cache_clear()


@pytest.fixture
def server(registry: Registry) -> Iterator[str]:
    from lambdas.inference.server import make_server

    httpd = make_server("127.0.0.1", 0)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def rest_event(
    method: str,
    path: str,
    body: bytes | str | None = None,
    content_type: str | None = None,
    query: dict[str, str] | None = None,
) -> dict:
    binary = isinstance(body, bytes)
    headers = {"Content-Type": content_type} if content_type else {}
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "requestId": "req-1",
            "stage": "prod",
            "httpMethod": method,
            "path": f"/prod{path}",
            "identity": {"sourceIp": "203.0.113.9"},
        },
        "body": base64.b64encode(body).decode() if binary else body,
        "isBase64Encoded": binary,
    }


def http_event(
    method: str, path: str, body: bytes | str | None = None, content_type: str | None = None
) -> dict:
    binary = isinstance(body, bytes)
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"content-type": content_type} if content_type else {},
        "requestContext": {
            "requestId": "req-2",
            "stage": "$default",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.9",
                "userAgent": "test",
            },
        },
        "body": base64.b64encode(body).decode() if binary else body,
        "isBase64Encoded": binary,
    }


class Context:
    function_name = "traygo-test"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:eu-west-1:000000000000:function:traygo-test"
    aws_request_id = "req"


def call(event: dict) -> tuple[int, Any]:
    from lambdas.inference.handler import handler

    response = handler(event, Context())
    body = response["body"]
    headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    for name, values in (response.get("multiValueHeaders") or {}).items():
        headers[name.lower()] = ",".join(values)
    kind = headers.get("content-type", "")
    return response["statusCode"], json.loads(body) if "json" in kind else body
