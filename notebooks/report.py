# ---
# jupyter:
#   jupytext:
#     notebook_metadata_filter: kernelspec,-jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Report: results against the published reference
# Takes result files (bench_serving JSONL or printed output, or run folders under `outputs/`) and
# shows, per tier, the runs against each other (deltas from the first run given), the comparison
# with the recipe's published numbers — with the verdict colours and, when the setup
# or workload differs, the "not comparable" label and its reasons — the consistency findings on the
# reference itself, and the workload fingerprints.
#
# **Verdicts between runs.** With two or more run folders (or `report.baseline` in the profile:
# `runbook run --baseline outputs/<run-id>`), each later run is judged against the first as
# `runbook diff` judges it: per tier and metric, the change with its 95 % interval, and regression /
# improvement / no significant change — decided on per-request latencies and repeat-level
# throughput, only where the workload fingerprints match. A regression beyond the profile's
# tolerance fails this step.

# %% tags=["parameters"]
profile: str = "local"  # profile name in params/ or a path to a YAML file
run_dir: str = ""  # run folder to continue (empty: a new outputs/<run-id>/)
overrides: list = []  # profile overrides as for the CLI -p option (dotted key, equals sign, value)
results: list = []  # runs to report: run folder names, paths (from the project root) or result files (empty: only the reference)

# %% tags=["remove-input"] jupyter={"source_hidden": true}
from runbook.notebook import form

form.show(globals(), "report")

# %%
from runbook.notebook import plumbing
from runbook.report import runs as report

step = plumbing.open_step("report", globals())
rep = report.build(step, results)

# %% [markdown]
# ## The published reference, checked

# %% tags=["verdicts"]
rep.reference_findings(step.run)

# %% [markdown]
# ## Workload fingerprints

# %%
rep.fingerprints()

# %% [markdown]
# ## Runs against the reference

# %% tags=["verdicts"]
rep.comparisons()

# %% [markdown]
# ## Runs against each other (the first run given is the baseline)

# %%
rep.run_deltas()

# %% [markdown]
# ## Verdicts against the baseline run (as `runbook diff`)

# %% tags=["verdicts"]
rep.verdicts(step.run)

# %% [markdown]
# ## How far from the hardware: % of the decode floor
# The floor is the time one decode step needs to read what it must — the weights it touches
# (attention, dense and shared layers, the routed experts B concurrent tokens are expected to touch,
# lm_head) and the latent KV cache of every sequence — at the GPUs' published HBM bandwidth (the
# host's measured memory bandwidth on a CPU). % of floor = floor TPOT / measured median TPOT.

# %%
rep.floor(step.run)

# %% [markdown]
# ## Throughput vs median TPOT

# %%
rep.plot()

# %%
rep.raise_on_failure()
