"""GPU and host telemetry during a tier: utilisation, memory, power, temperature once a second.

A registry of samplers, each a command and a parser of its documented output:

* ``amd`` — ``amd-smi metric --json`` (ROCm 6.1+), else ``rocm-smi … --json``;
* ``nvidia`` — ``nvidia-smi --query-gpu=… --format=csv,noheader,nounits``;
* ``host`` — /proc/stat and /proc/meminfo (everywhere, so the embedded default records too).

The GPU tool runs on the host where it is installed, else inside the engine's container (``docker
exec``), where ROCm and CUDA images ship it. ``Sampler`` runs in a daemon thread from the start
of a tier to its end and appends to ``telemetry.csv`` in the run folder; a tool that hangs is cut
at its timeout, one that keeps failing is dropped with a note, and stopping never waits more than
a few seconds: telemetry never blocks or fails a tier.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runbook.core.numbers import number

COLUMNS = ["tier", "repeat", "t_s", "source", "device", "util_pct", "mem_used_mib", "mem_total_mib",
           "power_w", "temp_c"]


def _num(v: Any) -> float | None:
    """A figure from a tool: 12, "12.5 W", {"value": 12, "unit": "%"}, "[N/A]" / "N/A" → None."""
    return number(v)


def parse_nvidia_smi(text: str) -> list[dict[str, Any]]:
    """``nvidia-smi --query-gpu=index,utilization.gpu,memory.used,memory.total,power.draw,
    temperature.gpu --format=csv,noheader,nounits``: one line per GPU (MiB, W, °C)."""
    rows = []
    for line in text.strip().splitlines():
        f = [x.strip() for x in line.split(",")]
        if len(f) < 6:
            continue
        rows.append({"source": "nvidia", "device": f[0], "util_pct": _num(f[1]), "mem_used_mib": _num(f[2]),
                     "mem_total_mib": _num(f[3]), "power_w": _num(f[4]), "temp_c": _num(f[5])})
    return rows


NVIDIA_QUERY = ["nvidia-smi", "--query-gpu=index,utilization.gpu,memory.used,memory.total,power.draw,"
                "temperature.gpu", "--format=csv,noheader,nounits"]


def parse_amd_smi(text: str) -> list[dict[str, Any]]:
    """``amd-smi metric --json``: a list of GPUs (or ``{"gpu_data": [...]}`` in later releases),
    each with ``usage.gfx_activity``, ``power.socket_power``, ``temperature.hotspot`` (or
    ``edge``) and ``mem_usage.used_vram``/``total_vram`` (MB), values plain or ``{"value", "unit"}``."""
    data = json.loads(text)
    gpus = data.get("gpu_data", []) if isinstance(data, dict) else data
    rows = []
    for g in gpus:
        use, pw, tmp, mem = (g.get(k) or {} for k in ("usage", "power", "temperature", "mem_usage"))
        temp = _num(tmp.get("hotspot"))
        rows.append({"source": "amd", "device": str(g.get("gpu")),
                     "util_pct": _num(use.get("gfx_activity")),
                     "mem_used_mib": _num(mem.get("used_vram")), "mem_total_mib": _num(mem.get("total_vram")),
                     "power_w": _num(pw.get("socket_power") or pw.get("average_socket_power")),
                     "temp_c": temp if temp is not None else _num(tmp.get("edge"))})
    return rows


def parse_rocm_smi(text: str) -> list[dict[str, Any]]:
    """``rocm-smi --showuse --showpower --showtemp --showmeminfo vram --json``: ``{"card0": {...}}``
    with the tool's own labels (bytes for VRAM)."""
    rows = []
    for card, m in json.loads(text).items():
        if not card.startswith("card"):
            continue

        def first(*keys: str, m: dict[str, Any] = m) -> float | None:
            return next((v for k in keys if (v := _num(m.get(k))) is not None), None)

        used, total = first("VRAM Total Used Memory (B)"), first("VRAM Total Memory (B)")
        rows.append({"source": "amd", "device": card.removeprefix("card"), "util_pct": first("GPU use (%)"),
                     "mem_used_mib": used / 2**20 if used is not None else None,
                     "mem_total_mib": total / 2**20 if total is not None else None,
                     "power_w": first("Current Socket Graphics Package Power (W)",
                                      "Average Graphics Package Power (W)"),
                     "temp_c": first("Temperature (Sensor junction) (C)", "Temperature (Sensor edge) (C)")})
    return rows


ROCM_SMI_QUERY = ["rocm-smi", "--showuse", "--showpower", "--showtemp", "--showmeminfo", "vram", "--json"]


@dataclass
class HostProbe:
    """CPU busy % between two reads of /proc/stat, memory in use from /proc/meminfo."""

    proc: Path = Path("/proc")
    _last: tuple[float, float] | None = None

    def sample(self) -> list[dict[str, Any]]:
        f = [float(x) for x in (self.proc / "stat").read_text().splitlines()[0].split()[1:]]
        idle, total = f[3] + (f[4] if len(f) > 4 else 0), sum(f)
        util = None
        if self._last is not None and total > self._last[1]:
            util = 100 * (1 - (idle - self._last[0]) / (total - self._last[1]))
        self._last = (idle, total)
        lines = (self.proc / "meminfo").read_text().splitlines()
        mem = {ln.split(":")[0]: float(ln.split()[1]) for ln in lines
               if ln.split(":")[0] in ("MemTotal", "MemAvailable")}
        total_mib = mem.get("MemTotal", 0) / 1024
        return [{"source": "host", "device": "host", "util_pct": util,
                 "mem_used_mib": total_mib - mem.get("MemAvailable", 0) / 1024, "mem_total_mib": total_mib,
                 "power_w": None, "temp_c": None}]


@dataclass
class GpuProbe:
    source: str
    argv: list[str]
    parse: Callable[[str], list[dict[str, Any]]]
    timeout_s: float = 5.0

    def sample(self) -> list[dict[str, Any]]:
        p = subprocess.run(self.argv, capture_output=True, text=True, timeout=self.timeout_s)
        if p.returncode != 0:
            raise RuntimeError(f"{' '.join(self.argv[:3])} exited {p.returncode}: {p.stderr.strip()[:200]}")
        return self.parse(p.stdout)


_FOUND: dict[str | None, GpuProbe | None] = {}  # looked for once per container and process


def gpu_probe(container: str | None = None) -> GpuProbe | None:
    """The GPU tool on the host, else inside the engine's container; None when there is none."""
    if container not in _FOUND:
        _FOUND[container] = _find_gpu_probe(container)
    return _FOUND[container]


def _find_gpu_probe(container: str | None) -> GpuProbe | None:
    tools = [("amd", ["amd-smi", "metric", "--json"], parse_amd_smi), ("amd", ROCM_SMI_QUERY, parse_rocm_smi),
             ("nvidia", NVIDIA_QUERY, parse_nvidia_smi)]
    for source, argv, parse in tools:
        if shutil.which(argv[0]):
            return GpuProbe(source, argv, parse)
    if container and shutil.which("docker"):
        for source, argv, parse in tools:
            probe = subprocess.run(["docker", "exec", container, "sh", "-c", f"command -v {argv[0]}"],
                                   capture_output=True, text=True, timeout=15)
            if probe.returncode == 0 and probe.stdout.strip():
                return GpuProbe(source, ["docker", "exec", container, *argv], parse)
    return None


@dataclass
class Sampler:
    """Samples ``probes`` every ``interval_s`` into ``path`` from ``start()`` to ``stop()``."""

    path: Path
    tier: str
    probes: list[Any]
    repeat: int = 0
    interval_s: float = 1.0
    max_failures: int = 3
    notes: list[str] = field(default_factory=list)
    rows: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Sampler:
        new = not self.path.exists()
        self._fh = open(self.path, "a", newline="")  # closed in stop()
        self._w = csv.DictWriter(self._fh, COLUMNS)
        if new:
            self._w.writeheader()
        self._t0 = time.monotonic()
        self._thread = threading.Thread(target=self._loop, name=f"telemetry-{self.tier}", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        failures = {id(p): 0 for p in self.probes}
        while not self._stop.is_set():
            t = round(time.monotonic() - self._t0, 2)
            for probe in list(self.probes):
                try:
                    for row in probe.sample():
                        self._w.writerow({"tier": self.tier, "repeat": self.repeat, "t_s": t, **row})
                        self.rows += 1
                    failures[id(probe)] = 0
                except Exception as e:  # a tool that fails is noted, never raised into the tier
                    failures[id(probe)] += 1
                    if failures[id(probe)] >= self.max_failures:
                        self.probes.remove(probe)
                        self.notes.append(f"{getattr(probe, 'source', 'host')} telemetry dropped after "
                                          f"{self.max_failures} failures: {type(e).__name__}: {e}")
            self._fh.flush()
            self._stop.wait(max(0.0, self.interval_s - (time.monotonic() - self._t0 - t)))

    def stop(self) -> list[str]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)  # a probe is cut at its own timeout (5 s)
        self._fh.close()
        return [f"telemetry: {self.rows} samples into {self.path.name}", *self.notes]


def sampler_for(run_path: Path, tier: str, repeat: int = 0, container: str | None = None,
                interval_s: float = 1.0) -> Sampler:
    probes: list[Any] = [HostProbe()]
    gpu = gpu_probe(container)
    if gpu is not None:
        probes.insert(0, gpu)
    return Sampler(run_path / "telemetry.csv", tier, probes, repeat, interval_s)


def read(run_path: Path, tier: str | None = None) -> Any:
    import pandas as pd

    f = run_path / "telemetry.csv"
    if not f.exists():
        return pd.DataFrame(columns=COLUMNS)
    df = pd.read_csv(f)
    return df if tier is None else df[df["tier"] == tier]
