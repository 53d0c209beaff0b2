"""Plots for a tier: latency distributions and the per-second timeline; runs vs the reference.

Figures are returned (matplotlib, Agg-safe) so notebooks display them inline and nbconvert embeds
them in the HTML; nothing here writes files unless asked.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from runbook.measure.metrics import RequestRecord, timeline


def _log(ax: Any, axis: str, base: float = 10) -> None:
    """A log axis labelled in plain numbers. matplotlib's default log labels are mathtext
    (``$\\mathdefault{2\\times10^{1}}$``), parsed again at every layout; that parse failed with a
    ParseException in the report's form run in JupyterLab, so the labels here need no parser."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    getattr(ax, f"set_{axis}scale")("log", base=base)
    getattr(ax, f"{axis}axis").set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    getattr(ax, f"{axis}axis").set_minor_formatter(NullFormatter())


def distributions(records: Sequence[RequestRecord], title: str = "") -> Any:
    ok = [r for r in records if r.success]
    ttft = [r.ttft * 1000 for r in ok]
    tpot = [(r.latency - r.ttft) / (r.output_len - 1) * 1000 for r in ok if r.output_len > 1]
    itl = [x * 1000 for r in ok for x in r.itl]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.2))
    for ax, vals, name in zip(axes, (ttft, tpot, itl), ("TTFT", "TPOT", "ITL"), strict=False):
        if vals:
            ax.hist(vals, bins=40, color="#3b6ea5")
            for q, ls in ((50, "-"), (99, "--")):
                ax.axvline(np.percentile(vals, q), color="#c0392b", ls=ls, lw=1, label=f"p{q}")
            ax.legend(fontsize=8)
        ax.set_title(f"{name} (ms), n={len(vals)}")
        ax.set_xlabel("ms")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def timeline_plot(records: Sequence[RequestRecord], title: str = "") -> Any:
    ok = [r for r in records if r.success]
    tl = timeline(ok)
    fig, ax = plt.subplots(figsize=(13, 3.2))
    if tl is None or not any(r.start for r in ok):
        ax.text(0.5, 0.5, "no per-request send times (bench_serving does not write them);\n"
                "the builtin runner records them", ha="center", va="center")
        ax.set_axis_off()
        return fig
    ax.bar(tl["second"], tl["output_tokens"], color="#3b6ea5", label="output tokens / s")
    ax.set_xlabel("second of the run")
    ax.set_ylabel("output tokens / s")
    ax2 = ax.twinx()
    ax2.plot(tl["second"], tl["requests_in_flight"], color="#c0392b", label="requests in flight")
    ax2.set_ylabel("requests in flight")
    ax.set_title(title or "per-second timeline")
    fig.tight_layout()
    return fig


def throughput_vs_tpot(runs: pd.DataFrame, reference: pd.DataFrame | None = None) -> Any:
    """Output throughput vs median TPOT, one point per run/tier, reference points marked."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    if not runs.empty:
        for label, g in runs.groupby(runs.get("label", runs.get("run_id", pd.Series(["run"] * len(runs))))):
            ax.plot(g["median_tpot_ms"], g["output_throughput"], "o-", label=str(label))
            for _, r in g.iterrows():
                ax.annotate(str(r.get("tier", "")), (r["median_tpot_ms"], r["output_throughput"]),
                            fontsize=8, xytext=(4, 4), textcoords="offset points")
    if reference is not None and not reference.empty:
        ax.plot(reference["median_tpot_ms"], reference["output_throughput"], "s--", color="#777",
                label="published reference (MI300X)")
        for _, r in reference.iterrows():
            ax.annotate(str(r["tier"]), (r["median_tpot_ms"], r["output_throughput"]), fontsize=8,
                        xytext=(4, -10), textcoords="offset points", color="#777")
    ax.set_xlabel("median TPOT (ms)")
    ax.set_ylabel("output throughput (tok/s)")
    _log(ax, "x")
    _log(ax, "y")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    return fig


def show(figs: Sequence[Any]) -> None:
    """Display figures once each (inline in notebooks, embedded by nbconvert) and free them."""
    try:
        from IPython.display import display
    except ImportError:  # plain Python: nothing to show on
        display = None
    for fig in figs:
        if display is not None:
            display(fig)
        plt.close(fig)


def pareto(frame: pd.DataFrame, reference: pd.DataFrame | None = None, gpus: int = 1,
           ref_gpus: int = 8, title: str = "") -> Any:
    """Output tokens/s per GPU against tokens/s per user (1000 / median TPOT), one point per
    sweep concurrency (labelled), the Pareto front drawn, the published reference's tiers on the
    same axes (per GPU of their 8)."""
    fig, ax = plt.subplots(figsize=(8, 5))
    ax.scatter(frame["tps_per_user"], frame["output_tps_per_gpu"], color="#3b6ea5", label="sweep points")
    for _, r in frame.iterrows():
        ax.annotate(f"c={int(r['concurrency'])}", (r["tps_per_user"], r["output_tps_per_gpu"]),
                    textcoords="offset points", xytext=(4, 4), fontsize=8)
    front = frame[frame["on_front"]].sort_values("tps_per_user")
    ax.plot(front["tps_per_user"], front["output_tps_per_gpu"], color="#c0392b", lw=1.5,
            label="Pareto front")
    if reference is not None and not reference.empty:
        ax.scatter(1000 / reference["median_tpot_ms"], reference["output_throughput"] / ref_gpus,
                   marker="x", color="#2e7d32", s=60, label=f"published reference (per GPU of {ref_gpus})")
        for tier, r in reference.iterrows():
            ax.annotate(str(tier), (1000 / r["median_tpot_ms"], r["output_throughput"] / ref_gpus),
                        textcoords="offset points", xytext=(4, -10), fontsize=8, color="#2e7d32")
    ax.set_xlabel("tokens/s per user (1000 / median TPOT)")
    ax.set_ylabel(f"output tokens/s per GPU ({gpus} device(s) measured)")
    _log(ax, "x")
    _log(ax, "y")
    ax.legend(fontsize=8)
    ax.set_title(title or "throughput per GPU against interactivity")
    fig.tight_layout()
    return fig


def latency_vs_concurrency(frame: pd.DataFrame, title: str = "") -> Any:
    """TTFT and TPOT (median and p99) against the sweep's concurrency."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.6))
    for ax, name in zip(axes, ("ttft", "tpot"), strict=True):
        ax.plot(frame["concurrency"], frame[f"median_{name}_ms"], marker="o", label="median")
        ax.plot(frame["concurrency"], frame[f"p99_{name}_ms"], marker="o", ls="--", label="p99")
        _log(ax, "x", base=2)
        ax.set_xlabel("concurrency")
        ax.set_ylabel(f"{name.upper()} (ms)")
        ax.legend(fontsize=8)
    fig.suptitle(title or "latency against concurrency")
    fig.tight_layout()
    return fig


def telemetry_plot(df: pd.DataFrame, title: str = "") -> Any:
    """Utilisation and memory in use per device over the tier (power and temperature where the
    GPU tool reports them): one line per device and repeat, each from the start of its run."""
    panels = [("util_pct", "utilisation %"), ("mem_used_mib", "memory used (MiB)")]
    panels += [(c, label) for c, label in (("power_w", "power (W)"), ("temp_c", "temperature (°C)"))
               if c in df and df[c].notna().any()]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3))
    for ax, (col, label) in zip(axes, panels, strict=True):
        for (src, dev, _), g in df.groupby(["source", "device", "repeat"]):  # a line per repeat
            g = g.sort_values("t_s")
            ax.plot(g["t_s"], g[col], label=f"{src} {dev}", lw=1)
        ax.set_xlabel("second of the tier")
        ax.set_ylabel(label)
    handles, labels = axes[0].get_legend_handles_labels()
    uniq = dict(zip(labels, handles, strict=True))
    axes[0].legend(uniq.values(), uniq.keys(), fontsize=7)
    fig.suptitle(title or "telemetry")
    fig.tight_layout()
    return fig


ENGINE_PLOT_METRICS = ("output_throughput", "median_ttft_ms", "median_tpot_ms", "median_itl_ms")


def engines_plot(table: pd.DataFrame, a: str, b: str) -> Any:
    """The side-by-side's ratios B / A per tier (bars) with their 95 % intervals, a few metrics;
    1 is a tie. Above 1 is better for B in throughput, worse in latencies."""
    d = table[table["metric"].isin(ENGINE_PLOT_METRICS)]
    tiers = list(dict.fromkeys(d["tier"]))
    fig, ax = plt.subplots(figsize=(8, 3.8))
    width = 0.8 / max(1, len(ENGINE_PLOT_METRICS))
    for i, m in enumerate(ENGINE_PLOT_METRICS):
        g = d[d["metric"] == m].set_index("tier").reindex(tiers)
        x = np.arange(len(tiers)) + (i - (len(ENGINE_PLOT_METRICS) - 1) / 2) * width
        lo = (g["ratio"] - g["ratio_ci_low"]).clip(lower=0).fillna(0)
        hi = (g["ratio_ci_high"] - g["ratio"]).clip(lower=0).fillna(0)
        ax.bar(x, g["ratio"], width, yerr=[lo, hi], capsize=3, label=m)
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_xticks(np.arange(len(tiers)), tiers)
    ax.set_ylabel(f"{b} / {a}")
    ax.set_title(f"{b} against {a} per tier (95 % intervals)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
