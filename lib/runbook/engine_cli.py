"""``runbook engine base | build | up | down | status | freeze | unfreeze | check``: the server
without the notebooks, and the engine images' frozen package lists.

``up`` creates a run folder (like any run) and remembers it in ``outputs/engine.json`` so that
``down`` and ``status`` find what ``up`` started.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import httpx

from runbook.core.runfolder import OUTPUTS, RunFolder, write_json

POINTER = OUTPUTS / "engine.json"


def run(a: argparse.Namespace) -> int:
    from runbook.core.params import load_profile

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
            from runbook.core.paths import expand_path, weights_dir
            from runbook.engine.venv import build_venv

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
    if a.action in ("freeze", "unfreeze", "check"):
        return _frozen(a.action, a.profile, a.param)
    if a.action == "up":
        from runbook.core import secrets
        from runbook.deploy import steps as deploy

        p = load_profile(a.profile, a.param)
        secrets.api_key(p)  # a configured but missing key fails before anything starts
        if p.container.launcher == "process":
            from runbook.core.paths import engine_python

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
        from runbook.deploy import steps as deploy

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


def _frozen(action: str, profile: str, params: list[str]) -> int:
    """freeze / unfreeze / check an engine image's constraints file (see engine/freeze.py)."""
    from runbook.core.params import load_profile
    from runbook.engine import freeze
    from runbook.engine.build import SUITE, build

    p = load_profile(profile, params)
    if p.container.launcher != "docker" or p.container.build != "local":
        print(f"profile {profile!r} does not build a local engine image (launcher "
              f"{p.container.launcher}, build {p.container.build}): freeze from one that does "
              "(local, local-vllm)")
        return 2
    engine = p.server.engine
    if action == "unfreeze":
        print(f"{freeze.unfreeze(engine)}: only torch is held; build, test, then freeze again")
        return 0
    rep = build(engine, tag=p.container.image)
    print(rep.as_text())
    lines = freeze.frozen_lines(freeze.image_freeze(rep.image, p.container.pre_install, p.server.python))
    target = freeze.constraints_file(engine)
    moved = freeze.drift(freeze.pins(target.read_text()), freeze.pins("\n".join(lines)))
    if action == "check":
        for line in moved:
            print("  " + line)
        print(f"{rep.image}: " + (f"{len(moved)} package(s) differ from {target.name}" if moved
                                  else f"exactly {target.name} ({len(lines)} packages)"))
        return 1 if moved else 0
    freeze.write_constraints(engine, lines, profile, rep.image_id, p.container.pre_install)
    deb = freeze.debian_file(SUITE)
    deb.write_text(f"# The Debian {SUITE} packages the engines' base image got (written by `runbook "
                   "engine freeze`).\n" + freeze.image_debian(rep.image))
    print(f"{target}: {len(lines)} packages; {len(moved)} changed" + "".join(f"\n  {m}" for m in moved))
    print(f"{deb}: recorded. The image's inputs changed: the next build uses these pins.")
    return 0
