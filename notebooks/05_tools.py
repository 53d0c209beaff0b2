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
# # 05 · Tool calling
# A `get_weather` tool with a JSON schema (only `city` required: the prompt names no
# unit), through the server's tool-call parser. A named `tool_choice` and `"required"`, each
# non-streaming and streaming (deltas assembled), must return parsed `tool_calls`: arguments valid
# against the schema, ids in the parser's form (`functions.NAME:IDX` for `kimi_k2`, which Kimi K2
# expects back in history). `"auto"` is run and reported — a model may answer in text — and must be
# well-formed either way. Then the round trip: the tool run locally, its result sent back under the
# call's id as a `role: tool` message, and a final answer. `tool_choice` (the profile's
# `target.tool_choice`: `auto` for Kimi K2) is reported as what a user of the model sends.

# %% tags=["parameters"]
profile: str = "local"  # profile name in params/ or a path to a YAML file
run_dir: str = ""  # run folder to continue (empty: a new outputs/<run-id>/)
overrides: list = []  # profile overrides as for the CLI -p option (dotted key, equals sign, value)
tool_choice: str = ""  # auto | required | a function name (empty: the profile's target.tool_choice)
max_tokens: int = 1024  # token limit of each tool-calling answer

# %% tags=["remove-input"] jupyter={"source_hidden": true}
from runbook.notebook import form

form.show(globals(), "tools")

# %%
from runbook import invoke
from runbook.notebook import plumbing

step = plumbing.open_step("tools", globals())

# %% [markdown]
# ## Checks

# %% tags=["verdicts"]
checks, calls = invoke.tools(step.endpoint, step.profile.target.model, tool_choice or step.profile.target.tool_choice, parser=step.profile.server.tool_call_parser, api_key=step.api_key, max_tokens=max_tokens)
checks.record(step.run)
checks.styled()

# %% [markdown]
# ## Calls

# %%
calls

# %%
checks.raise_on_failure()
