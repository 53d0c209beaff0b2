"""The JupyterLab step-through form: the notebook's parameters as widgets, built from the same
pydantic model that validates them (``stepparams``) — choices as drop-downs, booleans as check
boxes, numbers bounded as the schema bounds them, "the tier's value" as a ticked box beside a
disabled field.

The form only sets values: each change is validated and, when valid, written into the notebook's
variables; the person then runs the cells below (Run ▸ Run Selected Cell and All Below) in the
live kernel, so unsaved edits count and every output lands where it belongs. An earlier version
re-ran the saved notebook inside the form's output, which ignored edits and left stale outputs
below. Shown only in a notebook opened in JupyterLab (the kernel knows its notebook through
``JPY_SESSION_NAME``); under papermill or nbconvert it is inert and papermill's values stand.
"""

from __future__ import annotations

import html
import os
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from runbook.core.params import available_profiles
from runbook.core.progress import set_interactive
from runbook.notebook.stepparams import MODELS

STYLE = {"description_width": "170px"}
HOW = ("values set — now run the cells below: select the next cell, then "
       "<b>Run ▸ Run Selected Cell and All Below</b>")


def notebook_path() -> Path | None:
    p = os.environ.get("JPY_SESSION_NAME")
    return Path(p) if p and Path(p).suffix == ".ipynb" and Path(p).is_file() else None


def outputs_dir() -> Path:
    from runbook.core.runfolder import OUTPUTS

    return Path(os.environ.get("RUNBOOK_OUTPUTS", OUTPUTS))


def existing_runs() -> list[str]:
    """Run folders with results, newest first (their names sort by time)."""
    d = outputs_dir()
    runs = [p.name for p in d.iterdir() if (p / "results.jsonl").exists()] if d.is_dir() else []
    return sorted(runs, reverse=True)


def tier_choices(profile: str) -> list[tuple[str, str]]:
    from runbook.core.params import load_profile

    try:
        tiers = list(load_profile(profile).benchmark.tiers)
    except Exception:  # an unloadable profile is reported by open_step, not by the form
        tiers = []
    return [("(by concurrency)", ""), *[(t, t) for t in tiers], ("custom", "custom")]


class Field:
    """One parameter's widget and how to read its value back."""

    def __init__(self, name: str, prop: dict[str, Any], value: Any, ns: MutableMapping[str, Any]):
        import ipywidgets as W

        self.name, self.prop = name, prop
        desc = prop.get("description", "")
        # Wide enough for a run folder's name (20261201-013520-local-vllm-kimi576-2470cf).
        kw = {"description": name, "style": STYLE, "description_allow_html": False,
              "layout": W.Layout(width="520px")}
        self.unset_box = None
        choices = prop.get("choices")
        if choices == "profiles":
            opts = sorted(set(available_profiles()) | {str(value)})
            self.widget = W.Dropdown(options=opts, value=str(value), **kw)
        elif choices == "tiers":
            opts = tier_choices(str(ns.get("profile", "local")))
            if value not in [v for _, v in opts]:
                opts.append((str(value), value))
            self.widget = W.Dropdown(options=opts, value=value, **kw)
        elif choices == "runs":
            runs = existing_runs()
            chosen = tuple(v for v in value if v in runs)
            self.widget = W.SelectMultiple(options=runs, value=chosen, rows=min(6, max(2, len(runs))),
                                           **kw)
        elif "enum" in prop:
            opts = [(v if v != "" else "(the tier's)", v) for v in prop["enum"]]
            self.widget = W.Dropdown(options=opts, value=value, **kw)
        elif prop.get("type") == "boolean":
            self.widget = W.Checkbox(value=bool(value), indent=False, **kw)
        elif prop.get("allow_inf"):  # a number that may be inf (request_rate): typed as text
            is_unset = value == prop.get("unset")
            self.widget = W.Text(value="" if is_unset else str(value), disabled=is_unset, **kw)
            self._add_unset_box(is_unset)
        elif prop.get("type") in ("integer", "number"):
            cls = W.BoundedIntText if prop["type"] == "integer" else W.BoundedFloatText
            lo = prop.get("set_min", prop.get("minimum", prop.get("exclusiveMinimum", -1e12)))
            hi = prop.get("set_max", prop.get("maximum", 1e12))
            if "unset" in prop:
                is_unset = value == prop["unset"]
                start = lo if is_unset else value
                self.widget = cls(value=start, min=lo, max=hi, disabled=is_unset, **kw)
                self._add_unset_box(is_unset)
            else:
                self.widget = cls(value=value, min=lo, max=hi, **kw)
        elif prop.get("type") == "array":
            self.widget = W.Text(value=", ".join(map(str, value)), placeholder="a, b, c", **kw)
        else:
            self.widget = W.Text(value=str(value), **kw)
        self.widget.tooltip = desc
        parts = [self.widget, *([self.unset_box] if self.unset_box is not None else []),
                 W.HTML(f"<span style='color:#666'>{html.escape(desc)}</span>")]
        self.row = W.HBox(parts)

    def _add_unset_box(self, ticked: bool) -> None:
        """The "the tier's value" check box beside the field; ticked, the field is disabled."""
        import ipywidgets as W

        self.unset_box = W.Checkbox(value=ticked, description=self.prop["unset_label"] + " value",
                                    indent=False, layout=W.Layout(width="200px"))
        self.unset_box.observe(lambda ch: setattr(self.widget, "disabled", ch["new"]), "value")

    def show_inherited(self, value: Any) -> None:
        """Say what "the tier's value" is, and show it in the disabled box."""
        if self.unset_box is None or value is None:
            return
        self.unset_box.description = f"{self.prop['unset_label']}: {value:g}" if isinstance(
            value, int | float) else f"{self.prop['unset_label']}: {value}"
        if not self.unset_box.value:
            return
        if self.prop.get("allow_inf"):
            self.widget.value = f"{value:g}"
        elif isinstance(value, int | float) and self.widget.min <= value <= self.widget.max:
            self.widget.value = value

    def value(self) -> Any:
        if self.unset_box is not None and self.unset_box.value:
            return self.prop["unset"]
        v = self.widget.value
        if self.prop.get("allow_inf"):
            try:
                return float(v)
            except ValueError:
                return v  # the model says what is wrong with it
        if self.prop.get("choices") == "runs":
            return list(v)
        if self.prop.get("type") == "array":
            return [x.strip() for x in v.split(",") if x.strip()]
        return v

    def observe(self, fn: Any) -> None:
        self.widget.observe(fn, "value")
        if self.unset_box is not None:
            self.unset_box.observe(fn, "value")


def show(ns: MutableMapping[str, Any], step: str) -> Any:
    """Display the form for ``step``'s parameters (values from ``ns``); inert when headless."""
    if notebook_path() is None:
        return "parameters: from papermill or the defaults (the form shows in JupyterLab)"
    from IPython.display import display

    set_interactive(True)  # live progress bars in JupyterLab
    display(build(ns, step)[0])
    return None


def build(ns: MutableMapping[str, Any], step: str) -> tuple[Any, dict[str, Field]]:
    """The form and its fields (returned for tests, which set widget values in-process)."""
    import ipywidgets as W

    model = MODELS[step]
    props = model.model_json_schema()["properties"]
    fields = {n: Field(n, p, ns.get(n, model.model_fields[n].get_default(call_default_factory=True)), ns)
              for n, p in props.items() if not p.get("hidden")}
    status = W.HTML()

    def apply(_: Any = None) -> None:
        values = {n: f.value() for n, f in fields.items()}
        try:
            model.model_validate({**values, "step": step})
        except ValidationError as e:  # shown beside the form; the notebook's values stay as they were
            first = e.errors()[0]
            where = ".".join(map(str, first["loc"]))
            status.value = (f"<b style='color:#b00'>{html.escape(where)}: "
                            f"{html.escape(first['msg'])}</b> — values not set")
            return
        changed = [n for n, v in values.items() if ns.get(n) != v]
        ns.update(values)
        status.value = (f"<span style='color:#070'>✓ {', '.join(changed) or 'no change'}: "
                        f"{HOW}</span>")

    def refresh(_: Any = None) -> None:  # what each "the tier's value" box stands for now
        inherited = model.inherited({n: f.value() for n, f in fields.items()})
        for n, f in fields.items():
            f.show_inherited(inherited.get(n))

    def on_profile(ch: Any) -> None:  # the tier choices are the chosen profile's tiers
        if "tier" in fields:
            fields["tier"].widget.options = tier_choices(ch["new"])
            fields["tier"].widget.value = ""

    refresh()  # before the observers: showing the form changes nothing
    for f in fields.values():
        f.observe(apply)
    if "profile" in fields:
        fields["profile"].widget.observe(on_profile, "value")
    for n in ("profile", "tier", "overrides"):
        if n in fields:
            fields[n].widget.observe(refresh, "value")
    if "concurrency" in fields:  # the concurrency picks the tier when no tier is chosen
        fields["concurrency"].observe(refresh)
    box = W.VBox([*(f.row for f in fields.values()), status])
    return box, fields
