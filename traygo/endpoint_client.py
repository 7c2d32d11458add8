"""The HTTP side of `traygo predict` and `traygo feedback add`: one request to an inference
endpoint, its errors named."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
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


@dataclass(frozen=True)
class Answer:
    status: int  # a success's status tells apart what it did (POST /feedback: 201 new, 200 seen)
    doc: dict[str, Any]


class EndpointError(TraygoError):
    """The endpoint answered an error: its HTTP status, and the API's own code, message and
    hint (`code` is the API's, so a caller can tell a bad picture from a bad label)."""

    code = "endpoint_error"

    def __init__(
        self, url: str, status: int, reason: str, code: str | None = None, hint: str | None = None
    ) -> None:
        super().__init__(f"{url} answered {status}: {reason}", code=code, hint=hint)
        self.status = status
        self.reason = reason  # the API's message alone, for a per-file report


def ask(endpoint: str, request: Request, api_key: str | None) -> dict[str, Any]:
    """POST a request_body() to the endpoint's /predict."""
    url = endpoint.rstrip("/") + "/predict" + request.query
    return _post(url, request.body, _headers(request.content_type, api_key)).doc


def send_feedback(
    endpoint: str, body: bytes, content_type: str, query: Mapping[str, str], api_key: str | None
) -> Answer:
    """POST a picture's raw bytes to the endpoint's /feedback, its truth in `query`
    (present, unsure). 201: a new record; 200: the same correction was already there."""
    url = endpoint.rstrip("/") + "/feedback?" + urllib.parse.urlencode(query, safe=",")
    return _post(url, body, _headers(content_type, api_key))


def _headers(content_type: str, api_key: str | None) -> dict[str, str]:
    headers = {"Content-Type": content_type, "Accept": "application/json"}
    if api_key:
        headers["x-api-key"] = api_key
    return headers


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


def file_body(path: Path, limits: ApiLimits | None) -> Request:
    """A local image file as a raw-bytes body (no query), shrunk like request_body()'s.
    Raises the file's ImageError when it is no picture the API reads, OSError when unreadable."""
    return _file_request(str(path), path.read_bytes(), "", limits)


def _file_request(target: str, data: bytes, query: str, limits: ApiLimits | None) -> Request:
    content_type = f"image/{str(open_header(data).format).lower()}"
    shrunk = fit(data, limits) if limits is not None else None
    if shrunk is None:
        return Request(data, content_type, query)
    return Request(shrunk.data, "image/jpeg", query, f"{target} is {shrunk.message}")


def _post(url: str, body: bytes, headers: dict[str, str]) -> Answer:
    request = urllib.request.Request(url, body, headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, data = response.status, response.read()
    except urllib.error.HTTPError as exc:
        raise _endpoint_error(url, exc) from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TraygoError(
            f"cannot reach {url} ({reason}); is `traygo run` up, or is --endpoint right?"
        ) from None
    try:
        doc = json.loads(data)
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        raise TraygoError(
            f"{url} answered {status} with no JSON object; is --endpoint a traygo API?"
        )
    return Answer(status, doc)


def _endpoint_error(url: str, exc: urllib.error.HTTPError) -> EndpointError:
    """The API's {"error": {code, message, hint}}; a gateway's own refusal has only a reason."""
    try:
        error = json.loads(exc.read())["error"]
        return EndpointError(
            url, exc.code, str(error["message"]), code=error.get("code"), hint=error.get("hint")
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return EndpointError(url, exc.code, exc.reason or "no details")
