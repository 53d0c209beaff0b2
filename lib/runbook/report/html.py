"""HTML runbook: each executed notebook as a self-contained page, plus index.html to open first.

Pages are exported with nbconvert (images embedded, cells tagged ``remove-input`` shown without
their code, papermill's parameters shown) and stripped of every script loaded from the network,
so a report handed on opens offline without console errors. index.html holds the verdicts (steps
and tiers), the results table, the throughput/TPOT plot and the environment, and links each page.
"""

from __future__ import annotations

import base64
import html as H
import io
import json
import re
from pathlib import Path
from typing import Any

import pandas as pd

from runbook.core.verdicts import NEUTRAL, colour

_REMOTE_SCRIPT = re.compile(r"<script[^>]*\bsrc=[\"']https?://[^\"']*[\"'][^>]*>\s*</script>", re.I)
_REMOTE_LINK = re.compile(r"<link[^>]*\bhref=[\"']https?://[^\"']*[\"'][^>]*>", re.I)


def offline(html_text: str) -> str:
    """Drop scripts and stylesheets fetched from the network (MathJax, require.js CDNs)."""
    return _REMOTE_LINK.sub("", _REMOTE_SCRIPT.sub("", html_text))


def export_notebook(path: Path) -> str:
    import nbformat
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    c = Config()
    c.TagRemovePreprocessor.enabled = True
    c.TagRemovePreprocessor.remove_input_tags = {"remove-input"}
    c.TagRemovePreprocessor.remove_cell_tags = {"remove-cell"}
    c.HTMLExporter.preprocessors = ["nbconvert.preprocessors.TagRemovePreprocessor"]
    exp = HTMLExporter(config=c, template_name="lab")
    exp.embed_images = True
    nb = nbformat.read(str(path), as_version=4)
    body, _ = exp.from_notebook_node(nb, resources={"metadata": {"name": path.stem}})
    out = path.with_suffix(".html")
    out.write_text(offline(body))
    return str(out)


def badge(status: str) -> str:
    return (f'<span class="badge" style="background:{colour(status) or NEUTRAL}">'
            f"{H.escape(status)}</span>")


def png_data_uri(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _floor_cell(fl: dict[str, Any] | None) -> str:
    """This run's median TPOT as % of its decode floor, the reference's beside it."""
    if not fl:
        return "<td>—</td>"

    def pct(v: Any) -> str:
        return f"{v:.1f} %" if isinstance(v, int | float) else "—"

    title = (f"floor TPOT {fl.get('floor_tpot_ms') or float('nan'):.3g} ms; reference floor "
             f"{fl.get('ref_floor_tpot_ms') or float('nan'):.3g} ms")
    ours, theirs = pct(fl.get("pct_of_floor")), pct(fl.get("ref_pct_of_floor"))
    return f"<td title='{H.escape(title)}'>{ours} <small>(ref {theirs})</small></td>"


def _floor_note(fl: dict[str, Any] | None) -> str:
    if not fl:
        return ""
    if fl.get("error"):
        return f"<br>Decode floor not computed: {H.escape(fl['error'])}"
    return (f"<br><span id='floor-basis'>% of decode floor: the floor TPOT (the bytes one decode step "
            f"must read over the memory bandwidth) divided by the measured median TPOT. This run: "
            f"{H.escape(fl['basis'])}. Reference: {H.escape(fl['ref_basis'])}.</span>")


def _tier_rows(df: pd.DataFrame, summary: dict[str, Any], ref: pd.DataFrame) -> str:
    rows = []
    floors = {f["tier"]: f for f in (summary.get("floor") or {}).get("tiers") or []}
    metrics = [("output_throughput", "output tok/s"), ("median_ttft_ms", "median TTFT ms"),
               ("median_tpot_ms", "median TPOT ms"), ("median_itl_ms", "median ITL ms")]
    from runbook.judge.stats import bootstrap, with_interval

    for tier, info in (summary.get("tiers") or {}).items():
        rs = df[df["tier"] == tier] if not df.empty and "tier" in df else df.iloc[0:0]
        r = rs.iloc[-1] if len(rs) else None
        cells = [f"<td>{H.escape(tier)}</td>", f"<td>{badge(info.get('verdict', '?'))}</td>"]
        if r is not None:
            n = f" <small>× {len(rs)} repeats</small>" if len(rs) > 1 else ""
            cells.append(f"<td>{int(r['completed'])}/{int(r['num_prompts'])}{n}</td>")
            cells.append(f"<td>{int(r['total_input_tokens'])} / {int(r['total_output_tokens'])}</td>")
            for m, _ in metrics:
                refv = ref.loc[tier, m] if tier in ref.index else float("nan")
                # with repeats: the median over them and its 95 % interval
                iv = bootstrap(list(rs[m]))
                shown = with_interval(iv.value, iv.lo, iv.hi)
                cells.append(f"<td>{shown} <small>(ref {refv:.2f})</small></td>")
            from runbook.judge.compare import comparability

            reasons = (comparability(r.dropna().to_dict(), ref.loc[tier].to_dict())
                       if tier in ref.index else [])
            label = "comparable" if not reasons else "not comparable: " + "; ".join(reasons)
            cells.append(_floor_cell(floors.get(tier)))
            cells.append(f"<td><small>{H.escape(label)}</small></td>")
        else:
            cells.append(f"<td colspan=8>{H.escape(str(info.get('error') or 'no result'))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    head = "".join(f"<th>{h}</th>" for h in ["tier", "verdict", "completed", "tokens in / out (fingerprint)"]
                   + [x for _, x in metrics] + ["% of decode floor (TPOT)", "vs reference"])
    return f"<table id='tiers'><tr>{head}</tr>{''.join(rows)}</table>"


def _diff_section(diff: dict[str, Any] | None) -> str:
    """The report step's verdicts against the baseline run (``report.baseline``), coloured."""
    if not diff or not diff.get("rows"):
        return ""
    from runbook.judge.sidebyside import engine_label
    from runbook.report.runs import diff_styled

    table = diff_styled(pd.DataFrame(diff["rows"]), Path(diff["baseline"]).name).to_html()
    return (f"<h2>Against the baseline run {H.escape(Path(diff['baseline']).name)} "
            f"(<span class='engine'>{H.escape(engine_label(diff['baseline']))}</span>)</h2>"
            f"<div id='diff'>{table}</div><p>As <code>runbook diff</code>: regression / improvement "
            "only when the whole 95 % interval lies beyond the tolerance.</p>")


def write_index(run: Any, summary: dict[str, Any], env: dict[str, Any], df: pd.DataFrame) -> str:
    from runbook.judge.reference import load_reference
    from runbook.report.plots import throughput_vs_tpot

    ref = load_reference((env.get("resolved_params") or {}).get("report", {}).get("reference"))
    steps = []
    for s in summary["steps"]:
        link = (f'<a href="{H.escape(Path(s["html"]).relative_to(run.path).as_posix())}">page</a>'
                if s.get("html") else "")
        steps.append(f"<tr><td>{H.escape(s['name'])}</td><td>{badge(s['status'])}</td>"
                     f"<td>{s['seconds']:.0f} s</td><td>{H.escape(s['detail'][:300])}</td>"
                     f"<td>{link}</td></tr>")
    plot = ""
    if not df.empty and {"median_tpot_ms", "output_throughput"} <= set(df.columns):
        d = df.copy()
        d["label"] = summary["profile"]
        plot = f'<img alt="throughput vs TPOT" src="{png_data_uri(throughput_vs_tpot(d, ref))}">'
    cols = [c for c in ["tier", "runner", "completed", "failed", "duration", "total_input_tokens",
                        "total_output_tokens", "request_throughput", "output_throughput",
                        "median_ttft_ms", "median_tpot_ms", "median_itl_ms", "p99_itl_ms", "concurrency"]
            if c in df.columns]
    results = (df[cols].to_html(index=False, float_format=lambda x: f"{x:.2f}") if cols
               else "<p>no results</p>")
    env_rows = "".join(
        f"<tr><td>{H.escape(k)}</td><td><code>{H.escape(v if isinstance(v, str) else json.dumps(v))[:400]}"
        "</code></td></tr>" for k, v in env.items() if k != "resolved_params")
    status = summary["status"]
    from runbook.judge.sidebyside import label

    engine = label(env.get("engine"), env.get("engine_version"))
    ref_engine = (f"SGLang {ref['sglang_version'].iloc[0]}" if "sglang_version" in ref and len(ref)
                  else "the recipe's engine")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Runbook {H.escape(run.run_id)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; max-width: 1200px; }}
table {{ border-collapse: collapse; margin: 1em 0; }} td, th {{ border: 1px solid #ccc; padding: 4px 8px; }}
th {{ background: #f5f5f5; }} .badge {{ padding: 2px 8px; border-radius: 4px; font-weight: bold; }}
code {{ font-size: 85%; }}
</style></head><body>
<h1>Kimi K2 on SGLang — runbook {badge(status)}</h1>
<p>Run <b>{H.escape(run.run_id)}</b>, profile <b>{H.escape(summary['profile'])}</b>, engine
<b id="engine">{H.escape(engine)}</b> ({H.escape(str(env.get('image') or ''))}),
{summary['total_seconds']:.0f} s in all{'' if not summary.get('failed_step') else
 ', failed at <b>' + H.escape(str(summary['failed_step'])) + '</b>'}. Server ready after
{summary.get('ready_seconds') or '—'} s.</p>
<h2>Steps</h2>
<table id="verdicts"><tr><th>step</th><th>verdict</th><th>time</th><th>detail</th><th>page</th></tr>
{''.join(steps)}</table>
<h2>Benchmark tiers vs the published reference</h2>
{_tier_rows(df, summary, ref)}
<p>Reference: the recipe's MI300X results (<span id="reference-engine">{H.escape(ref_engine)}</span>);
its own inconsistencies are listed in the report page.
{_floor_note(summary.get("floor"))}</p>
{plot}
{_diff_section(summary.get("diff"))}
<h2>Results (bench_serving field names)</h2>{results}
<p>Files: <a href="results.csv">results.csv</a>, <a href="summary.json">summary.json</a>,
<a href="environment.json">environment.json</a>, <a href="logs/server.log">server log</a>.</p>
<h2>Environment</h2><table id="environment">{env_rows}</table>
<p>Teardown: {H.escape('; '.join(summary.get('teardown') or []))}</p>
</body></html>"""
    out = run.path / "index.html"
    out.write_text(page)
    return str(out)
