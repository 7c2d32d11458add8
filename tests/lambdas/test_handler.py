"""The Lambda handler end to end: events in, API responses out, real TFLite models."""

from __future__ import annotations

import base64
import functools
import json

import numpy as np
import pytest

from lambdas.inference import api
from traygo import layout
from traygo.images.preprocess import preprocess
from traygo.registry import Registry

from .conftest import BLUE, MODEL, RED, call, http_event, image_bytes, publish, rest_event

pytestmark = pytest.mark.compat  # also runs under tflite-runtime 2.14 and numpy < 2


def by_label(answer: dict) -> dict[str, dict]:
    return {p["label"]: p for p in answer["predictions"]}


@pytest.mark.parametrize("make_event", [rest_event, http_event], ids=["rest-v1", "http-v2"])
def test_raw_image_bytes_answer_for_every_live_label(registry: Registry, make_event) -> None:
    status, answer = call(make_event("POST", "/predict", image_bytes(RED), "image/png"))
    assert status == 200, answer
    got = by_label(answer)
    assert set(got) == {"pizza", "burger"}
    assert got["pizza"]["present"] is True and got["pizza"]["probability"] > 0.9
    assert got["pizza"]["model_version"] == "20261124T000000Z-aaaaaaaa"

    status, answer = call(make_event("POST", "/predict", image_bytes(BLUE, "JPEG"), "image/jpeg"))
    assert status == 200
    assert by_label(answer)["pizza"]["present"] is False


def test_base64_json_and_label_choice(registry: Registry) -> None:
    body = json.dumps(
        {"image": base64.b64encode(image_bytes(RED, "WEBP")).decode(), "labels": ["burger"]}
    )
    status, answer = call(rest_event("POST", "/predict", body, "application/json"))
    assert status == 200
    assert [p["label"] for p in answer["predictions"]] == ["burger"]


def test_served_pixels_are_the_shared_preprocessing(registry: Registry) -> None:
    """The handler must feed the model exactly preprocess(bytes), not its own resize."""
    from lambdas.inference.api import live_models

    rng = np.random.default_rng(1)
    noisy = rng.integers(0, 255, (97, 131, 3), dtype=np.uint8)
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(noisy).save(buf, "JPEG")
    data = buf.getvalue()
    status, answer = call(rest_event("POST", "/predict", data, "image/jpeg"))
    expected = live_models().get("pizza").model.probability(preprocess(data))
    assert status == 200
    assert by_label(answer)["pizza"]["probability"] == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        ("{not json", "application/json", 400, "bad_json"),
        (json.dumps({"image": "@@@"}), "application/json", 400, "bad_base64"),
        (
            json.dumps({"image": base64.b64encode(b"hello").decode()}),
            "application/json",
            400,
            "not_an_image",
        ),
        (json.dumps({}), "application/json", 400, "bad_request"),
        (json.dumps({"url": "ftp://example.com/a.jpg"}), "application/json", 422, "url_refused"),
        (
            json.dumps({"url": "http://169.254.169.254/latest/"}),
            "application/json",
            422,
            "url_refused",
        ),
        (json.dumps({"url": "http://127.0.0.1/a.jpg"}), "application/json", 422, "url_refused"),
        (
            json.dumps({"image": base64.b64encode(image_bytes(RED)).decode(), "labels": ["sushi"]}),
            "application/json",
            404,
            "unknown_label",
        ),
        (b"GIF87a-not-really", "image/gif", 400, "not_an_image"),
        ("a,b", "text/csv", 415, "unsupported_type"),
    ],
)
def test_client_mistakes_get_clear_json_errors(
    registry: Registry, body: str | bytes, content_type: str, status: int, code: str
) -> None:
    got, answer = call(rest_event("POST", "/predict", body, content_type))
    assert (got, answer["error"]["code"]) == (status, code)
    assert answer["error"]["message"] and "Traceback" not in answer["error"]["message"]


def test_unsupported_image_format_is_415(registry: Registry) -> None:
    status, answer = call(rest_event("POST", "/predict", image_bytes(RED, "BMP"), "image/bmp"))
    assert (status, answer["error"]["code"]) == (415, "unsupported_format")


def test_oversized_bodies_and_pixel_bombs_are_413(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRAYGO_MAX_REQUEST_BYTES", "1000")
    api.reset()  # settings are resolved once per execution environment
    status, answer = call(rest_event("POST", "/predict", b"x" * 1001, "image/jpeg"))
    assert (status, answer["error"]["code"]) == (413, "too_large")
    monkeypatch.delenv("TRAYGO_MAX_REQUEST_BYTES")
    monkeypatch.setenv("TRAYGO_MAX_PIXELS", "1000")
    api.reset()
    status, answer = call(rest_event("POST", "/predict", image_bytes(RED, size=64), "image/png"))
    assert (status, answer["error"]["code"]) == (413, "too_many_pixels")


def test_a_broken_model_fails_only_its_label(registry: Registry) -> None:
    publish(registry, "salad", "20261124T000000Z-cccccccc", b"these are not flatbuffers")
    status, answer = call(rest_event("POST", "/predict", image_bytes(RED), "image/png"))
    assert status == 200
    assert set(by_label(answer)) == {"pizza", "burger"}
    assert answer["unavailable"][0]["label"] == "salad"
    assert "cannot be loaded" in answer["unavailable"][0]["message"]

    status, answer = call(
        rest_event("POST", "/predict", image_bytes(RED), "image/png", query={"labels": "salad"})
    )
    assert (status, answer["error"]["code"]) == (503, "model_unavailable")
    status, models = call(rest_event("GET", "/models"))
    assert {m["label"]: m["status"] for m in models["models"]}["salad"] == "unavailable"


def test_no_live_model_is_503(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lambdas.inference import api

    monkeypatch.setenv("TRAYGO_STORE", str(tmp_path / "empty"))
    api.reset()
    status, answer = call(rest_event("POST", "/predict", image_bytes(RED), "image/png"))
    api.reset()
    assert (status, answer["error"]["code"]) == (503, "no_live_model")


def _raise_from_routes(monkeypatch: pytest.MonkeyPatch, exc: Exception) -> None:
    @functools.cache  # api.reset() clears it, as it does the real one
    def live_models() -> None:
        raise exc

    monkeypatch.setattr(api, "live_models", live_models)


def test_any_traygo_error_becomes_one_error_body(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    from traygo.errors import ImageError

    shown = ImageError("too_small", "the image is 3x3 px", hint="send at least 32x32 px")
    _raise_from_routes(monkeypatch, shown)
    status, answer = call(rest_event("GET", "/models"))
    assert status == 400
    assert answer == {
        "error": {
            "code": "too_small",
            "message": "the image is 3x3 px",
            "hint": "send at least 32x32 px",
            "request_id": "req-1",
        }
    }


def test_an_error_that_may_leak_is_a_generic_503(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    from traygo.errors import NotFoundError

    _raise_from_routes(monkeypatch, NotFoundError("s3://secret-bucket", "models/pizza"))
    status, answer = call(rest_event("GET", "/models"))
    assert (status, answer["error"]["code"], answer["error"]["request_id"]) == (
        503,
        "unavailable",
        "req-1",
    )
    assert "secret-bucket" not in json.dumps(answer)


def test_a_bug_is_a_500_with_the_same_shape(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    _raise_from_routes(monkeypatch, RuntimeError("/var/task/secret.py exploded"))
    status, answer = call(http_event("GET", "/models"))
    assert (status, answer["error"]["code"], answer["error"]["request_id"]) == (
        500,
        "internal",
        "req-2",
    )
    assert "quote the request id" in answer["error"]["hint"]
    assert "secret" not in json.dumps(answer)


def test_promotion_and_rollback_take_effect_without_redeploy(registry: Registry) -> None:
    first = by_label(call(rest_event("POST", "/predict", image_bytes(RED), "image/png"))[1])
    assert first["pizza"]["model_version"].endswith("aaaaaaaa")
    publish(registry, "pizza", "20261125T000000Z-dddddddd", MODEL.read_bytes())
    second = by_label(call(rest_event("POST", "/predict", image_bytes(RED), "image/png"))[1])
    assert second["pizza"]["model_version"].endswith("dddddddd")
    registry.rollback("pizza")
    third = by_label(call(rest_event("POST", "/predict", image_bytes(RED), "image/png"))[1])
    assert third["pizza"]["model_version"].endswith("aaaaaaaa")


def test_pointer_is_rechecked_only_after_its_ttl(registry: Registry) -> None:
    from lambdas.inference.models import LiveModels

    now = [0.0]
    live = LiveModels(registry.store, ttl=30, clock=lambda: now[0])
    assert live.get("pizza").version.endswith("aaaaaaaa")
    publish(registry, "pizza", "20261125T000000Z-eeeeeeee", MODEL.read_bytes())
    now[0] = 29.0
    assert live.get("pizza").version.endswith("aaaaaaaa")  # cached within the TTL
    now[0] = 30.0
    assert live.get("pizza").version.endswith("eeeeeeee")


def test_public_routes(registry: Registry) -> None:
    assert call(rest_event("GET", "/health")) == (200, {"status": "ok"})
    status, spec = call(rest_event("GET", "/openapi.json"))
    assert status == 200 and "/predict" in spec["paths"]
    status, page = call(http_event("GET", "/"))
    assert status == 200 and "<title>traygo" in page
    status, answer = call(rest_event("GET", "/nowhere"))
    assert (status, answer["error"]["code"]) == (404, "not_found")
    assert registry.store.exists(layout.live_key("pizza"))


def test_cors_headers_only_for_configured_origins(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lambdas.inference import api
    from lambdas.inference.handler import handler

    from .conftest import Context

    def origin_header(origin: str) -> str | None:
        event = rest_event("GET", "/health")
        event["headers"]["Origin"] = origin
        event["multiValueHeaders"]["Origin"] = [origin]
        response = handler(event, Context())
        headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
        for name, values in (response.get("multiValueHeaders") or {}).items():
            headers[name.lower()] = ",".join(values)
        return headers.get("access-control-allow-origin")

    assert origin_header("https://tray.example") is None  # nothing configured: no CORS
    monkeypatch.setenv("TRAYGO_CORS_ORIGINS", "https://tray.example,https://b.example")
    api.reset()
    try:
        assert origin_header("https://b.example") == "https://b.example"
        assert origin_header("https://evil.example") is None
    finally:
        api.reset()


def test_settings_are_resolved_once_per_execution_environment(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRAYGO_MAX_REQUEST_BYTES", "1000")
    api.reset()
    assert call(rest_event("POST", "/predict", b"x" * 1001, "image/jpeg"))[0] == 413
    monkeypatch.setenv("TRAYGO_MAX_REQUEST_BYTES", "5000")  # a warm Lambda keeps its settings
    assert call(rest_event("POST", "/predict", b"x" * 1001, "image/jpeg"))[0] == 413
    assert api.settings().max_request_bytes == 1000


def test_a_bad_setting_fails_the_cold_start_with_its_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from traygo.errors import ConfigError

    monkeypatch.setenv("TRAYGO_POINTER_TTL", "soon")
    api.reset()
    try:
        with pytest.raises(ConfigError, match=r"POINTER_TTL='soon'.*fix the variable TRAYGO_"):
            api.rest_app()
    finally:
        api.reset()
