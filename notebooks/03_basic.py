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
# # 03 · Basic invocation
# Through the OpenAI Python client: `/v1/models`, a chat completion (non-streaming and
# streaming with `stream_options.include_usage`), a text completion, and SGLang's native `/generate`
# when the server has it. Each call's latency, tokens and finish reason in a table.

# %% tags=["parameters"]
profile: str = "local"  # profile name in params/ or a path to a YAML file
run_dir: str = ""  # run folder to continue (empty: a new outputs/<run-id>/)
overrides: list = []  # profile overrides as for the CLI -p option (dotted key, equals sign, value)
max_tokens: int = 16  # tokens per answer

# %% tags=["remove-input"] jupyter={"source_hidden": true}
from runbook.notebook import form

form.show(globals(), "basic")

# %%
from runbook import invoke
from runbook.notebook import plumbing

step = plumbing.open_step("basic", globals())

# %% [markdown]
# ## Checks

# %% tags=["verdicts"]
checks, calls = invoke.basic(step.endpoint, step.profile.target.model, step.api_key, max_tokens=max_tokens, caps=step.capabilities)
checks.record(step.run)
checks.styled()

# %% [markdown]
# ## Calls

# %%
calls

# %%
checks.raise_on_failure()
