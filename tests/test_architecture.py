"""The engine's shape: subpackages that follow the data flow, each saying its job in a
docstring, and no two of them importing each other (directly or round a longer loop)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "roibench"
SUBPACKAGES = sorted(p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file())


def imports_of(package: str) -> set[str]:
    """Other roibench subpackages that `package` imports, TYPE_CHECKING and function-level
    imports included (a cycle there is still a cycle in the design)."""
    found: set[str] = set()
    for file in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
                if node.module == "roibench":
                    names += [f"roibench.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                parts = name.split(".")
                if parts[0] == "roibench" and len(parts) > 1 and parts[1] in SUBPACKAGES:
                    found.add(parts[1])
    found.discard(package)
    return found


def test_the_engine_is_cut_into_its_pipeline_stages() -> None:
    for name in ("core", "config", "pricing", "model", "workflow", "agent", "journal", "run",
                 "results", "sinks", "sim", "cli"):  # fmt: skip
        assert name in SUBPACKAGES, name


def test_every_subpackage_says_its_job() -> None:
    for name in SUBPACKAGES:
        doc = ast.get_docstring(ast.parse((ROOT / name / "__init__.py").read_text()))
        assert doc, f"roibench.{name} has no docstring"


def test_no_import_cycles_between_subpackages() -> None:
    graph = {p: imports_of(p) for p in SUBPACKAGES}
    for a, deps in graph.items():
        for b in deps:
            assert a not in graph[b], f"roibench.{a} and roibench.{b} import each other"
    # and no longer loop: a topological order exists
    order: list[str] = []
    pending = dict(graph)
    while pending:
        ready = [p for p, deps in pending.items() if not deps - set(order)]
        assert ready, f"import cycle among {sorted(pending)}"
        order.extend(sorted(ready))
        for p in ready:
            del pending[p]
    assert order.index("core") < order.index("run") < order.index("cli")


def test_the_import_check_sees_a_cycle() -> None:
    # the check itself must be able to fail: sinks reads results, so results may not read sinks
    assert "results" in imports_of("sinks")
    assert "sinks" not in imports_of("results")
