"""Judge: what the figures mean.

``checks`` (consistency findings), ``compare`` (against the published reference, per metric),
``reference`` (the recipe's blocks as data), ``stats`` (bootstrap intervals, goodput, Pareto
front, change verdicts), ``diff`` (run against run), ``sidebyside`` (two engines' runs),
``provenance`` (what ran, and what differs between two runs). Uses measure and below.
"""
