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
# # 01 · Container, weights, pre-install
# The recipe's section 4.2.1 — `docker run -d` with its flags — through the Docker SDK: the image
# is pulled with layer progress when it is remote (or built locally for the embedded default), the
# container started detached and confirmed running (`docker run -d` succeeds even when the
# container dies at once). A container already holding the name is reused only when its image and
# flags match; the runbook never removes a container it did not create.
#
# Then the weights are pre-staged, as production users do (a cold launch downloads ~1 TB inside the
# readiness wait), and the recipe's pre-install step (4.2.2) runs inside with its exit code checked.

# %% tags=["parameters"]
profile: str = "local"  # profile name in params/ or a path to a YAML file
run_dir: str = ""  # run folder to continue (empty: a new outputs/<run-id>/)
overrides: list = []  # profile overrides as for the CLI -p option (dotted key, equals sign, value)

# %% tags=["remove-input"] jupyter={"source_hidden": true}
from runbook.notebook import form

form.show(globals(), "container")

# %%
from runbook.deploy import steps as deploy
from runbook.notebook import plumbing

step = plumbing.open_step("container", globals())

# %% [markdown]
# ## The container

# %%
launcher = deploy.get_launcher(step.profile, step.run)
print(getattr(launcher, "docker_run_display", lambda: "launcher: process (no container)")())

# %%
container = launcher.prepare()
container

# %% [markdown]
# ## Weights

# %%
staged = deploy.stage_weights(step.profile, step.run)
staged

# %% [markdown]
# ## Pre-install inside the container

# %%
result = launcher.pre_install()
print(f"exit code {result.code}" if result else "no pre-install step in this profile")

# %% [markdown]
# ## Verdict

# %% tags=["verdicts"]
checks = deploy.step_checks("container", step.run)
checks.styled()

# %%
checks.raise_on_failure()
