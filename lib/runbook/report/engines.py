"""The engines side by side as one self-contained HTML page (``runbook compare-engines``): both
runs' facts, the fairness checks, each step's verdicts, and per tier and metric both figures with
the ratio and its verdict (``runbook.judge.sidebyside`` computes them)."""

from __future__ import annotations

import html as H
import math
import os
from pathlib import Path
from typing import Any

from runbook.core.verdicts import CAUTION, GOOD, NEUTRAL
from runbook.judge.sidebyside import RunFacts, SideBySide, table
from runbook.report.html import badge, png_data_uri
from runbook.report.plots import engines_plot


def _fmt(v: Any, digits: int = 2) -> str:
    if isinstance(v, float):
        return f"{v:.{digits}f}" if math.isfinite(v) else "—"
    return str(v)


def _colour(verdict: str, la: str, lb: str) -> str:
    """B better is good news for B (green); A better, a caution about B; not judged, grey."""
    if verdict.startswith(lb):
        return GOOD
    if verdict.startswith(la):
        return CAUTION
    return "#ffffff" if verdict == "within noise" else NEUTRAL


def _differs(step: str, a: RunFacts, b: RunFacts) -> str:
    """Where the engines' verdicts on a step differ, what each said (the finding to hand on)."""
    if a.steps.get(step) == b.steps.get(step):
        return ""
    return "<br>".join(f"{H.escape(f.label)}: {H.escape(f.details.get(step, '')[:300])}"
                       for f in (a, b) if f.steps.get(step) not in ("PASS", None))


def _rel(target: Path, page: Path) -> str:
    return Path(os.path.relpath(target.resolve(), page.resolve().parent)).as_posix()


def write_page(s: SideBySide, out: Path) -> Path:
    """One self-contained HTML page: both runs' facts, the fairness checks, steps, the table."""
    la, lb = s.labels
    df = table(s)
    facts = "".join(
        f"<tr><td>{H.escape(k)}</td><td>{H.escape(str(getattr(s.a, k)))}</td>"
        f"<td>{H.escape(str(getattr(s.b, k)))}</td></tr>"
        for k in ("run_id", "profile", "engine", "version", "image", "model", "model_identity"))
    names = list(dict.fromkeys([*s.a.steps, *s.b.steps]))
    steps = "".join(
        f"<tr><td>{H.escape(n)}</td><td>{badge(s.a.steps.get(n, '—'))}</td>"
        f"<td>{badge(s.b.steps.get(n, '—'))}</td><td>{_differs(n, s.a, s.b)}</td></tr>" for n in names)
    fair = ("<p id='fair' class='ok'>Same model (" + H.escape(s.a.model_identity) + ") and, per tier, "
            "the same workload: the differences below are the engines'.</p>") if s.fair else (
        "<p id='fair' class='bad'><b>Not a like-for-like comparison:</b> "
        + ("the runs served different models (" + H.escape(s.a.model_identity) + " vs "
           + H.escape(s.b.model_identity) + "). " if not s.same_model else "")
        + " ".join(f"Tier {H.escape(t.tier)}: {H.escape('; '.join(t.reasons))}."
                   for t in s.tiers if not t.comparable) + "</p>")
    body = []
    for _, r in df.iterrows():
        if r.get("metric") == "—":
            body.append(f"<tr><td>{H.escape(str(r['tier']))}</td>"
                        f"<td colspan='7'>{H.escape(r['verdict'])}</td></tr>")
            continue
        ci = f"[{_fmt(r['ratio_ci_low'], 3)}, {_fmt(r['ratio_ci_high'], 3)}]"
        body.append(
            f"<tr><td>{H.escape(r['tier'])}</td><td>{H.escape(r['metric'])}</td><td>{_fmt(r[la])}</td>"
            f"<td>{_fmt(r[lb])}</td><td>{_fmt(r['ratio'], 3)}</td><td>{ci}</td>"
            f"<td>{H.escape(r['basis'])}</td>"
            f"<td style='background:{_colour(r['verdict'], la, lb)}'>{H.escape(r['verdict'])}</td></tr>")
    plot = "" if df.empty or "ratio" not in df else \
        f"<img alt='engines per tier' src='{png_data_uri(engines_plot(df, la, lb))}'>"
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{H.escape(la)} vs {H.escape(lb)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; max-width: 1200px; }}
table {{ border-collapse: collapse; margin: 1em 0; }} td, th {{ border: 1px solid #ccc; padding: 4px 8px; }}
th {{ background: #f5f5f5; }} .badge {{ padding: 2px 8px; border-radius: 4px; font-weight: bold; }}
.ok {{ background: #e8f5e9; padding: 6px; }} .bad {{ background: #ffcdd2; padding: 6px; }}
</style></head><body>
<h1 id="title">{H.escape(la)} vs {H.escape(lb)} — side by side</h1>
{fair}
<h2>The two runs</h2>
<table id="runs"><tr><th></th><th>A: {H.escape(la)}</th><th>B: {H.escape(lb)}</th></tr>{facts}</table>
<h2>Steps</h2>
<table id="steps"><tr><th>step</th><th>{H.escape(la)}</th><th>{H.escape(lb)}</th>
<th>where they differ</th></tr>
{steps}</table>
<h2>Per tier and metric</h2>
<p>Each engine's figure is the median over its repeats; ratio = B / A with its 95 % bootstrap
interval over the basis named; a difference is called only when the whole interval lies beyond
the tolerance (higher is better for throughput, lower for latencies). With two repeats an
interval is rough; five give a call one can rely on (<code>repeats</code> on the tiers).</p>
<table id="sidebyside"><tr><th>tier</th><th>metric</th><th>{H.escape(la)}</th><th>{H.escape(lb)}</th>
<th>ratio B/A</th><th>95 % interval</th><th>basis</th><th>verdict</th></tr>{''.join(body)}</table>
{plot}
<p>Run pages: <a href="{H.escape(_rel(s.a.path / 'index.html', out))}">{H.escape(s.a.run_id)}</a>,
<a href="{H.escape(_rel(s.b.path / 'index.html', out))}">{H.escape(s.b.run_id)}</a>.</p>
</body></html>"""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page)
    return out
