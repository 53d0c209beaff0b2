"""PASS / WARN / FAIL / SKIPPED checks for a step, shown as a table a reader sees first.

A step collects its checks, renders them (colours in notebooks and HTML), records them in the
run folder's state under the step's name, and — once everything is shown — raises
``CheckFailed`` if any check failed, so papermill marks the step red.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from runbook.core.errors import CheckFailed

PASS, WARN, FAIL, SKIPPED = "PASS", "WARN", "FAIL", "SKIPPED"

# The one colour map for every verdict the runbook shows: a step's checks, a metric against the
# reference (compare), a change against a baseline (diff). Good is green, bad red, a caution
# yellow, "not judged" grey.
GOOD, BAD, CAUTION, NEUTRAL, INFO, MUTED = "#c8e6c9", "#ffcdd2", "#fff3cd", "#eeeeee", "#e3f2fd", "#e0e0e0"
COLOURS = {PASS: GOOD, WARN: CAUTION, FAIL: BAD, SKIPPED: MUTED,
           "better": GOOD, "within tolerance": INFO, "worse": BAD, "n/a": NEUTRAL,
           "improvement": GOOD, "regression": BAD, "no significant change": NEUTRAL}


def colour(verdict: Any) -> str:
    """The background colour of a verdict ('' for a value that is none)."""
    return COLOURS.get(str(verdict), "")


@dataclass
class Check:
    name: str
    status: str
    detail: str = ""
    fix: str = ""


@dataclass
class StepChecks:
    step: str
    checks: list[Check] = field(default_factory=list)

    def add(self, name: str, status: str, detail: str = "", fix: str = "") -> Check:
        c = Check(name, status, detail, fix)
        self.checks.append(c)
        return c

    def ok(self, name: str, cond: bool, detail: str = "", fix: str = "") -> bool:
        self.add(name, PASS if cond else FAIL, detail, "" if cond else fix)
        return cond

    @property
    def status(self) -> str:
        statuses = {c.status for c in self.checks}
        if FAIL in statuses:
            return FAIL
        if statuses and statuses <= {SKIPPED}:
            return SKIPPED
        return WARN if WARN in statuses else PASS

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(c) for c in self.checks], columns=["name", "status", "detail", "fix"])

    def styled(self) -> Any:
        def colour(v: str) -> str:
            return f"background-color: {COLOURS.get(v, '')}; font-weight: bold"

        return (self.frame().style.map(colour, subset=["status"]).hide(axis="index")
                .set_caption(f"{self.step}: {self.status}"))

    def as_dict(self) -> dict[str, Any]:
        return {"step": self.step, "status": self.status, "checks": [asdict(c) for c in self.checks]}

    def record(self, run: Any) -> None:
        if run is not None:
            state = run.read_state()
            steps = state.get("steps") or {}
            steps[self.step] = self.as_dict()
            run.update_state(steps=steps)

    def raise_on_failure(self) -> None:
        failed = [c for c in self.checks if c.status == FAIL]
        if failed:
            lines = "; ".join(f"{c.name}: {c.detail}" + (f" (fix: {c.fix})" if c.fix else "")
                              for c in failed)
            raise CheckFailed(f"{self.step}: {len(failed)} check(s) failed — {lines}")

