"""Hostile requests through the handler and the embedded server: each gets its status, a
stable code and a request id, leaks nothing internal, and the process keeps serving."""

from __future__ import annotations

import json
import socket
from urllib.parse import urlsplit

import pytest

from lambdas.inference import api
from lambdas.inference import server as server_module
from tests.traygo.hostile_images import HOSTILE
from tests.trickle_host import elapsed, host
from traygo.registry import Registry

from .conftest import RED, call, image_bytes, rest_event


def still_serving() -> bool:
    status, answer = call(rest_event("POST", "/predict", image_bytes(RED), "image/png"))
    return status == 200 and bool(answer["predictions"])


def predict_json(doc: object) -> tuple[int, dict]:
    return call(rest_event("POST", "/predict", json.dumps(doc), "application/json"))


@pytest.mark.parametrize(
    "name", ["png_rgba_6000x6000", "webp_rgba_6000x3000", "gif_palette_alpha_6000x6000"]
)
def test_pixel_bombs_get_413_and_the_process_keeps_serving(registry: Registry, name: str) -> None:
    status, answer = call(rest_event("POST", "/predict", HOSTILE[name](), "image/png"))
    assert (status, answer["error"]["code"]) == (413, "too_large_to_decode")
    assert answer["error"]["request_id"] == "req-1"
    assert still_serving()


@pytest.mark.parametrize(
    "body",
    [
        "[" * 100_000 + "]" * 100_000,
        '{"a":' * 50_000 + "1" + "}" * 50_000,
        "[1" + ",1" * 500_000 + "]",
    ],
    ids=["deep-list", "deep-object", "huge-list"],
)
def test_deep_and_huge_json_get_400(registry: Registry, body: str) -> None:
    status, answer = call(rest_event("POST", "/predict", body, "application/json"))
    assert (status, answer["error"]["code"]) == (400, "json_too_complex")
    assert still_serving()


def test_a_trickling_host_is_cut_at_the_total_deadline(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRAYGO_TEST_ALLOW_LOOPBACK_FETCH", "1")
    monkeypatch.setenv("TRAYGO_FETCH_TIMEOUT", "1")
    api.reset()  # settings are resolved once per execution environment
    for answer in ("trickle_body", "trickle_headers"):
        with host(answer) as base:
            (status, body), seconds = elapsed(lambda: predict_json({"url": f"{base}/a.jpg"}))
        assert (status, body["error"]["code"]) == (504, "fetch_timeout"), answer
        assert 0.9 < seconds < 2.0, (answer, seconds)
    assert still_serving()


def test_redirects_inside_the_network_are_refused_without_naming_addresses(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRAYGO_TEST_ALLOW_LOOPBACK_FETCH", "1")
    api.reset()  # settings are resolved once per execution environment
    for target in ("http://169.254.169.254/latest/meta-data/", "http://10.0.0.8/a.jpg"):
        with host("redirect", location=target) as base:
            status, answer = predict_json({"url": f"{base}/a.jpg"})
        assert (status, answer["error"]["code"]) == (422, "url_refused")
        message = answer["error"]["message"]
        assert urlsplit(target).hostname not in message and "127.0.0.1" not in message
    assert still_serving()


def raw_request(base: str, head: str, body: bytes = b"") -> tuple[int, dict]:
    """Send bytes as they are (no client fixing the framing); the status and JSON body."""
    parts = urlsplit(base)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as conn:
        conn.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        reply = b""
        while chunk := conn.recv(65536):
            reply += chunk
            if b"\r\n\r\n" in reply and reply.rstrip().endswith(b"}"):
                break
    status_line, _, rest = reply.partition(b"\r\n")
    return int(status_line.split()[1]), json.loads(rest.split(b"\r\n\r\n", 1)[1])


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ("Content-Length: abc", 400, "bad_content_length"),
        ("Content-Length: -5", 400, "bad_content_length"),
        ("Content-Length: 5\nContent-Length: 7", 400, "bad_content_length"),
        ("Content-Length: 999999999999", 413, "too_large"),
        ("Transfer-Encoding: chunked", 411, "length_required"),
        ("Transfer-Encoding: gzip", 501, "not_implemented"),
    ],
)
def test_bad_framing_is_refused_and_the_server_keeps_serving(
    server: str, headers: str, status: int, code: str
) -> None:
    head = (
        f"POST /predict HTTP/1.1\nHost: x\nContent-Type: image/png\n{headers}\nConnection: close\n"
    )
    got_status, answer = raw_request(server, head, b"5\r\nhello\r\n0\r\n\r\n")
    assert (got_status, answer["error"]["code"]) == (status, code)
    assert answer["error"]["request_id"]
    data = image_bytes(RED)
    ok_head = (
        f"POST /predict HTTP/1.1\nHost: x\nContent-Type: image/png\n"
        f"Content-Length: {len(data)}\nConnection: close\n"
    )
    assert raw_request(server, ok_head, data)[0] == 200


def test_a_client_that_stalls_is_cut_off(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server_module, "REQUEST_READ_SECONDS", 0.5)
    parts = urlsplit(server)
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as conn:
        conn.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
        closed, seconds = elapsed(lambda: conn.recv(65536))
    assert closed == b"" and seconds < 2.0  # the server hung up: no thread held forever
    data = image_bytes(RED)
    ok_head = (
        f"POST /predict HTTP/1.1\nHost: x\nContent-Type: image/png\n"
        f"Content-Length: {len(data)}\nConnection: close\n"
    )
    assert raw_request(server, ok_head, data)[0] == 200
