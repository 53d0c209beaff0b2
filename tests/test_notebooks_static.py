"""Notebook hygiene (notebooker-style, without running them): a `parameters` cell of annotated
literals each with a comment, thin cells (no `def`), committed without outputs, papermill sees
every parameter, each .ipynb in sync with its paired percent script, and each parameters cell
agreeing with the notebook's parameter model (the form's and open_step's)."""

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
            lines = [ln for ln in "".join(c["source"]).splitlines() if ln.strip()]
            assert len(lines) <= 4, "thin cells: 1-3 lib calls"
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


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_each_notebook_is_in_sync_with_its_paired_script(nb):
    """The .py beside it is the source (jupytext percent format): same cells, sources, tags and
    hidden-source flags. After editing a script: `jupytext --sync notebooks/*.py`."""
    import jupytext
    import nbformat

    script = nb.with_suffix(".py")
    assert script.exists(), f"{nb.name} has no paired script {script.name}"
    a = jupytext.read(script)
    b = nbformat.read(nb, as_version=4)

    def cells(n):
        return [(c.cell_type, c.source.strip(), sorted(c.metadata.get("tags", [])),
                 bool(c.metadata.get("jupyter", {}).get("source_hidden"))) for c in n.cells]

    assert cells(a) == cells(b), f"{nb.name} is out of sync with {script.name}: run " \
        "`jupytext --sync notebooks/*.py`"


def test_every_paired_script_has_its_notebook():
    for script in (ROOT / "notebooks").glob("*.py"):
        assert script.with_suffix(".ipynb").exists(), f"{script.name} has no .ipynb: jupytext --sync"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_parameters_cell_is_the_notebooks_parameter_model(nb):
    """Name for name and default for default, the parameters cell is its model in stepparams (what
    open_step validates and the form shows); the form cell shows the form for the same step."""
    from runbook.notebook import stepparams

    step = stepparams.NOTEBOOKS[nb.name]
    model = stepparams.MODELS[step]
    data = json.loads(nb.read_text())
    params = next(c for c in data["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
    cell = {}
    for line in "".join(params["source"]).splitlines():
        node = ast.parse(line.split("  #")[0]).body[0]
        cell[node.target.id] = ast.literal_eval(node.value)
    fields = {n: f.get_default(call_default_factory=True) for n, f in model.model_fields.items()
              if n != "step"}
    assert cell == fields
    form_cells = [c for c in data["cells"] if "form.show(" in "".join(c["source"])]
    assert len(form_cells) == 1 and f'form.show(globals(), "{step}")' in "".join(form_cells[0]["source"])
    meta = form_cells[0]["metadata"]
    assert "remove-input" in meta["tags"] and meta["jupyter"]["source_hidden"] is True
    opens = [c for c in data["cells"] if "open_step(" in "".join(c["source"])]
    assert len(opens) == 1 and f'open_step("{step}", globals())' in "".join(opens[0]["source"])
