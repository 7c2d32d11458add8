"""The HTTP side of `traygo predict`: one request to an inference endpoint, its errors named."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from traygo.errors import ImageError, TraygoError
from traygo.images.decode import open_header


def ask(endpoint: str, target: str, labels: str | None, api_key: str | None) -> dict[str, Any]:
    """POST `target` (an image file or an http(s) URL) to the endpoint's /predict."""
    body, content_type, query = request_body(target, labels)
    url = endpoint.rstrip("/") + "/predict" + query
    headers = {"Content-Type": content_type, "Accept": "application/json"}
    if api_key:
        headers["x-api-key"] = api_key
    return _post(url, body, headers)


def request_body(target: str, labels: str | None) -> tuple[bytes, str, str]:
    chosen = [x.strip() for x in labels.split(",") if x.strip()] if labels else None
    if target.startswith(("http://", "https://")):
        doc: dict[str, object] = {"url": target}
        if chosen:
            doc["labels"] = chosen
        return json.dumps(doc).encode(), "application/json", ""
    path = Path(target)
    if not path.is_file():
        raise TraygoError(f"{target}: no such file (give an image file or an http(s) URL)")
    data = path.read_bytes()
    try:
        img = open_header(data)
    except ImageError as exc:
        raise TraygoError(f"{target}: {exc}") from None
    query = "?labels=" + ",".join(chosen) if chosen else ""
    return data, f"image/{str(img.format).lower()}", query


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
