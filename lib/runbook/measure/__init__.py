"""Measure: a tier's workload sent and its figures taken.

``tiers`` (the tier rule: which workload a tier run is, a validated ``TierRun``), ``runners``
(``bench_serving`` | ``builtin``, one row per run with bench_serving's field names), ``metrics``
(per-request records → bench_serving's summary), ``results`` (bench_serving's output parsed),
``workload`` (the seeded workload's token totals), ``telemetry`` (GPU/host samples during a
tier), ``floor`` (the decode floor), ``store`` (``results.jsonl``). Uses core, engine and deploy;
never judges.
"""
