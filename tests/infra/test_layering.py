"""infra/ modules import one another without a cycle; the nag helpers import no construct."""

from __future__ import annotations

import ast
from pathlib import Path

import infra

INFRA = Path(infra.__file__).parent


def infra_imports() -> dict[str, set[str]]:
    """{module: the infra modules it imports}, TYPE_CHECKING imports included."""
    graph: dict[str, set[str]] = {}
    for path in INFRA.rglob("*.py"):
        module = ".".join(path.relative_to(INFRA.parent).with_suffix("").parts)
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
                names.update(f"{node.module}.{a.name}" for a in node.names)
            elif isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
        graph[module] = names
    return {m: {n for n in names if n in graph and n != m} for m, names in graph.items()}


def cycle_from(graph: dict[str, set[str]], start: str) -> list[str] | None:
    stack = [(start, [start])]
    seen: set[str] = set()
    while stack:
        module, path = stack.pop()
        for dep in graph[module]:
            if dep == start:
                return [*path, dep]
            if dep not in seen:
                seen.add(dep)
                stack.append((dep, [*path, dep]))
    return None


def test_the_import_graph_is_read_from_the_source() -> None:
    graph = infra_imports()
    assert "infra.nag" in graph["infra.storage"]
    assert {"infra.batch_jobs", "infra.inference_api"} <= graph["infra.stack"]


def test_no_import_cycle_in_infra() -> None:
    graph = infra_imports()
    cycles = [c for m in sorted(graph) if (c := cycle_from(graph, m))]
    assert cycles == []


def test_nag_helpers_import_nothing_from_infra() -> None:
    assert infra_imports()["infra.nag"] == set()


def test_a_cycle_is_found_when_there_is_one() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycle_from(graph, "a") == ["a", "b", "c", "a"]
    assert cycle_from(graph, "d") is None
