"""The JupyterLab form: inert headless; in a notebook session, Run applies the widget values
and runs the cells below it (clicked in-process, as the frontend would)."""

from __future__ import annotations

import json

from IPython.core.interactiveshell import InteractiveShell

from runbook import form, progress


def test_inert_without_a_notebook_session(monkeypatch):
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    ns = {"profile": "local", "concurrency": 0}
    out = form.show(ns, ["profile", "concurrency"])
    assert "papermill" in out and ns == {"profile": "local", "concurrency": 0}


def test_run_applies_values_and_runs_the_cells_below(tmp_path, monkeypatch):
    nb = {"cells": [
        {"cell_type": "code", "source": "profile = 'local'\nconcurrency = 0\noverrides = []", "metadata": {}},
        {"cell_type": "code", "source": "from runbook import form\nform.show(globals(), ['x'])",
         "metadata": {}},
        {"cell_type": "markdown", "source": "below", "metadata": {}},
        {"cell_type": "code", "source": "result = (profile, concurrency * 2, overrides)", "metadata": {}},
    ], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    f = tmp_path / "step.ipynb"
    f.write_text(json.dumps(nb))
    monkeypatch.setenv("JPY_SESSION_NAME", str(f))
    shell = InteractiveShell.instance()
    ns = shell.user_ns
    ns.update(profile="local", concurrency=0, overrides=[])
    box, button = form.build(ns, ["profile", "concurrency", "overrides"], f)
    widgets = {w.description: w for w in box.children if hasattr(w, "description") and w.description}
    assert "mi300x-kimi-k2" in widgets["profile"].options
    widgets["profile"].value = "mi300x-kimi-k2"
    widgets["concurrency"].value = 100
    widgets["overrides"].value = "server.port=30001, server.tp=4"
    button.click()
    assert ns["result"] == ("mi300x-kimi-k2", 200, ["server.port=30001", "server.tp=4"])
    progress.set_interactive(False)
