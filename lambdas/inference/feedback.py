"""POST /feedback: a correction checked whole before anything is written, then stored once.

Order matters: the truth is checked against the live labels, then the picture is read (a URL
fetched, base64 decoded), then scored as /predict would score it (which decodes it: a body that
is not a usable picture is refused here), and only then written: the picture under its sha256,
then the record, create-only. A refused request stores nothing; a repeated one finds its record.
"""

from __future__ import annotations

import re
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lambdas.inference import predict as prediction
from lambdas.inference.errors import ApiError
from lambdas.inference.models import LiveModels
from lambdas.inference.requests_in import (
    check_size,
    image_from_doc,
    json_object,
    labels_from_json,
    labels_from_query,
    media_type,
)
from traygo import feedback, layout
from traygo.errors import AlreadyExists, ImageError
from traygo.images.decode import EXTENSIONS, MIME_TYPES, open_header
from traygo.images.hashing import sha256_hex
from traygo.images.preprocess import preprocess
from traygo.settings import InferenceSettings
from traygo.store import Store
from traygo.store.base import dump_json

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_MISSING_TRUTH = (
    'say what is on the picture: "present": ["pizza", ...] in JSON or ?present=pizza,... with '
    "raw bytes (empty: none of the live labels is on it)"
)


@dataclass(frozen=True)
class Stored:
    record: dict[str, Any]
    created: bool


@dataclass(frozen=True)
class _Truth:
    present: list[str]
    unsure: list[str]
    corrects: str | None
    mode: str  # the /predict mode the person saw: the recorded answer is scored the same way


def take(
    live: LiveModels,
    store: Store,
    conf: InferenceSettings,
    request: tuple[bytes, str, dict[str, str]],
    api_key_id: str | None,
) -> Stored:
    """Check and store one correction; `request` is (body, content type, query parameters)."""
    body, content_type, query = request
    check_size(body, conf)
    raw = media_type(content_type) == "raw"
    doc = {} if raw else json_object(body)
    said = _truth_from_query(query) if raw else _truth_from_json(doc)
    truth = _checked(said, live.labels())
    if raw:
        if not body:
            raise ApiError(400, "empty", "the request body is empty; send the image bytes")
        image, source = body, "body"
    else:
        image, source = image_from_doc(doc, conf)
    answer = _answer(live, image, conf.max_pixels, said.mode)
    return _store(store, image, truth, answer, said.corrects, api_key_id, source)


def _truth_from_query(query: dict[str, str]) -> _Truth:
    if "present" not in query:
        raise ApiError(400, "missing_truth", _MISSING_TRUTH)
    return _Truth(
        labels_from_query(query["present"]) or [],
        labels_from_query(query.get("unsure")) or [],
        _corrects(query.get("corrects")),
        _mode(query.get("mode")),
    )


def _truth_from_json(doc: dict[str, object]) -> _Truth:
    if "present" not in doc:
        raise ApiError(400, "missing_truth", _MISSING_TRUTH)
    if doc["present"] is None:
        raise ApiError(400, "bad_request", '"present" must be a list of label names')
    return _Truth(
        labels_from_json(doc["present"], "present") or [],
        labels_from_json(doc.get("unsure"), "unsure") or [],
        _corrects(doc.get("corrects")),
        _mode(doc.get("mode")),
    )


def _corrects(value: object) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _REQUEST_ID.match(value):
        raise ApiError(400, "bad_request", '"corrects" must be the request_id of a /predict answer')
    return value


def _mode(value: object) -> str:
    if value is None or value == "":
        return "tray"
    if value not in prediction.MODES:
        raise ApiError(400, "bad_mode", f"mode={value!r}: use one of {', '.join(prediction.MODES)}")
    return str(value)


def _checked(said: _Truth, live: list[str]) -> feedback.Truth:
    try:
        return feedback.truth_for(said.present, said.unsure, live)
    except feedback.FeedbackError as exc:
        status = 422 if exc.code in ("unknown_label", "conflicting_truth") else 400
        raise ApiError(status, exc.code, exc.message, hint=exc.hint) from None


def _answer(live: LiveModels, image: bytes, max_pixels: int, mode: str) -> dict[str, Any] | None:
    """What traygo answers for this picture now (the live versions the correction is about).
    A picture no model can score yet is still a correction, once it decodes."""
    try:
        answer = prediction.predict(live, image, None, max_pixels, mode)
    except ApiError as exc:
        if exc.status < 500:
            raise
        try:
            preprocess(image, (32, 32), max_pixels)
        except ImageError as bad:
            raise ApiError(400, bad.code, bad.message, hint=bad.hint) from None
        return None
    return {k: answer[k] for k in ("mode", "backbone_version", "predictions", "unavailable")}


def _store(
    store: Store,
    image: bytes,
    truth: feedback.Truth,
    answer: dict[str, Any] | None,
    corrects: str | None,
    api_key_id: str | None,
    source: str,
) -> Stored:
    header = open_header(image)
    sha = sha256_hex(image)
    image_key = layout.feedback_image_key(sha, EXTENSIONS[str(header.format)])
    with suppress(AlreadyExists):  # content-addressed: a key that exists holds these bytes
        store.create_bytes(image_key, image, MIME_TYPES[str(header.format)])
    record = feedback.build_record(
        sha,
        image_key,
        len(image),
        truth,
        answer,
        received_at=datetime.now(UTC),
        corrects=corrects,
        api_key_id=api_key_id,
        source=source,
    )
    key = layout.feedback_record_key(record["id"])
    try:
        store.create_bytes(key, dump_json(record), "application/json")
    except AlreadyExists:
        return Stored(store.get_json(key), created=False)
    return Stored(record, created=True)
