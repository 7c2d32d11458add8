"""Misbehaving image hosts on 127.0.0.1, written as raw sockets: one that trickles its answer
a byte at a time, one that redirects wherever it is told. Shared by the API and scraper tests
and benchmarks/bench_hostile.py."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

TRICKLE_BODY = b"\xff\xd8" + b"\x00" * 4094


@contextmanager
def host(
    answer: str = "trickle_body", location: str = "", every: float = 0.05, body: bytes = b""
) -> Iterator[str]:
    """A loopback host; yields its base URL. `answer`: "trickle_body" (headers at once, then a
    byte every `every` s), "trickle_headers" (the status line itself trickles), "redirect"
    (302 to `location`), "image" (`body` as a PNG, at once) or "silent" (never answers)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn, suppress(OSError):  # the client hung up: what a deadline is for
            conn.recv(65536)
            _answer(conn, answer, location, every, stop, body)

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        listener.close()


def _answer(
    conn: socket.socket,
    answer: str,
    location: str,
    every: float,
    stop: threading.Event,
    body: bytes,
) -> None:
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\n"
        + f"Content-Length: {len(TRICKLE_BODY)}\r\n\r\n".encode()
    )
    if answer == "redirect":
        conn.sendall(f"HTTP/1.1 302 Found\r\nLocation: {location}\r\n\r\n".encode())
        return
    if answer == "image":
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        return
    if answer == "silent":
        stop.wait(30)
        return
    trickled = head + TRICKLE_BODY if answer == "trickle_headers" else TRICKLE_BODY
    if answer == "trickle_body":
        conn.sendall(head)
    for i in range(len(trickled)):
        if stop.wait(every):
            return
        conn.sendall(trickled[i : i + 1])


def elapsed(fn: object) -> tuple[object, float]:
    """(what fn() returned or raised, seconds it took)."""
    started = time.monotonic()
    try:
        out: object = fn()  # type: ignore[operator]
    except Exception as exc:  # noqa: BLE001 - returned for the caller to assert on
        out = exc
    return out, time.monotonic() - started
