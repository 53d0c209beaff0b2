"""Preflight: facts about the host and checks before anything is started.

GPUs (amd-smi / rocm-smi / nvidia-smi when present), the Docker daemon, the image, the container
name, disk for the weights, /dev/shm, the server port, and the recipe's security posture. Each
check is PASS / WARN / FAIL with the fix in words; nothing here changes the machine.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pandas as pd

from runbook.core.paths import weights_dir
from runbook.core.schema import Profile
from runbook.core.verdicts import FAIL, PASS, SKIPPED, WARN, StepChecks
from runbook.deploy import weights
from runbook.deploy.steps import port_free
from runbook.deploy.weights import free_gb


def _run(argv: list[str]) -> str | None:
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return p.stdout if p.returncode == 0 else None


def parse_amd_smi(text: str) -> list[dict[str, Any]]:
    """``amd-smi static --json`` → one row per GPU (model, memory, driver)."""
    data = json.loads(text)
    gpus = data if isinstance(data, list) else data.get("gpu_data", [])
    rows = []
    for g in gpus:
        asic = g.get("asic", {})
        vram = g.get("vram", {})
        size = vram.get("size", {})
        rows.append({"gpu": g.get("gpu"), "model": asic.get("market_name"),
                     "memory_gb": round(float(size.get("value", 0)) / 1024, 1)
                     if isinstance(size, dict) else size,
                     "driver": (g.get("driver") or {}).get("version")})
    return rows


def parse_nvidia_smi(text: str) -> list[dict[str, Any]]:
    """``nvidia-smi --query-gpu=index,name,memory.total,driver_version --format=csv,noheader``."""
    rows = []
    for line in text.strip().splitlines():
        idx, name, mem, drv = [x.strip() for x in line.split(",")]
        rows.append({"gpu": int(idx), "model": name,
                     "memory_gb": round(float(mem.split()[0]) / 1024, 1), "driver": drv})
    return rows


def parse_rocm_smi(text: str) -> list[dict[str, Any]]:
    """``rocm-smi --showproductname --showmeminfo vram --json``."""
    data = json.loads(text)
    rows = []
    for card, v in data.items():
        if not card.startswith("card"):
            continue
        total = v.get("VRAM Total Memory (B)")
        rows.append({"gpu": int(card[4:]), "model": v.get("Card Series") or v.get("Card series"),
                     "memory_gb": round(int(total) / 2**30, 1) if total else None,
                     "driver": v.get("Driver version")})
    return rows


def gpus() -> tuple[str, pd.DataFrame]:
    if shutil.which("amd-smi") and (out := _run(["amd-smi", "static", "--json"])):
        return "amd-smi", pd.DataFrame(parse_amd_smi(out))
    if shutil.which("rocm-smi") and (out := _run(["rocm-smi", "--showproductname", "--showmeminfo",
                                                  "vram", "--json"])):
        return "rocm-smi", pd.DataFrame(parse_rocm_smi(out))
    if shutil.which("nvidia-smi") and (out := _run(["nvidia-smi", "--query-gpu=index,name,memory.total,"
                                                    "driver_version", "--format=csv,noheader"])):
        return "nvidia-smi", pd.DataFrame(parse_nvidia_smi(out))
    return "none", pd.DataFrame(columns=["gpu", "model", "memory_gb", "driver"])


def host_record(tool: str, gpu_df: pd.DataFrame) -> dict[str, Any]:
    """What the node measurably is — GPU model and count as the vendor tool reports them — for
    judging comparability (never the profile's label)."""
    models = sorted({str(m) for m in gpu_df["model"]}) if not gpu_df.empty else []
    hardware = f"{' + '.join(models)} x{len(gpu_df)}" if models else f"CPU ({os.cpu_count()} cores, no GPU)"
    return {"node": os.uname().nodename, "gpu_tool": tool, "gpus": len(gpu_df), "gpu_models": models,
            "hardware": hardware}


def measured_host(run: Any = None) -> dict[str, Any]:
    """The host record preflight wrote, or measured now (a standalone tier, an attached run)."""
    rec = (run.read_state().get("host") if run is not None else None) or None
    if rec is None:
        rec = host_record(*gpus())
        if run is not None:
            run.update_state(host=rec)
    return rec


def security_findings(p: Profile) -> list[tuple[str, str]]:
    c = p.container
    out = []
    if c.privileged:
        out.append(("--privileged", "the container gets every capability and all host devices; "
                    "use the device flags (/dev/kfd, /dev/dri, --group-add video) without it: "
                    "params/mi300x-kimi-k2-hardened.yaml"))
    for v in c.volumes:
        host, _, rest = v.partition(":")
        if host == "/" and not rest.endswith(":ro"):
            out.append((f"-v {v}", "the whole host filesystem is writable inside the container; "
                        "mount only the weights cache and the run folder (hardened profile)"))
    if "/dev/mem" in c.devices:
        out.append(("--device=/dev/mem", "raw physical memory access; not needed by SGLang"))
    return out


def _attach_target(p: Profile) -> tuple[str, str]:
    import httpx

    from runbook.core import secrets
    from runbook.deploy.server import auth_headers

    try:
        r = httpx.get(p.endpoint + "/health", timeout=10, headers=auth_headers(secrets.api_key(p)))
    except httpx.TransportError as e:
        return FAIL, f"nothing answers at {p.endpoint} ({type(e).__name__})"
    return PASS, f"{p.endpoint}/health answers {r.status_code}: the run attaches to it"


def run_preflight(p: Profile, run: Any = None) -> tuple[StepChecks, pd.DataFrame]:
    chk = StepChecks("preflight")
    attach = p.container.launcher == "attach"
    tool, gpu_df = gpus()
    needs_gpu = bool(p.container.devices) or p.server.tp > 1
    if gpu_df.empty:
        chk.add("GPUs", FAIL if needs_gpu else PASS,
                "no GPU found" + (f" but the profile asks for TP {p.server.tp} with devices "
                                  f"{p.container.devices}" if needs_gpu else
                                  " (the embedded default runs on the CPU)"),
                "run on the GPU node, with amd-smi/rocm-smi on PATH" if needs_gpu else "")
    else:
        # multi-node TP: this node holds its share of the ranks
        want = p.server.tp // len(p.cluster.nodes) if p.cluster.mode == "multi-node-tp" else p.server.tp
        enough = len(gpu_df) >= want
        chk.add("GPUs", PASS if enough else FAIL, f"{len(gpu_df)} GPU(s) via {tool}: "
                f"{', '.join(sorted(set(map(str, gpu_df['model']))))}",
                "" if enough else f"TP {p.server.tp} needs {want} GPUs on this node")

    if p.container.launcher == "docker":
        try:
            import docker

            client = docker.from_env(timeout=20)
            ver = client.version().get("Version")
            chk.add("Docker daemon", PASS, f"reachable (server {ver})")
            try:
                img = client.images.get(p.container.image)
                chk.add("image", PASS, f"{p.container.image} present ({img.short_id})")
            except docker.errors.ImageNotFound:
                if p.container.build == "local":
                    chk.add("image", WARN, f"{p.container.image} not built yet",
                            "the container step builds it (runbook engine build)")
                else:
                    chk.add("image", WARN, f"{p.container.image} not present: it will be pulled",
                            "pre-pull it if the registry is slow or unreachable")
            try:
                ctr = client.containers.get(p.container.name)
                chk.add("container name", WARN, f"{p.container.name!r} is taken ({ctr.status}); "
                        "it is reused only if image and flags match",
                        f"docker rm -f {p.container.name}  (if it is yours and stale)")
            except docker.errors.NotFound:
                chk.add("container name", PASS, f"{p.container.name!r} is free")
        except Exception as e:  # the SDK raises several unrelated types
            chk.add("Docker daemon", FAIL, f"not reachable: {e}",
                    "start dockerd (make setup does it as root) or use container.launcher=process")
    elif attach:
        chk.add("Docker daemon", SKIPPED, f"attaching to the server at {p.endpoint}: no container is "
                "started")
    else:
        chk.add("Docker daemon", SKIPPED, "launcher is 'process': no container")

    if attach:
        chk.add("disk for weights", SKIPPED, "attached: the server loaded its own weights")
    else:
        wd = weights_dir(p)
        free = free_gb(wd)
        # The same layouts the weights step writes and reads: a hub snapshot, a plain model folder.
        present = weights.present_gb(p)
        need = max(0.0, p.target.model_size_gb - present)
        status = PASS if free >= need * 1.1 else FAIL
        chk.add("disk for weights", status,
                f"{free:.1f} GB free at {wd}, model ≈ {p.target.model_size_gb:g} GB"
                + (f" ({present:.1f} GB already there, {need:.1f} GB to fetch)" if present else ""),
                "" if status == PASS else "free space or point target.weights_dir at a larger disk")
    shm = Path("/dev/shm")
    if shm.exists():
        shm_gb = shutil.disk_usage(shm).total / 1e9
        want = 64 if p.server.tp >= 8 else 1
        chk.add("/dev/shm", PASS if shm_gb >= want or p.container.ipc == "host" else WARN,
                f"{shm_gb:.1f} GB" + (" (container uses --ipc=host)" if p.container.ipc == "host" else ""),
                "" if shm_gb >= want else "use --ipc=host or a larger --shm-size")
    free_port = port_free("127.0.0.1", p.server.port)
    if attach:  # something answering at the endpoint is what an attached run needs
        status, detail = _attach_target(p)
        chk.add("server to attach to", status, detail,
                "start the server first (or check target.endpoint), or run without --attach"
                if status == FAIL else "")
    else:
        chk.add("server port", PASS if free_port else FAIL,
                f"{p.server.port} is {'free' if free_port else 'in use'}",
                "" if free_port else f"a server already up there (a loaded model) is used with "
                f"`runbook run --attach`; otherwise stop what listens on {p.server.port} or set "
                "server.port")
        for flag, why in security_findings(p):
            chk.add(f"security: {flag}", WARN, why, "after a first faithful run, use the hardened profile")
    facts = pd.DataFrame([{"host": os.uname().nodename, "cpus": os.cpu_count(),
                           "gpu_tool": tool, "gpus": len(gpu_df)}])
    if run is not None:
        run.update_state(host=host_record(tool, gpu_df))
    chk.record(run)
    return chk, gpu_df if not gpu_df.empty else facts
