"""The HTTP side of `traygo predict`: one request to an inference endpoint, its errors named."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from traygo.errors import ImageError, TraygoError
from traygo.images.decode import open_header
from traygo.images.shrink import ApiLimits, fit


@dataclass(frozen=True)
class Request:
    body: bytes
    content_type: str
    query: str
    note: str | None = None  # what was done to the file before sending, for the user


def ask(endpoint: str, request: Request, api_key: str | None) -> dict[str, Any]:
    """POST a request_body() to the endpoint's /predict."""
    url = endpoint.rstrip("/") + "/predict" + request.query
    headers = {"Content-Type": request.content_type, "Accept": "application/json"}
    if api_key:
        headers["x-api-key"] = api_key
    return _post(url, request.body, headers)


def request_body(target: str, labels: str | None, limits: ApiLimits | None = None) -> Request:
    """`target` (an image file or an http(s) URL) as a /predict request. A file the API would
    refuse for its size under `limits` is sent shrunk (None: always as it is)."""
    chosen = [x.strip() for x in labels.split(",") if x.strip()] if labels else None
    if target.startswith(("http://", "https://")):
        doc: dict[str, object] = {"url": target}
        if chosen:
            doc["labels"] = chosen
        return Request(json.dumps(doc).encode(), "application/json", "")
    path = Path(target)
    if not path.is_file():
        raise TraygoError(f"{target}: no such file (give an image file or an http(s) URL)")
    query = "?labels=" + ",".join(chosen) if chosen else ""
    try:
        return _file_request(target, path.read_bytes(), query, limits)
    except ImageError as exc:
        raise TraygoError(f"{target}: {exc}") from None


def _file_request(target: str, data: bytes, query: str, limits: ApiLimits | None) -> Request:
    content_type = f"image/{str(open_header(data).format).lower()}"
    shrunk = fit(data, limits) if limits is not None else None
    if shrunk is None:
        return Request(data, content_type, query)
    return Request(shrunk.data, "image/jpeg", query, f"{target} is {shrunk.message}")


def _post(url: str, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    request = urllib.request.Request(url, body, headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            answer: dict[str, Any] = json.loads(response.read())
            return answer
    except urllib.error.HTTPError as exc:
        raise TraygoError(f"{url} answered {exc.code}: {_error_message(exc)}") from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TraygoError(
            f"cannot reach {url} ({reason}); is `traygo run` up, or is --endpoint right?"
        ) from None


def _error_message(exc: urllib.error.HTTPError) -> str:
    try:
        message: str = json.loads(exc.read())["error"]["message"]
        return message
    except (ValueError, KeyError, TypeError):
        return exc.reason or "no details"
