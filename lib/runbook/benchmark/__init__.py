"""Benchmark: a tier run end to end, measured then judged.

``run`` (a tier's repeats through a runner, checked, compared and stored), ``session`` (the
server a standalone bench or sweep notebook runs on: the one that answers, or the profile's,
started and stopped), ``sweep`` (a concurrency ladder of tier runs). Uses judge and below.
"""
