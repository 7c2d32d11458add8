from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from traygo import layout
from traygo.errors import RegistryError
from traygo.registry import Registry, metadata_problems, new_version
from traygo.store import Store


def meta(accuracy: float = 0.9) -> dict:
    return {
        "created_at": "2026-11-24T12:00:00Z",
        "classes": ["not_pizza", "pizza"],
        "input": {
            "height": 180,
            "width": 180,
            "channels": 3,
            "dtype": "float32",
            "preprocessing": "traygo-rgb-bilinear-v1",
        },
        "threshold": 0.5,
        "metrics": {"accuracy": accuracy, "n": 10},
    }


def publish(reg: Registry, version: str, **gate: object) -> None:
    body = dict(meta(), gate=gate) if gate else meta()
    reg.publish("pizza", version, {"model.tflite": version.encode()}, body)


def test_new_version_sorts_by_time_and_names_content() -> None:
    early = new_version(b"a", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    late = new_version(b"a", datetime(2026, 11, 2, 3, 4, 5, tzinfo=UTC))
    assert early.startswith("20260102T030405Z-") and early < late
    assert early[-8:] == late[-8:] != new_version(b"b")[-8:]


def test_publish_writes_artifacts_then_metadata_with_hashes(store: Store) -> None:
    reg = Registry(store)
    publish(reg, "v1")
    written = reg.metadata("pizza", "v1")
    art = written["artifacts"]["model.tflite"]
    assert art["key"] == "models/pizza/v1/model.tflite" and art["bytes"] == 2
    assert store.get_bytes(art["key"]) == b"v1"
    assert written["label"] == "pizza" and written["version"] == "v1"
    assert reg.versions("pizza") == ["v1"] and reg.labels() == ["pizza"]


def test_publish_is_idempotent_and_refuses_conflicts(store: Store) -> None:
    reg = Registry(store)
    publish(reg, "v1")
    before = store.head(layout.metadata_key("pizza", "v1"))
    publish(reg, "v1")
    assert store.head(layout.metadata_key("pizza", "v1")) == before
    with pytest.raises(RegistryError, match="already exists"):
        reg.publish("pizza", "v1", {"model.tflite": b"other"}, meta())


def test_publish_refuses_incomplete_metadata(store: Store) -> None:
    with pytest.raises(RegistryError, match="threshold"):
        Registry(store).publish(
            "pizza",
            "v1",
            {"model.tflite": b"x"},
            {k: v for k, v in meta().items() if k != "threshold"},
        )
    assert list(store.list()) == []  # nothing written half-way


def test_a_version_without_metadata_is_not_listed(store: Store) -> None:
    store.put_bytes("models/pizza/v0/model.tflite", b"partial upload")
    assert Registry(store).versions("pizza") == []


def test_promote_and_rollback_walk_the_history(store: Store) -> None:
    reg = Registry(store)
    for v in ("v1", "v2", "v3"):
        publish(reg, v)
    assert reg.live("pizza") is None
    reg.promote("pizza", "v1")
    reg.promote("pizza", "v2")
    pointer = reg.promote("pizza", "v3")
    assert (pointer.version, pointer.previous, pointer.history) == ("v3", "v2", ("v2", "v1"))
    raw = store.get_json(layout.live_key("pizza"))
    assert raw["version"] == "v3" and raw["previous"] == "v2" and raw["promoted_at"]
    assert reg.rollback("pizza").version == "v2"
    assert reg.rollback("pizza").version == "v1"
    with pytest.raises(RegistryError, match="no earlier version"):
        reg.rollback("pizza")
    assert reg.rollback("pizza", to="v3").version == "v3"


def test_promote_refuses_unknown_version(store: Store) -> None:
    with pytest.raises(RegistryError, match="no version 'v9'"):
        Registry(store).promote("pizza", "v9")
    assert not store.exists(layout.live_key("pizza"))


def test_rollback_with_nothing_live(store: Store) -> None:
    with pytest.raises(RegistryError, match="nothing is live"):
        Registry(store).rollback("pizza")


def test_corrupt_live_pointer_is_a_clear_error_and_can_be_replaced(store: Store) -> None:
    reg = Registry(store)
    publish(reg, "v1")
    store.put_bytes(layout.live_key("pizza"), b"{not json")
    with pytest.raises(RegistryError, match=r"live\.json is corrupt"):
        reg.live("pizza")
    assert reg.promote("pizza", "v1").version == "v1"
    assert reg.live("pizza").version == "v1"


def test_concurrent_promotions_keep_a_valid_pointer_and_lose_none(store: Store) -> None:
    reg = Registry(store)
    versions = [f"v{i}" for i in range(6)]
    for v in versions:
        publish(reg, v)
    threads = [threading.Thread(target=reg.promote, args=("pizza", v)) for v in versions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    pointer = reg.live("pizza")
    assert pointer is not None
    assert sorted((pointer.version, *pointer.history)) == versions


def test_gate_decides_promotion(store: Store) -> None:
    reg = Registry(store)
    publish(reg, "v1", passed=False, reason="accuracy 0.60 < 0.80")
    ok, message = reg.promote_if_gate_passed("pizza", "v1")
    assert not ok and "0.60 < 0.80" in message and reg.live("pizza") is None
    publish(reg, "v2")
    ok, message = reg.promote_if_gate_passed("pizza", "v2")
    assert not ok and "no promotion gate" in message
    publish(reg, "v3", passed=True, reason="better")
    assert reg.promote_if_gate_passed("pizza", "v3")[0] and reg.live("pizza").version == "v3"


def test_metadata_problems_lists_each_gap() -> None:
    artifact = {"key": "models/p/v/model.tflite", "sha256": "0" * 64, "bytes": 1}
    good = dict(meta(), label="p", version="v", artifacts={"model.tflite": artifact})
    assert metadata_problems(good) == []
    problems = metadata_problems({"classes": ["a"], "input": {}, "metrics": {}})
    assert "threshold is missing" in problems
    assert "input.preprocessing is missing" in problems
    assert any(p.startswith("classes:") and "2 items" in p for p in problems)
    assert metadata_problems(dict(good, artifacts={})) == [
        "artifacts: Value error, must include model.tflite"
    ]
    assert metadata_problems(dict(good, threshold=float("nan")))[0].startswith("threshold:")
    assert metadata_problems([]) == ["metadata is not a JSON object"]


def test_unusable_stored_metadata_is_refused(store: Store) -> None:
    store.put_json(layout.metadata_key("pizza", "v1"), {"label": "pizza"})
    with pytest.raises(RegistryError, match="unusable metadata"):
        Registry(store).metadata("pizza", "v1")
