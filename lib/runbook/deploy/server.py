"""Server start: the launch command from params, the readiness gate, and the server's facts.

Readiness polls ``/health_generate`` (SGLang: 503 until a real 1-token generation works), falling
back to ``/health`` where the first is absent (404) — never ``/v1/models``, which answers before
the model can generate. Before each poll it checks, cheaply, whether the server process exited:
if it did, the wait fails within one interval with the log's last lines, instead of hanging
until the timeout.
"""

from __future__ import annotations

import re
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from runbook.core.errors import ServerNotReady
from runbook.core.progress import Progress
from runbook.core.schema import Profile, Readiness

SGLANG_DEFAULT_HOST, SGLANG_DEFAULT_PORT = "127.0.0.1", 30000


API_KEY_VAR = "RUNBOOK_API_KEY"  # the wrapper expands it; the key is never in argv or state


@dataclass
class LaunchCommand:
    env: dict[str, str]
    argv: list[str]
    secret_env: dict[str, str] = field(default_factory=dict)  # passed to the process, not shown

    def display(self) -> str:
        """The command as a person would type it (the recipe's form)."""
        env = " ".join(f"{k}={shlex.quote(v)}" for k, v in self.env.items())
        return (env + " " if env else "") + " ".join(shlex.quote(a) for a in self.argv)


def launch_command(p: Profile, api_key: str | None = None) -> LaunchCommand:
    s = p.server
    secret: dict[str, str] = {}
    argv = [s.python, "-m", s.module]
    if s.engine == "sglang":
        argv += ["--model-path", s.model_path]
        if s.tokenizer_path:
            argv += ["--tokenizer-path", s.tokenizer_path]
        argv += ["--tp", str(s.tp)]
        if s.tool_call_parser:
            argv += ["--tool-call-parser", s.tool_call_parser]
        if s.trust_remote_code:
            argv.append("--trust-remote-code")
        if s.host != SGLANG_DEFAULT_HOST:
            argv += ["--host", s.host]
        if s.port != SGLANG_DEFAULT_PORT:
            argv += ["--port", str(s.port)]
        if api_key:
            argv += ["--api-key", f"${{{API_KEY_VAR}}}"]
            secret[API_KEY_VAR] = api_key
    else:  # vllm
        argv += ["--model", s.model_path, "--served-model-name", p.target.model]
        if s.tokenizer_path:
            argv += ["--tokenizer", s.tokenizer_path]
        if s.tp > 1:
            argv += ["--tensor-parallel-size", str(s.tp)]
        if s.tool_call_parser:
            argv += ["--enable-auto-tool-choice", "--tool-call-parser", s.tool_call_parser]
        if s.trust_remote_code:
            argv.append("--trust-remote-code")
        argv += ["--host", s.host, "--port", str(s.port)]
        if api_key:
            secret["VLLM_API_KEY"] = api_key  # vLLM reads it from the environment
    argv += list(s.extra_args)
    return LaunchCommand(dict(s.env), argv, secret)


def log_tail(path: Path | None, lines: int = 25) -> str:
    if path is None or not Path(path).exists():
        return ""
    with open(path, "rb") as fh:
        fh.seek(0, 2)
        size = fh.tell()
        fh.seek(max(0, size - 64 * 1024))
        data = fh.read().decode(errors="replace")
    return "\n".join(data.splitlines()[-lines:])


_ERR = re.compile(r"\b\w*(Error|Exception):|\bTraceback\b|No such file|not found|Unsupported")


def error_lines(path: Path | None, limit: int = 3) -> list[str]:
    """The first few lines of the log that state an error (the root cause, not the last echo)."""
    if path is None or not Path(path).exists():
        return []
    out: list[str] = []
    with open(path, errors="replace") as fh:
        for line in fh:
            if " WARNING " in line or "Traceback" in line:
                continue
            if _ERR.search(line):
                text = line.strip()
                if text not in out:
                    out.append(text[-300:])
                if len(out) >= limit:
                    break
    return out


def failure_context(path: Path | None) -> str:
    errs = error_lines(path)
    head = ("engine errors (first lines stating one):\n  " + "\n  ".join(errs) + "\n") if errs else ""
    return head + (log_tail(path) or f"(the server log {path} is empty)")


def last_line(path: Path | None) -> str:
    """The log's last line that says what the server is doing — not the access-log echo of our
    own readiness probes, which would hide it for the whole load."""
    tail = [ln for ln in log_tail(path, 40).strip().splitlines() if '"GET /health' not in ln]
    return tail[-1][-160:] if tail else ""


@dataclass
class ReadyReport:
    endpoint: str
    probe: str
    seconds: float
    attempts: int
    history: list[str] = field(default_factory=list)


def auth_headers(api_key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


def wait_ready(
    endpoint: str,
    readiness: Readiness,
    exit_code: Callable[[], int | None] = lambda: None,
    log_path: Path | None = None,
    api_key: str | None = None,
    progress_every_s: float = 10.0,
    model: str | None = None,
) -> ReadyReport:
    """Block until the server generates, it exits, or the timeout passes (then raise).

    ``/health_generate`` (SGLang's) answers only once a generation went through. A liveness-only
    probe (``/health``: vLLM's) answers as soon as the API is up — vLLM's CPU build answered it
    with a model whose attention it cannot run, then died at the first request — so where
    ``model`` is given, one generated token through ``/v1/completions`` must follow."""
    probes = list(readiness.endpoints)
    t0 = time.monotonic()
    deadline = t0 + readiness.timeout_s
    attempts = 0
    history: list[str] = []
    prog = Progress(f"waiting for {endpoint}", every_s=progress_every_s)
    # Short timeouts per probe: a hung server must not stall the loop past the exit watch.
    timeout = httpx.Timeout(connect=2.0, read=30.0, write=5.0, pool=2.0)
    with httpx.Client(timeout=timeout, headers=auth_headers(api_key)) as client:
        while True:
            code = exit_code()
            if code is not None:
                raise ServerNotReady(
                    f"the server process exited (code {code}) after "
                    f"{time.monotonic() - t0:.0f} s, before it was ready",
                    log_tail=failure_context(log_path),
                    hint="the engine's own error is quoted above; the full log is " + str(log_path),
                )
            probe = probes[0]
            attempts += 1
            status = "no answer"
            try:
                r = client.get(endpoint + probe)
                status = str(r.status_code)
                if r.status_code == 200:
                    if model and probe != "/health_generate":
                        _generates(client, endpoint, model, probe, log_path)
                        history.append(f"{probe} → 200, then one token from /v1/completions")
                    secs = time.monotonic() - t0
                    prog.close(f"ready via {probe} in {secs:.1f} s")
                    return ReadyReport(endpoint, probe, secs, attempts, history)
                if r.status_code in (404, 405) and len(probes) > 1:
                    history.append(f"{probe} → {r.status_code}: falling back to {probes[1]}")
                    probes.pop(0)
                    continue
                if r.status_code in (401, 403):
                    raise ServerNotReady(
                        f"{endpoint}{probe} answered {r.status_code}: the API key is wrong or "
                        "missing", hint="set the server's API key for the runbook (see params)")
            except httpx.TransportError as e:
                status = type(e).__name__
            prog.update(0, f"{probe}: {status} | log: {last_line(log_path)}")
            if time.monotonic() >= deadline:
                raise ServerNotReady(
                    f"not ready after {readiness.timeout_s:.0f} s (last probe {probe}: {status})",
                    log_tail=failure_context(log_path),
                    hint="raise server.readiness.timeout_s if the load is just slow; otherwise "
                    "read the log lines above",
                )
            # One probe and one exit check per interval: a load can take an hour, and the exit
            # check must stay cheap (a file and one container inspect, no `docker exec`).
            time.sleep(max(0.0, min(deadline, time.monotonic() + readiness.interval_s) - time.monotonic()))


def _generates(client: httpx.Client, endpoint: str, model: str, probe: str, log_path: Path | None) -> None:
    """One token through the OpenAI completions endpoint, or ServerNotReady with the answer."""
    try:
        r = client.post(endpoint + "/v1/completions",
                        json={"model": model, "prompt": "ready?", "max_tokens": 1, "temperature": 0})
        ok, said = r.status_code == 200, f"{r.status_code} {r.text[:300]}"
    except httpx.TransportError as e:
        ok, said = False, type(e).__name__
    if not ok:
        raise ServerNotReady(
            f"{endpoint}{probe} answered 200, but the server cannot generate: /v1/completions → {said}",
            log_tail=failure_context(log_path),
            hint="the engine's own error is in the log lines above (e.g. a model shape its kernels "
                 "do not support)")


def server_facts(endpoint: str, api_key: str | None = None) -> dict[str, Any]:
    """What the server says about itself: SGLang's /server_info and /model_info where present,
    /v1/models and /version otherwise. Absent endpoints are recorded as absent, not guessed."""
    facts: dict[str, Any] = {"endpoint": endpoint, "endpoints": {}}
    with httpx.Client(timeout=10.0, headers=auth_headers(api_key)) as c:
        for path in ("/server_info", "/model_info", "/v1/models", "/version"):
            try:
                r = c.get(endpoint + path)
            except httpx.TransportError as e:
                facts["endpoints"][path] = f"error: {type(e).__name__}"
                continue
            facts["endpoints"][path] = r.status_code
            if r.status_code == 200:
                try:
                    facts[path.strip("/").replace("/", "_")] = r.json()
                except ValueError:
                    facts[path.strip("/").replace("/", "_")] = r.text[:2000]
    models = (facts.get("v1_models") or {}).get("data") or []
    facts["served_models"] = [m.get("id") for m in models]
    if models:
        facts["max_model_len"] = models[0].get("max_model_len")
    mi = facts.get("model_info") or {}
    si = facts.get("server_info") or {}
    facts["engine"] = "sglang" if (mi or si) else ("vllm" if facts.get("version") else "unknown")
    facts["engine_version"] = si.get("version") or (facts.get("version") or {}).get("version")
    facts["sglang_native"] = {p: facts["endpoints"].get(p) == 200
                              for p in ("/server_info", "/model_info")}
    return facts


def capabilities(facts: dict[str, Any]) -> dict[str, Any]:
    """One record of what the server is and can do, from what it said about itself: engine,
    version, TP, the model it loaded, vision, and the native (SGLang) endpoints. Written to
    state.json once the server is ready; every step reads it instead of probing again."""
    mi, si = facts.get("model_info") or {}, facts.get("server_info") or {}
    sglang = facts.get("engine") == "sglang"
    served = facts.get("served_models") or []
    return {
        "endpoint": facts.get("endpoint"), "engine": facts.get("engine"),
        "version": facts.get("engine_version"),
        "tp": si.get("tp_size"),  # None where the server does not say (not SGLang)
        # The name clients send (--served-model-name, else --model-path): the recipe's repo id
        # whether the weights came from the hub cache or an offline folder.
        "model": si.get("served_model_name") or mi.get("model_path") or (served[0] if served else None),
        "served_models": served,
        "architectures": mi.get("architectures"),
        "vision": mi.get("has_image_understanding") if mi else None,  # None: the engine decides
        "tool_call_parser": si.get("tool_call_parser"),
        "native": {"/generate": sglang, "/model_info": bool(mi), "/server_info": bool(si),
                   "/flush_cache": sglang},
    }


def read_capabilities(run: Any, endpoint: str, api_key: str | None = None) -> dict[str, Any]:
    """The run's record for this endpoint, or — a standalone step against a server another run
    started — asked once and recorded."""
    st = run.read_state() if run is not None else {}
    caps = st.get("capabilities") or {}
    if caps.get("endpoint") != endpoint:
        caps = capabilities(server_facts(endpoint, api_key))
        if run is not None:
            run.update_state(capabilities=caps)
    return caps
