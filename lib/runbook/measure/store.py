"""A run's results table: ``results.jsonl`` in the run folder, one row a tier run (bench_serving's
field names, the per-request detail lists left out), read back as a pandas frame."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from runbook.core.runfolder import RunFolder


def results_file(run: RunFolder) -> Path:
    return run.path / "results.jsonl"


def append_result(run: RunFolder, row: dict[str, Any]) -> None:
    from runbook.measure.results import DETAIL_FIELDS

    slim = {k: v for k, v in row.items() if k not in DETAIL_FIELDS}
    with open(results_file(run), "a") as fh:
        fh.write(json.dumps(slim, default=str) + "\n")


def load_results(run: RunFolder) -> pd.DataFrame:
    f = results_file(run)
    if not f.exists():
        return pd.DataFrame()
    rows = [json.loads(x) for x in f.read_text().splitlines() if x.strip()]
    df = pd.DataFrame(rows)
    if "request_rate" in df:
        df["request_rate"] = df["request_rate"].map(lambda v: math.inf if v in ("inf", "Infinity") else v)
    return df
