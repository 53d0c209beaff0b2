"""Benchmark runners: a registry of two variants producing the same result row.

* ``bench_serving`` — sglang 0.5.7's own ``python3 -m sglang.bench_serving``, run where SGLang
  lives (inside the container through the launcher, or as a local command);
* ``builtin`` — the lib's async client with bench_serving 0.5.7's methodology, for endpoints with
  no SGLang beside them.

Each takes a ``TierRun`` (``runbook.core.schema``) and returns a ``RunnerResult`` whose ``row`` carries
bench_serving's field names, so the parser, checks, comparison and report never care which
one ran.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runbook.core.schema import TierRun


@dataclass
class RunnerResult:
    row: dict[str, Any]
    printed: str
    files: dict[str, str] = field(default_factory=dict)
    records: list[Any] | None = None
    notes: list[str] = field(default_factory=list)


def get_runner(name: str):
    from runbook.measure.runners.bench_serving import BenchServingRunner
    from runbook.measure.runners.builtin import BuiltinRunner

    runners = {"bench_serving": BenchServingRunner, "builtin": BuiltinRunner}
    if name not in runners:
        from runbook.core.errors import ParamsError

        raise ParamsError(f"unknown runner {name!r}", field="runner", allowed=", ".join(runners))
    return runners[name]


def out_path(out_dir: Path, spec: TierRun, runner: str, suffix: str) -> Path:
    """Each repeat of a tier keeps its own files (bench-low-builtin-r2.records.jsonl)."""
    return out_dir / f"bench-{spec.tier}-{runner}{f'-r{spec.repeat}' if spec.repeat else ''}{suffix}"
