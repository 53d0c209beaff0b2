"""Client capacity: streamed chunks parsed per CPU-second, builtin vs sglang 0.5.7's bench_serving.

A stdlib asyncio server on loopback streams completions as fast as it can (no model, no waiting),
so the client's own parsing cost is what limits it. Each client runs in its own process; its CPU
time (user + sys, from the kernel's rusage) divides the chunks it received. Goal: builtin ≥
bench_serving.

Needs the engine venv for bench_serving (`runbook engine build -f local-process`).
Usage: python bench/client_capacity.py [--prompts 400] [--concurrency 100] [--tokens 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENGINE_PY = ROOT / ".cache" / "engine-venv" / "bin" / "python3"
MODEL = ROOT / ".cache" / "weights" / "tiny-llava"
DATA = ROOT / ".cache" / "data" / "sharegpt.json"


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.decode().split("\r\n"):
                if line.lower().startswith("content-length:"):
                    length = int(line.split(":")[1])
            body = json.loads(await reader.readexactly(length)) if length else {}
            if b" /v1/completions " not in head.split(b"\r\n", 1)[0]:
                writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
                continue
            n = int(body.get("max_tokens", 16))
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n")
            chunk = b'data: {"choices":[{"index":0,"text":"x"}]}\n\n'
            frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
            for _ in range(n):
                writer.write(frame)
            # A usage chunk only when asked for, as real servers do (bench_serving 0.5.7 never asks).
            usage = (b'data: {"choices":[],"usage":{"completion_tokens":%d}}\n\n' % n
                     if (body.get("stream_options") or {}).get("include_usage") else b"")
            tail = usage + b"data: [DONE]\n\n"
            writer.write(f"{len(tail):x}\r\n".encode() + tail + b"\r\n0\r\n\r\n")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


def serve(port: int) -> None:
    async def run() -> None:
        srv = await asyncio.start_server(handle, "127.0.0.1", port)
        async with srv:
            await srv.serve_forever()

    asyncio.run(run())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompts", type=int, default=400)
    ap.add_argument("--concurrency", type=int, default=100)
    ap.add_argument("--tokens", type=int, default=200)
    ap.add_argument("--port", type=int, default=30199)
    a = ap.parse_args()
    # The server runs in its own process so its CPU is not billed to either client.
    server = subprocess.Popen([sys.executable, "-c", f"import sys; sys.path.insert(0, "
                               f"{str(Path(__file__).parent)!r}); import client_capacity as c; "
                               f"c.serve({a.port})"])
    time.sleep(1.0)
    rows = []
    try:
        url = f"http://127.0.0.1:{a.port}"
        with tempfile.TemporaryDirectory() as tmp:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            bs_argv = [str(ENGINE_PY), "-m", "sglang.bench_serving", "--backend", "vllm", "--base-url", url,
                       "--model", "tiny-llava", "--tokenizer", str(MODEL), "--dataset-name", "random",
                       "--dataset-path", str(DATA), "--random-input-len", "16", "--random-output-len",
                       str(a.tokens), "--random-range-ratio", "1.0", "--num-prompts", str(a.prompts),
                       "--max-concurrency", str(a.concurrency), "--request-rate", "inf",
                       "--disable-tqdm", "--output-file", f"{tmp}/bs.jsonl"]
            runs = {
                "bench_serving": bs_argv,
                "builtin": [sys.executable, "-c", (
                    "from pathlib import Path; from runbook.runners import BenchSpec;"
                    "from runbook.runners.builtin import BuiltinRunner;"
                    f"s=BenchSpec('cap', {a.concurrency}, {a.prompts}, 16, {a.tokens}, range_ratio=1.0,"
                    f" endpoint={url!r}, model='tiny-llava', flush_cache=False);"
                    f"BuiltinRunner(out=lambda x: None).run(s, Path({tmp!r}))")],
            }
            for name, argv in runs.items():
                t0 = time.monotonic()
                p = subprocess.run(argv, capture_output=True, text=True, env={**os.environ,
                                                                              "HF_HUB_OFFLINE": "1"})
                wall = time.monotonic() - t0
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
                before = after
                if p.returncode != 0:
                    print(p.stdout[-2000:], p.stderr[-2000:])
                    raise SystemExit(f"{name} failed")
                chunks = a.prompts * a.tokens
                rows.append((name, chunks, cpu, wall, chunks / cpu))
    finally:
        server.terminate()
    print(f"{'client':<14} {'chunks':>8} {'cpu s':>8} {'wall s':>8} {'chunks/cpu-s':>13}")
    for r in rows:
        print(f"{r[0]:<14} {r[1]:>8} {r[2]:>8.2f} {r[3]:>8.2f} {r[4]:>13.0f}")
    ratio = rows[1][4] / rows[0][4]
    print(f"\nbuiltin / bench_serving: {ratio:.2f}x (goal ≥ 1.0); CPU includes each client's start-up "
          "(imports, tokenizer, dataset)")


if __name__ == "__main__":
    main()
