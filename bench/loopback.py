"""A stdlib asyncio server on loopback that streams ``/v1/completions`` the way vLLM and SGLang do,
for benchmarks of the clients themselves: no model, so what is measured is the client.

``ttft_ms`` / ``itl_ms`` = 0: as fast as it can (client capacity). Non-zero: paced — the first
token after ``ttft_ms``, then one every ``itl_ms`` — so every metric has a known true value and
two clients can be compared without an engine's run-to-run noise (fidelity).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENGINE_PY = ROOT / ".cache" / "engine-venv" / "bin" / "python3"
MODEL = ROOT / ".cache" / "weights" / "tiny-kimi"  # the process launcher's, from its venv build
DATA = ROOT / ".cache" / "data" / "sharegpt.json"


def _handler(ttft_s: float, itl_s: float):
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
                if ttft_s or itl_s:
                    # Paced against a schedule, not by sleeping a gap each time, so the stream's
                    # length stays ttft + (n-1)·itl however late the loop wakes.
                    t0 = time.monotonic()
                    for i in range(n):
                        await asyncio.sleep(max(0.0, t0 + ttft_s + i * itl_s - time.monotonic()))
                        writer.write(frame)
                        await writer.drain()
                else:
                    for _ in range(n):
                        writer.write(frame)
                # A usage chunk only when asked for, as real servers do (bench_serving 0.5.7
                # never asks).
                usage = (b'data: {"choices":[],"usage":{"completion_tokens":%d}}\n\n' % n
                         if (body.get("stream_options") or {}).get("include_usage") else b"")
                tail = usage + b"data: [DONE]\n\n"
                writer.write(f"{len(tail):x}\r\n".encode() + tail + b"\r\n0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    return handle


def serve(port: int, ttft_ms: float = 0.0, itl_ms: float = 0.0) -> None:
    async def run() -> None:
        srv = await asyncio.start_server(_handler(ttft_ms / 1000, itl_ms / 1000), "127.0.0.1", port,
                                         backlog=1024)
        async with srv:
            await srv.serve_forever()

    asyncio.run(run())


def start(port: int, ttft_ms: float = 0.0, itl_ms: float = 0.0) -> subprocess.Popen:
    """The server in its own process (its CPU is billed to neither client)."""
    proc = subprocess.Popen([sys.executable, "-c", f"import sys; sys.path.insert(0, "
                             f"{str(Path(__file__).parent)!r}); import loopback; "
                             f"loopback.serve({port}, {ttft_ms}, {itl_ms})"])
    time.sleep(1.0)
    return proc


def bench_serving_argv(url: str, prompts: int, concurrency: int, input_len: int, tokens: int,
                       range_ratio: float, output_file: str, seed: int = 1) -> list[str]:
    """The runner's bench_serving command (``bench_argv``), from the engine venv, against ``url``."""
    from runbook.core.schema import TierRun
    from runbook.measure.runners.bench_serving import bench_argv

    if not ENGINE_PY.exists():
        raise SystemExit(f"no engine venv at {ENGINE_PY}: run `runbook engine build -f local-process`")
    if subprocess.run([str(ENGINE_PY), "-c", "import tiktoken"], capture_output=True).returncode != 0:
        # tiny-kimi's tokenizer needs it; the recipe's pre-install step adds it to the venv.
        raise SystemExit("the engine venv has no tiktoken yet: run `runbook engine up -f local-process` "
                         "once (its pre-install step installs it), or pip install tiktoken into it")
    spec = TierRun(tier="loopback", concurrency=concurrency, num_prompts=prompts, input_len=input_len,
                   output_len=tokens, range_ratio=range_ratio, seed=seed,
                   endpoint=url, model="tiny-kimi", backend="vllm", tokenizer=str(MODEL),
                   dataset_path=str(DATA), extra_args=["--disable-tqdm"])
    argv = bench_argv(spec, output_file, python=str(ENGINE_PY))
    # Per-request details cost the client CPU after the run, which is not what is measured here.
    argv.remove("--output-details")
    return argv
