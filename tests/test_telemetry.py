"""Telemetry: the GPU tools' parsers on recorded output (nvidia-smi captured on a real H200; AMD's
from their documented formats), and the sampler for real with the host probe: it writes a row a
second, drops a tool that keeps failing, and never lets a hung tool hold the tier."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import pytest

from runbook.measure.telemetry import (
    GpuProbe,
    HostProbe,
    Sampler,
    parse_amd_smi,
    parse_nvidia_smi,
    parse_rocm_smi,
)

DATA = Path(__file__).parent / "data" / "telemetry"


def test_nvidia_smi_as_an_h200_printed_it():
    (row,) = parse_nvidia_smi((DATA / "nvidia-smi-h200-idle.csv").read_text())
    assert row == {"source": "nvidia", "device": "0", "util_pct": 0.0, "mem_used_mib": 0.0,
                   "mem_total_mib": 143771.0, "power_w": 79.94, "temp_c": 42.0}
    busy, no_power = parse_nvidia_smi((DATA / "nvidia-smi-documented.csv").read_text())
    assert busy["util_pct"] == 87 and busy["power_w"] == 612.4
    assert no_power["device"] == "1" and no_power["power_w"] is None  # "[N/A]" is no reading, not 0


def test_amd_smi_metric_json_in_both_layouts():
    g0, g1 = parse_amd_smi((DATA / "amd-smi-metric.json").read_text())
    assert (g0["device"], g0["util_pct"], g0["power_w"], g0["mem_used_mib"], g0["mem_total_mib"]) == \
        ("0", 97, 612, 180011, 196592)
    assert g0["temp_c"] == 71 and g1["temp_c"] == 48  # hotspot where there is one, else edge
    (g,) = parse_amd_smi((DATA / "amd-smi-metric-gpu-data.json").read_text())  # plain values, wrapped
    assert (g["util_pct"], g["power_w"], g["temp_c"], g["mem_used_mib"]) == (12, 181, 44, 283)


def test_rocm_smi_json():
    c0, c1 = parse_rocm_smi((DATA / "rocm-smi.json").read_text())  # "system" is not a card
    assert c0["device"] == "0" and c0["util_pct"] == 98 and c0["power_w"] == 615 and c0["temp_c"] == 70
    assert c0["mem_used_mib"] == pytest.approx(188743680000 / 2**20)
    assert c1["power_w"] == 140 and c1["temp_c"] == 39


class Failing:
    source = "broken-tool"

    def sample(self):
        raise RuntimeError("no device")


def test_the_sampler_records_the_host_and_drops_a_failing_tool(tmp_path):
    s = Sampler(tmp_path / "telemetry.csv", "low", [Failing(), HostProbe()], repeat=2, interval_s=0.5).start()
    time.sleep(2.4)
    notes = s.stop()
    rows = list(csv.DictReader(open(tmp_path / "telemetry.csv")))
    host = [r for r in rows if r["source"] == "host"]
    assert len(host) >= 4 and all(r["tier"] == "low" and r["repeat"] == "2" for r in host)
    assert all(float(r["mem_total_mib"]) > 0 for r in host)
    assert host[-1]["util_pct"] != ""  # CPU busy % from the second sample on
    assert any("broken-tool telemetry dropped after 3 failures" in n for n in notes)
    assert notes[0] == f"telemetry: {len(rows)} samples into telemetry.csv"


def test_a_hung_tool_does_not_hold_the_tier(tmp_path):
    hung = GpuProbe("nvidia", ["sleep", "30"], parse_nvidia_smi, timeout_s=1.0)
    s = Sampler(tmp_path / "telemetry.csv", "low", [hung, HostProbe()], interval_s=0.5).start()
    time.sleep(1.0)
    t0 = time.monotonic()
    s.stop()
    assert time.monotonic() - t0 < 3  # cut at the tool's timeout, not its 30 s
