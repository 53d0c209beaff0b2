"""The bench_serving runner: sglang 0.5.7's own ``python3 -m sglang.bench_serving``.

Runs with the recipe's arguments where SGLang lives — inside the container through the launcher
(``docker exec``; the output file is written inside and copied out, so a container started by
another run, with another run folder mounted, serves as well), or as a local command — with
``--output-file`` landing in the run folder and ``--output-details``. The printed block is
captured too, and both are parsed. bench_serving 0.5.7 silently runs fewer requests when its
``--dataset-path`` file holds fewer conversations than ``--num-prompts`` (and exits 0): the tier
fails unless ``completed == num_prompts``. Its ``--flush-cache`` POST is not checked by
bench_serving either: SGLang refuses it (400) while the warm-up request is still being retired,
so the server log's answers to it are read, and a refused flush becomes a note on the tier.
"""

from __future__ import annotations

import math
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

from runbook.core.errors import BenchError, ResultParseError
from runbook.core.schema import TierRun
from runbook.measure.metrics import records_from_details, untimed_ttft
from runbook.measure.results import parse_jsonl, parse_printed
from runbook.measure.runners import RunnerResult, out_path

DETAIL_KEYS = ("input_lens", "output_lens", "ttfts", "itls", "generated_texts", "errors")


def bench_argv(spec: TierRun, output_file: str, python: str = "python3",
               flush_cache: bool = False) -> list[str]:
    """The recipe's benchmark command for this tier (plus the output file and details)."""
    rate = "inf" if math.isinf(spec.request_rate) else f"{spec.request_rate:g}"
    argv = [python, "-m", "sglang.bench_serving", "--backend", spec.backend,
            "--base-url", spec.endpoint, "--model", spec.model]
    if spec.tokenizer:
        argv += ["--tokenizer", spec.tokenizer]
    argv += ["--dataset-name", "random"]
    if spec.dataset_path:
        argv += ["--dataset-path", spec.dataset_path]
    argv += ["--random-input-len", str(spec.input_len), "--random-output-len", str(spec.output_len),
             "--random-range-ratio", f"{spec.range_ratio:g}", "--num-prompts", str(spec.num_prompts),
             "--max-concurrency", str(spec.concurrency), "--request-rate", rate,
             "--seed", str(spec.seed), "--warmup-requests", str(spec.warmup_requests),
             "--output-file", output_file, "--output-details"]
    if flush_cache:
        argv.append("--flush-cache")
    if spec.tag:
        argv += ["--tag", spec.tag]
    return argv + list(spec.extra_args)


class BenchServingRunner:
    name = "bench_serving"

    def __init__(self, launcher: Any = None, out=print, python: str = "python3",
                 flush_endpoint: bool = False) -> None:
        """``launcher``: run inside its container/process host; None: a local command."""
        from runbook.core.progress import ThrottledEcho

        self.launcher = launcher
        self.out = out  # the runner's own lines
        # bench_serving's own output (its argument Namespace, twice; the result block) goes to the
        # tier's log file; the screen gets its progress bar only, and the block once, after.
        self.echo = ThrottledEcho(out, only_bars=True)
        self.python = python
        self.flush_endpoint = flush_endpoint  # the server has /flush_cache (SGLang)

    def client_version(self) -> str | None:
        """``sglang.bench_serving X.Y.Z``: the sglang where the tier runs (asked once). Two runs
        measured by different client versions are not silently comparable (diff, compare-engines)."""
        if not hasattr(self, "_client") and self.launcher is not None:
            # The container step recorded it (record_engine_env): no second exec.
            self._client = (self.launcher.run.read_state().get("engine_env") or {}).get("bench_client")
            if not self._client:
                del self._client
        if not hasattr(self, "_client"):
            argv = [self.python, "-c", "import sglang; print(sglang.__version__)"]
            if self.launcher is not None:
                res = self.launcher.exec(argv, echo=False, timeout_s=180)
                code, output = res.code, res.output
            else:
                p = subprocess.run(argv, capture_output=True, text=True, timeout=180)
                code, output = p.returncode, p.stdout
            last = output.strip().splitlines()[-1:] if code == 0 else []
            self._client = f"sglang.bench_serving {last[0]}" if last else None
        return self._client

    def check_dataset(self, spec: TierRun) -> int:
        """Count the dataset file's usable conversations where bench_serving will read it,
        before the tier runs; too few is an error naming the file, its count and the setting."""
        argv = [self.python, "-c", COUNT_CONVERSATIONS, spec.dataset_path or ""]
        if self.launcher is not None:
            res = self.launcher.exec(argv, echo=False)
            code, output = res.code, res.output
        else:
            p = subprocess.run(argv, capture_output=True, text=True)
            code, output = p.returncode, p.stdout + p.stderr
        found = _count_output(code, output)
        if found is None or found < spec.min_dataset_conversations:
            raise _dataset_error(spec, found, output)
        self.out(f"dataset: {spec.dataset_path} holds {found} conversations "
                 f"(≥ {spec.min_dataset_conversations} required)")
        return found

    def run(self, spec: TierRun, out_dir: Path) -> RunnerResult:
        jsonl = out_path(out_dir, spec, self.name, ".jsonl")
        log = out_path(out_dir, spec, self.name, ".log")
        jsonl.unlink(missing_ok=True)
        inside = (self.launcher.scratch_path(jsonl.name)
                  if self.launcher is not None and hasattr(self.launcher, "copy_out") else None)
        argv = bench_argv(spec, inside or str(jsonl), self.python,
                          flush_cache=spec.flush_cache and self.flush_endpoint)
        if spec.dataset_path and spec.min_dataset_conversations:
            self.check_dataset(spec)
        self.out("$ " + " ".join(shlex.quote(a) for a in argv))
        server_log = getattr(self.launcher, "server_log", None)
        log_offset = server_log.stat().st_size if server_log is not None and server_log.is_file() else 0
        env = {"HF_HUB_OFFLINE": "1"} if spec.dataset_path else {}
        if spec.api_key:
            env["OPENAI_API_KEY"] = spec.api_key  # bench_serving sends it as a Bearer token
        if self.launcher is not None:
            res = self.launcher.exec(argv, timeout_s=spec.request_timeout_s * 2, env=env or None,
                                     out=self.echo)
            code, output = res.code, res.output
        else:
            import os

            p = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, **env})
            code, output = p.returncode, p.stdout + p.stderr
            self.echo(output)
        log.write_text(output)
        if inside is not None:
            self.launcher.copy_out(inside, jsonl)
        if code != 0:
            raise BenchError(f"bench_serving exited with code {code} (tier {spec.tier})",
                             hint=f"its output is in {log}", log=str(log))
        if not jsonl.exists():
            raise BenchError(f"bench_serving wrote no {jsonl.name} (tier {spec.tier})",
                             hint=f"its output is in {log}")
        rows = parse_jsonl(jsonl.read_text(), str(jsonl))
        row = rows[-1]
        try:
            printed_rows = parse_printed(output, str(log))
            printed = _block_text(output)
        except ResultParseError:
            printed_rows, printed = [], ""
        row = {**row, **spec.workload_fields(), "runner": self.name, "client": self.client_version()}
        row["failed"] = sum(1 for e in row.get("errors") or [] if e)
        notes = []
        if "--flush-cache" in argv:
            notes.append(flush_note(flush_statuses(server_log, since=log_offset)))
        row["ttft_untimed"] = untimed = untimed_ttft(records_from_details(row))
        if untimed:
            notes.append(f"{untimed} completed request(s) streamed no text (their tokens decoded "
                         "to nothing, e.g. an incomplete UTF-8 sequence): bench_serving recorded "
                         "TTFT 0 for them, so mean and median TTFT are understated and "
                         "E2E ≈ TTFT + TPOT × (output − 1) is not checked on this row")
        notes = [n for n in notes if n]
        for note in notes:
            self.out(note)
        if notes:
            with log.open("a") as f:  # kept beside bench_serving's own output
                f.write("".join(f"\n[runbook] {n}\n" for n in notes))
        if printed_rows and printed_rows[-1].get("max_itl_ms") is not None:
            row["max_itl_ms"] = printed_rows[-1]["max_itl_ms"]  # printed, not written to JSONL
        result = RunnerResult(row, printed, {"jsonl": str(jsonl), "log": str(log)}, None, notes)
        if row.get("completed") != spec.num_prompts:
            raise BenchError(
                f"bench_serving completed {row.get('completed')} of {spec.num_prompts} requests "
                f"(tier {spec.tier}): {row['failed']} failed; a --dataset-path file with fewer "
                "conversations than --num-prompts also shrinks the run silently",
                hint=f"check the dataset file and {log}", result=result)
        return result


_FLUSH_LINE = re.compile(r'"POST /flush_cache HTTP/1\.[01]" (\d{3})')


def flush_statuses(server_log: Path | None, since: int = 0) -> list[int]:
    """The HTTP statuses SGLang's access log shows for POST /flush_cache from byte ``since`` on,
    oldest first; empty where there is no log to read (a server the runbook attached to)."""
    if server_log is None or not Path(server_log).is_file():
        return []
    with open(server_log, "rb") as f:
        f.seek(since)
        text = f.read().decode(errors="replace")
    return [int(m) for m in _FLUSH_LINE.findall(text)]


def flush_note(statuses: list[int]) -> str | None:
    """A note when bench_serving's cache flush was refused during the tier (no 200 among the
    server's answers); None when it was honoured or the log does not say."""
    if not statuses or 200 in statuses:
        return None
    return (f"bench_serving's --flush-cache was refused ({', '.join(map(str, statuses))}): the "
            "tier ran with the warm-up request's prefix still cached (SGLang refuses a flush while "
            "a request is being retired; bench_serving 0.5.7 does not check the answer)")


# What bench_serving 0.5.7's random dataset keeps of a ShareGPT file: conversations of ≥ 2 turns.
COUNT_CONVERSATIONS = (
    "import json, sys\n"
    "d = json.load(open(sys.argv[1]))\n"
    "print(sum(1 for x in d if len(x.get('conversations', x.get('conversation', []))) >= 2))")


def _count_output(code: int, output: str) -> int | None:
    last = output.strip().splitlines()[-1:] or [""]
    return int(last[0]) if code == 0 and last[0].isdigit() else None


def _dataset_error(spec: TierRun, found: int | None, output: str) -> BenchError:
    if found is None:
        return BenchError(f"benchmark.dataset_path {spec.dataset_path} could not be read where the "
                          f"engine runs: {output.strip().splitlines()[-1:] or ['no output']}",
                          hint="stage the ShareGPT JSON file there (a path inside the container)")
    return BenchError(f"benchmark.dataset_path {spec.dataset_path} holds {found} conversations of ≥ 2 "
                      f"turns; benchmark.min_dataset_conversations is {spec.min_dataset_conversations}",
                      hint="stage the full ShareGPT file, or lower the setting knowingly (a file "
                      "with fewer conversations than --num-prompts shrinks the run silently)")


def _block_text(output: str) -> str:
    lines = output.splitlines()
    start = next((i for i, ln in enumerate(lines) if "Serving Benchmark Result" in ln), None)
    if start is None:
        return ""
    end = next((j for j in range(start + 1, len(lines)) if set(lines[j].strip()) == {"="}), len(lines) - 1)
    return "\n".join(lines[start:end + 1])
