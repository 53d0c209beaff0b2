"""Deployment as steps: container → weights → pre-install → server → readiness → facts.

Each function is one notebook cell's worth of work and records what it did in the run folder's
``state.json``, so the next step (in another notebook, another process) picks up from there.
``up`` chains them for the CLI; ``teardown`` undoes only what the run created.
"""

from __future__ import annotations

import os
import time
from pathlib import Path, PurePosixPath
from typing import Any

from runbook.core.errors import EngineError
from runbook.core.paths import weights_dir
from runbook.core.runfolder import RunFolder
from runbook.core.schema import Profile
from runbook.deploy.launchers import Launcher, get_launcher
from runbook.deploy.server import LaunchCommand, capabilities, launch_command, server_facts, wait_ready


def port_free(host: str, port: int) -> bool:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
            return True
        except OSError:
            return False


def start_container(p: Profile, run: RunFolder, out=print) -> tuple[Launcher, dict[str, Any]]:
    launcher = get_launcher(p, run, out)
    facts = launcher.prepare()
    return launcher, facts


def stage_weights(p: Profile, run: RunFolder) -> dict[str, Any]:
    from runbook.core import secrets
    from runbook.deploy import weights

    if p.container.launcher == "attach":
        res = {"source": "attached", "note": f"the server at {p.endpoint} loaded its own weights"}
        run.update_state(weights=res)
        return res
    dest = weights_dir(p)
    src = weights.source(p)
    # What is already there counts: a re-run must not demand the model's full size free again.
    present = weights.present_gb(p)
    need = max(0.0, p.target.model_size_gb - present)
    disk = weights.check_disk(dest, need)
    disk["present_gb"] = round(present, 3)
    if not disk["ok"]:
        raise EngineError(f"not enough disk for the weights at {dest}: {disk['free_gb']:.1f} GB "
                          f"free, {need:.1f} GB needed ({present:.1f} GB of the model's "
                          f"{p.target.model_size_gb:g} GB already there)",
                          hint="free space or point target.weights_dir at a larger disk")
    if src == "image" and p.container.launcher == "process":
        from runbook.engine.build import image_spec

        folder = dest / image_spec(p.server.engine).model
        res = weights.stage_local(folder)  # made by the venv build
        res |= {"source": "image", "digest": weights.manifest_digest(weights.sha256_manifest(folder))}
    elif src == "image":
        res = weights.stage_from_image(p)
    elif src == "generate":
        res = weights.stage_generated(dest, PurePosixPath(p.server.model_path).name)
    elif src == "folder":
        res = weights.stage_local(dest)
        res["source"] = "folder"
    elif src == "server":
        res = {"source": "server", "path": str(weights.repo_cache(dest, p.target.model)),
               "revision": p.target.revision,
               "note": "not staged: the server downloads at start, into this hub cache"}
    else:
        # HF_ENDPOINT (a mirror) is honoured as huggingface_hub itself does.
        res = weights.snapshot(p.target.model, p.target.revision, dest, token=secrets.hf_token(p),
                               endpoint=os.environ.get("HF_ENDPOINT") or None)
    res["disk"] = disk
    run.update_state(weights=res)
    return res


def weights_for_server(p: Profile, launcher: Launcher, cmd: LaunchCommand,
                       staged: dict[str, Any] | None) -> LaunchCommand:
    """Point the launch at exactly what the weights step staged.

    hub: HF_HOME at the staged cache (as the container sees it), the hub offline, ``--revision``
    the staged commit: the server resolves the recipe's repo id to those files and nothing else.
    folder: ``--model-path`` / ``--tokenizer-path`` the folder, the served name kept as the
    recipe's (clients send the same model name). server: HF_HOME at the host's cache (the
    download outlives the container) and the hub token in the server's environment (masked).
    image, generate: the profile's paths already are the model (the staged copy mounted at /models).
    """
    from runbook.core import secrets
    from runbook.deploy import weights

    staged = staged or {}
    src = staged.get("source") or weights.source(p)
    if src in ("image", "generate"):
        return cmd
    inside = launcher.container_path
    env, secret, argv = dict(cmd.env), dict(cmd.secret_env), list(cmd.argv)

    def set_flag(flag: str, value: str) -> None:
        if flag in argv:
            argv[argv.index(flag) + 1] = value
        else:
            argv.extend([flag, value])

    engine_flags = {"sglang": ("--model-path", "--tokenizer-path", "--served-model-name"),
                    "vllm": ("--model", "--tokenizer", "--served-model-name")}[p.server.engine]
    if src == "folder":
        folder = inside(Path(staged.get("path") or weights_dir(p)))
        set_flag(engine_flags[0], folder)
        if p.server.tokenizer_path in (None, p.server.model_path):
            set_flag(engine_flags[1], folder)
        set_flag(engine_flags[2], p.target.model)
        env["HF_HUB_OFFLINE"] = "1"
        return LaunchCommand(env, argv, secret)
    env["HF_HOME"] = inside(weights_dir(p))
    if src == "hub":
        env["HF_HUB_OFFLINE"] = "1"
        if staged.get("commit"):
            set_flag("--revision", staged["commit"])
    else:  # server: it downloads
        if p.target.revision:
            set_flag("--revision", p.target.revision)
        token = secrets.hf_token(p)
        if token:
            secret["HF_TOKEN"] = token
    return LaunchCommand(env, argv, secret)


def start_server(p: Profile, launcher: Launcher) -> dict[str, Any]:
    if p.container.launcher == "attach":
        launcher.start_server(None)
        return {"command": None, "attached": p.endpoint}
    if p.server.host in ("127.0.0.1", "0.0.0.0", "localhost") and not port_free(
            "127.0.0.1" if p.server.host != "0.0.0.0" else "0.0.0.0", p.server.port):
        raise EngineError(f"port {p.server.port} is already in use on this host",
                          hint=f"stop what listens there (ss -ltnp 'sport = :{p.server.port}') or "
                          "set server.port")
    from runbook.core import secrets

    cmd = weights_for_server(p, launcher, launch_command(p, secrets.api_key(p)),
                             launcher.run.read_state().get("weights"))
    launcher.start_server(cmd)
    return {"command": cmd.display()}


def wait_until_ready(p: Profile, launcher: Launcher, progress_every_s: float = 10.0,
                     teardown_on_failure: bool = False) -> dict[str, Any]:
    from runbook.core import secrets

    api_key = secrets.api_key(p)
    try:
        rep = wait_ready(p.endpoint, p.server.readiness, launcher.server_exit_code, launcher.server_log,
                         api_key=api_key, progress_every_s=progress_every_s, model=p.target.model)
    except BaseException:
        if teardown_on_failure:
            _tear_down_after(p, launcher.run, "not ready")
        raise
    facts = server_facts(p.endpoint, api_key)
    ready = {"seconds": round(rep.seconds, 2), "probe": rep.probe, "endpoint": p.endpoint,
             "history": rep.history}
    launcher.run.update_state(ready=ready, facts=facts, capabilities=capabilities(facts),
                              endpoint=p.endpoint, model=p.target.model)
    return {**ready, "facts": facts}


def step_checks(step: str, run: RunFolder) -> Any:
    """The container or server step's verdict, from what it recorded in state.json (a step that
    recorded nothing must not read as PASS). Shown in the notebook, recorded for the run."""
    from runbook.core.verdicts import PASS, SKIPPED, StepChecks

    st = run.read_state()
    chk = StepChecks(step)
    if step == "container":
        c, w, pre = st.get("container") or {}, st.get("weights") or {}, st.get("pre_install")
        if c.get("launcher") == "attach":
            chk.add("container", PASS, f"attached to {c.get('attached_to')}: none started")
        elif c.get("launcher") == "process":
            chk.add("container", SKIPPED, "launcher 'process': the engine is a host process")
        else:
            chk.ok("container", bool(c.get("container_id")),
                   f"{c.get('container_name')} ({'created' if c.get('created_container') else 'reused'}, "
                   f"image {c.get('image')})", "the container step did not record a container")
        chk.ok("weights", bool(w.get("source")), f"{w.get('source')}: {w.get('path') or w.get('note')}"
               + (f" @ {w['commit']}" if w.get("commit") else ""), "the weights step did not run")
        if pre is None:
            chk.add("pre-install", SKIPPED, "no pre-install step ran")
        else:
            chk.ok("pre-install", pre.get("code") == 0, f"`{pre.get('command')}` exit code {pre.get('code')}")
    else:
        r, f = st.get("ready") or {}, st.get("facts") or {}
        chk.ok("ready", bool(r.get("probe")), f"{r.get('probe')} answered 200 after {r.get('seconds')} s",
               "the readiness wait did not finish")
        chk.ok("served model", bool(f.get("served_models")), ", ".join(map(str, f.get("served_models") or []))
               or "none listed by /v1/models", "the server lists no model")
    chk.record(run)
    return chk


def teardown_status(lines: list[str]) -> str:
    """Teardown's verdict from what it did: FAIL when something it had to stop or remove was not."""
    if any("failed" in ln or ln.startswith("teardown skipped") for ln in lines):
        return "FAIL"
    return "WARN" if any("already gone" in ln for ln in lines) else "PASS"


def facts_table(run: RunFolder) -> Any:
    """What was started, as a two-column table (also what later steps read from state.json)."""
    import pandas as pd

    st = run.read_state()
    c, f, r, srv = (st.get(k) or {} for k in ("container", "facts", "ready", "server"))
    params = st.get("params") or {}
    rows = {
        "command": srv.get("command"),
        "launcher": c.get("launcher"),
        "image": c.get("image"),
        "image id": c.get("image_id"),
        "container": f"{c.get('container_name')} (created by this run: {c.get('created_container')})",
        "engine": f"{f.get('engine')} {f.get('engine_version') or ''}".strip(),
        "served model(s)": ", ".join(map(str, f.get("served_models") or [])),
        "max model len": f.get("max_model_len"),
        "SGLang /server_info, /model_info": f.get("sglang_native"),
        "tp size (SGLang /server_info)": (f.get("server_info") or {}).get("tp_size", "n/a"),
        "architecture (SGLang /model_info)": ", ".join((f.get("model_info") or {}).get("architectures")
                                                       or []) or "n/a",
        "vision (SGLang /model_info)": (f.get("model_info") or {}).get("has_image_understanding", "n/a"),
        "tool-call parser": (params.get("server") or {}).get("tool_call_parser"),
        "ready after (s)": r.get("seconds"),
        "readiness probe": r.get("probe"),
        "endpoint": st.get("endpoint"),
    }
    return pd.DataFrame({"fact": list(rows), "value": [str(v) for v in rows.values()]})


def up(p: Profile, run: RunFolder, out=print) -> dict[str, Any]:
    """The whole deployment, for the CLI (the notebooks call the steps one by one)."""
    t0 = time.monotonic()
    run.update_state(profile=p.profile, params=p.model_dump(mode="json"))
    launcher, cfacts = start_container(p, run, out)
    try:
        stage_weights(p, run)
        launcher.pre_install()
        start_server(p, launcher)
        ready = wait_until_ready(p, launcher)
    except BaseException:
        _tear_down_after(p, run, "deployment failed", out)
        raise
    ready["total_seconds"] = round(time.monotonic() - t0, 2)
    return {"container": cfacts, **ready}


def _tear_down_after(p: Profile, run: RunFolder, what: str, out: Any = print) -> None:
    """A failed start leaves nothing running: tear down what this run started, say what was done."""
    out(f"{what}: tearing down what this run started")
    for line in teardown(p, run):
        out("  " + line)


def teardown(p: Profile, run: RunFolder) -> list[str]:
    try:
        launcher = get_launcher(p, run)
    except EngineError as e:
        return [f"teardown skipped: {e.message}"]
    done = launcher.teardown()
    run.update_state(teardown=done)
    return done
