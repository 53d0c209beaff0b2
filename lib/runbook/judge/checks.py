"""Consistency checks for a bench_serving result: does the block agree with itself?

Every figure bench_serving prints is derived from a few counts and the duration, so a careful
reader can recompute most of them. These checks do that for any result row (a run or a published
reference) and return findings — never fix anything. On a genuine, consistent run they find
nothing; on the recipe's published blocks they find the errors in them.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from runbook.core.numbers import number
from runbook.measure.workload import Workload, fingerprint

ABS_SLACK = 0.01  # printed figures are rounded to 2 decimals


@dataclass(frozen=True)
class Finding:
    tier: str
    metric: str
    check: str
    printed: float | str | None
    expected: float | str | None
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _num(row: Mapping[str, Any], key: str) -> float | None:
    """A row's figure: a number that is one (text, booleans and NaN are none)."""
    v = row.get(key)
    return None if isinstance(v, str) else number(v)


def _close(printed: float, expected: float, rel: float) -> bool:
    return abs(printed - expected) <= max(rel * abs(expected), ABS_SLACK)


def _tidy(x: Any) -> Any:
    if isinstance(x, float) and math.isfinite(x):
        return int(x) if x.is_integer() else round(x, 2)
    return x


def check_result(
    row: Mapping[str, Any],
    tier: str = "",
    workload: Workload | None = None,
    rel: float = 0.01,
) -> list[Finding]:
    """All findings for one result row; ``workload`` enables the fingerprint checks."""
    out: list[Finding] = []

    def add(metric: str, check: str, printed: Any, expected: Any, detail: str) -> None:
        out.append(Finding(tier, metric, check, _tidy(printed), _tidy(expected), detail))

    dur = _num(row, "duration")
    done = _num(row, "completed")
    tin = _num(row, "total_input_tokens")
    tout = _num(row, "total_output_tokens")

    # 1. Throughputs are counts / duration.
    if dur and dur > 0:
        for metric, count, what in (("request_throughput", done, "completed requests"),
                                     ("input_throughput", tin, "total input tokens"),
                                     ("output_throughput", tout, "total generated tokens")):
            p = _num(row, metric)
            if p is not None and count is not None and not _close(p, count / dur, rel):
                add(metric, "throughput = count / duration", p, count / dur,
                    f"{what} {count:.0f} / duration {dur:.2f} s = {count / dur:.2f}, printed {p:.2f}")

    # 2. Totals are sums.
    pin, pout, ptot = (_num(row, k) for k in ("input_throughput", "output_throughput",
                                              "total_throughput"))
    if None not in (pin, pout, ptot) and not _close(ptot, pin + pout, rel):  # type: ignore[operator]
        add("total_throughput", "total = input + output", ptot, pin + pout,  # type: ignore[operator]
            f"input {pin:.2f} + output {pout:.2f} = {pin + pout:.2f} tok/s")  # type: ignore[operator]
    ttext, tvis = _num(row, "total_input_text_tokens"), _num(row, "total_input_vision_tokens")
    if tin is not None and ttext is not None and tvis is not None and tin != ttext + tvis:
        add("total_input_tokens", "input = text + vision tokens", tin, ttext + tvis,
            f"text {ttext:.0f} + vision {tvis:.0f}")

    # 3. Concurrency is Σ E2E / duration, and a closed loop cannot exceed its cap.
    e2e = _num(row, "mean_e2e_latency_ms")
    conc = _num(row, "concurrency")
    implied = e2e * done / 1000.0 / dur if e2e and done and dur else None
    if implied is not None and conc is not None and not _close(conc, implied, max(rel, 0.02)):
        add("concurrency", "concurrency = Σ E2E / duration", conc, implied,
            f"mean E2E {e2e:.2f} ms × {done:.0f} requests / {dur:.2f} s = {implied:.2f}")
    cap = _num(row, "max_concurrency")
    if cap:
        for label, value in (("printed", conc), ("implied by mean E2E", implied)):
            if value is not None and value > cap * (1 + rel) + ABS_SLACK:
                add("concurrency", "concurrency ≤ max concurrency", value, cap,
                    f"{label} concurrency {value:.2f} exceeds the cap of {cap:.0f} in-flight "
                    "requests")

    # 4. Percentiles are ordered.
    for fam in ("e2e_latency", "ttft", "tpot", "itl"):
        seq = [(s, _num(row, f"{s}_{fam}_ms")) for s in ("median", "p90", "p95", "p99", "max")]
        seq = [(s, v) for s, v in seq if v is not None]
        for (s1, v1), (s2, v2) in itertools.pairwise(seq):
            if v1 > v2 + ABS_SLACK:
                add(f"{s1}_{fam}_ms", f"{s1} ≤ {s2}", v1, v2,
                    f"{s1} {fam} {v1:.2f} ms exceeds {s2} {v2:.2f} ms: impossible for one "
                    "distribution")
        mean, mx = _num(row, f"mean_{fam}_ms"), _num(row, f"max_{fam}_ms")
        if mean is not None and mx is not None and mean > mx + ABS_SLACK:
            add(f"mean_{fam}_ms", "mean ≤ max", mean, mx, f"mean {mean:.2f} > max {mx:.2f}")
    ttft, e2e_med = _num(row, "mean_ttft_ms"), e2e
    if ttft is not None and e2e_med is not None and ttft > e2e_med + ABS_SLACK:
        add("mean_ttft_ms", "TTFT ≤ E2E latency", ttft, e2e_med,
            "the first token cannot arrive after the last")

    # 5. E2E ≈ TTFT + TPOT × (tokens − 1), where TPOT hardly varies (so means multiply). Not
    # where the run says some requests have no first-token time (``ttft_untimed``, counted from
    # the per-request records): bench_serving keeps TTFT 0 for a stream that never carried text,
    # and that request's whole E2E then stands outside the identity.
    tpot, tpot_med, tpot_p99 = (_num(row, k) for k in ("mean_tpot_ms", "median_tpot_ms",
                                                       "p99_tpot_ms"))
    if (e2e and ttft is not None and tpot and tpot_med and tpot_p99 and done and tout
            and tpot_p99 <= 1.1 * tpot_med and not _num(row, "ttft_untimed")):
        expect = ttft + tpot * (tout / done - 1)
        if abs(e2e - expect) > 0.1 * expect:
            add("mean_e2e_latency_ms", "E2E ≈ TTFT + TPOT × (output − 1)", e2e, expect,
                f"mean TTFT {ttft:.2f} + mean TPOT {tpot:.2f} × ({tout / done:.1f} − 1) tokens "
                f"= {expect:.0f} ms with a steady TPOT (p99/median {tpot_p99 / tpot_med:.2f})")

    # 6. The per-second peak can't be below the average.
    peak = _num(row, "max_output_tokens_per_s")
    if peak is not None and tout and dur and peak < tout / (dur + 2) - ABS_SLACK:
        add("max_output_tokens_per_s", "peak ≥ average", peak, tout / (dur + 2),
            "the busiest 1-second bucket holds fewer tokens than the average")

    # 7. The workload: request count and the seeded length draw.
    if workload is not None:
        if done is not None and done != workload.num_prompts:
            add("completed", "completed = num_prompts", done, workload.num_prompts,
                "requests were dropped, failed, or the dataset file was too short")
        elif done == workload.num_prompts:
            fp = fingerprint(workload)
            for metric, key in (("total_input_tokens", "total_input_tokens"),
                                ("total_output_tokens", "total_output_tokens")):
                v = _num(row, metric)
                if v is not None and v != fp[key]:
                    add(metric, "workload fingerprint", v, fp[key],
                        f"seed {workload.seed}, {workload.num_prompts} prompts, random "
                        f"{workload.input_len}/{workload.output_len}, range ratio "
                        f"{workload.range_ratio} draws {fp[key]} tokens")
    return out


def workload_of(row: Mapping[str, Any]) -> Workload | None:
    """The workload a row claims, when it says enough (random dataset, known prompt count)."""
    need = ("num_prompts", "random_input_len", "random_output_len")
    if any(_num(row, k) is None for k in need):
        return None
    if row.get("dataset_name") not in (None, "random"):
        return None
    return Workload(
        num_prompts=int(_num(row, "num_prompts")),  # type: ignore[arg-type]
        input_len=int(_num(row, "random_input_len")),  # type: ignore[arg-type]
        output_len=int(_num(row, "random_output_len")),  # type: ignore[arg-type]
        range_ratio=_num(row, "random_range_ratio") or 0.0,
        seed=int(_num(row, "seed") if _num(row, "seed") is not None else 1),
    )


def tier_workloads(profiles: list[str]) -> dict[str, Workload]:
    """The seeded workloads of the named profiles' tiers (first name wins on a clash)."""
    from runbook.core.params import load_profile

    out: dict[str, Workload] = {}
    for name in profiles:
        for tier, t in load_profile(name).benchmark.tiers.items():
            out.setdefault(tier, Workload(t.num_prompts, t.input_len, t.output_len, t.range_ratio, t.seed))
    return out


def infer_workload(row: Mapping[str, Any], candidates: Mapping[str, Workload]) -> tuple[str, Workload] | None:
    """The workload a result ran, from its token totals, where its own fields do not say (a
    printed block names no prompt count, lengths or seed): the candidate whose seeded
    fingerprint has exactly these totals — e.g. 500 prompts, 249831 in / 252662 out is the
    recipe's high tier. None when no candidate matches (a run with failures, another workload)."""
    tin, tout = _num(row, "total_input_tokens"), _num(row, "total_output_tokens")
    done = _num(row, "completed")
    if tin is None or tout is None:
        return None
    for name, w in candidates.items():
        fp = fingerprint(w)
        same = (fp["total_input_tokens"], fp["total_output_tokens"]) == (tin, tout)
        if same and done in (None, w.num_prompts):
            return name, w
    return None


def workload_fields(w: Workload) -> dict[str, Any]:
    """A workload as bench_serving's row fields (what ``workload_of`` reads back)."""
    return {"dataset_name": "random", "num_prompts": w.num_prompts, "random_input_len": w.input_len,
            "random_output_len": w.output_len, "random_range_ratio": w.range_ratio, "seed": w.seed}
