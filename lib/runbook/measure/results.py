"""Parse what ``sglang.bench_serving`` produces into one pandas row per run.

Two sources, one schema (bench_serving's own JSONL field names, e.g. ``output_throughput``,
``median_tpot_ms``):

* the printed "Serving Benchmark Result" block (0.5.7 and 0.5.23 layouts: 0.5.23 adds P90/P95
  rows and may omit the vision-token row); several blocks in one text give several rows;
* JSONL lines from ``--output-file`` (bare ``Infinity``/``NaN``, ``--output-details`` lists,
  extra fields such as goodput, several runs appended to one file).

Unknown fields are kept (as columns), never dropped. A malformed input raises
``ResultParseError`` naming the source and line, never returns a half-filled row.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from runbook.core.errors import ResultParseError

# Printed label → JSONL key, for the rows that don't follow the "<Stat> <Metric> (ms)" pattern.
LABELS: dict[str, str] = {
    "Backend": "backend",
    "Traffic request rate": "request_rate",
    "Max request concurrency": "max_concurrency",
    "Successful requests": "completed",
    "Benchmark duration (s)": "duration",
    "Total input tokens": "total_input_tokens",
    "Total input text tokens": "total_input_text_tokens",
    "Total input vision tokens": "total_input_vision_tokens",
    "Total generated tokens": "total_output_tokens",
    "Total generated tokens (retokenized)": "total_output_tokens_retokenized",
    "Request throughput (req/s)": "request_throughput",
    "Input token throughput (tok/s)": "input_throughput",
    "Output token throughput (tok/s)": "output_throughput",
    "Peak output token throughput (tok/s)": "max_output_tokens_per_s",
    "Peak concurrent requests": "max_concurrent_requests",
    "Total token throughput (tok/s)": "total_throughput",
    "Concurrency": "concurrency",
    "Accept length": "accept_length",
}
METRICS = {"E2E Latency": "e2e_latency", "TTFT": "ttft", "TPOT": "tpot", "ITL": "itl"}
_STAT_RE = re.compile(r"^(Mean|Median|Std|Max|Min|P\d+(?:\.\d+)?) (E2E Latency|TTFT|TPOT|ITL) \(ms\)$")

INT_FIELDS = {
    "completed", "total_input_tokens", "total_input_text_tokens", "total_input_vision_tokens",
    "total_output_tokens", "total_output_tokens_retokenized", "max_concurrent_requests",
}
# Fields a printed block must have for its row to be usable (a truncated block fails here).
REQUIRED = (
    "completed", "duration", "total_input_tokens", "total_output_tokens", "request_throughput",
    "output_throughput", "mean_ttft_ms", "median_ttft_ms", "mean_itl_ms",
)
# --output-details lists: kept in the row, but not shown in summary tables.
DETAIL_FIELDS = ("input_lens", "output_lens", "ttfts", "itls", "generated_texts", "errors")

_HEADER_RE = re.compile(r"^=+ Serving Benchmark Result =+\s*$")
_SECTION_RE = re.compile(r"^-{3,}.*-{3,}$")
_END_RE = re.compile(r"^=+\s*$")


def label_to_key(label: str) -> str:
    """Map a printed label to bench_serving's JSONL key (unknown labels are slugified)."""
    if label in LABELS:
        return LABELS[label]
    m = _STAT_RE.match(label)
    if m:
        stat, metric = m.groups()
        return f"{stat.lower()}_{METRICS[metric]}_ms"
    return re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")


def _value(key: str, raw: str, source: str, line: int, known: bool = True) -> Any:
    raw = raw.strip()
    if raw.endswith("%"):
        raw = raw[:-1]
    if key == "backend":
        return raw
    if key == "max_concurrency" and raw == "not set":
        return None
    if key == "request_rate" and raw in ("trace",):
        return raw
    try:
        if raw.lower() in ("inf", "infinity"):
            return math.inf
        num = float(raw)
    except ValueError:
        if known:
            raise ResultParseError(f"{key}: not a number: {raw!r}", source=source, line=line) from None
        return raw
    if key in INT_FIELDS or key == "max_concurrency":
        if not num.is_integer():
            raise ResultParseError(f"{key}: expected an integer, got {raw!r}", source=source, line=line)
        return int(num)
    return num


def parse_printed(text: str, source: str = "<text>") -> list[dict[str, Any]]:
    """Every "Serving Benchmark Result" block in ``text`` → one dict each (JSONL keys)."""
    rows: list[dict[str, Any]] = []
    cur: dict[str, Any] | None = None
    start = 0
    for n, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if _HEADER_RE.match(s):
            if cur is not None:
                raise ResultParseError("new result block before the previous one ended",
                                       source=source, line=n)
            cur, start = {}, n
            continue
        if cur is None:
            continue
        if _END_RE.match(s):
            rows.append(_finish_block(cur, source, start))
            cur = None
            continue
        if not s or _SECTION_RE.match(s):
            continue
        label, sep, raw = s.partition(":")
        if not sep or not raw.strip():
            raise ResultParseError(f"unreadable line in result block: {s!r}", source=source, line=n)
        known = label.strip() in LABELS or bool(_STAT_RE.match(label.strip()))
        key = label_to_key(label.strip())
        if key in cur:
            if known:
                raise ResultParseError(f"{label.strip()!r} appears twice in one block",
                                       source=source, line=n)
            i = 2
            while f"{key}_{i}" in cur:
                i += 1
            key = f"{key}_{i}"
        cur[key] = _value(key, raw, source, n, known)
    if cur is not None:
        raise ResultParseError("result block is truncated (no closing '=====' line)",
                               source=source, line=start)
    if not rows:
        raise ResultParseError("no 'Serving Benchmark Result' block found", source=source)
    return rows


def _finish_block(row: dict[str, Any], source: str, line: int) -> dict[str, Any]:
    missing = [k for k in REQUIRED if k not in row]
    if missing:
        raise ResultParseError(f"result block lacks {', '.join(missing)}", source=source, line=line)
    row.setdefault("total_input_text_tokens", row["total_input_tokens"])
    row.setdefault("total_input_vision_tokens", 0)
    return row


def parse_jsonl(text: str, source: str = "<text>") -> list[dict[str, Any]]:
    """Every non-empty line of a bench_serving JSONL file → one dict.

    Python's json accepts the bare ``Infinity``/``NaN`` bench_serving writes for rate inf.
    """
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise ResultParseError(f"malformed JSON ({e.msg} at column {e.colno}); the line may "
                                   "be truncated", source=source, line=n) from None
        if not isinstance(obj, dict):
            raise ResultParseError(f"expected a JSON object, got {type(obj).__name__}",
                                   source=source, line=n)
        missing = [k for k in ("completed", "duration", "output_throughput") if k not in obj]
        if missing:
            raise ResultParseError(f"not a bench_serving result: lacks {', '.join(missing)}",
                                   source=source, line=n)
        for k in INT_FIELDS & obj.keys():
            if obj[k] is not None and not isinstance(obj[k], int):
                if isinstance(obj[k], float) and obj[k].is_integer():
                    obj[k] = int(obj[k])
                else:
                    raise ResultParseError(f"{k}: expected an integer, got {obj[k]!r}",
                                           source=source, line=n)
        for k in ("duration", "output_throughput"):
            if not isinstance(obj[k], (int, float)) or isinstance(obj[k], bool):
                raise ResultParseError(f"{k}: expected a number, got {obj[k]!r}",
                                       source=source, line=n)
        rows.append(obj)
    if not rows:
        raise ResultParseError("no result lines", source=source)
    return rows


def parse_text(text: str, source: str = "<text>") -> list[dict[str, Any]]:
    """Detect the format (JSONL or printed block) and parse."""
    if text.lstrip()[:1] in ("{", "["):
        return parse_jsonl(text, source)
    return parse_printed(text, source)


def read_results(paths: str | Path | Iterable[str | Path]) -> pd.DataFrame:
    """One row per run from result files (JSONL or printed logs); ``source`` names the file."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    rows: list[dict[str, Any]] = []
    for p in paths:
        p = Path(p)
        try:
            text = p.read_text()
        except OSError as e:
            raise ResultParseError(f"cannot read: {e.strerror}", source=str(p)) from None
        for i, row in enumerate(parse_text(text, str(p))):
            rows.append({"source": str(p), "run_index": i, **row})
    return to_frame(rows)


def to_frame(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame([dict(r) for r in rows])


def summary_columns(df: pd.DataFrame) -> list[str]:
    """Scalar columns for display (detail lists and nested server_info left out)."""
    skip = set(DETAIL_FIELDS) | {"server_info"}
    return [c for c in df.columns if c not in skip]


def format_block(row: Mapping[str, Any]) -> str:
    """Render a result row the way bench_serving 0.5.7 prints it. A figure the row does not hold
    (not measured: e.g. the builtin client's retokenized total) leaves its line out — never a
    0 that reads like a measurement."""
    missing = object()

    def g(k: str, default: Any = missing) -> Any:
        v = row.get(k)
        return default if v is None or (isinstance(v, float) and math.isnan(v)) else v

    rate = g("request_rate", math.inf)
    lines = ["{s:{c}^{n}}".format(s=" Serving Benchmark Result ", n=50, c="=")]

    def kv(label: str, value: Any, fmt: str = "") -> None:
        if value is not missing:
            lines.append(("{:<40} {:<10" + fmt + "}").format(label, value))

    kv("Backend:", g("backend"))
    kv("Traffic request rate:", "inf" if rate == math.inf else rate)
    kv("Max request concurrency:", row.get("max_concurrency") or "not set")
    kv("Successful requests:", g("completed"))
    kv("Benchmark duration (s):", g("duration"), ".2f")
    for label, key in [("Total input tokens:", "total_input_tokens"),
                       ("Total input text tokens:", "total_input_text_tokens"),
                       ("Total input vision tokens:", "total_input_vision_tokens"),
                       ("Total generated tokens:", "total_output_tokens"),
                       ("Total generated tokens (retokenized):", "total_output_tokens_retokenized")]:
        kv(label, g(key))
    kv("Request throughput (req/s):", g("request_throughput"), ".2f")
    kv("Input token throughput (tok/s):", g("input_throughput"), ".2f")
    kv("Output token throughput (tok/s):", g("output_throughput"), ".2f")
    kv("Peak output token throughput (tok/s):", g("max_output_tokens_per_s"), ".2f")
    kv("Peak concurrent requests:", g("max_concurrent_requests"))
    kv("Total token throughput (tok/s):", g("total_throughput"), ".2f")
    kv("Concurrency:", g("concurrency"), ".2f")
    sections = [("End-to-End Latency", "E2E Latency", "e2e_latency", ("Mean", "Median")),
                ("Time to First Token", "TTFT", "ttft", ("Mean", "Median", "P99")),
                ("Time per Output Token (excl. 1st token)", "TPOT", "tpot", ("Mean", "Median", "P99")),
                ("Inter-Token Latency", "ITL", "itl", ("Mean", "Median", "P95", "P99", "Max"))]
    for title, label, key, stats in sections:
        lines.append("{s:{c}^{n}}".format(s=title, n=50, c="-"))
        for st in stats:
            kv(f"{st} {label} (ms):", g(f"{st.lower()}_{key}_ms"), ".2f")
    lines.append("=" * 50)
    return "\n".join(lines)
