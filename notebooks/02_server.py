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
# # 02 · Server start and readiness
# The launch command is built from params (the recipe's `SGLANG_ROCM_FUSED_DECODE_MLA=0 python3 -m
# sglang.launch_server … --tp 8 --tool-call-parser kimi_k2`), shown, then started detached inside the
# container (or as a host process with `launcher: process`), its output in `logs/server.log`.
#
# Readiness polls `/health_generate`, falling back to `/health` — never `/v1/models`, which answers
# before the model can generate. Kimi K2 takes 10–60 min to load: progress lines show the elapsed
# time and the log's last line; if the server process exits, the step fails within seconds with
# the log tail. On failure, what this run started is torn down.

# %% tags=["parameters"]
profile: str = "local"  # profile name in params/ or a path to a YAML file
run_dir: str = ""  # run folder to continue (empty: a new outputs/<run-id>/)
overrides: list = []  # profile overrides as for the CLI -p option (dotted key, equals sign, value)
timeout_s: float = 0.0  # readiness timeout in seconds (0.0: the profile's)
teardown_after: bool = False  # stop the server and remove the container at the end of this notebook

# %% tags=["remove-input"] jupyter={"source_hidden": true}
from runbook.notebook import form

form.show(globals(), "server")

# %%
from runbook.deploy import cluster, server, steps as deploy
from runbook.notebook import plumbing

step = plumbing.open_step("server", globals())
launcher = deploy.get_launcher(step.profile, step.run)

# %% [markdown]
# ## The launch command

# %%
print(server.launch_command(step.profile).display())

# %% [markdown]
# ## More than one node
# With `cluster.mode` (`multi-node-tp` or `pd-disaggregation`), each node's command — this launch
# plus the flags its role needs, and the sglang-router command in front of a disaggregated pair —
# is written to the run folder (`cluster-plan.sh`, `cluster-plan.json`) to start on the nodes.

# %%
cluster.show(step.profile, step.run)

# %%
guard = step.guard_server()  # standalone and killed before ready: the server is stopped
deploy.start_server(step.profile, launcher)

# %% [markdown]
# ## Waiting for readiness

# %%
ready = deploy.wait_until_ready(step.profile, launcher, teardown_on_failure=True)
guard.release()  # ready: the server stays up for the next notebooks
ready["seconds"], ready["probe"]

# %% [markdown]
# ## What was started

# %%
deploy.facts_table(step.run)

# %% tags=["verdicts"]
checks = deploy.step_checks("server", step.run)
checks.styled()

# %% [markdown]
# ## Teardown (when asked)

# %%
deploy.teardown(step.profile, step.run) if teardown_after else "server left running for the next steps"
