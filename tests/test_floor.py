"""The decode floor on hand-computed cases, and Kimi K2's figures on MI300X."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from runbook.judge.reference import load_reference
from runbook.measure.floor import (
    Shape,
    decode_floor,
    expected_experts,
    gpu_of,
    kimi_k2_config,
    kv_bytes_of,
    measure_host_bandwidth,
    pct_of_floor,
    tier_floors,
    weight_bytes_of,
)

# small enough to count by hand
TOY = {"hidden_size": 8, "num_attention_heads": 2, "qk_nope_head_dim": 3, "qk_rope_head_dim": 1,
       "v_head_dim": 2, "q_lora_rank": 4, "kv_lora_rank": 5, "moe_intermediate_size": 6,
       "n_routed_experts": 4, "num_experts_per_tok": 2, "first_k_dense_replace": 1,
       "num_hidden_layers": 3, "intermediate_size": 10, "n_shared_experts": 1, "vocab_size": 11,
       "torch_dtype": "bfloat16"}


def test_parameter_counts_by_hand():
    s = Shape.from_config(TOY)
    # q_a 8·4 + q_b 4·2·(3+1) + kv_a 8·(5+1) + kv_b 5·2·(3+2) + o 2·2·8
    assert s.attn_params == 32 + 32 + 48 + 50 + 32 == 194
    assert s.dense_mlp_params == 3 * 8 * 10 and s.expert_params == 3 * 8 * 6
    assert s.shared_params == 144 + 8 * 4  # one shared expert + the router
    assert s.kv_per_token_layer == 6 and s.lm_head_params == 88
    assert s.active_params == 3 * 194 + 240 + 2 * (176 + 2 * 144) + 88 == 1838


def test_expected_experts_touched_by_a_batch():
    assert expected_experts(4, 2, 1) == 2  # one token: its k experts
    assert expected_experts(4, 2, 2) == 3  # 4·(1 − (1/2)²)
    assert expected_experts(384, 8, 10_000) == pytest.approx(384)  # a big batch touches them all


def test_floor_of_a_decode_step_by_hand():
    s = Shape.from_config(TOY)
    f = decode_floor(s, batch=1, context=10, bandwidth=1000, gpus=1, weight_bytes=1, kv_bytes=2)
    # attention+dense 3·194+240, shared 2·176, routed 2 layers · 2 experts · 144, lm_head 88·2 (bf16),
    # KV 1 sequence · 10 tokens · 3 layers · 6 values · 2 bytes
    assert f.parts == {"attention + dense": 822, "shared expert + router": 352, "routed experts": 576,
                       "lm_head": 176, "kv cache": 360}
    assert f.tpot_ms == pytest.approx(2286) and f.tok_s == pytest.approx(1 / 2.286)
    two = decode_floor(s, batch=1, context=10, bandwidth=1000, gpus=2, tp=2, weight_bytes=1, kv_bytes=2)
    assert two.bytes_per_gpu == pytest.approx((822 + 352 + 576 + 176) / 2 + 360)  # the latent KV is not split
    assert two.tok_s_per_gpu == pytest.approx(two.tok_s / 2)
    assert pct_of_floor(4572, f) == pytest.approx(50) and math.isnan(pct_of_floor(None, f))


def test_kimi_k2_on_mi300x():
    s = Shape.from_config(kimi_k2_config())
    assert s.active_params == pytest.approx(32e9, rel=0.02)  # "32B activated parameters"
    f1 = decode_floor(s, 1, 750, 5.3e12, 8, 8, weight_bytes=1)
    assert f1.tpot_ms < 1  # the bound: ~32 GB of FP8 over 8 × 5.3 TB/s
    ref = load_reference("mi300x-kimi-k2-sglang-0.5.7.yaml")
    df = tier_floors(pd.DataFrame(), ref, kimi_k2_config(), "AMD MI300X x8", 8, 1.0, 2.0).set_index("tier")
    assert list(df.index) == ["low", "medium", "high"]
    assert df.loc["low", "ref_pct_of_floor"] == pytest.approx(1.9, abs=0.1)  # 0.79 ms floor, 40.45 ms
    assert df["ref_pct_of_floor"].is_monotonic_increasing  # batching amortises the weight reads
    assert "5.3 TB/s" in df.attrs["ref_basis"]


def test_hardware_dtypes_and_bandwidth():
    assert gpu_of("AMD MI300X x8") == ("MI300X", 8) and gpu_of("NVIDIA H200 x8") == ("H200", 8)
    assert gpu_of("AMD Instinct MI355X x8") == ("MI355X", 8) and gpu_of("CPU (2 cores, no GPU)") is None
    assert kv_bytes_of(["--kv-cache-dtype", "fp8_e4m3"]) == 1 == kv_bytes_of(["--kv-cache-dtype=fp8_e4m3"])
    assert kv_bytes_of(["--tp", "8"]) == 2
    assert weight_bytes_of(kimi_k2_config()) == 1 and weight_bytes_of(TOY) == 2
    assert weight_bytes_of({**TOY, "quantization_config": {"quant_method": "fp8"}}) == 1
    assert weight_bytes_of(TOY, "fp8") == 1
    bw = measure_host_bandwidth(mib=32, tries=2)
    assert 1e8 < bw < 1e13  # some real memory speed, bytes/s
