"""Rolling back the backbone moves its pointer and the heads that run on it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.lambdas.conftest import BACKBONE, RED_HEAD, publish_backbone, publish_head
from traygo import backbones, layout
from traygo.backbone_rollback import rollback
from traygo.cli import main
from traygo.errors import RegistryError
from traygo.registry import Registry
from traygo.store import open_store

V1, V2, V3 = "tiny-32-00000001", "tiny-32-00000002", "tiny-32-00000003"


@pytest.fixture
def switched(tmp_path: Path) -> Registry:
    """V1 was current; V2 is now. pizza was retrained on V2 (its V1 head is in its history),
    burger exists only on V2, fries was never moved off V1."""
    registry = Registry(open_store(str(tmp_path / "store")))
    head = RED_HEAD.read_bytes()
    publish_backbone(registry.store, V1, BACKBONE.read_bytes())
    publish_head(registry, "pizza", "20261201T000000Z-pizza-v1", head, V1)
    publish_head(registry, "fries", "20261201T000000Z-fries-v1", head, V1)
    publish_backbone(registry.store, V2, BACKBONE.read_bytes())
    publish_head(registry, "pizza", "20261202T000000Z-pizza-v2", head, V2)
    publish_head(registry, "burger", "20261202T000000Z-burger-v2", head, V2)
    return registry


def test_the_pointer_and_the_heads_on_it_go_back(switched: Registry) -> None:
    assert backbones.previous_version(switched.store) == V1
    done = rollback(switched)

    assert (done.left, done.target) == (V2, V1)
    assert backbones.current_version(switched.store) == V1
    assert backbones.previous_version(switched.store) == V2  # so it can be undone
    assert done.moved == {"pizza": "20261201T000000Z-pizza-v1"}
    assert switched.live("pizza").version == "20261201T000000Z-pizza-v1"
    assert done.kept == ["burger"]  # nothing on V1 to return to: served on V2 meanwhile
    assert switched.live("burger").version == "20261202T000000Z-burger-v2"
    assert switched.live("fries").version == "20261201T000000Z-fries-v1"  # never on V2
    # and undone, the same way
    again = rollback(switched)
    assert again.target == V2 and switched.live("pizza").version == "20261202T000000Z-pizza-v2"


def test_a_rollback_needs_somewhere_to_go(switched: Registry, tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="no backbone 'tiny-32-00000003'"):
        rollback(switched, to=V3)
    with pytest.raises(RegistryError, match="already current"):
        rollback(switched, to=V2)
    fresh = Registry(open_store(str(tmp_path / "fresh")))
    publish_backbone(fresh.store, V1, BACKBONE.read_bytes())
    with pytest.raises(RegistryError, match="records no earlier one"):
        rollback(fresh)
    assert backbones.current_version(switched.store) == V2  # nothing moved on a refusal
    assert switched.store.exists(layout.live_key("pizza"))


def test_the_cli_says_what_moved_and_what_to_retrain(
    switched: Registry, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["backbone", "rollback", "--store", switched.store.uri])
    out = capsys.readouterr().out
    assert code == 0
    assert f"backbone {V1} is current again (was {V2})" in out
    assert "pizza: 20261201T000000Z-pizza-v1 is live again" in out
    assert f"traygo train --label burger --backbone {V1}" in out
