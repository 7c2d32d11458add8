"""Heads on the shared backbone: one backbone pass per request, heads isolated per label."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.lambdas.conftest import (
    BACKBONE,
    BLUE,
    BLUE_HEAD,
    RED,
    RED_HEAD,
    call,
    image_bytes,
    publish_backbone,
    publish_head,
    rest_event,
)
from traygo import layout
from traygo.registry import Registry
from traygo.store import open_store

pytestmark = pytest.mark.compat

V1 = "tiny-32-00000001"
V2 = "tiny-32-00000002"
V3 = "tiny-32-00000003"


@pytest.fixture
def heads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Registry:
    """Six live heads on backbone V1: three find red, three find blue."""
    from lambdas.inference import api

    registry = Registry(open_store(str(tmp_path / "store")))
    publish_backbone(registry.store, V1, BACKBONE.read_bytes())
    for i, label in enumerate(["pizza", "burger", "fries", "salad", "soup", "hot_dog"]):
        model = RED_HEAD if i < 3 else BLUE_HEAD
        publish_head(registry, label, f"20261130T00000{i}Z-aaaaaaaa", model.read_bytes(), V1)
    monkeypatch.setenv("TRAYGO_STORE", str(tmp_path / "store"))
    monkeypatch.setenv("TRAYGO_POINTER_TTL", "0.001")
    api.reset()
    yield registry
    api.reset()


def predict(colour: tuple[int, int, int], **query: str) -> tuple[int, dict]:
    event = rest_event("POST", "/predict", image_bytes(colour), "image/png", query=query or None)
    return call(event)


def test_six_heads_cost_one_backbone_invoke(heads: Registry) -> None:
    from lambdas.inference.api import live_models

    status, answer = predict(RED)
    assert status == 200
    present = {p["label"]: p["present"] for p in answer["predictions"]}
    assert present == {
        "burger": True,
        "fries": True,
        "hot_dog": False,
        "pizza": True,
        "salad": False,
        "soup": False,
    }
    assert answer["backbone_version"] == V1
    assert live_models().backbone().model.invocations == 1
    status, answer = predict(BLUE)
    assert {p["label"] for p in answer["predictions"] if p["present"]} == {
        "salad",
        "soup",
        "hot_dog",
    }
    assert live_models().backbone().model.invocations == 2


def test_each_answer_names_the_version_that_gave_it(heads: Registry) -> None:
    publish_head(heads, "pizza", "20261201T000000Z-bbbbbbbb", RED_HEAD.read_bytes(), V1)
    _, answer = predict(RED)
    versions = {p["label"]: p["model_version"] for p in answer["predictions"]}
    assert versions["pizza"] == "20261201T000000Z-bbbbbbbb"
    assert versions["burger"] == "20261130T000001Z-aaaaaaaa"
    heads.rollback("pizza")
    _, answer = predict(RED)
    assert {p["label"]: p["model_version"] for p in answer["predictions"]}["pizza"].endswith(
        "000000Z-aaaaaaaa"
    )


def test_heads_on_two_backbones_are_each_scored_on_their_own(heads: Registry) -> None:
    from lambdas.inference.api import live_models

    publish_backbone(heads.store, V2, BACKBONE.read_bytes(), current=False)
    publish_head(heads, "pizza", "20261201T000000Z-cccccccc", RED_HEAD.read_bytes(), V2)
    status, answer = predict(RED)
    assert status == 200 and answer["unavailable"] == []
    on = {p["label"]: p["backbone_version"] for p in answer["predictions"]}
    assert on == {"pizza": V2, "burger": V1, "fries": V1, "salad": V1, "soup": V1, "hot_dog": V1}
    assert {p["label"] for p in answer["predictions"] if p["present"]} == {
        "pizza",
        "burger",
        "fries",
    }
    assert answer["backbone_version"] == V1  # the current one
    # one pass per backbone, whatever the number of heads on each
    assert live_models().backbone_for(V1).model.invocations == 1
    assert live_models().backbone_for(V2).model.invocations == 1


def test_heads_on_a_third_backbone_are_refused_with_the_limit(heads: Registry) -> None:
    for version, label in ((V2, "pizza"), (V3, "burger")):
        publish_backbone(heads.store, version, BACKBONE.read_bytes(), current=False)
        publish_head(
            heads, label, f"20261201T000000Z-{version[-8:]}", RED_HEAD.read_bytes(), version
        )
    status, answer = predict(RED)
    assert status == 200
    refused = {u["label"]: u for u in answer["unavailable"]}
    assert list(refused) == ["burger"] and refused["burger"]["code"] == "backbone_limit"
    assert (
        V3 in refused["burger"]["message"]
        and f"retrain burger on {V1}" in refused["burger"]["message"]
    )
    on = {p["label"]: p["backbone_version"] for p in answer["predictions"]}
    assert on["pizza"] == V2 and set(on.values()) == {V1, V2}


def test_switching_the_current_backbone_is_no_outage(heads: Registry) -> None:
    """Heads on the old backbone answer on it until each is retrained on the new one."""
    from lambdas.inference.api import live_models

    publish_backbone(heads.store, V2, BACKBONE.read_bytes())  # and makes it current
    publish_head(heads, "salad", "20261201T000000Z-dddddddd", BLUE_HEAD.read_bytes(), V2)
    _, answer = predict(BLUE)
    assert answer["unavailable"] == [] and len(answer["predictions"]) == 6
    assert answer["backbone_version"] == V2
    on = {p["label"]: p["backbone_version"] for p in answer["predictions"]}
    assert on["salad"] == V2 and on["pizza"] == V1
    assert live_models().backbone().version == V2
    assert live_models().backbone_for(V1).model.invocations == 1


def test_one_label_with_broken_metadata_leaves_the_others_answering(heads: Registry) -> None:
    version = "20261201T000000Z-eeeeeeee"
    publish_head(heads, "soup", version, BLUE_HEAD.read_bytes(), V1)
    heads.store.put_json(layout.metadata_key("soup", version), {"label": "soup", "threshold": 2})
    status, answer = predict(BLUE)
    assert status == 200
    assert len(answer["predictions"]) == 5
    assert answer["unavailable"] == [
        {
            "label": "soup",
            "code": "metadata_invalid",
            "message": answer["unavailable"][0]["message"],
        }
    ]
    assert "unusable metadata" in answer["unavailable"][0]["message"]
    status, models = call(rest_event("GET", "/models"))
    assert status == 200
    soup = next(m for m in models["models"] if m["label"] == "soup")
    assert (soup["status"], soup["code"]) == ("unavailable", "metadata_invalid")
    assert models["backbone"]["version"] == V1


def test_a_missing_backbone_makes_heads_unavailable_with_a_reason(heads: Registry) -> None:
    heads.store.delete(layout.backbone_key(V1, "backbone.tflite"))
    status, answer = predict(RED)
    assert (status, answer["error"]["code"]) == (503, "model_unavailable")
    assert f"backbone {V1} cannot serve: an artifact is missing" in answer["error"]["message"]


def test_heads_need_their_own_backbone_not_the_current_pointer(heads: Registry) -> None:
    from lambdas.inference import api

    heads.store.delete(layout.current_backbone_key())
    api.reset()  # a fresh execution environment
    status, answer = predict(RED)
    assert status == 200 and answer["backbone_version"] == V1
    assert {p["label"] for p in answer["predictions"] if p["present"]} == {
        "pizza",
        "burger",
        "fries",
    }


def test_a_failed_load_is_retried_after_the_ttl_and_recovers(heads: Registry) -> None:
    from lambdas.inference.models import LiveModels

    now = [0.0]
    live = LiveModels(heads.store, ttl=10, clock=lambda: now[0])
    key = layout.artifact_key("pizza", "20261130T000000Z-aaaaaaaa", "model.tflite")
    good = heads.store.get_bytes(key)
    heads.store.put_bytes(key, b"not a model")
    assert live.get("pizza").code == "artifact_corrupt"
    heads.store.put_bytes(key, good)
    now[0] = 9.0
    assert live.get("pizza").code == "artifact_corrupt"  # not before the TTL
    now[0] = 10.0
    entry = live.get("pizza")
    assert entry.model is not None and entry.problem is None


def test_failing_loads_back_off(heads: Registry) -> None:
    from lambdas.inference.models import LiveModels

    now = [0.0]
    live = LiveModels(heads.store, ttl=10, clock=lambda: now[0])
    key = layout.artifact_key("pizza", "20261130T000000Z-aaaaaaaa", "model.tflite")
    heads.store.put_bytes(key, b"not a model")
    checks = []
    for t in range(0, 100):
        now[0] = float(t)
        before = live.get("pizza")
        checks.append(before.failures)
    # retried at 10 s, then 20 s later, then 40 s later: 4 tries in 100 s, not 10
    assert max(checks) == 4
