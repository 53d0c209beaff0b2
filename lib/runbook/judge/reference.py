"""The published reference results, loaded into the same schema as a run's results.

``params/reference/*.yaml`` holds the recipe's result blocks verbatim with their source (recipe,
section, hardware, TP, sglang version, model) and the benchmark command that produced each. They
are parsed by the same parser as a run's output, so a reference row and a run row line up column
for column.
"""

from __future__ import annotations

import math
import shlex
from pathlib import Path
from typing import Any

import pandas as pd

from runbook.core.errors import ParamsError
from runbook.core.params import PARAMS_DIR, read_yaml
from runbook.measure.results import parse_printed, to_frame

REFERENCE_DIR = PARAMS_DIR / "reference"
DEFAULT_REFERENCE = "mi300x-kimi-k2-sglang-0.5.7.yaml"

# bench_serving 0.5.7 defaults for the arguments a reference command may leave out.
BENCH_DEFAULTS: dict[str, Any] = {"seed": 1, "random_range_ratio": 0.0, "request_rate": math.inf,
                                  "warmup_requests": 1}


def parse_bench_command(cmd: str) -> dict[str, Any]:
    """`python3 -m sglang.bench_serving --num-prompts 10 …` → {'num_prompts': 10, …}."""
    tokens = shlex.split(cmd.replace("\\\n", " "))
    args: dict[str, Any] = dict(BENCH_DEFAULTS)
    i = 0
    while i < len(tokens):
        t = tokens[i]
        if t.startswith("--"):
            key = t[2:].replace("-", "_")
            if "=" in key:
                key, _, val = key.partition("=")
                args[key] = _arg_value(val)
            elif i + 1 < len(tokens) and not tokens[i + 1].startswith("--"):
                args[key] = _arg_value(tokens[i + 1])
                i += 1
            else:
                args[key] = True
        i += 1
    return args


def _arg_value(v: str) -> Any:
    """A command-line value as the recipe's parser reads it: int, float, inf, else the text."""
    if v.lower() in ("inf", "infinity"):
        return math.inf
    for conv in (int, float):
        try:
            return conv(v)
        except ValueError:
            pass
    return v


def resolve_reference_path(name: str | Path | None = None) -> Path:
    p = Path(name or DEFAULT_REFERENCE)
    for cand in (p, REFERENCE_DIR / p.name):
        if cand.is_file():
            return cand
    raise ParamsError("reference file not found", file=str(p),
                      allowed=", ".join(sorted(x.name for x in REFERENCE_DIR.glob("*.yaml"))))


def load_reference(name: str | Path | None = None) -> pd.DataFrame:
    """One row per tier: the parsed block plus ``tier``, the command's arguments and the source."""
    path = resolve_reference_path(name)
    data = read_yaml(path)
    source = data.get("source") or {}
    tiers = data.get("tiers") or {}
    if not tiers:
        raise ParamsError("no tiers", file=str(path), field="tiers")
    rows = []
    for tier, spec in tiers.items():
        (row,) = parse_printed(spec["printed"], f"{path}:{tier}")
        cmd = parse_bench_command(spec.get("command", ""))
        rows.append({
            "tier": tier,
            "source": f"{path.name}#{tier}",
            **row,
            "num_prompts": cmd.get("num_prompts"),
            "random_input_len": cmd.get("random_input_len"),
            "random_output_len": cmd.get("random_output_len"),
            "random_range_ratio": cmd.get("random_range_ratio"),
            "seed": cmd.get("seed"),
            "dataset_name": cmd.get("dataset_name"),
            "hardware": source.get("hardware"),
            "tp": source.get("tp"),
            "sglang_version": str(source.get("sglang_version")),
            "model": source.get("model"),
            "reference_section": spec.get("section"),
            "reference_recipe": source.get("recipe"),
        })
    return to_frame(rows).set_index("tier", drop=False)
