"""Turn a POST /predict body into image bytes and the labels asked for."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from lambdas.inference.errors import ApiError
from lambdas.inference.fetch import fetch_image
from traygo.settings import InferenceSettings

RAW_TYPES = ("application/octet-stream",)
# A request is {"url"|"image", "labels"}: a handful of containers and commas. Counting them
# before parsing refuses a deep or wide document before it costs a recursion or a gigabyte.
MAX_JSON_CONTAINERS = 64
MAX_JSON_COMMAS = 4096


@dataclass(frozen=True)
class PredictInput:
    image: bytes
    labels: list[str] | None
    source: str  # "url", "base64" or "body"


def parse(
    body: bytes, content_type: str, query_labels: str | None, conf: InferenceSettings
) -> PredictInput:
    """The image and labels of a request, within the limits of `conf`, or an ApiError."""
    check_size(body, conf)
    labels = labels_from_query(query_labels)
    if media_type(content_type) == "raw":
        if not body:
            raise ApiError(400, "empty", "the request body is empty; send the image bytes")
        return PredictInput(body, labels, "body")
    return _from_json(body, labels, conf)


def _from_json(body: bytes, labels: list[str] | None, conf: InferenceSettings) -> PredictInput:
    doc = json_object(body)
    if "labels" in doc:
        labels = labels_from_json(doc["labels"])
    image, source = image_from_doc(doc, conf)
    return PredictInput(image, labels, source)


def check_size(body: bytes, conf: InferenceSettings) -> None:
    if len(body) > conf.max_request_bytes:
        raise ApiError(413, "too_large", f"the request body is over {conf.max_request_bytes} bytes")


def media_type(content_type: str) -> str:
    """The body's kind: "raw" (image bytes), "json", or a 415."""
    media = content_type.split(";")[0].strip().lower()
    if media.startswith("image/") or media in RAW_TYPES:
        return "raw"
    if media not in ("application/json", ""):
        raise ApiError(
            415,
            "unsupported_type",
            f"content type {media} is not accepted; send application/json or image/*",
        )
    return "json"


def json_object(body: bytes) -> dict[str, object]:
    """The body as a JSON object, refused before parsing when it is too deep or wide."""
    _check_shape(body)
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "bad_json", "the body is not valid JSON; send a JSON object") from None
    except RecursionError:  # a nesting the container count let through still gets a 400
        raise _too_complex() from None
    if not isinstance(doc, dict):
        raise ApiError(
            400, "bad_json", 'the body must be a JSON object: {"url": …} or {"image": …}'
        )
    return doc


def image_from_doc(doc: dict[str, object], conf: InferenceSettings) -> tuple[bytes, str]:
    """The picture a JSON request names: fetched from "url" or decoded from "image"."""
    url, encoded = doc.get("url"), doc.get("image")
    if (url is None) == (encoded is None):
        raise ApiError(400, "bad_request", 'give exactly one of "url" or "image" (base64)')
    if url is not None:
        if not isinstance(url, str) or not url:
            raise ApiError(400, "bad_request", '"url" must be a non-empty string')
        image, _ = fetch_image(
            url, conf.max_request_bytes, conf.fetch_timeout, conf.allow_loopback_fetch
        )
        return image, "url"
    if not isinstance(encoded, str):
        raise ApiError(400, "bad_base64", '"image" must be a base64 string')
    if encoded.startswith("data:") and "," in encoded:
        encoded = encoded.split(",", 1)[1]
    try:
        image = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "bad_base64", '"image" is not valid base64') from None
    if not image:
        raise ApiError(400, "empty", '"image" is empty')
    return image, "base64"


def _check_shape(body: bytes) -> None:
    containers = body.count(b"{") + body.count(b"[")
    if containers > MAX_JSON_CONTAINERS or body.count(b",") > MAX_JSON_COMMAS:
        raise _too_complex()


def _too_complex() -> ApiError:
    return ApiError(
        400,
        "json_too_complex",
        'the JSON body is too deeply nested or has too many items; send {"url": …} or '
        '{"image": …} with an optional short "labels" list',
    )


def labels_from_query(raw: str | None) -> list[str] | None:
    if not raw:
        return None
    return [part.strip() for part in raw.split(",") if part.strip()] or None


def labels_from_json(raw: object, name: str = "labels") -> list[str] | None:
    if raw is None:
        return None
    if not isinstance(raw, list) or not all(isinstance(x, str) and x for x in raw):
        raise ApiError(400, "bad_request", f'"{name}" must be a list of label names')
    return raw or None
