"""The URL fetcher cannot be pointed inside the network; a real local server stands in for
the internet (reachable only through the explicit test-only allowance)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from lambdas.inference import fetch
from lambdas.inference.errors import ApiError

from .conftest import RED, image_bytes

PNG = image_bytes(RED)


class Remote(BaseHTTPRequestHandler):
    routes: ClassVar[dict[str, tuple[int, dict[str, str], bytes]]] = {}

    def do_GET(self) -> None:
        status, headers, body = self.routes.get(self.path, (404, {}, b"missing"))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def remote() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Remote)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    Remote.routes = {
        "/pizza.png": (200, {"Content-Type": "image/png"}, PNG),
        "/page": (200, {"Content-Type": "text/html"}, b"<html></html>"),
        "/big.png": (200, {"Content-Type": "image/png"}, b"x" * 5000),
        "/to-metadata": (302, {"Location": "http://169.254.169.254/latest/meta-data/"}, b""),
        "/to-pizza": (301, {"Location": "/pizza.png"}, b""),
        "/loop": (302, {"Location": "/loop"}, b""),
        "/gone": (410, {}, b""),
    }
    yield base
    server.shutdown()


def from_remote(url: str, max_bytes: int = 10_000, timeout: float = 2.0) -> tuple[bytes, str]:
    """A fetch from the suite's own 127.0.0.1 server: the test-only loopback allowance on."""
    return fetch.fetch_image(url, max_bytes, timeout, allow_loopback=True)


def refused_code(url: str, allow_loopback: bool = False) -> tuple[int, str]:
    with pytest.raises(ApiError) as info:
        fetch.fetch_image(url, 10_000, 2.0, allow_loopback)
    return info.value.status, info.value.code


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/a.png",
        "http://10.0.0.8/a.png",
        "http://192.168.1.1/a.png",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/a.png",
        "http://[::ffff:127.0.0.1]/a.png",
        "http://[::ffff:169.254.169.254]/a.png",
        "http://[fe80::1]/a.png",
        "http://100.64.0.1/a.png",
        "http://0.0.0.0/a.png",
        "http://224.0.0.1/a.png",
        "file:///etc/passwd",
        "gopher://example.com/",
    ],
)
def test_private_and_odd_urls_are_refused(url: str) -> None:
    assert refused_code(url) == (422, "url_refused")


def test_a_name_resolving_to_a_private_address_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from traygo.net import addresses

    monkeypatch.setattr(addresses, "resolve", lambda host, port: ["93.184.215.14", "10.1.2.3"])
    assert refused_code("http://images.example.com/a.png") == (422, "url_refused")


def test_fetches_an_image_and_follows_a_vetted_redirect(remote: str) -> None:
    assert from_remote(f"{remote}/pizza.png") == (PNG, "image/png")
    assert from_remote(f"{remote}/to-pizza")[0] == PNG


def test_a_redirect_to_a_private_address_is_refused(remote: str) -> None:
    assert refused_code(f"{remote}/to-metadata", allow_loopback=True) == (422, "url_refused")


def test_remote_problems_map_to_clear_statuses(remote: str) -> None:
    assert refused_code(f"{remote}/page", allow_loopback=True) == (415, "unsupported_type")
    assert refused_code(f"{remote}/gone", allow_loopback=True) == (502, "fetch_failed")
    assert refused_code(f"{remote}/loop", allow_loopback=True) == (422, "url_refused")
    with pytest.raises(ApiError) as info:
        from_remote(f"{remote}/big.png", max_bytes=1000)
    assert (info.value.status, info.value.code) == (413, "too_large")


def test_loopback_stays_refused_without_the_test_allowance(remote: str) -> None:
    assert refused_code(f"{remote}/pizza.png") == (422, "url_refused")


def test_a_silent_server_times_out() -> None:
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts the connection, never answers
    try:
        with pytest.raises(ApiError) as info:
            from_remote(f"http://127.0.0.1:{listener.getsockname()[1]}/a.png", 1000, 0.5)
    finally:
        listener.close()
    assert (info.value.status, info.value.code) == (504, "fetch_timeout")
