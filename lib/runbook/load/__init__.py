"""The load stage: the recipe's benchmark tiers against a server.

``tiers`` — the tier rule (which workload a run is: a validated ``TierRun``);
``run`` — running a tier's repeats through a runner (``runbook.runners``), checking and judging them;
``store`` — the run folder's ``results.jsonl``;
``session`` — a server to run on (the one that answers, or the profile's, started and stopped);
``view`` — what ``notebooks/bench.ipynb`` shows of a tier.
"""
