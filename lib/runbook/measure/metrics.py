"""Per-request records → bench_serving 0.5.7's summary, field for field.

The same arithmetic as ``calculate_metrics`` in sglang 0.5.7's bench_serving: TTFT = first text
chunk − send; E2E = last chunk − send; TPOT = (E2E − TTFT) / (output_len − 1) for requests with
more than one token; ITL = the gaps between text chunks; throughputs = counts / duration;
concurrency = Σ E2E / duration; peak output tokens/s and peak concurrent requests from 1-second
buckets. Failed requests count in ``failed`` and never in the latency statistics.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np


@dataclass
class RequestRecord:
    index: int
    prompt_len: int
    output_len_target: int
    start: float = 0.0  # monotonic seconds since the benchmark start
    ttft: float = 0.0  # seconds
    latency: float = 0.0  # seconds (E2E)
    itl: list[float] = field(default_factory=list)  # seconds between text chunks
    output_len: int = 0
    success: bool = False
    error: str = ""
    generated_text: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _stats(values: Sequence[float], scale: float, prefix: str, pcts: Iterable[int]) -> dict[str, float]:
    arr = np.asarray(values, dtype=float) * scale
    out: dict[str, float] = {}
    if arr.size == 0:
        for k in ("mean", "median", "std", *(f"p{p}" for p in pcts)):
            out[f"{k}_{prefix}_ms"] = math.nan
        return out
    out[f"mean_{prefix}_ms"] = float(np.mean(arr))
    out[f"median_{prefix}_ms"] = float(np.median(arr))
    out[f"std_{prefix}_ms"] = float(np.std(arr))
    for p in pcts:
        out[f"p{p}_{prefix}_ms"] = float(np.percentile(arr, p))
    return out


def summarize(records: Sequence[RequestRecord], duration: float) -> dict[str, Any]:
    ok = [r for r in records if r.success]
    out_lens = [r.output_len for r in ok]
    tpots = [(r.latency - r.ttft) / (r.output_len - 1) for r in ok if r.output_len > 1]
    itls = [x for r in ok for x in r.itl]
    s: dict[str, Any] = {
        "duration": duration,
        "completed": len(ok),
        "failed": len(records) - len(ok),
        "total_input_tokens": int(sum(r.prompt_len for r in ok)),
        "total_input_text_tokens": int(sum(r.prompt_len for r in ok)),
        "total_input_vision_tokens": 0,
        "total_output_tokens": int(sum(out_lens)),
    }
    s["request_throughput"] = len(ok) / duration if duration else math.nan
    s["input_throughput"] = s["total_input_tokens"] / duration if duration else math.nan
    s["output_throughput"] = s["total_output_tokens"] / duration if duration else math.nan
    s["total_throughput"] = s["input_throughput"] + s["output_throughput"]
    s |= _stats([r.latency for r in ok], 1000, "e2e_latency", (99,))
    s |= _stats([r.ttft for r in ok], 1000, "ttft", (99,))
    s |= _stats(tpots, 1000, "tpot", (99,))
    s |= _stats(itls, 1000, "itl", (95, 99))
    s["max_itl_ms"] = float(max(itls) * 1000) if itls else math.nan
    s["concurrency"] = sum(r.latency for r in ok) / duration if duration else math.nan
    s["accept_length"] = None
    peak_tok, peak_req = peaks(ok)
    s["max_output_tokens_per_s"] = peak_tok
    s["max_concurrent_requests"] = peak_req
    s["ttft_untimed"] = untimed_ttft(records)
    return s


def untimed_ttft(records: Sequence[RequestRecord]) -> int:
    """Completed requests without a first-token time. bench_serving times the first chunk that
    carries text; a stream whose tokens never decode to text (a random model's incomplete UTF-8)
    keeps TTFT 0 and still counts as completed, with the requested output length. The builtin
    client times such a stream at its first chunk, so its count is 0."""
    return sum(1 for r in records if r.success and r.ttft == 0.0)


def peaks(ok: Sequence[RequestRecord]) -> tuple[float, int]:
    """bench_serving's 1-second buckets: token times (first token + ITLs) and requests alive."""
    tl = timeline(ok)
    if tl is None:
        return 0.0, 0
    return float(tl["output_tokens"].max()), int(tl["requests_in_flight"].max())


def timeline(ok: Sequence[RequestRecord]) -> Any:
    """Per-second output tokens and requests in flight (a pandas frame), None without data."""
    import pandas as pd

    if not ok:
        return None
    t0 = min(r.start for r in ok)
    end = max(r.start + r.latency for r in ok)
    n = math.ceil(end - t0) + 1
    tokens = np.zeros(n)
    alive = np.zeros(n)
    for r in ok:
        t = r.start + r.ttft
        times = [t]
        for gap in r.itl:
            t += gap
            times.append(t)
        for tt in times:
            b = int(tt - t0)
            if 0 <= b < n:
                tokens[b] += 1
        for sec in range(int(r.start - t0), min(int(r.start + r.latency - t0) + 1, n)):
            alive[sec] += 1
    return pd.DataFrame({"second": np.arange(n), "output_tokens": tokens, "requests_in_flight": alive})


def records_from_details(row: Mapping[str, Any]) -> list[RequestRecord]:
    """bench_serving's --output-details lists → records (no send times: they aren't written)."""
    ins = row.get("input_lens") or []
    outs = row.get("output_lens") or []
    ttfts = row.get("ttfts") or []
    itls = row.get("itls") or []
    errs = row.get("errors") or [""] * len(ins)
    recs = []
    for i, (pl, ol, tt, it, er) in enumerate(zip(ins, outs, ttfts, itls, errs, strict=False)):
        recs.append(RequestRecord(index=i, prompt_len=int(pl), output_len_target=int(ol), ttft=tt or 0.0,
                                  latency=(tt or 0.0) + sum(it or []), itl=list(it or []),
                                  output_len=int(ol), success=not er, error=er or ""))
    return recs


def records_from_files(files: Mapping[str, str]) -> list[RequestRecord]:
    """A tier run's per-request records from its files: the builtin runner's records JSONL, or
    bench_serving's ``--output-details`` lists in its result JSONL (the last line)."""
    import json
    from pathlib import Path

    if files.get("records"):
        return [RequestRecord(**json.loads(x)) for x in Path(files["records"]).read_text().splitlines()
                if x.strip()]
    if files.get("jsonl"):
        lines = [json.loads(x) for x in Path(files["jsonl"]).read_text().splitlines() if x.strip()]
        return records_from_details(lines[-1]) if lines else []
    return []
