"""POST /feedback through the Lambda handler: validation, auth id, idempotence, the record."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from datetime import datetime

import pytest

from tests.lambdas.conftest import BLUE, RED, call, image_bytes, rest_event
from traygo import feedback, layout
from traygo.registry import Registry


def _feedback(body: dict | bytes, query: dict[str, str] | None = None, key_id: str | None = None):
    if isinstance(body, bytes):
        event = rest_event("POST", "/feedback", body, "image/png", query)
    else:
        event = rest_event("POST", "/feedback", json.dumps(body), "application/json", query)
    if key_id:
        event["requestContext"]["identity"]["apiKeyId"] = key_id
    return call(event)


def _stored(registry: Registry) -> list[str]:
    return list(registry.store.list(layout.FEEDBACK + "/"))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_a_correction_stores_the_picture_once_and_one_record_with_its_fields(
    registry: Registry,
) -> None:
    picture = image_bytes(RED)
    body = {"image": _b64(picture), "present": ["burger"], "corrects": "req-0"}
    status, answer = _feedback(body, key_id="key-123")

    assert status == 201 and answer["created"] is True
    sha = hashlib.sha256(picture).hexdigest()
    image_key = layout.feedback_image_key(sha, "png")
    assert registry.store.get_bytes(image_key) == picture
    record = registry.store.get_json(layout.feedback_record_key(answer["id"]))
    assert record == answer["record"]
    assert record["truth"] == {"present": ["burger"], "absent": ["pizza"], "unsure": []}
    assert record["image"] == {
        "key": image_key,
        "sha256": sha,
        "bytes": len(picture),
        "source": "base64",
    }
    assert record["corrects"] == "req-0"
    assert record["api_key_id"] == "key-123"
    datetime.fromisoformat(record["received_at"])
    # the answer traygo gave this picture, with the versions that gave it
    given = {p["label"]: p for p in record["answer"]["predictions"]}
    assert given["pizza"]["present"] is True and given["burger"]["present"] is True
    assert given["pizza"]["model_version"] == "20261124T000000Z-aaaaaaaa"
    assert record["id"] == feedback.record_id(sha, feedback.Truth(("burger",), ("pizza",), ()))


def test_the_same_correction_twice_is_one_record_and_other_truth_is_another(
    registry: Registry,
) -> None:
    picture = image_bytes(BLUE)
    first = _feedback(picture, {"present": ""})
    again = _feedback(picture, {"present": ""})
    other = _feedback(picture, {"present": "", "unsure": "pizza"})

    assert first[0] == 201 and again[0] == 200 and again[1]["created"] is False
    assert again[1]["id"] == first[1]["id"] and again[1]["record"] == first[1]["record"]
    assert other[0] == 201 and other[1]["id"] != first[1]["id"]
    assert other[1]["record"]["truth"] == {"present": [], "absent": ["burger"], "unsure": ["pizza"]}
    keys = _stored(registry)
    assert len([k for k in keys if k.startswith(layout.FEEDBACK_RECORDS)]) == 2
    assert len([k for k in keys if k.startswith(layout.FEEDBACK_IMAGES)]) == 1


def test_an_existing_record_is_never_overwritten(registry: Registry) -> None:
    picture = image_bytes(RED)
    _, answer = _feedback({"image": _b64(picture), "present": ["pizza"]})
    key = layout.feedback_record_key(answer["id"])
    before = registry.store.get_bytes(key)
    _feedback({"image": _b64(picture), "present": ["pizza"], "corrects": "req-9"})
    assert registry.store.get_bytes(key) == before


BAD = [
    ({"present": ["sushi"]}, 422, "unknown_label"),
    ({"present": ["pizza"], "unsure": ["pizza"]}, 422, "conflicting_truth"),
    ({}, 400, "missing_truth"),
    ({"present": "pizza"}, 400, "bad_request"),
    ({"present": None}, 400, "bad_request"),
    ({"present": [], "corrects": "no spaces allowed"}, 400, "bad_request"),
    ({"present": [], "image": _b64(b"not a picture at all")}, 400, "not_an_image"),
    ({"present": [], "image": "@@@"}, 400, "bad_base64"),
]


@pytest.mark.parametrize(("body", "status", "code"), BAD)
def test_bad_corrections_are_refused_by_name_and_store_nothing(
    registry: Registry, body: dict, status: int, code: str
) -> None:
    doc = copy.deepcopy(body)
    doc.setdefault("image", _b64(image_bytes(RED)))
    got, answer = _feedback(doc)
    assert (got, answer["error"]["code"]) == (status, code)
    assert answer["error"]["message"]
    assert _stored(registry) == []


def test_an_oversized_picture_is_refused_and_stores_nothing(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lambdas.inference import api

    monkeypatch.setenv("TRAYGO_MAX_REQUEST_BYTES", "2000")
    api.reset()
    status, answer = _feedback(image_bytes(RED, size=400) + b"\0" * 3000, {"present": "pizza"})
    assert (status, answer["error"]["code"]) == (413, "too_large")
    assert _stored(registry) == []


def test_raw_bytes_need_the_truth_in_the_query(registry: Registry) -> None:
    status, answer = _feedback(image_bytes(RED))
    assert (status, answer["error"]["code"]) == (400, "missing_truth")
    assert "present" in answer["error"]["message"]
    assert _stored(registry) == []


def test_the_answer_is_recorded_in_the_mode_the_person_saw(registry: Registry) -> None:
    picture = image_bytes(RED)
    _, tray = _feedback(picture, {"present": "pizza"})
    _, photo = _feedback({"image": _b64(picture), "present": ["pizza", "burger"], "mode": "photo"})
    assert tray["record"]["answer"]["mode"] == "tray"
    assert photo["record"]["answer"]["mode"] == "photo"
    status, bad = _feedback(picture, {"present": "", "mode": "plate"})
    assert (status, bad["error"]["code"]) == (400, "bad_mode")


def test_predict_answers_carry_the_request_id_a_correction_names(registry: Registry) -> None:
    status, answer = call(rest_event("POST", "/predict", image_bytes(RED), "image/png"))
    assert status == 200 and answer["request_id"] == "req-1"
