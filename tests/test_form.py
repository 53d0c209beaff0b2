"""The JupyterLab form, built from the notebook's parameter model: inert headless; in a notebook
session its widgets are the schema's (choices, check boxes, bounds, "the tier's value" boxes),
and a valid change sets the notebook's variables while an invalid one leaves them as they were.
(The form in a real JupyterLab: tests/test_jupyterlab_browser.py.)"""

from __future__ import annotations

import ipywidgets as W
import pytest

from runbook.core import progress
from runbook.notebook import form, stepparams


@pytest.fixture
def session(tmp_path, monkeypatch):
    nb = tmp_path / "step.ipynb"
    nb.write_text("{}")
    monkeypatch.setenv("JPY_SESSION_NAME", str(nb))
    yield
    progress.set_interactive(False)


def _defaults(step):
    return {n: f.get_default(call_default_factory=True)
            for n, f in stepparams.MODELS[step].model_fields.items() if n != "step"}


def test_inert_without_a_notebook_session(monkeypatch):
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    ns = {"profile": "local", "concurrency": 0}
    out = form.show(ns, "bench")
    assert "papermill" in out and ns == {"profile": "local", "concurrency": 0}


def test_the_bench_form_is_the_schemas_widgets(session):
    ns = _defaults("bench")
    _, fields = form.build(ns, "bench")
    assert isinstance(fields["runner"].widget, W.Dropdown)
    assert [v for _, v in fields["runner"].widget.options] == ["auto", "bench_serving", "builtin"]
    assert [v for _, v in fields["flush_cache"].widget.options] == ["", "true", "false"]
    assert [v for _, v in fields["tier"].widget.options] == ["", "low", "medium", "high", "custom"]
    assert "mi300x-kimi-k2" in fields["profile"].widget.options
    conc = fields["concurrency"]
    assert isinstance(conc.widget, W.BoundedIntText) and conc.widget.min == 1  # Workload's ge=1
    assert conc.widget.disabled and conc.unset_box.value  # 0: the tier's value, said as a ticked box
    assert fields["repeats"].widget.max == 20
    assert fields["range_ratio"].widget.max == 1.0


def test_a_valid_change_sets_the_notebooks_variables(session):
    ns = _defaults("bench")
    box, fields = form.build(ns, "bench")
    fields["concurrency"].unset_box.value = False
    assert not fields["concurrency"].widget.disabled
    fields["concurrency"].widget.value = 100
    fields["runner"].widget.value = "builtin"
    fields["overrides"].widget.value = "server.port=30001, server.tp=4"
    fields["concurrency"].widget.value = 100000  # clamped to the schema's bound? none set: kept
    assert ns["concurrency"] == 100000 and ns["runner"] == "builtin"
    assert ns["overrides"] == ["server.port=30001", "server.tp=4"]
    assert "Run Selected Cell and All Below" in box.children[-1].value
    fields["concurrency"].unset_box.value = True  # back to the tier's value
    assert ns["concurrency"] == 0
    fields["repeats"].unset_box.value = False
    fields["repeats"].widget.value = 99  # the bounded box clamps to the schema's 20
    assert ns["repeats"] == 20


def test_an_invalid_value_is_shown_and_sets_nothing(session):
    ns = _defaults("sweep")
    box, fields = form.build(ns, "sweep")
    fields["concurrencies"].widget.value = "1, four, 16"
    assert ns["concurrencies"] == []
    assert "concurrencies" in box.children[-1].value and "not set" in box.children[-1].value


def test_the_tier_choices_follow_the_profile(session):
    ns = _defaults("bench")
    _, fields = form.build(ns, "bench")
    fields["tier"].widget.value = "high"
    fields["profile"].widget.value = "local-kimi576"
    assert fields["tier"].widget.value == "" and ns["profile"] == "local-kimi576"


def test_the_report_offers_the_existing_runs(session, tmp_path, monkeypatch):
    out = tmp_path / "outputs"
    for name in ("20261201-010000-local-aaaaaa", "20261201-020000-local-bbbbbb"):
        (out / name).mkdir(parents=True)
        (out / name / "results.jsonl").write_text("{}\n")
    (out / "20261201-030000-local-empty").mkdir()  # no results: not offered
    monkeypatch.setenv("RUNBOOK_OUTPUTS", str(out))
    ns = _defaults("report")
    _, fields = form.build(ns, "report")
    w = fields["results"].widget
    assert isinstance(w, W.SelectMultiple)
    assert list(w.options) == ["20261201-020000-local-bbbbbb", "20261201-010000-local-aaaaaa"]
    w.value = ("20261201-010000-local-aaaaaa",)
    assert ns["results"] == ["20261201-010000-local-aaaaaa"]


def test_nbparams_errors_name_the_field():
    from runbook.core.errors import ParamsError

    with pytest.raises(ParamsError, match="concurrency must be an integer, got 'abc'"):
        stepparams.validate("bench", {"concurrency": "abc"})
    with pytest.raises(ParamsError, match=r"repeats must be ≥ 1 and ≤ 20, or 0 for the tier's"):
        stepparams.validate("bench", {"repeats": 30})
    with pytest.raises(ParamsError, match="allowed: 'auto', 'bench_serving', 'builtin'"):
        stepparams.validate("bench", {"runner": "vllm_bench"})
    ok = stepparams.validate("bench", {"request_rate": "inf", "overrides": "a=1,b=2"})
    assert ok.request_rate == float("inf") and ok.overrides == ["a=1", "b=2"]


def test_the_tiers_value_is_shown_and_follows_the_tier(session):
    ns = _defaults("bench")
    box, fields = form.build(ns, "bench")
    assert box.children[-1].value == ""  # showing the form sets nothing
    n = fields["num_prompts"]
    assert n.unset_box.description == "the tier's: 10" and n.widget.value == 10  # local's low tier
    assert fields["request_rate"].unset_box.description == "the tier's: inf"
    fields["tier"].widget.value = "high"
    assert n.unset_box.description == "the tier's: 500" and n.widget.value == 500 and n.widget.disabled
    assert ns["num_prompts"] == 0 and ns["tier"] == "high"  # still "the tier's", now high's
    fields["request_rate"].unset_box.value = False
    fields["request_rate"].widget.value = "2.5"
    assert ns["request_rate"] == 2.5
    fields["request_rate"].widget.value = "fast"
    assert ns["request_rate"] == 2.5 and "request_rate" in box.children[-1].value
