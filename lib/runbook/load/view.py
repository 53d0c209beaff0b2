"""What bench.ipynb shows of a tier: its findings as verdicts, the comparison with the reference,
and the plots (latency distributions, timeline, telemetry)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runbook.load.run import FAILING_CHECKS, TierResult


def findings_table(result: TierResult) -> Any:
    from runbook.verdicts import FAIL, PASS, WARN, StepChecks

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
    from runbook.compare import styled

    if result.comparison is None:
        return f"no reference for tier {result.tier!r}"
    return styled(result.comparison)


def plots(result: TierResult) -> None:
    """Latency distributions and the per-second timeline of the requests, and the telemetry
    sampled while the tier ran (utilisation, memory, power, temperature)."""
    from runbook import plots as P
    from runbook import telemetry

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
