"""The report across runs: deltas per tier from the first run given, tiers inferred for raw files."""

from __future__ import annotations

from runbook.params import load_profile
from runbook.reference import load_reference
from runbook.report import Report, gather, infer_tiers

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
