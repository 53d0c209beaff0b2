"""The telemetry sampler on a real GPU: what it records while the GPU works, once a second.

Starts ``telemetry.Sampler`` (the GPU tool it finds — nvidia-smi, amd-smi or rocm-smi — and the
host probe), idles 3 s, then loads the GPU with PyTorch (a 16 GiB allocation and bf16 matrix
products, then device-to-device copies, whose bandwidth it also measures) and idles again; prints
the samples as a table, the tool's raw output once, and writes both to --out.

Usage (on a GPU machine; the lib on PYTHONPATH): python bench/telemetry_gpu.py [--seconds 12] [--out DIR]
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

from runbook.measure import telemetry


def load(seconds: float) -> str:
    """Matrix products, then copies: what a decode step mixes; the copy's bandwidth in words."""
    import torch

    hold = torch.empty(16 * 2**30, dtype=torch.uint8, device="cuda")  # memory in use shows up
    a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    t_end = time.monotonic() + seconds / 2
    while time.monotonic() < t_end:
        for _ in range(20):
            a @ a
        torch.cuda.synchronize()
    src = torch.empty(4 * 2**30, dtype=torch.uint8, device="cuda")
    dst = torch.empty_like(src)
    best = float("inf")
    t_end = time.monotonic() + seconds / 2
    while time.monotonic() < t_end:
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        dst.copy_(src)
        torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    del hold
    return (f"device copy {2 * src.numel() / best / 1e12:.2f} TB/s (bytes read + written, best of the "
            f"copies) on {torch.cuda.get_device_name(0)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=12)
    ap.add_argument("--out", default=".")
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    probe = telemetry.gpu_probe()
    print("GPU tool:", " ".join(probe.argv) if probe else "none found")
    if probe:
        import subprocess

        raw = subprocess.run(probe.argv, capture_output=True, text=True, timeout=10).stdout
        (out / f"{probe.source}-raw.txt").write_text(raw)
        print("raw output:\n" + raw)
    s = telemetry.sampler_for(out, "gpu-check").start()
    time.sleep(3)
    said = load(a.seconds)
    time.sleep(3)
    notes = s.stop()
    print(said)
    print("\n".join(notes))
    with open(out / "telemetry.csv") as fh:
        rows = list(csv.DictReader(fh))
    cols = ["t_s", "source", "device", "util_pct", "mem_used_mib", "mem_total_mib", "power_w", "temp_c"]
    print(" ".join(f"{c:>13}" for c in cols))
    for r in rows:
        print(" ".join(f"{(r[c] or '—')[:13]:>13}" for c in cols))


if __name__ == "__main__":
    main()
