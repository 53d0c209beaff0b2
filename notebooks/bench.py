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
# # Benchmark tier
# The recipe's benchmark (section 5.1), run the way the published numbers were produced:
# `python3 -m sglang.bench_serving --dataset-name random --random-input-len 1000
# --random-output-len 1000 --num-prompts N --max-concurrency C --request-rate inf` (seed 1).
#
# **Which tier runs.** `tier` picks one of the profile's tiers (low: c=1, 10 prompts; medium: c=16,
# 80; high: c=100, 500). With no `tier`, `concurrency` picks the tier with that concurrency, so
# `papermill bench.ipynb out.ipynb -p concurrency 100` runs the high tier with its 500 prompts.
# Explicit values (num_prompts, lengths, …) override the tier's. A concurrency no tier has, or
# `tier="custom"`, starts from random 1000/1000 with num_prompts = 10 × concurrency.
#
# **Runners.** `bench_serving` runs sglang 0.5.7's own client where SGLang lives (inside the
# container); `builtin` is the lib's async client with the same methodology, for endpoints with no
# SGLang beside them; `auto` takes the profile's choice. If no server answers, the embedded default
# is started for this notebook and stopped at its end.
#
# **Repeats.** `repeats` ≥ 2 runs the tier that many times on the same workload (the fingerprint
# holds; `vary_seed` in the profile's tier gives repeat k the seed + k): each figure then gets its
# median over the repeats and a 95 % bootstrap interval, whose width is the run-to-run noise a
# difference between two runs must beat (`runbook diff`).

# %% tags=["parameters"]
profile: str = "local"  # profile name in params/ or a path to a YAML file
run_dir: str = ""  # run folder to continue (empty: a new outputs/<run-id>/)
overrides: list = []  # profile overrides as for the CLI -p option (dotted key, equals sign, value)
tier: str = ""  # a tier of the profile, or custom (empty: chosen by concurrency, else the first)
concurrency: int = 0  # --max-concurrency (0: the tier's)
num_prompts: int = 0  # --num-prompts (0: the tier's)
input_len: int = 0  # --random-input-len (0: the tier's)
output_len: int = 0  # --random-output-len (0: the tier's)
range_ratio: float = -1.0  # --random-range-ratio (0.0 in the recipe) (-1.0: the tier's)
request_rate: float = 0.0  # requests/s, or inf for all at once behind the cap (0.0: the tier's)
seed: int = -1  # --seed (1 as bench_serving 0.5.7) (-1: the tier's)
warmup_requests: int = -1  # warm-up requests, not counted (-1: the tier's)
flush_cache: str = ""  # (empty) | true | false: flush the server's cache after warm-up (empty: the tier's)
repeats: int = 0  # runs of the tier on the same workload, for confidence intervals (0: the tier's)
runner: str = "auto"  # auto (the profile's) | bench_serving | builtin
endpoint: str = ""  # server base URL (empty: the profile's)
tag: str = ""  # free-form tag written into the result

# %% tags=["remove-input"] jupyter={"source_hidden": true}
from runbook.notebook import form

form.show(globals(), "bench")

# %%
from runbook.benchmark import session
from runbook.notebook import plumbing, stepparams
from runbook.report import views

step = plumbing.open_step("bench", globals())


# %%
tier_name, workload = stepparams.resolve_notebook_tier(step.profile, tier, **step.params.tier_values())
print(f"tier {tier_name}: {workload}")

# %% [markdown]
# ## The server (started here only if none answers)

# %%
server = session.ensure_server(step, runner)
server.describe()

# %% [markdown]
# ## Run
#
# Progress while it runs, then the result block as bench_serving prints it. bench_serving's whole
# output (its arguments, warm-up, the block) is in the tier's log in the run folder.

# %%
result = server.run(tier_name, workload, tag=tag or None)
print(result.printed)
print(f"raw output: {result.logs()}")

# %% [markdown]
# ## Result table
#
# bench_serving's field names, the headline ones, a row per repeat; every field is in the run
# folder's `results.csv`.

# %%
result.table()

# %% [markdown]
# ## Repeats: each figure's median and its 95 % interval

# %%
result.intervals()

# %% [markdown]
# ## Consistency and workload checks

# %% tags=["verdicts"]
views.findings_table(result)

# %% [markdown]
# ## Against the published reference

# %% tags=["verdicts"]
views.comparison_view(result)

# %% [markdown]
# ## Distributions, timeline and telemetry (`telemetry.csv`: GPU and host, once a second)

# %%
views.plots(result)

# %% [markdown]
# ## Stop what this notebook started, then the tier's verdict

# %%
server.close()

# %%
result.raise_on_failure()
