"""What the bench and sweep notebooks show: a tier's findings as verdicts, the comparison with the
reference, and the plots (latency distributions, timeline, telemetry); the sweep's headline (at
the top of its page) and its plots (the Pareto front, latency against concurrency)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runbook.benchmark.run import FAILING_CHECKS, TierResult
from runbook.benchmark.sweep import SweepResult
from runbook.core.runfolder import RunFolder


def findings_table(result: TierResult) -> Any:
    from runbook.core.verdicts import FAIL, PASS, WARN, StepChecks

    chk = StepChecks(f"tier {result.tier}: checks")
    for k, r in enumerate(result.runs, 1):
        which = f"repeat {k}: " if len(result.runs) > 1 else ""
        if not r.findings:
            chk.add(f"{which}consistency and workload", PASS, "no findings: the result agrees with "
                    "itself and with the seeded workload's token totals")
        for f in r.findings:
            # Only dropped requests or another workload fail a tier; the rest is a warning to read.
            chk.add(f"{which}{f.metric}: {f.check}", FAIL if f.check in FAILING_CHECKS else WARN,
                    f"printed {f.printed}, expected {f.expected} — {f.detail}")
    return chk.styled()


def comparison_view(result: TierResult) -> Any:
    from runbook.judge.compare import styled

    if result.comparison is None:
        return f"no reference for tier {result.tier!r}"
    return styled(result.comparison)


def plots(result: TierResult) -> None:
    """Latency distributions and the per-second timeline of the requests, and the telemetry
    sampled while the tier ran (utilisation, memory, power, temperature)."""
    from runbook.measure import telemetry
    from runbook.report import plots as P

    figs = []
    recs = result.request_records()
    if recs:
        figs += [P.distributions(recs, f"tier {result.tier} ({result.runner})"),
                 P.timeline_plot(recs, f"tier {result.tier}: output tokens/s and requests in flight")]
    if result.files.get("telemetry"):
        tel = telemetry.read(Path(result.files["telemetry"]).parent, result.tier)
        if len(tel):
            figs.append(P.telemetry_plot(tel, f"tier {result.tier}: telemetry.csv, once a second"))
    if figs:
        P.show(figs)
    return None


# The sweep notebook's views.

def placeholder() -> Any:
    """An output at the top of the notebook that ``publish`` fills with the headline once the
    sweep has run (nbclient applies the update to the executed notebook and its HTML)."""
    from IPython.display import Markdown, display

    return display(Markdown("*The sweep's headline appears here once it has run.*"), display_id=True)


def publish(result: SweepResult, run: RunFolder, handle: Any = None) -> str:
    """The headline at the top of the page, sweep.csv in the run folder, the record in state."""
    from IPython.display import Markdown

    text = result.headline()
    df = result.frame()
    df.to_csv(run.path / "sweep.csv", index=False)
    run.update_state(sweep={"headline": text, "csv": str(run.path / "sweep.csv"),
                            "concurrencies": [int(c) for c in df["concurrency"]]})
    if handle is not None:
        handle.update(Markdown(f"**{text}**"))
    print(text)
    return text


def sweep_plots(result: SweepResult) -> None:
    from runbook.report import plots as P

    df = result.frame()
    ref_gpus = 8
    if result.reference is not None and "hardware" in result.reference:
        import re

        m = re.search(r"x(\d+)\s*$", str(result.reference["hardware"].iloc[0]))
        ref_gpus = int(m.group(1)) if m else ref_gpus
    P.show([P.pareto(df, result.reference, result.gpus, ref_gpus),
            P.latency_vs_concurrency(df)])
