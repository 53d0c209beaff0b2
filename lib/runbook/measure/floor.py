"""How far from the hardware: the bytes one decode step must read, and the floor they set.

Decoding is memory-bound: each step every GPU reads its share of the weights the step touches
and the KV cache of every sequence in the batch. From a model's config.json (DeepseekV3 / Kimi K2:
MLA + MoE) and the GPUs' HBM bandwidth, at a batch of B concurrent sequences:

* attention (MLA projections), the dense MLP layers, the shared expert and the router: read whole;
* routed experts: E·(1 − (1 − k/E)^B) of the E experts per MoE layer are touched by B tokens
  each choosing k (uniform routing: the expectation), each read once;
* lm_head (the output projection; bf16 even in FP8 checkpoints);
* the KV cache: MLA keeps one latent of (kv_lora_rank + qk_rope_head_dim) values per token per
  layer; under tensor parallelism every rank holds and reads the WHOLE latent cache (it is shared
  by all heads, so TP does not split it).

Weights are split evenly over the TP ranks, which read at the same time: the floor TPOT is the
per-GPU bytes over one GPU's bandwidth, the ceiling output tok/s is B / floor TPOT. A measured
TPOT is then "x % of floor" (floor / measured: 100 % would be the hardware's limit). Compute,
communication and scheduling are left out on purpose: the floor is a bound, not a prediction.
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TB = 1e12

# HBM bandwidth per device, peak, as the vendors publish it (TB/s), and where it is published.
GPUS: dict[str, tuple[float, str]] = {
    "MI300X": (5.3, "AMD Instinct MI300X product page and data sheet: 5.3 TB/s peak HBM3 "
               "(amd.com/en/products/accelerators/instinct/mi300/mi300x.html)"),
    "MI325X": (6.0, "AMD Instinct MI325X product page and data sheet: 6 TB/s HBM3E "
               "(amd.com/en/products/accelerators/instinct/mi300/mi325x.html)"),
    "MI355X": (8.0, "AMD Instinct MI355X product page and data sheet: 8 TB/s HBM3E "
               "(amd.com/en/products/accelerators/instinct/mi350/mi355x.html)"),
    "H100": (3.35, "NVIDIA H100 data sheet, SXM form factor: 3.35 TB/s HBM3 "
             "(nvidia.com/en-us/data-center/h100/)"),
    "H200": (4.8, "NVIDIA H200 product page and data sheet: 4.8 TB/s HBM3e "
             "(nvidia.com/en-us/data-center/h200/)"),
    "B200": (8.0, "NVIDIA DGX B200 / HGX B200 data sheet: 64 TB/s for 8 GPUs, 8 TB/s each "
             "(nvidia.com/en-us/data-center/dgx-b200/)"),
}

DTYPE_BYTES = {"fp8": 1.0, "fp8_e4m3": 1.0, "fp8_e5m2": 1.0, "bf16": 2.0, "fp16": 2.0, "auto": 2.0,
               "fp32": 4.0, "int4": 0.5}


@dataclass(frozen=True)
class Shape:
    """A DeepseekV3-family model's parameter counts, from its config.json."""

    layers: int
    dense_layers: int
    attn_params: int  # per layer: MLA projections (q_a, q_b, kv_a, kv_b, o)
    dense_mlp_params: int  # per dense layer
    expert_params: int  # per routed expert
    shared_params: int  # per MoE layer: the shared expert(s) and the router
    experts: int
    top_k: int
    lm_head_params: int
    kv_per_token_layer: int  # latent values per token per layer

    @classmethod
    def from_config(cls, c: dict[str, Any]) -> Shape:
        h, heads = c["hidden_size"], c["num_attention_heads"]
        nope, rope, vd = c["qk_nope_head_dim"], c["qk_rope_head_dim"], c["v_head_dim"]
        q_lora, kv_lora = c.get("q_lora_rank"), c["kv_lora_rank"]
        q = (h * q_lora + q_lora * heads * (nope + rope)) if q_lora else h * heads * (nope + rope)
        attn = q + h * (kv_lora + rope) + kv_lora * heads * (nope + vd) + heads * vd * h
        moe_i = c["moe_intermediate_size"]
        experts = c["n_routed_experts"]
        dense = min(c.get("first_k_dense_replace", 0), c["num_hidden_layers"])
        return cls(layers=c["num_hidden_layers"], dense_layers=dense, attn_params=attn,
                   dense_mlp_params=3 * h * c["intermediate_size"], expert_params=3 * h * moe_i,
                   shared_params=c.get("n_shared_experts", 0) * 3 * h * moe_i + h * experts,
                   experts=experts, top_k=c["num_experts_per_tok"],
                   lm_head_params=c["vocab_size"] * h, kv_per_token_layer=kv_lora + rope)

    @property
    def moe_layers(self) -> int:
        return self.layers - self.dense_layers

    @property
    def active_params(self) -> int:
        """Parameters one token reads (batch 1), lm_head included."""
        return (self.layers * self.attn_params + self.dense_layers * self.dense_mlp_params
                + self.moe_layers * (self.shared_params + self.top_k * self.expert_params)
                + self.lm_head_params)


def expected_experts(experts: int, top_k: int, batch: int) -> float:
    """Routed experts B tokens touch in one MoE layer, each choosing k of E uniformly."""
    return experts * (1 - (1 - top_k / experts) ** batch)


@dataclass(frozen=True)
class Floor:
    batch: int
    context: float  # mean tokens in each sequence's KV cache during decode
    bytes_per_gpu: float
    parts: dict[str, float]  # bytes per GPU by kind
    tpot_ms: float
    tok_s: float  # the ceiling on output tokens/s, all GPUs
    tok_s_per_gpu: float
    bandwidth: float  # bytes/s per GPU
    gpus: int


def decode_floor(shape: Shape, batch: int, context: float, bandwidth: float, gpus: int = 1,
                 tp: int | None = None, weight_bytes: float = 1.0, kv_bytes: float = 2.0,
                 lm_head_bytes: float = 2.0) -> Floor:
    """The floor of one decode step at ``batch`` sequences of ``context`` tokens each, on
    ``gpus`` devices of ``bandwidth`` bytes/s, weights split over ``tp`` ranks."""
    tp = tp or gpus
    routed = shape.moe_layers * expected_experts(shape.experts, shape.top_k, batch) * shape.expert_params
    parts = {
        "attention + dense": (shape.layers * shape.attn_params
                              + shape.dense_layers * shape.dense_mlp_params) * weight_bytes / tp,
        "shared expert + router": shape.moe_layers * shape.shared_params * weight_bytes / tp,
        "routed experts": routed * weight_bytes / tp,
        "lm_head": shape.lm_head_params * lm_head_bytes / tp,
        "kv cache": batch * context * shape.layers * shape.kv_per_token_layer * kv_bytes,
    }
    total = sum(parts.values())
    t = total / bandwidth
    return Floor(batch, context, total, parts, t * 1000, batch / t, batch / t / gpus, bandwidth, gpus)


def pct_of_floor(measured_tpot_ms: float | None, floor: Floor) -> float:
    """floor / measured TPOT in %: how close to the hardware's limit (100 % = at it)."""
    if not measured_tpot_ms or not math.isfinite(measured_tpot_ms) or measured_tpot_ms <= 0:
        return math.nan
    return floor.tpot_ms / measured_tpot_ms * 100


def gpu_of(hardware: str) -> tuple[str, int] | None:
    """("MI300X", 8) from "AMD MI300X x8" or "NVIDIA H200 x8"; None for a CPU host."""
    m = re.search(r"\b(MI3\d\dX|H100|H200|B200)\b.*?(?:x\s*(\d+))?\s*$", hardware or "", re.I)
    if not m:
        return None
    return m.group(1).upper(), int(m.group(2) or 1)


def measure_host_bandwidth(mib: int = 256, tries: int = 5) -> float:
    """This host's memory bandwidth in bytes/s: the best of ``tries`` copies of a ``mib`` MiB
    array (numpy, one thread), counting the bytes read and the bytes written."""
    import numpy as np

    src = np.ones(mib * 2**20 // 8)
    dst = np.empty_like(src)
    best = math.inf
    for _ in range(tries):
        t0 = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - t0)
    return 2 * src.nbytes / best


def mean_context(row: dict[str, Any]) -> float:
    """Mean KV length during decode: a sequence's prompt plus, on average, half its output."""
    n = row.get("completed") or row.get("num_prompts") or 0
    if not n:
        return math.nan
    return (row["total_input_tokens"] + row["total_output_tokens"] / 2) / n


def kimi_k2_config() -> dict[str, Any]:
    """Kimi-K2-Instruct's config.json, its block-FP8 quantization included (make_kimi.py keeps the
    rest of it, and leaves this part out for the bf16 miniature)."""
    from runbook.engine.make_kimi import KIMI_K2_CONFIG

    return {**KIMI_K2_CONFIG, "quantization_config": {"activation_scheme": "dynamic", "fmt": "e4m3",
                                                      "quant_method": "fp8", "weight_block_size": [128, 128]}}


def model_config(model_dir: str | Path | None) -> dict[str, Any]:
    """The served model's config.json where it is on this host, else Kimi-K2-Instruct's."""
    if model_dir and (Path(model_dir) / "config.json").is_file():
        return json.loads((Path(model_dir) / "config.json").read_text())
    return kimi_k2_config()


def weight_bytes_of(config: dict[str, Any], declared: str = "auto") -> float:
    """Bytes per weight: the profile's ``target.weight_dtype``, else the checkpoint's
    quantization (FP8 blocks: 1) or torch_dtype."""
    if declared != "auto":
        return DTYPE_BYTES[declared]
    q = config.get("quantization_config") or {}
    if "fp8" in str(q.get("quant_method", "")).lower() or "e4m3" in str(q.get("fmt", "")):
        return 1.0
    return DTYPE_BYTES.get(str(config.get("torch_dtype", "bf16")).replace("bfloat16", "bf16")
                           .replace("float16", "fp16").replace("float32", "fp32"), 2.0)


def arg_value(server_args: list[str], flag: str) -> str | None:
    """A flag's value in a launch (``--flag=v`` or ``--flag v``)."""
    for i, a in enumerate(server_args):
        if a == flag and i + 1 < len(server_args):
            return server_args[i + 1]
        if a.startswith(flag + "="):
            return a.split("=", 1)[1]
    return None


TORCH_DTYPES = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16", "half": "fp16"}


def kv_bytes_of(server_args: list[str]) -> float:
    """``--kv-cache-dtype`` of the launch (auto: the model's bf16)."""
    return DTYPE_BYTES.get(arg_value(server_args, "--kv-cache-dtype") or "auto", 2.0)


def basis(hardware: str, host_bandwidth: float | None = None) -> tuple[float, int, str]:
    """Bandwidth per device (bytes/s), device count, and the words saying where it comes from."""
    g = gpu_of(hardware)
    if g and g[0] in GPUS:
        tbs, src = GPUS[g[0]]
        return tbs * TB, g[1], f"{g[1]} × {g[0]} at {tbs:g} TB/s each ({src})"
    bw = host_bandwidth or measure_host_bandwidth()
    return bw, 1, (f"host memory, {bw / 1e9:.1f} GB/s measured (numpy copy of 256 MiB, best of 5, "
                   "bytes read + written)")


def run_floors(p: Any, run: Any, runs: Any, reference: Any) -> Any:
    """``tier_floors`` for a run: its model's config.json (on this host, else Kimi K2's), the
    hardware preflight measured, TP and KV dtype from the launch; the host's bandwidth is measured
    once and kept in the run's state."""
    from runbook.core.paths import expand_path
    from runbook.deploy.preflight import measured_host

    cfg = model_config(expand_path(p.target.tokenizer, p))
    declared = p.target.weight_dtype
    dtype = arg_value(p.server.extra_args, "--dtype")  # the server casts the weights (local: float32)
    if declared == "auto" and dtype in TORCH_DTYPES:
        declared = TORCH_DTYPES[dtype]
    host = measured_host(run)
    bw = None
    if gpu_of(host["hardware"]) is None:
        bw = (run.read_state().get("host_bandwidth") if run is not None else None) or measure_host_bandwidth()
        if run is not None:
            run.update_state(host_bandwidth=bw)
    return tier_floors(runs, reference, cfg, host["hardware"], p.server.tp,
                       weight_bytes_of(cfg, declared),
                       # KV "auto" is the activations' dtype: bf16 for an FP8 checkpoint, else the weights'
                       kv_bytes_of(p.server.extra_args) if arg_value(p.server.extra_args, "--kv-cache-dtype")
                       else max(2.0, weight_bytes_of(cfg, declared)),
                       host_bandwidth=bw)


def tier_floors(runs: Any, reference: Any, config: dict[str, Any], hardware: str, tp: int,
                weight_bytes: float, kv_bytes: float, ref_config: dict[str, Any] | None = None,
                ref_hardware: str = "AMD MI300X x8", ref_tp: int = 8, host_bandwidth: float | None = None
                ) -> Any:
    """Per tier: the measured median TPOT against its floor (this run's model and hardware), and
    the reference's against its own (Kimi K2, FP8 weights, bf16 KV, on the reference's GPUs)."""
    import pandas as pd

    bw, gpus, said = basis(hardware, host_bandwidth)
    shape = Shape.from_config(config)
    rcfg = ref_config or kimi_k2_config()
    rshape = Shape.from_config(rcfg)
    rbw, rgpus, rsaid = basis(ref_hardware)
    out = []
    tiers = list(dict.fromkeys([*(runs["tier"] if len(runs) and "tier" in runs else []),
                                *(reference.index if reference is not None else [])]))
    for tier in tiers:
        line: dict[str, Any] = {"tier": tier}
        rs = runs[runs["tier"] == tier] if len(runs) and "tier" in runs else None
        if rs is not None and len(rs):
            r = rs.iloc[-1].to_dict()
            c = int(r.get("max_concurrency") or r.get("concurrency") or 1)
            f = decode_floor(shape, c, mean_context(r), bw, gpus, tp or gpus, weight_bytes, kv_bytes)
            measured = float(rs["median_tpot_ms"].median())
            line |= {"concurrency": c, "floor_tpot_ms": f.tpot_ms, "measured_tpot_ms": measured,
                     "pct_of_floor": pct_of_floor(measured, f),
                     "ceiling_tok_s_per_gpu": f.tok_s_per_gpu,
                     "measured_tok_s_per_gpu": float(rs["output_throughput"].median()) / gpus}
        if reference is not None and tier in reference.index:
            ref = reference.loc[tier].to_dict()
            c = int(ref.get("max_concurrency") or 1)
            rf = decode_floor(rshape, c, mean_context(ref), rbw, rgpus, ref_tp, weight_bytes_of(rcfg), 2.0)
            line |= {"ref_floor_tpot_ms": rf.tpot_ms, "ref_tpot_ms": ref.get("median_tpot_ms"),
                     "ref_pct_of_floor": pct_of_floor(ref.get("median_tpot_ms"), rf),
                     "ref_ceiling_tok_s_per_gpu": rf.tok_s_per_gpu,
                     "ref_tok_s_per_gpu": (ref.get("output_throughput") or math.nan) / rgpus}
        out.append(line)
    df = pd.DataFrame(out)
    df.attrs["basis"] = said
    df.attrs["ref_basis"] = rsaid
    return df
