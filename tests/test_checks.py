"""Check 5 (E2E ≈ TTFT + TPOT × (output − 1)) and the requests bench_serving leaves without a
first-token time: the row CI saw (a 1-token request whose token decoded to no text)."""

from __future__ import annotations

from runbook.judge.checks import check_result
from runbook.measure.metrics import RequestRecord, records_from_details, summarize, untimed_ttft


def _row(untimed: bool) -> dict:
    # Six requests of 16, 1, 17, 2, 13 and 8 tokens at a steady 4 ms a token (seed 1, random
    # 100/32). The 1-token request waited 600 ms in the queue; when its token decodes to no text,
    # bench_serving keeps its TTFT at 0 and its whole E2E is outside the identity.
    outs = [16, 1, 17, 2, 13, 8]
    recs = [RequestRecord(i, 50, n, start=0.1 * i, ttft=0.1, latency=0.1 + 0.004 * (n - 1),
                          itl=[0.004] * (n - 1), output_len=n, success=True) for i, n in enumerate(outs)]
    recs[1].ttft, recs[1].latency = (0.0, 0.6) if untimed else (0.6, 0.6)
    return summarize(recs, 2.0)


def test_a_steady_consistent_row_passes_check_5():
    assert check_result(_row(untimed=False)) == []


def test_a_request_without_a_first_token_time_breaks_the_identity_and_is_not_judged_by_it():
    row = _row(untimed=True)
    assert row["ttft_untimed"] == 1
    assert check_result(row) == []
    del row["ttft_untimed"]  # a block that does not say so (a published one): checked as ever
    (f,) = check_result(row)
    assert f.metric == "mean_e2e_latency_ms" and f.check == "E2E ≈ TTFT + TPOT × (output − 1)"


def test_untimed_requests_counted_from_bench_serving_details_and_builtin_records():
    details = {"input_lens": [38, 13, 73], "output_lens": [16, 1, 17], "ttfts": [1.5, 0.0, 0.05],
               "itls": [[0.01] * 15, [], [0.01] * 16], "errors": ["", "", ""]}
    assert untimed_ttft(records_from_details(details)) == 1
    details["errors"][1] = "HTTP 500"  # a failed request is not a completed one
    assert untimed_ttft(records_from_details(details)) == 0
    timed = [RequestRecord(0, 10, 1, ttft=0.02, latency=0.02, output_len=1, success=True)]
    assert summarize(timed, 1.0)["ttft_untimed"] == 0
