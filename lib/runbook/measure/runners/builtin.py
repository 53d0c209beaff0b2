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
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np

from runbook import __version__
from runbook.core.errors import BenchError
from runbook.core.progress import Progress
from runbook.core.schema import TierRun
from runbook.measure.metrics import RequestRecord, summarize
from runbook.measure.results import format_block
from runbook.measure.runners import RunnerResult, out_path
from runbook.measure.workload import Workload

# The builtin client's identity in a row: the runbook's version (its code is the runbook's own).
CLIENT = f"runbook builtin {__version__}"
PROMPT_SEED_OFFSET = 7919  # prompt token ids come from their own stream, lengths stay exact
FLUSH_RETRY_S = 5.0  # how long a refused /flush_cache (the scheduler's last batch not yet cleared) is retried


def vocab_ids(tokenizer: str | None, fallback: int = 1000) -> np.ndarray:
    """Ids of ordinary tokens: from tokenizer.json (or a tiktoken.model, as Kimi K2 ships) when
    there is one, else 100..fallback."""
    if tokenizer:
        path = Path(tokenizer)
        tiktoken_file = path / "tiktoken.model"
        if path.is_dir() and not (path / "tokenizer.json").is_file() and tiktoken_file.is_file():
            n = sum(1 for line in tiktoken_file.read_text().splitlines() if line.strip())
            return np.arange(n // 10, n)  # BPE ranks (specials follow them), byte alphabet skipped
        tj = path / "tokenizer.json" if path.is_dir() else path
        if tj.is_file():
            data = json.loads(tj.read_text())
            vocab = data.get("model", {}).get("vocab", {})
            special = {t["id"] for t in data.get("added_tokens", [])}
            ids = sorted(i for i in vocab.values() if i not in special)
            if ids:
                return np.asarray(ids[len(ids) // 10:] or ids)  # skip the byte alphabet
    return np.arange(100, fallback)


@dataclass
class Plan:
    """What a tier sends: prompts and their lengths in tokens (as planned, and as made)."""

    prompts: list[list[int]] | list[str]
    prompt_lens: list[int]
    planned_lens: list[int]
    out_lens: list[int]
    gaps: list[float]

    @property
    def exact(self) -> int:
        return sum(a == b for a, b in zip(self.prompt_lens, self.planned_lens, strict=True))


class _Tokenizer:
    """The local tokenizer, for text prompts: a ``tokenizer.json`` through ``tokenizers``, or a
    model folder whose tokenizer is remote code (Kimi K2's tiktoken one) through transformers'
    AutoTokenizer with trust_remote_code — as the server and bench_serving load it."""

    def __init__(self, path: str | None) -> None:
        p = Path(path) if path else None
        tj = (p / "tokenizer.json" if p is not None and p.is_dir() else p)
        self.tok: Any = None
        self.hf: Any = None
        if tj is not None and tj.is_file() and tj.suffix == ".json":
            from tokenizers import Tokenizer

            self.tok = Tokenizer.from_file(str(tj))
        elif p is not None and (p / "tokenizer_config.json").is_file():
            from transformers import AutoTokenizer

            self.hf = AutoTokenizer.from_pretrained(str(p), trust_remote_code=True)
        else:
            raise BenchError(
                f"text prompts need the model's tokenizer (tokenizer.json, or tokenizer_config.json "
                f"with its files); none at {path!r}",
                hint="set target.tokenizer to the model folder, or benchmark.prompt_format=token_ids")

    def encode(self, text: str) -> list[int]:
        if self.hf is not None:
            return list(self.hf.encode(text, add_special_tokens=False))
        return self.tok.encode(text, add_special_tokens=False).ids

    def decode(self, ids: list[int]) -> str:
        if self.hf is not None:
            return self.hf.decode(ids, skip_special_tokens=False)
        return self.tok.decode(ids, skip_special_tokens=False)


def text_prompt(tok: _Tokenizer, ids: list[int], n: int, vocab: np.ndarray,
                rng: np.random.RandomState, tries: int = 8) -> tuple[str, int]:
    """Text that the tokenizer encodes to ``n`` tokens, when it can be found; else the closest.
    Decoding ids and encoding the text back need not round-trip (merges across the joins), so
    the canonical ids are trimmed or topped up until the lengths agree. Returns the text and
    its length in tokens (the prompt length the result reports, as bench_serving's does)."""
    best: tuple[str, int] | None = None
    for _ in range(tries):
        text = tok.decode(ids)
        got = tok.encode(text)
        if len(got) == n:
            return text, n
        if best is None or abs(len(got) - n) < abs(best[1] - n):
            best = (text, len(got))
        ids = got[:n] if len(got) > n else got + rng.choice(vocab, size=n - len(got)).tolist()
    assert best is not None
    return best


class BuiltinRunner:
    name = "builtin"

    def __init__(self, launcher: Any = None, out=print, native: bool | None = None) -> None:
        self.out = out
        self.native = native  # None: use /generate when the server has it

    # ------------------------------------------------------------------------------------------
    def plan(self, spec: TierRun, text: bool = False) -> Plan:
        """Prompts (token ids, or text when ``text``) with their lengths, output lengths, gaps."""
        w = Workload(spec.num_prompts, spec.input_len, spec.output_len, spec.range_ratio, spec.seed)
        rng = np.random.RandomState(w.seed)
        lo_in = max(int(w.input_len * w.range_ratio), 1)
        lo_out = max(int(w.output_len * w.range_ratio), 1)
        in_lens = rng.randint(lo_in, w.input_len + 1, size=w.num_prompts)
        out_lens = rng.randint(lo_out, w.output_len + 1, size=w.num_prompts)
        # bench_serving draws its Poisson gaps from the global NumPy stream after the lengths.
        gaps = ([0.0] * w.num_prompts if math.isinf(spec.request_rate)
                else [float(rng.exponential(1.0 / spec.request_rate)) for _ in range(w.num_prompts)])
        ids = vocab_ids(spec.tokenizer)
        planned = [int(n) for n in in_lens]
        outs = [int(x) for x in out_lens]
        prng = np.random.RandomState(w.seed + PROMPT_SEED_OFFSET)
        if not text:
            prompts = [prng.choice(ids, size=n).tolist() for n in planned]
            return Plan(prompts, planned, planned, outs, gaps)
        tok = _Tokenizer(spec.tokenizer)
        # Only tokens that are whole characters on their own: a byte-level vocabulary's partial
        # UTF-8 pieces decode to U+FFFD, which never encodes back to them.
        ids = np.asarray([i for i in ids.tolist() if "\ufffd" not in tok.decode([i])])
        made = [text_prompt(tok, prng.choice(ids, size=n).tolist(), n, ids, prng) for n in planned]
        return Plan([t for t, _ in made], [n for _, n in made], planned, outs, gaps)

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
