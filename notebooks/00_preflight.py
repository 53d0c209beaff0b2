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
# # 00 · Preflight
# Facts about the host and checks before anything starts: GPUs (`amd-smi` / `rocm-smi` /
# `nvidia-smi`), the Docker daemon, the image, the container name, disk for the weights
# (Kimi K2 ≈ 1 TB FP8), `/dev/shm`, the server port, and the recipe's security posture. Each check
# is PASS / WARN / FAIL with the fix in words. Nothing here changes the machine.

# %% tags=["parameters"]
profile: str = "local"  # profile name in params/ or a path to a YAML file
run_dir: str = ""  # run folder to continue (empty: a new outputs/<run-id>/)
overrides: list = []  # profile overrides as for the CLI -p option (dotted key, equals sign, value)

# %% tags=["remove-input"] jupyter={"source_hidden": true}
from runbook.notebook import form

form.show(globals(), "preflight")

# %%
from runbook.deploy import preflight
from runbook.notebook import plumbing

step = plumbing.open_step("preflight", globals())

# %% [markdown]
# ## Checks

# %% tags=["verdicts"]
checks, host = preflight.run_preflight(step.profile, step.run)
checks.styled()

# %% [markdown]
# ## GPUs (or host facts when there are none)

# %%
host

# %% [markdown]
# The recipe runs the container `--privileged` with `-v /:/work`: the whole host filesystem,
# writable, inside the container. The `mi300x-kimi-k2` profile keeps those flags so the run is the
# recipe's; `mi300x-kimi-k2-hardened` narrows them (device flags without `--privileged`, only the
# weights cache and the run folder mounted).

# %%
checks.raise_on_failure()
