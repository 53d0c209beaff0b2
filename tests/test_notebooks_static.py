"""Notebook hygiene (notebooker-style, without running them): a `parameters` cell of annotated
literals each with a comment, thin cells (no `def`), committed without outputs, and papermill
sees every parameter."""

from __future__ import annotations

import ast
import json
import subprocess
import sys

import pytest

from .conftest import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_there_are_the_runbook_notebooks():
    names = {p.name for p in NOTEBOOKS}
    assert {"00_preflight.ipynb", "01_container.ipynb", "02_server.ipynb", "03_basic.ipynb",
            "04_vision.ipynb", "05_tools.ipynb", "bench.ipynb", "report.ipynb",
            "99_teardown.ipynb"} <= names


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_shape(nb):
    data = json.loads(nb.read_text())
    code = [c for c in data["cells"] if c["cell_type"] == "code"]
    params = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(params) == 1, "exactly one cell tagged parameters"
    for line in "".join(params[0]["source"]).splitlines():
        tree = ast.parse(line.split("  #")[0])
        node = tree.body[0]
        assert isinstance(node, ast.AnnAssign), f"not an annotated assignment: {line}"
        ast.literal_eval(node.value)  # a literal, nothing computed
        assert "  # " in line, f"parameter without a comment: {line}"
    for c in code:
        assert not c.get("outputs") and not c.get("execution_count"), "committed with outputs"
        assert "def " not in "".join(c["source"]), "notebooks call the lib; no def in notebooks"
        if c is not params[0]:
            assert len("".join(c["source"]).strip().splitlines()) <= 4, "thin cells: 1-3 lib calls"
    assert data["cells"][0]["cell_type"] == "markdown", "a notebook starts by explaining its step"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_papermill_infers_every_parameter(nb):
    data = json.loads(nb.read_text())
    params = next(c for c in data["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
    names = [ln.split(":")[0] for ln in "".join(params["source"]).splitlines()]
    out = subprocess.run([sys.executable, "-m", "papermill", "--help-notebook", str(nb)],
                         capture_output=True, text=True)
    assert "Unable to parse" not in out.stdout + out.stderr
    for n in names:
        assert f"  {n}:" in out.stdout, n
