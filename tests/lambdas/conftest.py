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
from traygo.metadata import artifact_table
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
    api.reset()
    yield registry
    api.reset()


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


FIXTURES = Path(__file__).with_name("fixtures")
BACKBONE = FIXTURES / "tiny_backbone.tflite"
BACKBONE_MAP = FIXTURES / "tiny_backbone_map.tflite"
BACKBONE_INT8 = FIXTURES / "tiny_backbone_int8.tflite"
BACKBONE_MAP_INT8 = FIXTURES / "tiny_backbone_map_int8.tflite"
RED_HEAD = FIXTURES / "red_head.tflite"
BLUE_HEAD = FIXTURES / "blue_head.tflite"


def publish_backbone(
    store: Any,
    version: str,
    model: bytes,
    current: bool = True,
    int8: bytes | None = None,
    int8_served: bool = True,
) -> None:
    """A backbone version as `traygo backbone import` lays it out (tiny: 32 px, 4 features);
    with `int8` (the photo model's bytes), the int8 pair beside it as `backbone tune` does."""
    from traygo import backbones, layout

    files = {"backbone.tflite": model, "backbone_map.tflite": BACKBONE_MAP.read_bytes()}
    if int8 is not None:
        files |= {
            "backbone_int8.tflite": int8,
            "backbone_map_int8.tflite": BACKBONE_MAP_INT8.read_bytes(),
        }
    for name, data in files.items():
        store.put_bytes(layout.backbone_key(version, name), data)
    meta = {
        "name": "tiny",
        "version": version,
        "created_at": "2026-11-30T00:00:00+00:00",
        "input": dict(metadata("x")["input"], height=32, width=32),
        "features": 4,
        "source": {
            "package": "fixture",
            "package_version": "0",
            "file": "make_model.py",
            "sha256": "0" * 64,
            "license": "Apache-2.0",
        },
        "parity": {"max_abs_diff": 0.0},
        "tray": {"artifact": "backbone_map.tflite", "size": 64, "grid": 4},
        "artifacts": artifact_table(files, lambda name: layout.backbone_key(version, name)),
    }
    if int8 is not None:
        pair = {"photo": "backbone_int8.tflite", "tray": "backbone_map_int8.tflite"}
        meta["int8"] = {"artifacts": pair, "served": int8_served, "why": "fixture"}
    store.put_json(layout.backbone_key(version, "metadata.json"), meta)
    if current:
        backbones.set_current(store, version)


def publish_head(
    registry: Registry,
    label: str,
    version: str,
    model: bytes,
    backbone: str,
    tray_threshold: float | None = None,
) -> None:
    meta = metadata(label)
    meta["input"].update(height=32, width=32)
    meta["backbone"] = {"version": backbone, "features": 4}
    meta["tray"] = {"threshold": tray_threshold} if tray_threshold is not None else {}
    registry.publish(label, version, {"model.tflite": model}, meta)
    registry.promote(label, version)
