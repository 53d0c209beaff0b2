"""The builtin runner: bench_serving 0.5.7's methodology in the lib's own async client.

Point for point: the same seeded lengths (``runbook.measure.workload``); prompts of exact token length
(token ids on ``/v1/completions``, ``input_ids`` on SGLang's ``/generate``; or, for servers that
take no token ids, text made with the local tokenizer as bench_serving makes it: ids decoded to
text, adjusted until the text encodes to the planned length); rate inf = every
request created at t=0 behind a semaphore of N (a closed loop of N streams), a finite rate draws
exponential gaps from the same NumPy stream right after the lengths, as bench_serving does;
warm-up with request 0 capped at 32 tokens; ``/flush_cache`` after warm-up where the server has
it; ignore_eos; temperature 0. One aiohttp session with explicit limits and timeouts, closed
in ``finally``; chunk times from a monotonic clock; every request recorded, failures included.

aiohttp, as bench_serving uses: its C HTTP parser reads a stream's chunks at about twice the rate
of httpx's pure-Python stack (``bench/client_capacity.py``), and a client that falls behind at
c=100 reads its chunks late and in bursts — later first tokens, near-zero inter-token gaps.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import aiohttp

from runbook import __version__
from runbook.core.errors import BenchError
from runbook.core.progress import Progress
from runbook.core.schema import TierRun
from runbook.measure.metrics import RequestRecord, summarize
from runbook.measure.plan import Plan, make_plan
from runbook.measure.results import format_block
from runbook.measure.runners import RunnerResult, out_path

# The builtin client's identity in a row: the runbook's version (its code is the runbook's own).
CLIENT = f"runbook builtin {__version__}"
FLUSH_RETRY_S = 5.0  # how long a refused /flush_cache (the scheduler's last batch not yet cleared) is retried


class BuiltinRunner:
    name = "builtin"

    def __init__(self, launcher: Any = None, out=print, native: bool | None = None) -> None:
        self.out = out
        self.native = native  # None: use /generate when the server has it

    # ------------------------------------------------------------------------------------------
    def plan(self, spec: TierRun, text: bool = False) -> Plan:
        """Prompts (token ids, or text when ``text``) with their lengths, output lengths, gaps."""
        return make_plan(spec, text)

    async def _detect_native(self, client: aiohttp.ClientSession, spec: TierRun) -> bool:
        if self.native is not None:
            return self.native
        try:
            async with client.get(spec.endpoint + "/model_info") as r:
                return r.status == 200
        except (aiohttp.ClientError, asyncio.TimeoutError):
            return False

    def _payload(self, spec: TierRun, prompt: list[int] | str, max_tokens: int,
                 native: bool) -> tuple[str, dict]:
        if native:
            key = "text" if isinstance(prompt, str) else "input_ids"
            return "/generate", {key: prompt, "stream": True,
                                 "sampling_params": {"max_new_tokens": max_tokens, "temperature": 0.0,
                                                     "ignore_eos": True}}
        return "/v1/completions", {"model": spec.model, "prompt": prompt, "max_tokens": max_tokens,
                                   "temperature": 0.0, "ignore_eos": True, "stream": True,
                                   "stream_options": {"include_usage": True}}

    @staticmethod
    async def _flush(client: aiohttp.ClientSession, endpoint: str) -> str:
        """POST /flush_cache until SGLang takes it. Right after the warm-up's answer the
        scheduler still holds the finished batch for one loop turn and answers 400 (its body
        reads "Cache flushed." either way: only the status tells); on a busy 2-core machine that
        turn can come after our POST, so a 400 is retried (0.25 s apart, 5 s at most) and the
        note says what the last answer was."""
        status, tries = 0, 0
        deadline = time.monotonic() + FLUSH_RETRY_S
        while True:
            tries += 1
            try:
                async with client.post(endpoint + "/flush_cache") as r:
                    status = r.status
            except (aiohttp.ClientError, asyncio.TimeoutError) as e:
                return f"cache: /flush_cache failed ({type(e).__name__})"
            if status != 400 or time.monotonic() >= deadline:
                break
            await asyncio.sleep(0.25)
        after = f" (after {tries} tries)" if tries > 1 else ""
        if status == 400:
            return f"cache: POST /flush_cache → 400{after}: NOT flushed, the server kept refusing"
        return f"cache: POST /flush_cache → {status}{after}"

    async def _one(self, client: aiohttp.ClientSession, spec: TierRun, rec: RequestRecord,
                   prompt: list[int] | str, native: bool, t0: float) -> RequestRecord:
        path, body = self._payload(spec, prompt, rec.output_len_target, native)
        st = time.perf_counter()
        rec.start = st - t0
        last = st
        text_parts: list[str] = []
        prev_tokens = 0
        first_choice = 0.0  # when the first chunk with a choice came, text or not
        completed = False
        try:
            async with client.post(spec.endpoint + path, json=body) as resp:
                if resp.status != 200:
                    text = (await resp.read()).decode(errors="replace")
                    rec.error = f"HTTP {resp.status}: {text[:300]}"
                    return rec
                async for raw in resp.content:  # line by line, as bench_serving reads
                    line = raw.strip()
                    if not line.startswith(b"data:"):
                        continue
                    data = line[5:].strip()
                    if data == b"[DONE]":
                        completed = True
                        break
                    now = time.perf_counter()
                    obj = json.loads(data)
                    if isinstance(obj, dict) and obj.get("error"):
                        # SGLang answers a streamed request it rejects (e.g. a prompt over the
                        # context length) with HTTP 200 and one error event: keep its reason.
                        err = obj["error"]
                        msg = err.get("message", err) if isinstance(err, dict) else err
                        rec.error = f"server error in the stream: {msg}"[:300]
                        rec.latency = now - st
                        return rec
                    if native:
                        meta = obj.get("meta_info") or {}
                        n = int(meta.get("completion_tokens") or 0)
                        got = n > prev_tokens
                        if got:
                            rec.output_len = n
                            prev_tokens = n
                        txt = obj.get("text", "")
                        text_parts = [txt]
                    else:
                        usage = obj.get("usage") or {}
                        if usage.get("completion_tokens") is not None:
                            rec.output_len = int(usage["completion_tokens"])
                        choices = obj.get("choices") or []
                        txt = choices[0].get("text", "") if choices else ""
                        got = bool(txt)
                        if choices and not first_choice:
                            first_choice = now - st
                        if got:
                            text_parts.append(txt)
                    if got:
                        if rec.ttft == 0.0:
                            rec.ttft = now - st
                        else:
                            rec.itl.append(now - last)
                        last = now
                rec.latency = time.perf_counter() - st
            if rec.output_len == 0:  # no usage from the server: count the chunks
                rec.output_len = len(rec.itl) + (1 if rec.ttft else 0)
            rec.generated_text = "".join(text_parts)
            if rec.ttft == 0.0 and (completed or native) and rec.output_len > 0 and first_choice:
                # Tokens came but none decoded to text (a random model's partial UTF-8 bytes): the
                # request completed; its first token time is the first chunk's.
                rec.ttft = first_choice
            rec.success = rec.ttft > 0
            if not rec.success:
                rec.error = "stream ended without a token"
        except (aiohttp.ClientError, asyncio.TimeoutError, json.JSONDecodeError, ValueError,
                OSError) as e:
            rec.error = f"{type(e).__name__}: {e}"[:300]
            rec.latency = time.perf_counter() - st
        return rec

    async def _run(self, spec: TierRun) -> tuple[list[RequestRecord], float, list[str]]:
        if spec.prompt_format not in ("auto", "token_ids", "text"):
            raise BenchError(f"unknown prompt format {spec.prompt_format!r}",
                             hint="benchmark.prompt_format: auto, token_ids or text")
        text = spec.prompt_format == "text"
        plan = self.plan(spec, text=text)
        prompts, in_lens, out_lens, gaps = plan.prompts, plan.prompt_lens, plan.out_lens, plan.gaps
        notes: list[str] = []
        # Connections: one per stream plus the probes; kept alive between a stream's requests.
        connector = aiohttp.TCPConnector(limit=spec.concurrency + 4, limit_per_host=0)
        # No total: a 1000-token stream may take minutes. sock_read: the longest silence allowed
        # between two chunks of one stream; connect: a server that does not answer at all.
        timeout = aiohttp.ClientTimeout(total=None, connect=10.0, sock_read=spec.request_timeout_s)
        headers = {"Authorization": f"Bearer {spec.api_key}"} if spec.api_key else {}
        # read_bufsize: room for a whole SSE line (SGLang's /generate repeats the text so far).
        client = aiohttp.ClientSession(connector=connector, timeout=timeout, headers=headers,
                                       read_bufsize=2**20)
        try:
            native = await self._detect_native(client, spec)
            where = "/generate (SGLang native)" if native else "/v1/completions"
            if text:
                notes.append(f"prompts: text made with the local tokenizer on {where}; "
                             f"{plan.exact}/{len(in_lens)} of exactly the planned length")
            else:
                notes.append(f"prompts: token ids on {where}")
            t0 = time.perf_counter()
            for _ in range(spec.warmup_requests):
                w = RequestRecord(-1, in_lens[0], min(out_lens[0], 32))
                w = await self._one(client, spec, w, prompts[0], native, t0)
                if not w.success:
                    raise BenchError(f"warm-up request failed: {w.error}",
                                     hint="check the endpoint, model name and server log")
            if spec.flush_cache:
                notes.append(await self._flush(client, spec.endpoint))
            await asyncio.sleep(1.0)  # as bench_serving does after warm-up
            sem = asyncio.Semaphore(spec.concurrency)
            prog = Progress(f"tier {spec.tier}: builtin c={spec.concurrency}", total=spec.num_prompts,
                            unit="req")
            records = [RequestRecord(i, m, n)
                       for i, (m, n) in enumerate(zip(in_lens, out_lens, strict=True))]
            t0 = time.perf_counter()

            async def limited(rec: RequestRecord) -> RequestRecord:
                async with sem:
                    r = await self._one(client, spec, rec, prompts[rec.index], native, t0)
                prog.update(1, f"{sum(1 for x in records if x.error)} failed")
                return r

            tasks = []
            for rec, gap in zip(records, gaps, strict=False):
                tasks.append(asyncio.create_task(limited(rec)))
                if gap:
                    await asyncio.sleep(gap)
            await asyncio.gather(*tasks)
            duration = time.perf_counter() - t0
            prog.close(f"{sum(r.success for r in records)}/{len(records)} ok in {duration:.1f} s")
            return records, duration, notes
        finally:
            await client.close()

    def run(self, spec: TierRun, out_dir: Path) -> RunnerResult:
        records, duration, notes = _run_coro(self._run(spec))
        row = {**spec.workload_fields(), **summarize(records, duration), "runner": self.name,
               "client": CLIENT, "total_output_tokens_retokenized": None}
        rec_file = out_path(out_dir, spec, self.name, ".records.jsonl")
        with open(rec_file, "w") as fh:
            for r in records:
                fh.write(json.dumps(r.as_dict()) + "\n")
        printed = format_block(row)
        (out_path(out_dir, spec, self.name, ".log")).write_text("\n".join(notes) + "\n" + printed + "\n")
        return RunnerResult(row, printed, {"records": str(rec_file)}, records, notes)


def _run_coro(coro):
    """Run a coroutine from sync code, also inside Jupyter's already-running loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as ex:
        return ex.submit(asyncio.run, coro).result()


def main(argv: list[str] | None = None) -> int:
    """``python -m runbook.measure.runners.builtin SPEC_JSON OUT_DIR``: one tier where this interpreter
    runs (e.g. inside the engine's container, beside bench_serving, so that a comparison of the
    two clients is not one of where they run); prints the result row as one JSON line."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print(main.__doc__, file=sys.stderr)
        return 2
    spec = TierRun.model_validate(json.loads(args[0]))  # Python's json reads back its own Infinity
    out = Path(args[1])
    out.mkdir(parents=True, exist_ok=True)
    res = BuiltinRunner(out=lambda s: None).run(spec, out)
    scalars = {k: v for k, v in res.row.items() if not isinstance(v, (list, dict))}
    print("RUNBOOK_ROW " + json.dumps(scalars, default=str), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
