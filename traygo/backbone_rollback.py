"""Rolling back the backbone: a pointer move with its heads, like a head's rollback.

`backbones/current.json` goes back to the previous (or a named) backbone, and every label whose
live head runs on the backbone being left goes back to its most recent earlier live version on
the target backbone (its live.json history). A label with none keeps its head: serving scores
every head on its own backbone (two at once), so it still answers, and the report names it so it
can be retrained on the target.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from traygo import backbones
from traygo.errors import RegistryError
from traygo.registry import Registry


@dataclass
class BackboneRollback:
    left: str
    target: str
    moved: dict[str, str] = field(default_factory=dict)  # label -> its version on the target
    kept: list[str] = field(default_factory=list)  # labels with no earlier version on it


def rollback(registry: Registry, to: str | None = None) -> BackboneRollback:
    store = registry.store
    left = backbones.current_version(store)
    if left is None:
        raise RegistryError(f"no backbone is current in {store.uri}: nothing to roll back")
    target = to or backbones.previous_version(store)
    if target is None:
        raise RegistryError(
            f"backbone {left} records no earlier one; name it with --to VERSION",
        )
    backbones.metadata(store, target)  # a complete version, or a clear error
    if target == left:
        raise RegistryError(f"backbone {target} is already current")
    report = BackboneRollback(left, target)
    for label in registry.labels():
        _roll_label(registry, label, report)
    backbones.set_current(store, target)
    return report


def _roll_label(registry: Registry, label: str, report: BackboneRollback) -> None:
    live = registry.live(label)
    if live is None or _backbone_of(registry, label, live.version) != report.left:
        return  # not on the backbone being left: nothing to move
    for version in live.history:
        if _backbone_of(registry, label, version) == report.target:
            registry.rollback(label, to=version)
            report.moved[label] = version
            return
    report.kept.append(label)


def _backbone_of(registry: Registry, label: str, version: str) -> str | None:
    try:
        ref = registry.metadata(label, version).get("backbone") or {}
    except RegistryError:
        return None
    found = ref.get("version")
    return found if isinstance(found, str) else None
