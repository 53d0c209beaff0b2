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
# # 04 · Vision
# Whether the model sees images is decided BEFORE an image is sent: SGLang's `/model_info`
# `has_image_understanding` where the server has it (SGLang silently drops image parts for a
# text-only model and answers anyway — never a vision pass), the engine's own answer otherwise.
# Images are made here (a generated PNG as a data URL); two images in one message; image tokens must
# be counted (prompt tokens above the text-only baseline). A text-only model (Kimi-K2-Instruct is
# one) is SKIPPED with the reason — not a failure, not a pass.

# %% tags=["parameters"]
profile: str = "local"  # profile name in params/ or a path to a YAML file
run_dir: str = ""  # run folder to continue (empty: a new outputs/<run-id>/)
overrides: list = []  # profile overrides as for the CLI -p option (dotted key, equals sign, value)
image: str = ""  # an extra image: a local path or an http(s)/data URL (empty: none)

# %% tags=["remove-input"] jupyter={"source_hidden": true}
from runbook.notebook import form

form.show(globals(), "vision")

# %%
from runbook import invoke
from runbook.notebook import plumbing

step = plumbing.open_step("vision", globals())

# %% [markdown]
# ## Checks

# %% tags=["verdicts"]
checks, calls = invoke.vision(step.endpoint, step.profile.target.model, step.api_key, extra_image=image, caps=step.capabilities)
checks.record(step.run)
checks.styled()

# %% [markdown]
# ## Calls

# %%
calls

# %%
checks.raise_on_failure()
