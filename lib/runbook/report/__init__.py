"""Report: what a person reads.

``html`` (each step's page and ``index.html``), ``plots``, ``views`` (what the bench and sweep
notebooks show), ``runs`` (the report across runs: deltas, the reference, the baseline),
``browser`` (the pages checked in headless Chromium). Uses every stage below; nothing below
imports it.
"""
