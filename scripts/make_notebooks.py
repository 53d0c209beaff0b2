"""Write the runbook's notebooks (thin: markdown + one to three lib calls a cell, no outputs).

The notebooks are committed as .ipynb; this script is how they are (re)generated, so their
structure stays uniform: a title, a ``parameters`` cell of annotated literals with a comment
each, ``open_step`` to validate them, then the step's lib calls.

Usage: python scripts/make_notebooks.py
"""

from __future__ import annotations

from pathlib import Path

import nbformat as nbf

NB_DIR = Path(__file__).resolve().parents[1] / "notebooks"

COMMON_PARAMS = '''profile: str = "local"  # profile name in params/ or a path to a YAML file
run_dir: str = ""  # run folder to continue (empty: a new outputs/<run-id>/)
overrides: list = []  # profile overrides as for the CLI -p option (dotted key, equals sign, value)
'''


def md(text: str):
    return nbf.v4.new_markdown_cell(text.strip())


def code(text: str, tags: list[str] | None = None):
    c = nbf.v4.new_code_cell(text.strip())
    if tags:
        c.metadata["tags"] = tags
    return c


def params(extra: str = "") -> list:
    """The parameters cell, then the JupyterLab form for the same names (inert headless)."""
    src = COMMON_PARAMS + extra
    names = [ln.split(":")[0] for ln in src.strip().splitlines()]
    form = code(f"from runbook import form\nform.show(globals(), {names!r})", ["remove-input"])
    return [code(src, ["parameters"]), form]


def write(name: str, cells: list) -> None:
    nb = nbf.v4.new_notebook()
    flat = []
    for c in cells:
        flat.extend(c if isinstance(c, list) else [c])
    nb.cells = flat
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nbf.validate(nb)
    (NB_DIR / name).write_text(nbf.writes(nb) + "")


def main() -> None:
    NB_DIR.mkdir(exist_ok=True)
    write("00_preflight.ipynb", [
        md("""
# 00 · Preflight
Facts about the host and checks before anything starts: GPUs (`amd-smi` / `rocm-smi` /
`nvidia-smi`), the Docker daemon, the image, the container name, disk for the weights
(Kimi K2 ≈ 1 TB FP8), `/dev/shm`, the server port, and the recipe's security posture. Each check
is PASS / WARN / FAIL with the fix in words. Nothing here changes the machine."""),
        params(),
        code('''
from runbook import nbtools, preflight
step = nbtools.open_step("preflight", profile, run_dir, overrides)'''),
        md("## Checks"),
        code('''
checks, host = preflight.run_preflight(step.profile, step.run)
checks.styled()''', ["verdicts"]),
        md("## GPUs (or host facts when there are none)"),
        code("host"),
        md("""
The recipe runs the container `--privileged` with `-v /:/work`: the whole host filesystem,
writable, inside the container. The `mi300x-kimi-k2` profile keeps those flags so the run is the
recipe's; `mi300x-kimi-k2-hardened` narrows them (device flags without `--privileged`, only the
weights cache and the run folder mounted)."""),
        code("checks.raise_on_failure()"),
    ])
    write("01_container.ipynb", [
        md("""
# 01 · Container, weights, pre-install
The recipe's section 4.2.1 — `docker run -d` with its flags — through the Docker SDK: the image
is pulled with layer progress when it is remote (or built locally for the embedded default), the
container started detached and confirmed running (`docker run -d` succeeds even when the
container dies at once). A container already holding the name is reused only when its image and
flags match; the runbook never removes a container it did not create.

Then the weights are pre-staged, as production users do (a cold launch downloads ~1 TB inside the
readiness wait), and the recipe's pre-install step (4.2.2) runs inside with its exit code checked."""),
        params(),
        code('''
from runbook import deploy, nbtools
step = nbtools.open_step("container", profile, run_dir, overrides)'''),
        md("## The container"),
        code('''
launcher = deploy.get_launcher(step.profile, step.run)
print(getattr(launcher, "docker_run_display", lambda: "launcher: process (no container)")())'''),
        code('''
container = launcher.prepare()
container'''),
        md("## Weights"),
        code('''
staged = deploy.stage_weights(step.profile, step.run)
staged'''),
        md("## Pre-install inside the container"),
        code('''
result = launcher.pre_install()
print(f"exit code {result.code}" if result else "no pre-install step in this profile")'''),
        md("## Verdict"),
        code('''
checks = deploy.step_checks("container", step.run)
checks.styled()''', ["verdicts"]),
        code("checks.raise_on_failure()"),
    ])
    write("02_server.ipynb", [
        md("""
# 02 · Server start and readiness
The launch command is built from params (the recipe's `SGLANG_ROCM_FUSED_DECODE_MLA=0 python3 -m
sglang.launch_server … --tp 8 --tool-call-parser kimi_k2`), shown, then started detached inside the
container (or as a host process with `launcher: process`), its output in `logs/server.log`.

Readiness polls `/health_generate`, falling back to `/health` — never `/v1/models`, which answers
before the model can generate. Kimi K2 takes 10–60 min to load: progress lines show the elapsed
time and the log's last line; if the server process exits, the step fails within seconds with
the log tail. On failure, what this run started is torn down."""),
        params('''timeout_s: float = 0.0  # readiness timeout in seconds (0: the profile's)
teardown_after: bool = False  # stop the server and remove the container at the end of this notebook
'''),
        code('''
from runbook import cluster, deploy, nbtools, server
step = nbtools.open_step("server", profile, run_dir, overrides + ([f"server.readiness.timeout_s={timeout_s}"] if timeout_s else []))
launcher = deploy.get_launcher(step.profile, step.run)'''),
        md("## The launch command"),
        code('''
print(server.launch_command(step.profile).display())'''),
        md("""
## More than one node
With `cluster.mode` (`multi-node-tp` or `pd-disaggregation`), each node's command — this launch
plus the flags its role needs, and the sglang-router command in front of a disaggregated pair —
is written to the run folder (`cluster-plan.sh`, `cluster-plan.json`) to start on the nodes."""),
        code("cluster.show(step.profile, step.run)"),
        code('''
guard = step.guard_server()  # standalone and killed before ready: the server is stopped
deploy.start_server(step.profile, launcher)'''),
        md("## Waiting for readiness"),
        code('''
ready = deploy.wait_until_ready(step.profile, launcher, teardown_on_failure=True)
guard.release()  # ready: the server stays up for the next notebooks
ready["seconds"], ready["probe"]'''),
        md("## What was started"),
        code('''
deploy.facts_table(step.run)'''),
        code('''
checks = deploy.step_checks("server", step.run)
checks.styled()''', ["verdicts"]),
        md("## Teardown (when asked)"),
        code('''
deploy.teardown(step.profile, step.run) if teardown_after else "server left running for the next steps"'''),
    ])
    for name, title, body, extra, call in (
        ("03_basic.ipynb", "03 · Basic invocation",
         """Through the OpenAI Python client: `/v1/models`, a chat completion (non-streaming and
streaming with `stream_options.include_usage`), a text completion, and SGLang's native `/generate`
when the server has it. Each call's latency, tokens and finish reason in a table.""",
         'max_tokens: int = 16  # tokens per answer\n',
         "invoke.basic(step.endpoint, step.profile.target.model, step.api_key, max_tokens=max_tokens, "
         "caps=step.capabilities)"),
        ("04_vision.ipynb", "04 · Vision",
         """Whether the model sees images is decided BEFORE an image is sent: SGLang's `/model_info`
`has_image_understanding` where the server has it (SGLang silently drops image parts for a
text-only model and answers anyway — never a vision pass), the engine's own answer otherwise.
Images are made here (a generated PNG as a data URL); two images in one message; image tokens must
be counted (prompt tokens above the text-only baseline). A text-only model (Kimi-K2-Instruct is
one) is SKIPPED with the reason — not a failure, not a pass.""",
         'image: str = ""  # an extra image: a local path or an http(s)/data URL (empty: none)\n',
         "invoke.vision(step.endpoint, step.profile.target.model, step.api_key, extra_image=image, "
         "caps=step.capabilities)"),
        ("05_tools.ipynb", "05 · Tool calling",
         """A `get_weather` tool with a JSON schema (only `city` required: the prompt names no
unit), through the server's tool-call parser. A named `tool_choice` and `"required"`, each
non-streaming and streaming (deltas assembled), must return parsed `tool_calls`: arguments valid
against the schema, ids in the parser's form (`functions.NAME:IDX` for `kimi_k2`, which Kimi K2
expects back in history). `"auto"` is run and reported — a model may answer in text — and must be
well-formed either way. Then the round trip: the tool run locally, its result sent back under the
call's id as a `role: tool` message, and a final answer. `tool_choice` (the profile's
`target.tool_choice`: `auto` for Kimi K2) is reported as what a user of the model sends.""",
         'tool_choice: str = ""  # auto | required | a function name (empty: the profile target.tool_choice)\n'
         'max_tokens: int = 1024  # token limit of each tool-calling answer\n',
         "invoke.tools(step.endpoint, step.profile.target.model, tool_choice or step.profile.target.tool_choice, "
         "parser=step.profile.server.tool_call_parser, api_key=step.api_key, max_tokens=max_tokens)"),
    ):
        write(name, [
            md(f"# {title}\n{body}"),
            params(extra),
            code(f'''
from runbook import invoke, nbtools
step = nbtools.open_step("{name[3:-6]}", profile, run_dir, overrides)'''),
            md("## Checks"),
            code(f'''
checks, calls = {call}
checks.record(step.run)
checks.styled()''', ["verdicts"]),
            md("## Calls"),
            code("calls"),
            code("checks.raise_on_failure()"),
        ])
    write("bench.ipynb", [
        md("""
# Benchmark tier
The recipe's benchmark (section 5.1), run the way the published numbers were produced:
`python3 -m sglang.bench_serving --dataset-name random --random-input-len 1000
--random-output-len 1000 --num-prompts N --max-concurrency C --request-rate inf` (seed 1).

**Which tier runs.** `tier` picks one of the profile's tiers (low: c=1, 10 prompts; medium: c=16,
80; high: c=100, 500). With no `tier`, `concurrency` picks the tier with that concurrency, so
`papermill bench.ipynb out.ipynb -p concurrency 100` runs the high tier with its 500 prompts.
Explicit values (num_prompts, lengths, …) override the tier's. A concurrency no tier has, or
`tier="custom"`, starts from random 1000/1000 with num_prompts = 10 × concurrency.

**Runners.** `bench_serving` runs sglang 0.5.7's own client where SGLang lives (inside the
container); `builtin` is the lib's async client with the same methodology, for endpoints with no
SGLang beside them; `auto` takes the profile's choice. If no server answers, the embedded default
is started for this notebook and stopped at its end.

**Repeats.** `repeats` ≥ 2 runs the tier that many times on the same workload (the fingerprint
holds; `vary_seed` in the profile's tier gives repeat k the seed + k): each figure then gets its
median over the repeats and a 95 % bootstrap interval, whose width is the run-to-run noise a
difference between two runs must beat (`runbook diff`)."""),
        params('''tier: str = ""  # low | medium | high | custom (empty: chosen by concurrency, else low)
concurrency: int = 0  # --max-concurrency (0: the tier's)
num_prompts: int = 0  # --num-prompts (0: the tier's)
input_len: int = 0  # --random-input-len (0: the tier's)
output_len: int = 0  # --random-output-len (0: the tier's)
range_ratio: float = -1.0  # --random-range-ratio (-1: the tier's, 0.0 in the recipe)
request_rate: float = 0.0  # requests/s, or inf for all at once behind the cap (0: the tier's)
seed: int = -1  # --seed (-1: the tier's, 1 as bench_serving 0.5.7)
warmup_requests: int = -1  # warm-up requests, not counted (-1: the tier's, 1)
flush_cache: str = ""  # "true" | "false": flush the server's cache after warm-up ("": the tier's)
repeats: int = 0  # runs of the tier on the same workload, for confidence intervals (0: the tier's, 1)
runner: str = "auto"  # auto | bench_serving | builtin
endpoint: str = ""  # server base URL (empty: the profile's)
tag: str = ""  # free-form tag written into the result
'''),
        code('''
from runbook import bench, nbtools
step = nbtools.open_step("bench", profile, run_dir, overrides, endpoint)
tier_name, workload = bench.resolve_notebook_tier(step.profile, tier, concurrency=concurrency, num_prompts=num_prompts, input_len=input_len, output_len=output_len, range_ratio=range_ratio, request_rate=request_rate, seed=seed, warmup_requests=warmup_requests, flush_cache=flush_cache, repeats=repeats)
print(f"tier {tier_name}: {workload}")'''),
        md("## The server (started here only if none answers)"),
        code('''
session = bench.ensure_server(step, runner)
session.describe()'''),
        md("## Run"),
        code('''
result = session.run(tier_name, workload, tag=tag or None)
print(result.printed)'''),
        md("## Result table (bench_serving's field names; a row per repeat)"),
        code("result.table()"),
        md("## Repeats: each figure's median and its 95 % interval"),
        code("result.intervals()"),
        md("## Consistency and workload checks"),
        code("bench.findings_table(result)", ["verdicts"]),
        md("## Against the published reference"),
        code("bench.comparison_view(result)", ["verdicts"]),
        md("## Distributions, timeline and telemetry (`telemetry.csv`: GPU and host, once a second)"),
        code("bench.plots(result)"),
        md("## Stop what this notebook started, then the tier's verdict"),
        code("session.close()"),
        code("result.raise_on_failure()"),
    ])
    write("sweep.ipynb", [
        md("""
# Concurrency sweep
Which concurrency to run at under a latency budget. Each point is a benchmark run with the
recipe's methodology (random prompts, seed 1, `--request-rate inf`) at `--max-concurrency c`, with
`prompts_per_concurrency × c` prompts and `warmup_per_concurrency × c` warm-up requests (as
InferenceX's ladder does), repeated `repeats` times on the same workload. The plot puts output
tokens/s per GPU against tokens/s per user (1000 / median TPOT), draws the Pareto front and the
recipe's published tiers on the same axes; goodput counts the requests meeting the profile's SLO
(`benchmark.slo`: TTFT and TPOT bounds). The headline below is filled in once the sweep has run.

`papermill notebooks/sweep.ipynb out.ipynb -p concurrencies "[1, 4, 16]"`; values left at their
defaults take the profile's `benchmark.sweep`. If no server answers, the embedded default is
started for this notebook and stopped at its end."""),
        params('''concurrencies: list = []  # --max-concurrency of each point (empty: the profile's)
prompts_per_concurrency: int = 0  # --num-prompts: this times concurrency (0: the profile's, 10)
warmup_per_concurrency: int = -1  # warm-up requests: this times concurrency (-1: the profile's, 2)
input_len: int = 0  # --random-input-len (0: the profile's)
output_len: int = 0  # --random-output-len (0: the profile's)
range_ratio: float = -1.0  # --random-range-ratio (-1: the profile's)
seed: int = -1  # --seed (-1: the profile's)
repeats: int = 0  # runs per point, same workload (0: the profile's, 1)
runner: str = "auto"  # auto | bench_serving | builtin
endpoint: str = ""  # server base URL (empty: the profile's)
'''),
        code('''
from runbook import bench, nbtools, sweep
step = nbtools.open_step("sweep", profile, run_dir, overrides, endpoint)
sw = sweep.resolve_sweep(step.profile, concurrencies=concurrencies, prompts_per_concurrency=prompts_per_concurrency, warmup_per_concurrency=warmup_per_concurrency, input_len=input_len, output_len=output_len, range_ratio=range_ratio, seed=seed, repeats=repeats)
headline = sweep.placeholder()'''),
        md("## The server (started here only if none answers)"),
        code('''
session = bench.ensure_server(step, runner)
session.describe()'''),
        md("## The sweep"),
        code('''
result = session.sweep(sw)
sweep.publish(result, step.run, headline)'''),
        md("## Points (per GPU: divided by the GPUs preflight counted; CPU: the whole machine)"),
        code("result.frame()"),
        md("## Throughput per GPU against interactivity, and latency against concurrency"),
        code("sweep.plots(result)"),
        md("## Stop what this notebook started"),
        code("session.close()"),
    ])
    write("report.ipynb", [
        md("""
# Report: results against the published reference
Takes result files (bench_serving JSONL or printed output, or run folders under `outputs/`) and
shows, per tier, the runs against each other (deltas from the first run given), the comparison
with the recipe's published numbers — with the verdict colours and, when the setup
or workload differs, the "not comparable" label and its reasons — the consistency findings on the
reference itself, and the workload fingerprints.

**Verdicts between runs.** With two or more run folders (or `report.baseline` in the profile:
`runbook run --baseline outputs/<run-id>`), each later run is judged against the first as
`runbook diff` judges it: per tier and metric, the change with its 95 % interval, and regression /
improvement / no significant change — decided on per-request latencies and repeat-level
throughput, only where the workload fingerprints match. A regression beyond the profile's
tolerance fails this step."""),
        params('''results: list = []  # result files or run folders (empty: only the reference)
'''),
        code('''
from runbook import nbtools, report
step = nbtools.open_step("report", profile, run_dir, overrides)
rep = report.build(step, results)'''),
        md("## The published reference, checked"),
        code("rep.reference_findings(step.run)", ["verdicts"]),
        md("## Workload fingerprints"),
        code("rep.fingerprints()"),
        md("## Runs against the reference"),
        code("rep.comparisons()", ["verdicts"]),
        md("## Runs against each other (the first run given is the baseline)"),
        code("rep.run_deltas()"),
        md("## Verdicts against the baseline run (as `runbook diff`)"),
        code("rep.verdicts(step.run)", ["verdicts"]),
        md("""
## How far from the hardware: % of the decode floor
The floor is the time one decode step needs to read what it must — the weights it touches
(attention, dense and shared layers, the routed experts B concurrent tokens are expected to touch,
lm_head) and the latent KV cache of every sequence — at the GPUs' published HBM bandwidth (the
host's measured memory bandwidth on a CPU). % of floor = floor TPOT / measured median TPOT."""),
        code("rep.floor(step.run)"),
        md("## Throughput vs median TPOT"),
        code("rep.plot()"),
        code("rep.raise_on_failure()"),
    ])
    write("99_teardown.ipynb", [
        md("""
# 99 · Teardown
Stops the server and removes the container this run created — never one it did not create."""),
        params(),
        code('''
from runbook import deploy, nbtools
step = nbtools.open_step("teardown", profile, run_dir, overrides)
deploy.teardown(step.profile, step.run)'''),
    ])


if __name__ == "__main__":
    main()
