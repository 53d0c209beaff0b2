"""The bench_serving parser: printed blocks (0.5.7 / 0.5.23) and JSONL, into one schema."""

from __future__ import annotations

import json
import math

import pytest

from runbook.core.errors import ResultParseError
from runbook.measure.results import format_block, parse_jsonl, parse_printed, parse_text, read_results

from .conftest import DATA

EXPECTED = {  # the seed's three blocks, number for number
    "low": dict(completed=10, duration=129.80, total_input_tokens=6101, total_output_tokens=4220,
                total_output_tokens_retokenized=4047, request_throughput=0.08, input_throughput=47.00,
                output_throughput=42.51, max_output_tokens_per_s=44.00, max_concurrent_requests=2,
                total_throughput=79.51, concurrency=1.00, mean_e2e_latency_ms=12975.41,
                median_e2e_latency_ms=10441.77, mean_ttft_ms=159.67, median_ttft_ms=161.21,
                p99_ttft_ms=161.84, mean_tpot_ms=40.41, median_tpot_ms=40.45, p99_tpot_ms=40.77,
                mean_itl_ms=40.44, median_itl_ms=40.42, p95_itl_ms=41.06, p99_itl_ms=41.17,
                max_itl_ms=42.06, max_concurrency=1, backend="sglang"),
    "medium": dict(completed=80, duration=146.79, total_input_tokens=49668, total_output_tokens=40805,
                   total_output_tokens_retokenized=29148, request_throughput=0.58,
                   input_throughput=290.00, output_throughput=298.41, max_output_tokens_per_s=442.00,
                   max_concurrent_requests=19, total_throughput=588.40, concurrency=14.74,
                   mean_e2e_latency_ms=24487.00, median_e2e_latency_ms=22990.58, mean_ttft_ms=977.11,
                   median_ttft_ms=168.58, p99_ttft_ms=4595.69, mean_tpot_ms=46.85,
                   median_tpot_ms=42.15, p99_tpot_ms=98.94, mean_itl_ms=44.22, median_itl_ms=48.58,
                   p95_itl_ms=45.76, p99_itl_ms=140.61, max_itl_ms=2469.48, max_concurrency=16),
    "high": dict(completed=500, duration=208.06, total_input_tokens=249841, total_output_tokens=252662,
                 total_output_tokens_retokenized=202051, request_throughput=2.40,
                 input_throughput=1200.78, output_throughput=1214.49, max_output_tokens_per_s=1600.00,
                 max_concurrent_requests=107, total_throughput=2415.17, concurrency=89.14,
                 mean_e2e_latency_ms=47091.76, median_e2e_latency_ms=46205.57, mean_ttft_ms=400.01,
                 median_ttft_ms=255.04, p99_ttft_ms=514.16, mean_tpot_ms=74.58, median_tpot_ms=75.88,
                 p99_tpot_ms=84.46, mean_itl_ms=72.95, median_itl_ms=64.09, p95_itl_ms=129.88,
                 p99_itl_ms=194.81, max_itl_ms=654.74, max_concurrency=100),
}


@pytest.mark.parametrize("tier", ["low", "medium", "high"])
def test_seed_blocks_parse_to_their_exact_numbers(reference, tier):
    row = reference.loc[tier]
    for key, value in EXPECTED[tier].items():
        assert row[key] == value, key
    assert row["request_rate"] == math.inf
    assert row["total_input_vision_tokens"] == 0
    assert row["hardware"] == "AMD MI300X x8" and row["tp"] == 8 and row["sglang_version"] == "0.5.7"
    assert row["num_prompts"] == EXPECTED[tier]["completed"]


def test_0523_block_with_p90_rows_no_vision_row_and_cache_details():
    (row,) = parse_printed((DATA / "bench_serving_0.5.23_block.txt").read_text())
    assert row["p90_e2e_latency_ms"] == 40990.10 and row["p95_ttft_ms"] == 3890.20
    assert row["p90_itl_ms"] == 44.90 and row["p99_e2e_latency_ms"] == 46001.02
    assert row["total_input_vision_tokens"] == 0  # absent row → 0, as 0.5.7 would print
    assert row["cache_hit_rate"] == 10.3  # unknown rows kept, not dropped
    assert row["device"] == 4096 and row["device_2"] == 100.0


def test_round_trip_through_format_block(reference):
    row = reference.loc["high"].to_dict()
    (again,) = parse_printed(format_block(row))
    for key in EXPECTED["high"]:
        assert again[key] == row[key], key


def test_several_blocks_in_one_log(reference):
    text = "\n".join(format_block(reference.loc[t].to_dict()) for t in ("low", "high"))
    rows = parse_printed("noise\n" + text + "\ntrailing noise")
    assert [r["completed"] for r in rows] == [10, 500]


def _jsonl_line(**extra) -> str:
    base = {"backend": "sglang", "request_rate": float("inf"), "max_concurrency": 1,
            "completed": 10, "duration": 12.5, "total_input_tokens": 6101,
            "total_output_tokens": 4220, "output_throughput": 337.6, "mean_ttft_ms": 10.0,
            "server_info": None}
    base.update(extra)
    return json.dumps(base)  # json.dumps writes Infinity/NaN bare, as bench_serving does


def test_jsonl_infinity_nan_details_extras_and_several_runs(tmp_path):
    lines = [_jsonl_line(), _jsonl_line(completed=9, accept_length=float("nan"),
                                        goodput=1.5, input_lens=[1, 2], itls=[[0.1], [0.2]])]
    assert "Infinity" in lines[0] and "NaN" in lines[1]
    f = tmp_path / "r.jsonl"
    f.write_text("\n".join(lines) + "\n\n")
    df = read_results(f)
    assert len(df) == 2
    assert df.loc[0, "request_rate"] == math.inf
    assert math.isnan(df.loc[1, "accept_length"])
    assert df.loc[1, "goodput"] == 1.5 and df.loc[1, "input_lens"] == [1, 2]
    assert list(df["run_index"]) == [0, 1] and df.loc[0, "source"] == str(f)


@pytest.mark.parametrize("text,where", [
    (_jsonl_line() + "\n" + _jsonl_line()[:40] + "\n", "line 2"),
    ('{"completed": 1}\n', "line 1"),
    ("[1, 2]\n", "line 1"),
    (_jsonl_line(completed=9.5), "line 1"),
    (_jsonl_line(duration="fast"), "line 1"),
])
def test_bad_jsonl_names_the_file_and_line(tmp_path, text, where):
    f = tmp_path / "bad.jsonl"
    f.write_text(text)
    with pytest.raises(ResultParseError) as e:
        read_results(f)
    assert str(f) in str(e.value) and where in str(e.value)


def test_truncated_or_garbled_printed_blocks(reference):
    block = format_block(reference.loc["low"].to_dict())
    lines = block.splitlines()
    with pytest.raises(ResultParseError, match="truncated"):
        parse_printed("\n".join(lines[:-1]), "run.log")
    with pytest.raises(ResultParseError, match="lacks"):
        parse_printed("\n".join([*lines[:6], lines[-1]]), "run.log")
    garbled = block.replace("Mean TTFT (ms):                          ", "Mean TTFT (ms): 12.x")
    with pytest.raises(ResultParseError, match=r"run.log, line \d+: mean_ttft_ms"):
        parse_printed(garbled, "run.log")
    with pytest.raises(ResultParseError, match="no 'Serving Benchmark Result' block"):
        parse_text("nothing here", "empty.log")
    with pytest.raises(ResultParseError, match="no result lines"):
        parse_jsonl("\n\n", "empty.jsonl")


def test_a_figure_not_measured_is_not_printed():
    """The builtin client does not retokenize: its block leaves that line out (a 0 there would
    read as a measurement), and the block still parses back to the same figures."""
    from runbook.measure.results import format_block, parse_printed

    row = {"backend": "sglang", "request_rate": float("inf"), "max_concurrency": 1, "completed": 10,
           "duration": 33.3, "total_input_tokens": 6101, "total_output_tokens": 4220,
           "total_output_tokens_retokenized": None, "request_throughput": 0.3,
           "output_throughput": 126.8, "mean_ttft_ms": 50.0, "median_ttft_ms": 48.0, "mean_itl_ms": 7.5}
    block = format_block(row)
    assert "retokenized" not in block and "Total generated tokens:" in block
    assert "P99 TTFT" not in block  # not in the row: not shown as 0.00
    back = parse_printed(block, "block")[-1]
    assert back["total_output_tokens"] == 4220 and back.get("total_output_tokens_retokenized") is None


def test_the_same_hardware_named_by_amd_smi_and_by_the_recipe():
    from runbook.judge.compare import same_hardware

    assert same_hardware("AMD Instinct MI300X x8", "AMD MI300X x8")
    assert same_hardware("NVIDIA H200 x8", "NVIDIA H200 x8")
    assert not same_hardware("AMD Instinct MI300X x4", "AMD MI300X x8")  # the count
    assert not same_hardware("AMD Instinct MI325X x8", "AMD MI300X x8")  # the model
    assert not same_hardware("CPU (2 cores, no GPU)", "AMD MI300X x8")
