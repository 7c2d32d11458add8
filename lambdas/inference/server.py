"""A real HTTP server in front of the Lambda handler, sending it what API Gateway would.

Framing is checked here, as API Gateway does in front of the Lambda: one whole-number
Content-Length (400 otherwise), at most the request limit (413), no chunked bodies (411) or
other transfer codings (501), and the whole request read within REQUEST_READ_SECONDS.
The stdlib server was kept over a WSGI server such as waitress so that these refusals carry
the API's JSON error body and request id, with no dependency added to the inference part.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from lambdas.inference.api import settings
from lambdas.inference.errors import error_body
from lambdas.inference.handler import handler
from traygo.net.deadline import Deadline, watchdog

_TEXT_TYPES = ("application/json", "text/", "application/x-www-form-urlencoded")
REQUEST_READ_SECONDS = 30.0


def rest_event(method: str, target: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """The REST (v1) proxy event API Gateway builds, binary bodies base64-encoded."""
    parts = urlsplit(target)
    query = dict(parse_qsl(parts.query, keep_blank_values=True)) or None
    content_type = headers.get("Content-Type", headers.get("content-type", ""))
    binary = bool(body) and not content_type.lower().startswith(_TEXT_TYPES)
    return {
        "resource": parts.path,
        "path": parts.path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in (query or {}).items()} or None,
        "pathParameters": None,
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "httpMethod": method,
            "path": parts.path,
            "stage": "local",
            "requestTimeEpoch": int(time.time() * 1000),
            "identity": {"sourceIp": "127.0.0.1"},
        },
        "body": (base64.b64encode(body).decode() if binary else body.decode("utf-8", "replace"))
        if body
        else None,
        "isBase64Encoded": binary,
    }


class LocalContext:
    """What the Lambda runtime passes as `context`, for local calls."""

    function_name = "traygo-inference-local"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:local:000000000000:function:traygo-inference-local"
    memory_limit_in_mb = 1024

    def __init__(self, request_id: str) -> None:
        self.aws_request_id = request_id

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


class Handler(BaseHTTPRequestHandler):
    server_version = "traygo"
    protocol_version = "HTTP/1.1"

    def handle_one_request(self) -> None:
        # A total deadline to read the request (line, headers, body): a client trickling bytes
        # or idling on a kept-alive connection gets cut off instead of holding this thread.
        with watchdog(Deadline(REQUEST_READ_SECONDS), lambda: self.connection) as self._dog:
            super().handle_one_request()

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        body = self._read_body()
        self._dog.stand_down()  # read in time: serving it may take as long as it needs
        if body is None:
            return
        event = rest_event(self.command, self.path, dict(self.headers.items()), body)
        response = handler(event, LocalContext(event["requestContext"]["requestId"]))
        payload = response.get("body") or ""
        data = base64.b64decode(payload) if response.get("isBase64Encoded") else payload.encode()
        headers = dict(response.get("headers") or {})
        for name, values in (response.get("multiValueHeaders") or {}).items():
            headers[name] = ", ".join(values)
        self._reply(int(response["statusCode"]), headers, data)

    def _read_body(self) -> bytes | None:
        """The body, or None once an error has been answered (the connection then closes)."""
        length, problem = self._framing()
        if problem:
            self._refuse(*problem)
            return None
        body = self.rfile.read(length) if length else b""
        if len(body) < length or self._dog.fired:
            self.close_connection = True  # the client went away or ran out of time
            return None
        return body

    def _framing(self) -> tuple[int, tuple[int, str, str] | None]:
        """The body's length, or the (status, code, message) that refuses its framing."""
        coding = (self.headers.get("Transfer-Encoding") or "").strip().lower()
        if "chunked" in coding:
            return 0, (411, "length_required", "send the body with a Content-Length")
        if coding:
            return 0, (501, "not_implemented", f"Transfer-Encoding {coding} is not supported")
        lengths = set(self.headers.get_all("Content-Length") or [])
        if len(lengths) > 1 or not all(v.strip().isdigit() for v in lengths):
            return 0, (400, "bad_content_length", "send one Content-Length: a whole number")
        length = int(lengths.pop()) if lengths else 0
        limit = settings().max_request_bytes
        if length > limit:
            return length, (413, "too_large", f"the request body is over {limit} bytes")
        return length, None

    def _refuse(self, status: int, code: str, message: str) -> None:
        self.close_connection = True  # the unread body must not be taken for the next request
        request_id = str(uuid.uuid4())
        body = json.dumps(error_body(code, message, request_id)).encode()
        self._reply(status, {"Content-Type": "application/json", "X-Request-Id": request_id}, body)

    def _reply(self, status: int, headers: dict[str, str], data: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() not in ("content-length", "connection"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the handler logs each request as JSON already


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the stdlib's backlog of 5 resets bursts of clients


def make_server(host: str, port: int) -> ThreadingHTTPServer:
    return Server((host, port), Handler)
