"""The JupyterLab step-through form: the step's parameters as widgets, and a Run button.

Shown only in a notebook opened in JupyterLab (the kernel knows its notebook through
``JPY_SESSION_NAME``). Under papermill or nbconvert it is inert: nothing is displayed but a note,
papermill's parameters stand, nothing waits for a click. Run writes the widget values into the
notebook's variables, switches progress to live bars, then runs the cells below the form.
"""

from __future__ import annotations

import json
import os
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from runbook.params import available_profiles
from runbook.progress import set_interactive

MARK = "form.show("


def notebook_path() -> Path | None:
    p = os.environ.get("JPY_SESSION_NAME")
    return Path(p) if p and Path(p).suffix == ".ipynb" and Path(p).is_file() else None


def cells_below_form(nb_file: Path) -> list[str]:
    nb = json.loads(nb_file.read_text())
    code = [("".join(c["source"])) for c in nb["cells"] if c["cell_type"] == "code"]
    idx = next((i for i, src in enumerate(code) if MARK in src), None)
    return [] if idx is None else code[idx + 1:]


def _widget_for(name: str, value: Any):
    import ipywidgets as W

    style = {"description_width": "140px"}
    if name == "profile":
        opts = available_profiles()
        return W.Dropdown(options=sorted(set(opts) | {str(value)}), value=str(value), description=name,
                          style=style)
    if isinstance(value, bool):
        return W.Checkbox(value=value, description=name, style=style)
    if isinstance(value, int):
        return W.IntText(value=value, description=name, style=style)
    if isinstance(value, float):
        return W.FloatText(value=value, description=name, style=style)
    if isinstance(value, list):
        return W.Text(value=", ".join(map(str, value)), description=name, style=style)
    return W.Text(value=str(value), description=name, style=style)


def show(ns: MutableMapping[str, Any], names: list[str]) -> Any:
    """Display the form for the parameters ``names`` (values from ``ns``); inert when headless."""
    nb = notebook_path()
    if nb is None:
        return "parameters: from papermill or the defaults (the form shows in JupyterLab)"
    from IPython.display import display

    display(build(ns, names, nb)[0])
    return None


def build(ns: MutableMapping[str, Any], names: list[str], nb: Path) -> tuple[Any, Any]:
    """The form's widgets and its Run button (returned for tests, which click it in-process)."""
    import ipywidgets as W
    from IPython import get_ipython

    widgets = {n: _widget_for(n, ns.get(n)) for n in names}
    button = W.Button(description="Run", button_style="primary", icon="play")
    out = W.Output()

    def on_run(_: Any) -> None:
        for n, w in widgets.items():
            v = w.value
            if isinstance(ns.get(n), list):
                v = [x.strip() for x in v.split(",") if x.strip()]
            ns[n] = v
        set_interactive(True)
        out.clear_output()
        with out:
            shell = get_ipython()
            for src in cells_below_form(nb):
                res = shell.run_cell(src)
                if not res.success:
                    break

    button.on_click(on_run)
    return W.VBox([*widgets.values(), button, out]), button
