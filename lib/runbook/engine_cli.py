"""``runbook engine base | build | up | down | status``: the server without the notebooks.

``up`` creates a run folder (like any run) and remembers it in ``outputs/engine.json`` so that
``down`` and ``status`` find what ``up`` started.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import httpx

from runbook.runfolder import OUTPUTS, RunFolder, write_json

POINTER = OUTPUTS / "engine.json"


def run(a: argparse.Namespace) -> int:
    from runbook.params import load_profile

    if a.action == "base":  # every engine image is FROM it: made once before parallel builds
        import docker

        from runbook.engine.build import ensure_base

        tag, secs = ensure_base(docker.from_env())
        print(f"base image {tag}" + (f" built in {secs:.0f} s" if secs else " present"))
        return 0
    if a.action == "build":
        from runbook.engine.build import build

        p = load_profile(a.profile, a.param)
        if p.container.launcher == "process":
            from runbook.engine.venv import build_venv
            from runbook.paths import expand_path, weights_dir

            py = Path(expand_path(p.server.python, p) or "")
            data = Path(expand_path(p.benchmark.dataset_path, p) or "")
            res = build_venv(py.parent.parent, weights_dir(p), data, engine=p.server.engine)
            print(f"engine venv {res['venv']} -> {res['shared']}: "
                  + ("cached (inputs unchanged)" if res["cached"]
                     else f"built in {res['seconds']:.0f} s"))
            return 0
        rep = build(p.server.engine, tag=p.container.image if p.container.build == "local" else None,
                    force=a.force)
        print(rep.as_text())
        return 0
    if a.action == "up":
        from runbook import deploy, secrets

        p = load_profile(a.profile, a.param)
        secrets.api_key(p)  # a configured but missing key fails before anything starts
        if p.container.launcher == "process":
            from runbook.paths import engine_python

            engine_python(p)  # no venv: say so before a run folder is made
        rf = RunFolder.create(p.profile)
        print(f"run folder: {rf.path}")
        res = deploy.up(p, rf)
        write_json(POINTER, {"run": str(rf.path), "profile": a.profile, "params": a.param})
        print(f"ready: {p.endpoint} in {res['seconds']:.1f} s ({res['probe']}); "
              f"model {p.target.model}; log {rf.logs / 'server.log'}")
        return 0
    if not POINTER.exists():
        print("no engine started by `runbook engine up` is recorded")
        return 0 if a.action == "status" else 1
    ptr = json.loads(POINTER.read_text())
    rf = RunFolder(ptr["run"])
    p = load_profile(ptr["profile"], ptr.get("params") or [])
    if a.action == "down":
        from runbook import deploy

        for line in deploy.teardown(p, rf):
            print(line)
        POINTER.unlink(missing_ok=True)
        return 0
    # status
    state = rf.read_state()
    try:
        code = httpx.get(p.endpoint + "/health", timeout=5).status_code
    except httpx.TransportError as e:
        code = type(e).__name__
    print(json.dumps({"run": str(rf.path), "endpoint": p.endpoint, "health": code,
                      "container": state.get("container"), "ready": state.get("ready")}, indent=2))
    return 0
