"""The report across runs: deltas per tier from the first run given, tiers inferred for raw files."""

from __future__ import annotations

from runbook.core.params import load_profile
from runbook.judge.reference import load_reference
from runbook.report.runs import Report, gather, infer_tiers

from .conftest import DATA


def test_run_deltas_between_two_runs(tmp_path):
    block = (DATA / "bench_serving_0.5.23_block.txt").read_text()
    faster = tmp_path / "image-b.txt"
    faster.write_text(block.replace("Output token throughput (tok/s):         298.41",
                                    "Output token throughput (tok/s):         328.25"))
    base = tmp_path / "image-a.txt"
    base.write_text(block)
    p = load_profile("mi300x-kimi-k2")
    rep = Report(p, infer_tiers(gather([str(base), str(faster)]), p), load_reference())
    df = rep.run_deltas().data
    assert list(df["run"]) == ["image-a", "image-b"] and set(df["tier"]) == {"medium"}
    assert df.loc[1, "output_throughput Δ%"] == (328.25 - 298.41) / 298.41 * 100
    assert df.loc[0, "output_throughput Δ%"] == 0.0


def test_one_run_asks_for_two():
    p = load_profile("mi300x-kimi-k2")
    rep = Report(p, infer_tiers(gather([str(DATA / "bench_serving_0.5.23_block.txt")]), p),
                 load_reference())
    assert "two or more runs" in rep.run_deltas()


def test_a_run_with_repeats_shows_its_median_and_interval(tmp_path):
    block = (DATA / "bench_serving_0.5.23_block.txt").read_text()
    files = [tmp_path / "image-a.txt"]
    files[0].write_text(block)
    for k, v in enumerate((300.0, 310.0, 320.0)):  # three repeats of one run
        f = tmp_path / f"b{k}.txt"
        f.write_text(block.replace("Output token throughput (tok/s):         298.41",
                                   f"Output token throughput (tok/s):         {v}"))
        files.append(f)
    p = load_profile("mi300x-kimi-k2")
    runs = gather([str(f) for f in files])
    runs.loc[runs["label"].str.startswith("b"), "label"] = "image-b"
    df = Report(p, infer_tiers(runs, p), load_reference()).run_deltas().data
    b = df[df["run"] == "image-b"].iloc[0]
    assert b["repeats"] == 3 and b["output_throughput"] == 310.0
    assert b["output_throughput 95 % CI"].startswith("310.00 [") and df.iloc[0]["repeats"] == 1
