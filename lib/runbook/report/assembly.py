"""A run's pages and records, assembled once its steps are done: ``results.csv``,
``environment.json`` (what ran: profile, params, image, engine packages, the lock and the venv,
the model, the bench clients), each executed notebook's HTML page, the decode floors,
``summary.json`` and ``index.html``; then the secrets scrubbed from everything the run leaves.
``runbook run`` (``orchestrate.py``) calls ``assemble`` after the teardown."""

from __future__ import annotations

import json
import platform
import subprocess
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from runbook.core import lockfile
from runbook.core.params import PROJECT_ROOT
from runbook.core.runfolder import RunFolder, write_json
from runbook.core.schema import Profile


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True,
                             text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=PROJECT_ROOT, capture_output=True,
                               text=True, timeout=10).stdout.strip()
        return out.stdout.strip() + ("+dirty" if dirty else "") if out.returncode == 0 else "unknown"
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


def environment(p: Profile, run: RunFolder) -> dict[str, Any]:
    from importlib.metadata import version

    st = run.read_state()
    c, f = st.get("container") or {}, st.get("facts") or {}
    return {
        "profile": p.profile, "overrides": st.get("overrides") or [],
        "resolved_params": p.model_dump(mode="json"),
        "image": c.get("image"), "image_id": c.get("image_id"), "image_digests": c.get("image_digests"),
        "engine": f.get("engine"), "engine_version": f.get("engine_version"),
        "weights": weights_record(p, st.get("weights") or {}),
        "runbook_commit": git_commit(), "python": platform.python_version(),
        "host": platform.node(),
        "packages": {k: version(k) for k in ("papermill", "nbconvert", "pandas", "pydantic", "docker",
                                             "openai", "httpx")},
        # Provenance (runbook diff / compare-engines read it): the lock and the venv, the engine's
        # packages after the pre-install, and each tier's bench client.
        "runbook": lockfile.host_record(),
        "engine_env": st.get("engine_env") or {"measured": False, "why": "no container step ran"},
        "bench_clients": sorted({str(r.get("client")) for r in _rows(run) if r.get("client")}),
    }


def _rows(run: RunFolder) -> list[dict[str, Any]]:
    f = run.path / "results.jsonl"
    if not f.is_file():
        return []
    return [json.loads(ln) for ln in f.read_text().splitlines() if ln.strip()]


def weights_record(p: Profile, staged: dict[str, Any]) -> dict[str, Any]:
    """What the server loaded: source, repo, the revision asked for and the commit it resolved
    to (the staged snapshot's, or — where the server downloaded — the hub cache's ref)."""
    from runbook.core.paths import weights_dir
    from runbook.deploy import weights

    rec = {k: staged.get(k) for k in ("source", "path", "revision", "commit", "digest") if staged.get(k)}
    if staged.get("source") == "server":
        rec["commit"] = weights.resolve_commit(weights_dir(p), p.target.model, p.target.revision)
    if rec.get("source") in ("hub", "server"):
        rec["repo_id"] = p.target.model
    return rec


def assemble(p: Profile, run: RunFolder, outcomes: list[Any], teardown_lines: list[str],
             total: float, failed: str | None, out: Any = print) -> None:
    """After the last step: results.csv, environment.json, each notebook's HTML page, the decode
    floors, summary.json, index.html, secrets scrubbed, and the index page checked in Chromium.
    ``outcomes``: the steps as ``runbook run`` recorded them (name, status, output, …)."""
    from runbook.measure.store import load_results
    from runbook.report import html

    df = load_results(run)
    if not df.empty:
        df.to_csv(run.path / "results.csv", index=False)
    env = environment(p, run)
    write_json(run.path / "environment.json", env)
    for o in outcomes:
        if o.output and Path(o.output).exists():
            t0 = time.monotonic()
            o.html = html.export_notebook(Path(o.output))
            o.html_seconds = round(time.monotonic() - t0, 2)
    floor = _floors(p, run, df, out)
    st = run.read_state()
    tiers = {k[5:]: v for k, v in st.items() if k.startswith("tier_")}
    summary = {
        "run_id": run.run_id, "profile": p.profile, "status": "FAIL" if failed else "PASS",
        "failed_step": failed, "total_seconds": total,
        "steps": [asdict(o) for o in outcomes], "tiers": tiers, "teardown": teardown_lines,
        "ready_seconds": (st.get("ready") or {}).get("seconds"),
        "diff": st.get("diff"),  # the report step's verdicts against report.baseline, if any
        "floor": floor,
    }
    write_json(run.path / "summary.json", summary)
    index = html.write_index(run, summary, env, df)
    from runbook.core import secrets
    from runbook.report import browser

    # Last: no secret survives in what the run leaves behind (the server's own log may print it).
    scrubbed = secrets.scrub_tree(run.path, secrets.known(p))
    if scrubbed:
        out(f"secrets masked in {scrubbed} file(s) of the run folder")

    if browser.chromium():  # a look at the page as a reader gets it; kept beside it
        try:
            pc = browser.check_page(Path(index), run.path / "index.png")
            summary["index_console_messages"] = pc.console
            write_json(run.path / "summary.json", summary)
        except Exception as e:  # the report stands without its screenshot
            out(f"screenshot skipped: {e}")
    out(f"report: {index}")


def _floors(p: Profile, run: RunFolder, df: Any, out) -> dict[str, Any]:
    """Each tier's % of its decode floor, and the reference's (floor.py); the report stands
    without it should the model's config be unreadable."""
    from runbook.judge.reference import load_reference
    from runbook.measure import floor

    try:
        ref = load_reference(p.report.reference) if p.report.reference else None
        fl = floor.run_floors(p, run, df, ref)
        return {"basis": fl.attrs["basis"], "ref_basis": fl.attrs["ref_basis"],
                "tiers": fl.astype(object).where(fl.notna(), None).to_dict("records")}
    except Exception as e:  # a missing floor is said on the page, not fatal
        out(f"floor not computed: {type(e).__name__}: {e}")
        return {"error": f"{type(e).__name__}: {e}"}
