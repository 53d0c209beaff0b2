"""Benchmark runners: a registry of two variants producing the same result row.

* ``bench_serving`` — sglang 0.5.7's own ``python3 -m sglang.bench_serving``, run where SGLang
  lives (inside the container through the launcher, or as a local command);
* ``builtin`` — the lib's async client with bench_serving 0.5.7's methodology, for endpoints with
  no SGLang beside them.

Both return a ``RunnerResult`` whose ``row`` carries bench_serving's field names, so the parser,
checks, comparison and report never care which one ran.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class BenchSpec:
    """One tier's workload and target, fully resolved."""

    tier: str
    concurrency: int
    num_prompts: int
    input_len: int
    output_len: int
    range_ratio: float = 0.0
    request_rate: float = math.inf
    seed: int = 1
    warmup_requests: int = 1
    flush_cache: bool = True
    endpoint: str = "http://127.0.0.1:30000"
    model: str = ""
    backend: str = "sglang"
    tokenizer: str | None = None
    dataset_path: str | None = None
    min_dataset_conversations: int = 0  # checked before bench_serving runs (0: no check)
    tag: str | None = None
    repeat: int = 0  # k of a tier's repeats (1-based; 0: the tier runs once)
    api_key: str | None = None
    request_timeout_s: float = 1800.0
    prompt_format: str = "auto"  # builtin only: auto | token_ids | text
    extra_args: list[str] = field(default_factory=list)

    def workload_fields(self) -> dict[str, Any]:
        """The fields bench_serving writes (or that identify the workload) for a result row."""
        return {"tier": self.tier, "num_prompts": self.num_prompts, "seed": self.seed,
                "dataset_name": "random", "random_input_len": self.input_len,
                "random_output_len": self.output_len, "random_range_ratio": self.range_ratio,
                "max_concurrency": self.concurrency, "request_rate": self.request_rate,
                "backend": self.backend, "tag": self.tag}


@dataclass
class RunnerResult:
    row: dict[str, Any]
    printed: str
    files: dict[str, str] = field(default_factory=dict)
    records: list[Any] | None = None
    notes: list[str] = field(default_factory=list)


def get_runner(name: str):
    from runbook.runners.bench_serving import BenchServingRunner
    from runbook.runners.builtin import BuiltinRunner

    runners = {"bench_serving": BenchServingRunner, "builtin": BuiltinRunner}
    if name not in runners:
        from runbook.errors import ParamsError

        raise ParamsError(f"unknown runner {name!r}", field="runner", allowed=", ".join(runners))
    return runners[name]


def out_path(out_dir: Path, spec: BenchSpec, runner: str, suffix: str) -> Path:
    """Each repeat of a tier keeps its own files (bench-low-builtin-r2.records.jsonl)."""
    return out_dir / f"bench-{spec.tier}-{runner}{f'-r{spec.repeat}' if spec.repeat else ''}{suffix}"
