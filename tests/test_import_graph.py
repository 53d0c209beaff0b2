"""The tree shows the flow: every module of ``lib/runbook`` sits in a stage package, imports only go
down the stages (or stay in one), and no two modules import each other, however indirectly
(function-level and type-checking imports count: they are imports all the same)."""

from __future__ import annotations

import ast
from pathlib import Path

# Lowest first. A module may import its own stage and those before it; the CLI layer (the
# top-level modules: cli, engine_cli, orchestrate, __main__) may import any stage and no stage
# imports it.
STAGES = ("core", "engine", "deploy", "invoke", "measure", "judge", "benchmark", "report", "notebook")
APP = len(STAGES)


def module_name(lib: Path, f: Path) -> str:
    parts = list(f.relative_to(lib).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def graph_of(lib: Path) -> dict[str, set[str]]:
    """module → the runbook modules it imports (``from runbook.x import y`` counts ``runbook.x.y``
    when that is a module, else ``runbook.x``)."""
    files = {module_name(lib, f): f for f in (lib / "runbook").rglob("*.py")
             if "placeholders" not in f.parts}
    graph: dict[str, set[str]] = {}
    for mod, f in files.items():
        deps: set[str] = set()
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 \
                    and node.module.split(".")[0] == "runbook":
                for a in node.names:
                    sub = f"{node.module}.{a.name}"
                    deps.add(sub if sub in files else node.module)
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name.split(".")[0] == "runbook"}
        # a package's own __init__ is the package; importing it from inside is not a dependency
        graph[mod] = {d for d in deps if d != mod and not mod.startswith(d + ".")}
    return graph


def stage(mod: str) -> int:
    parts = mod.split(".")
    if len(parts) == 1:  # the package root: its version only
        return 0
    if parts[1] in STAGES:
        return STAGES.index(parts[1])
    return APP if len(parts) == 2 else -1


def upward(graph: dict[str, set[str]]) -> list[str]:
    out = []
    for mod, deps in sorted(graph.items()):
        for d in sorted(deps):
            if stage(mod) < stage(d):
                out.append(f"{mod} ({_name(mod)}) imports {d} ({_name(d)})")
    return out


def _name(mod: str) -> str:
    s = stage(mod)
    return "app" if s == APP else STAGES[s] if s >= 0 else "no stage"


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_every_module_is_in_a_stage(root):
    graph = graph_of(root / "lib")
    loose = [m for m in graph if stage(m) < 0]
    assert not loose, f"modules outside the stage packages {STAGES}: {loose}"


def test_imports_only_go_down_the_stages(root):
    bad = upward(graph_of(root / "lib"))
    assert not bad, "upward imports:\n" + "\n".join(bad)


def test_no_import_circles(root):
    found = circles(graph_of(root / "lib"))
    assert not found, "import circles: " + "; ".join(" ↔ ".join(c) for c in found)


def test_the_checks_catch_an_upward_import_and_a_circle(tmp_path):
    pkg = tmp_path / "runbook"
    for path, text in {"__init__.py": "", "core/__init__.py": "", "report/__init__.py": "",
                       "core/a.py": "def f():\n    from runbook.report import page\n",
                       "report/page.py": "from runbook.core import a\n",
                       "core/b.py": "from runbook.core.c import x\n",
                       "core/c.py": "from runbook.core import b\nx = 1\n"}.items():
        (pkg / path).parent.mkdir(parents=True, exist_ok=True)
        (pkg / path).write_text(text)
    graph = graph_of(tmp_path)
    assert upward(graph) == ["runbook.core.a (core) imports runbook.report.page (report)"]
    assert sorted(circles(graph)) == [["runbook.core.a", "runbook.report.page"],
                                      ["runbook.core.b", "runbook.core.c"]]
