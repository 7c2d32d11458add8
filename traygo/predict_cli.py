"""`traygo predict`: ask an inference endpoint what is on a tray image."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import click

from traygo import config
from traygo.errors import ImageError, TraygoError
from traygo.images.decode import open_header


@click.command("predict")
@click.argument("image_or_url")
@config.option("endpoint")
@config.option("api_key", "--api-key")
@click.option("--labels", help="Comma-separated labels to ask about (default: every live one).")
@click.option("--json", "as_json", is_flag=True, help="Print the raw JSON answer.")
def app(
    image_or_url: str, endpoint: str, api_key: str | None, labels: str | None, as_json: bool
) -> None:
    """Send IMAGE_OR_URL (a local image file or an http(s) URL) to the endpoint and print
    which labels it sees."""
    body, content_type, query = _request_body(image_or_url, labels)
    url = endpoint.rstrip("/") + "/predict" + query
    headers = {"Content-Type": content_type, "Accept": "application/json"}
    if api_key:
        headers["x-api-key"] = api_key
    answer = _post(url, body, headers)
    if as_json:
        click.echo(json.dumps(answer, indent=2))
        return
    for p in answer.get("predictions", []):
        mark = "yes" if p["present"] else "no "
        click.echo(
            f"{p['label']:<12} {mark}  p={p['probability']:.3f}  "
            f"(threshold {p['threshold']:.3f}, model {p['model_version']})"
        )
    for u in answer.get("unavailable", []):
        click.echo(f"{u['label']:<12} unavailable: {u['message']}")


def _request_body(target: str, labels: str | None) -> tuple[bytes, str, str]:
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
