"""Benchmark logic without a server: the tier rule, the summary arithmetic, the runner's plan,
the builtin client's stream handling (against a scripted aiohttp server on loopback, inside this
one module's test)."""

from __future__ import annotations

import asyncio
import json
import math
import threading
from collections.abc import Callable, Iterator

import numpy as np
import pytest

from runbook.core.errors import BenchError, ParamsError
from runbook.core.params import load_profile
from runbook.core.schema import TierRun
from runbook.measure.metrics import RequestRecord, summarize
from runbook.measure.runners.bench_serving import bench_argv, flush_note, flush_statuses
from runbook.measure.runners.builtin import BuiltinRunner
from runbook.measure.tiers import resolve_tier
from runbook.measure.workload import Workload, fingerprint, random_lengths
from runbook.notebook.stepparams import resolve_notebook_tier


@pytest.fixture(scope="module")
def prof():
    return load_profile("mi300x-kimi-k2")


def test_fingerprint_totals_for_the_three_tiers():
    assert [tuple(fingerprint(Workload(n, 1000, 1000)).values())[-2:] for n in (10, 80, 500)] == [
        (6101, 4220), (39668, 40805), (249831, 252662)]


def test_fingerprint_equals_numpys_global_seeding():
    np.random.seed(1)
    a = np.random.randint(1, 1001, size=80)
    b = np.random.randint(1, 1001, size=80)
    i, o = random_lengths(Workload(80, 1000, 1000))
    assert (a == i).all() and (b == o).all()


def test_concurrency_alone_picks_the_tier(prof):
    assert resolve_tier(prof, "", 100) [0] == "high"
    name, t = resolve_notebook_tier(prof, "", concurrency=100)
    assert name == "high" and t.num_prompts == 500 and t.concurrency == 100


def test_explicit_values_win_and_unset_means_the_tiers(prof):
    name, t = resolve_notebook_tier(prof, "", concurrency=16, num_prompts=20, seed=-1, range_ratio=-1.0)
    assert name == "medium" and t.num_prompts == 20 and t.seed == 1 and t.range_ratio == 0.0
    name, t = resolve_notebook_tier(prof, "low", concurrency=0, request_rate=0.0, flush_cache="false")
    assert name == "low" and t.concurrency == 1 and math.isinf(t.request_rate) and t.flush_cache is False


def test_custom_tier_defaults(prof):
    name, t = resolve_notebook_tier(prof, "", concurrency=7)
    assert name == "custom" and t.num_prompts == 70 and t.input_len == 1000
    name, t = resolve_notebook_tier(prof, "", concurrency=0)
    assert name == "low"


@pytest.mark.parametrize("kw,field", [
    ({"tier": "huge"}, "benchmark.tiers"),
    ({"concurrency": -3}, "concurrency"),
    ({"input_len": -5}, "input_len"),
    ({"range_ratio": 2.0}, "range_ratio"),
    ({"flush_cache": "maybe"}, "flush_cache"),
    ({"tier": "custom"}, "concurrency"),
])
def test_bad_bench_parameters(prof, kw, field):
    with pytest.raises(ParamsError) as e:
        resolve_notebook_tier(prof, **kw)
    assert field in str(e.value)


def test_summary_arithmetic_matches_bench_serving():
    recs = [RequestRecord(0, 10, 3, start=0.0, ttft=0.1, latency=0.5, itl=[0.2, 0.2], output_len=3,
                          success=True),
            RequestRecord(1, 20, 5, start=0.5, ttft=0.2, latency=1.0, itl=[0.2] * 4, output_len=5,
                          success=True),
            RequestRecord(2, 30, 5, start=0.6, error="HTTP 500", success=False)]
    s = summarize(recs, duration=2.0)
    assert (s["completed"], s["failed"], s["total_input_tokens"], s["total_output_tokens"]) == (2, 1, 30, 8)
    assert s["request_throughput"] == 1.0 and s["output_throughput"] == 4.0
    assert s["mean_ttft_ms"] == pytest.approx(150.0)
    assert s["mean_tpot_ms"] == pytest.approx((200.0 + 200.0) / 2)
    assert s["mean_e2e_latency_ms"] == pytest.approx(750.0)
    assert s["concurrency"] == pytest.approx(0.75)
    assert s["max_itl_ms"] == pytest.approx(200.0)
    assert s["max_concurrent_requests"] == 2


def test_bench_argv_is_the_recipes_command():
    spec = TierRun(tier="high", concurrency=100, num_prompts=500, input_len=1000, output_len=1000,
                   endpoint="http://127.0.0.1:30000",
                     model="moonshotai/Kimi-K2-Instruct", backend="sglang")
    argv = bench_argv(spec, "/out.jsonl")
    text = " ".join(argv)
    for part in ("-m sglang.bench_serving", "--backend sglang", "--dataset-name random",
                 "--random-input-len 1000", "--random-output-len 1000", "--num-prompts 500",
                 "--max-concurrency 100", "--request-rate inf", "--seed 1", "--output-details",
                 "--output-file /out.jsonl"):
        assert part in text


def test_a_refused_bench_serving_flush_is_read_from_the_server_log(tmp_path):
    """bench_serving 0.5.7 posts /flush_cache and ignores the answer: the runner reads SGLang's
    access log, and only a tier whose flushes were all refused gets the note."""
    log = tmp_path / "server.log"
    assert flush_statuses(log) == [] and flush_statuses(None) == []  # no log: nothing to say
    log.write_text('INFO:     127.0.0.1:1 - "POST /flush_cache HTTP/1.1" 200 OK\n'
                   'INFO:     127.0.0.1:2 - "POST /generate HTTP/1.1" 200 OK\n'
                   'INFO:     127.0.0.1:3 - "POST /flush_cache HTTP/1.1" 400 Bad Request\n')
    assert flush_statuses(log) == [200, 400]
    assert flush_note(flush_statuses(log)[:1]) is None  # honoured
    assert flush_note([]) is None  # no answer logged: the log cannot tell
    note = flush_note(flush_statuses(log)[1:])
    assert note is not None and "refused (400)" in note and "warm-up" in note

Handler = Callable[[str, dict], tuple[int, str]]  # (path, JSON body) -> (status, body text)


@pytest.fixture
def sse_server() -> Iterator[Callable[[Handler], str]]:
    """A real HTTP server on loopback whose answers a test scripts; yields ``serve(handler)``,
    which starts one and returns its URL. Stopped after the test."""
    from aiohttp import web

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    runners = []

    def serve(handler: Handler) -> str:
        async def route(request: web.Request) -> web.Response:
            body = await request.json() if request.can_read_body else {}
            status, text = handler(request.path, body)
            return web.Response(status=status, text=text, content_type="text/event-stream")

        async def start() -> str:
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", route)
            runner = web.AppRunner(app)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            runners.append(runner)
            return f"http://127.0.0.1:{runner.addresses[0][1]}"

        return asyncio.run_coroutine_threadsafe(start(), loop).result(10)

    yield serve
    for r in runners:
        asyncio.run_coroutine_threadsafe(r.cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


def _sse(objs):
    return "".join(f"data: {json.dumps(o)}\n\n" for o in objs) + "data: [DONE]\n\n"


def test_builtin_runner_streams_counts_and_records_failures(tmp_path, sse_server):
    """Every third request fails with HTTP 500: failures are counted, never dropped."""
    seen = {"n": 0}

    def handler(path: str, body: dict) -> tuple[int, str]:
        if path in ("/model_info", "/flush_cache"):
            return 404, ""
        seen["n"] += 1
        if seen["n"] % 3 == 0:
            return 500, "boom"
        n = body["max_tokens"]
        chunks = [{"choices": [{"text": "x"}]} for _ in range(n)]
        chunks.append({"choices": [], "usage": {"completion_tokens": n}})
        return 200, _sse(chunks)

    spec = TierRun(tier="t", concurrency=2, num_prompts=9, input_len=20, output_len=8,
                   range_ratio=0.5, endpoint=sse_server(handler), model="m")
    res = BuiltinRunner(out=lambda s: None).run(spec, tmp_path)
    assert res.row["completed"] + res.row["failed"] == 9 and res.row["failed"] == 3
    lines = (tmp_path / "bench-t-builtin.records.jsonl").read_text().splitlines()
    assert len(lines) == 9 and sum("HTTP 500" in x for x in lines) == 3
    ins, outs = random_lengths(Workload(9, 20, 8, 0.5, 1))
    ok = [json.loads(x) for x in lines if '"success": true' in x]
    assert all(r["output_len"] == outs[r["index"]] and r["prompt_len"] == ins[r["index"]] for r in ok)
    assert "Serving Benchmark Result" in res.printed


def test_tokens_without_text_complete_the_request(tmp_path, sse_server):
    """A random model's tokens can be partial UTF-8 bytes that decode to no text: the stream still
    completed with its usage, so the request counts as completed, not failed."""

    def handler(path: str, body: dict) -> tuple[int, str]:
        if path in ("/model_info", "/flush_cache"):
            return 404, ""
        n = body["max_tokens"]
        chunks = [{"choices": [{"text": ""}]} for _ in range(n)]
        chunks.append({"choices": [], "usage": {"completion_tokens": n}})
        return 200, _sse(chunks)

    spec = TierRun(tier="t", concurrency=1, num_prompts=3, input_len=10, output_len=4,
                   endpoint=sse_server(handler), model="m", warmup_requests=0)
    res = BuiltinRunner(out=lambda s: None).run(spec, tmp_path)
    assert res.row["completed"] == 3 and res.row["failed"] == 0
    assert all(r.ttft > 0 and r.output_len == r.output_len_target for r in res.records)


def test_an_error_event_in_the_stream_fails_the_request_with_its_reason(tmp_path, sse_server):
    """SGLang answers a streamed request it rejects with HTTP 200 and one error event."""

    def handler(path: str, body: dict) -> tuple[int, str]:
        if path in ("/model_info", "/flush_cache"):
            return 404, ""
        if body["prompt"] and len(body["prompt"]) > 15:
            return 200, _sse([{"error": {"message": "The input is longer than the model's context"}}])
        return 200, _sse([{"choices": [{"text": "x"}]}, {"choices": [], "usage": {"completion_tokens": 1}}])

    spec = TierRun(tier="t", concurrency=2, num_prompts=6, input_len=20, output_len=1,
                   range_ratio=0.5, endpoint=sse_server(handler), model="m",
                     warmup_requests=0)
    res = BuiltinRunner(out=lambda s: None).run(spec, tmp_path)
    ins, _ = random_lengths(Workload(6, 20, 1, 0.5, 1))
    errors = [r.error for r in res.records if not r.success]
    assert res.row["failed"] == len(errors) == int((ins > 15).sum()) > 0
    assert set(errors) == {"server error in the stream: The input is longer than the model's context"}


def _bpe_tokenizer(folder) -> str:
    """A real byte-level BPE tokenizer, trained here on generated text."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    words = ["weather", "Paris", "tensor", "cache", "décode", "naïve", "东京", "token", "prompt"]
    corpus = [" ".join(words[(i * 7 + j) % len(words)] for j in range(12)) for i in range(300)]
    tok.train_from_iterator(corpus, trainers.BpeTrainer(
        vocab_size=400, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    folder.mkdir(parents=True, exist_ok=True)
    tok.save(str(folder / "tokenizer.json"))
    return str(folder)


def test_text_prompts_encode_to_the_planned_lengths(tmp_path, sse_server):
    """prompt_format=text: string prompts made with the local tokenizer, each of exactly the
    planned token length (bench_serving's random lengths), sent as text."""
    from tokenizers import Tokenizer

    tok_dir = _bpe_tokenizer(tmp_path / "tok")
    sent: list = []

    def handler(path: str, body: dict) -> tuple[int, str]:
        if path in ("/model_info", "/flush_cache"):
            return 404, ""
        sent.append(body["prompt"])
        n = body["max_tokens"]
        chunks = [{"choices": [{"text": "y"}]} for _ in range(n)]
        chunks.append({"choices": [], "usage": {"completion_tokens": n}})
        return 200, _sse(chunks)

    spec = TierRun(tier="t", concurrency=4, num_prompts=12, input_len=200, output_len=4,
                   range_ratio=0.5, endpoint=sse_server(handler), model="m",
                     warmup_requests=0, tokenizer=tok_dir, prompt_format="text")
    res = BuiltinRunner(out=lambda s: None).run(spec, tmp_path)
    ins, _ = random_lengths(Workload(12, 200, 4, 0.5, 1))
    tok = Tokenizer.from_file(tok_dir + "/tokenizer.json")
    assert len(sent) == 12 and all(isinstance(p, str) for p in sent)
    by_len = sorted(len(tok.encode(p, add_special_tokens=False).ids) for p in sent)
    assert by_len == sorted(ins)  # every prompt encodes to its planned length
    assert [r.prompt_len for r in res.records] == list(ins)
    assert res.row["total_input_tokens"] == sum(ins)
    assert any("text made with the local tokenizer" in n and "12/12" in n for n in res.notes)


def test_text_prompts_without_a_tokenizer_fail_before_any_request(tmp_path, sse_server):
    calls = []

    def handler(path: str, body: dict) -> tuple[int, str]:
        calls.append(path)
        return 404, ""

    spec = TierRun(tier="t", concurrency=1, num_prompts=2, input_len=10, output_len=4,
                   endpoint=sse_server(handler), model="m",
                     tokenizer=str(tmp_path / "nothing-here"), prompt_format="text")
    with pytest.raises(BenchError) as e:
        BuiltinRunner(out=lambda s: None).run(spec, tmp_path)
    assert "tokenizer.json" in str(e.value) and "target.tokenizer" in str(e.value)
    assert calls == []


def test_a_refused_flush_is_retried_until_the_server_takes_it(tmp_path, sse_server):
    """SGLang answers /flush_cache 400 while its scheduler still holds the warm-up's finished
    batch; the runner asks again and the note says it took three tries."""
    flushes = []

    def handler(path: str, body: dict) -> tuple[int, str]:
        if path == "/model_info":
            return 404, ""
        if path == "/flush_cache":
            flushes.append(path)
            return (400, "Cache flushed.") if len(flushes) < 3 else (200, "Cache flushed.")
        return 200, _sse([{"choices": [{"text": "x"}]}, {"choices": [], "usage": {"completion_tokens": 1}}])

    spec = TierRun(tier="t", concurrency=1, num_prompts=2, input_len=10, output_len=1,
                   endpoint=sse_server(handler), model="m")
    res = BuiltinRunner(out=lambda s: None).run(spec, tmp_path)
    assert len(flushes) == 3 and res.row["completed"] == 2
    assert "cache: POST /flush_cache → 200 (after 3 tries)" in res.notes
