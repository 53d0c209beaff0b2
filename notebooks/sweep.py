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
# # Concurrency sweep
# Which concurrency to run at under a latency budget. Each point is a benchmark run with the
# recipe's methodology (random prompts, seed 1, `--request-rate inf`) at `--max-concurrency c`, with
# `prompts_per_concurrency × c` prompts and `warmup_per_concurrency × c` warm-up requests (as
# InferenceX's ladder does), repeated `repeats` times on the same workload. The plot puts output
# tokens/s per GPU against tokens/s per user (1000 / median TPOT), draws the Pareto front and the
# recipe's published tiers on the same axes; goodput counts the requests meeting the profile's SLO
# (`benchmark.slo`: TTFT and TPOT bounds). The headline below is filled in once the sweep has run.
#
# `papermill notebooks/sweep.ipynb out.ipynb -p concurrencies "[1, 4, 16]"`; values left at their
# defaults take the profile's `benchmark.sweep`. If no server answers, the embedded default is
# started for this notebook and stopped at its end.

# %% tags=["parameters"]
profile: str = "local"  # profile name in params/ or a path to a YAML file
run_dir: str = ""  # run folder to continue (empty: a new outputs/<run-id>/)
overrides: list = []  # profile overrides as for the CLI -p option (dotted key, equals sign, value)
concurrencies: list = []  # --max-concurrency of each point (empty: the profile's)
prompts_per_concurrency: int = 0  # --num-prompts: this times concurrency (0: the profile's)
warmup_per_concurrency: int = -1  # warm-up requests: this times concurrency (-1: the profile's)
input_len: int = 0  # --random-input-len (0: the profile's)
output_len: int = 0  # --random-output-len (0: the profile's)
range_ratio: float = -1.0  # --random-range-ratio (-1.0: the profile's)
seed: int = -1  # --seed (-1: the profile's)
repeats: int = 0  # runs per point, same workload (0: the profile's)
runner: str = "auto"  # auto (the profile's) | bench_serving | builtin
endpoint: str = ""  # server base URL (empty: the profile's)

# %% tags=["remove-input"] jupyter={"source_hidden": true}
from runbook.notebook import form

form.show(globals(), "sweep")

# %%
from runbook.benchmark import session
from runbook.notebook import plumbing, stepparams
from runbook.report import views

step = plumbing.open_step("sweep", globals())

# %%
sw = stepparams.resolve_sweep(step.profile, **step.params.sweep_values())
print(f"sweep: concurrencies {sw.concurrencies}, {sw.prompts_per_concurrency} prompts and "
      f"{sw.warmup_per_concurrency} warm-up requests per concurrency, {sw.repeats} run(s) each")
headline = views.placeholder()

# %% [markdown]
# ## The server (started here only if none answers)

# %%
server = session.ensure_server(step, runner)
server.describe()

# %% [markdown]
# ## The sweep

# %%
result = server.sweep(sw)
views.publish(result, step.run, headline)

# %% [markdown]
# ## Points (per GPU: divided by the GPUs preflight counted; CPU: the whole machine)

# %%
result.frame()

# %% [markdown]
# ## Throughput per GPU against interactivity, and latency against concurrency

# %%
views.sweep_plots(result)

# %% [markdown]
# ## Stop what this notebook started

# %%
server.close()
