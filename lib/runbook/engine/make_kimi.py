"""Generate "tiny-kimi": Kimi-K2-Instruct's architecture scaled down, deterministically.

The embedded default serves this model on the real SGLang 0.5.7 server, so that every path a
Kimi K2 run on MI300X takes — DeepseekV3 (MLA + MoE with Kimi's routing), a tiktoken tokenizer
loaded through ``trust_remote_code``, the ``kimi_k2`` tool-call parser — is exercised here with
only sizes and hardware changed:

* ``config.json``: Kimi-K2-Instruct's config field for field (``KIMI_K2_CONFIG`` below is the
  real one), each size scaled down. MLA's latent sizes are scaled too (kv_lora_rank 64,
  qk_rope_head_dim 16 instead of 512 + 64): SGLang's CPU attention (torch_native) runs decode as a
  Python loop of one SDPA per request and layer over the latent cache, and with Kimi's 576-wide
  latent the recipe's high tier (500 prompts, c=100) ran at ~160 output tok/s on a 2-core AVX2
  machine — about 25 min for one tier, past what CI can spend; with 80 it runs at ~400 tok/s
  (measured; see the closing note of the miniature issue). vLLM's CPU build serves neither: its
  MLA decode kernel takes only the 576 latent ("Head dimension 80 is not supported by MLA"), and
  with MLA disabled its CPU attention has no kernel for the 144-wide heads. So the variant
  ``tiny-kimi-576`` (``VARIANTS``) keeps Kimi's own latent sizes, 512 + 64: the one model both
  engines serve, for the engine side-by-side (params/local-kimi576*.yaml).
  Weights are bf16, not Kimi's block FP8 (no FP8 GEMM on CPU), so ``quantization_config`` is the
  one field left out.
* ``model.safetensors``: random weights (numpy's legacy ``RandomState``, whose stream is frozen),
  rounded to bf16 and written by hand (the safetensors format is a JSON header + raw bytes), so
  the bytes are the same on every machine and no torch is needed to make them.
* ``tiktoken.model``: a byte-level BPE trained here on generated text (``make_dataset.corpus``)
  with a small deterministic trainer, in tiktoken's file format (base64 token, rank).
* ``configuration_deepseek.py``, ``tokenization_kimi.py``: Kimi's remote code (``kimi_code/``,
  copied as they are): the config class, and the tokenizer class loaded through ``auto_map`` — it imports
  tiktoken, which the image does not ship: the recipe's pre-install step (``pip install
  sentencepiece tiktoken``) is what makes the server able to load it, as with the real Kimi K2.
* ``tokenizer_config.json``: Kimi's special tokens (chat roles, the five tool-call tokens,
  reserved tokens up to 256 specials) and a chat template that renders system/user/assistant,
  tool declarations, past tool calls with ids ``functions.NAME:IDX`` and tool results as Kimi's does.

``vocab_size`` equals the tokenizer's length (unmasked extra ids would break constrained decoding).
Only the standard library and numpy are used.

Usage: python3 make_kimi.py OUT_DIR [VARIANT]   (VARIANT: tiny-kimi, the default, or tiny-kimi-576)
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import struct
import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_dataset import corpus

SEED = 20260713
KIMI_CODE = Path(__file__).resolve().parent / "kimi_code"  # copied into the model folder
N_MERGES = 1024  # at most: merges stop when the corpus has no pair left (982 ranks + 256 specials)
N_SPECIAL = 256

# Kimi-K2-Instruct's config.json (the published one, quantization_config aside): the reference
# every scaled value below is set against, and what tests compare field names with.
KIMI_K2_CONFIG = {
    "architectures": ["DeepseekV3ForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
    "auto_map": {"AutoConfig": "configuration_deepseek.DeepseekV3Config",
                 "AutoModel": "modeling_deepseek.DeepseekV3Model",
                 "AutoModelForCausalLM": "modeling_deepseek.DeepseekV3ForCausalLM"},
    "aux_loss_alpha": 0.001, "bos_token_id": 163584, "eos_token_id": 163585,
    "first_k_dense_replace": 1, "hidden_act": "silu", "hidden_size": 7168,
    "initializer_range": 0.02, "intermediate_size": 18432, "kv_lora_rank": 512,
    "max_position_embeddings": 131072, "model_type": "kimi_k2", "moe_intermediate_size": 2048,
    "moe_layer_freq": 1, "n_group": 1, "n_routed_experts": 384, "n_shared_experts": 1,
    "norm_topk_prob": True, "num_attention_heads": 64, "num_experts_per_tok": 8,
    "num_hidden_layers": 61, "num_key_value_heads": 64, "num_nextn_predict_layers": 0,
    "pretraining_tp": 1, "q_lora_rank": 1536, "qk_nope_head_dim": 128, "qk_rope_head_dim": 64,
    "rms_norm_eps": 1e-06,
    "rope_scaling": {"beta_fast": 1.0, "beta_slow": 1.0, "factor": 32.0, "mscale": 1.0,
                     "mscale_all_dim": 1.0, "original_max_position_embeddings": 4096,
                     "type": "yarn"},
    "rope_theta": 50000.0, "routed_scaling_factor": 2.827, "scoring_func": "sigmoid",
    "seq_aux": True, "tie_word_embeddings": False, "topk_group": 1, "topk_method": "noaux_tc",
    "torch_dtype": "bfloat16", "transformers_version": "4.48.3", "use_cache": True,
    "v_head_dim": 128, "vocab_size": 163840,
}
# Fields left out of tiny-kimi, with the reason (tests allow exactly these).
OMITTED = {"quantization_config": "bf16 weights: no block-FP8 GEMM on CPU"}

# Scaled field by field; everything not named here is Kimi's own value. Kimi's auto_map points
# at modeling files SGLang never loads (it has its own DeepseekV3); the config class is shipped.
SCALED = {
    "hidden_size": 256, "intermediate_size": 512, "moe_intermediate_size": 128,
    "num_hidden_layers": 2,                      # the first dense (first_k_dense_replace 1), 1 MoE
    "num_attention_heads": 2, "num_key_value_heads": 2,   # Kimi at TP 8: 8 a GPU
    "n_routed_experts": 8, "num_experts_per_tok": 2,
    "q_lora_rank": 192, "kv_lora_rank": 64, "qk_rope_head_dim": 16,   # CPU decode cost: see above
    "max_position_embeddings": 8192,             # yarn: factor 32 × original 256
    "rope_scaling": {**KIMI_K2_CONFIG["rope_scaling"], "original_max_position_embeddings": 256},
    "auto_map": {"AutoConfig": "configuration_deepseek.DeepseekV3Config"},
}

# Variants: the name of the folder a profile serves → what differs from SCALED. Weights and
# tokenizer come from the same seed, so a variant differs only where its shapes do.
VARIANTS: dict[str, dict] = {
    "tiny-kimi": {},
    "tiny-kimi-576": {"kv_lora_rank": KIMI_K2_CONFIG["kv_lora_rank"],          # 512, Kimi's own
                      "qk_rope_head_dim": KIMI_K2_CONFIG["qk_rope_head_dim"]},  # 64: latent 576
}

# Kimi-K2-Instruct's named special tokens and their offsets from the first special id
# (163584 in Kimi); every other offset below 256 is <|reserved_token_N|>, as in Kimi's file.
KIMI_SPECIALS = {
    0: "[BOS]", 1: "[EOS]", 2: "<|im_end|>", 3: "<|im_user|>", 4: "<|im_assistant|>",
    6: "<|start_header_id|>", 7: "<|end_header_id|>", 9: "[EOT]", 10: "<|im_system|>",
    11: "<|tool_calls_section_begin|>", 12: "<|tool_calls_section_end|>",
    13: "<|tool_call_begin|>", 14: "<|tool_call_argument_begin|>", 15: "<|tool_call_end|>",
    17: "<|im_middle|>", 254: "[UNK]", 255: "[PAD]",
}

# Kimi's split pattern is kimi_code/tokenization_kimi.py's PAT_STR. Training splits with a
# stdlib-only approximation (no \p classes); any split is correct at run time, this one only
# shapes which merges are learnt.
_TRAIN_SPLIT = re.compile(r"""[^\r\nA-Za-z0-9]?[A-Za-z]+(?:'s|'t|'re|'ve|'m|'ll|'d)?|[0-9]{1,3}"""
                          r"""| ?[^\sA-Za-z0-9]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+""")

# Kimi's chat template, as its tokenizer_config.json has it (roles, tool declarations, past
# tool calls in its section/call/argument tokens with ids functions.NAME:IDX, tool results).
CHAT_TEMPLATE = (
    "{%- if tools -%}<|im_system|>tool_declare<|im_middle|>{{ tools | tojson }}<|im_end|>"
    "{%- endif -%}"
    "{%- for message in messages -%}"
    "{%- if loop.first and messages[0]['role'] != 'system' -%}"
    "<|im_system|>system<|im_middle|>You are Kimi, an AI assistant created by Moonshot AI.<|im_end|>"
    "{%- endif -%}"
    "{%- if message['role'] == 'system' -%}<|im_system|>system<|im_middle|>"
    "{%- elif message['role'] == 'user' -%}<|im_user|>user<|im_middle|>"
    "{%- elif message['role'] == 'assistant' -%}<|im_assistant|>assistant<|im_middle|>"
    "{%- else -%}<|im_system|>{{ message['role'] }}<|im_middle|>"
    "{%- endif -%}"
    "{%- if message['role'] == 'assistant' and message.get('tool_calls') -%}"
    "{%- if message['content'] -%}{{ message['content'] }}{%- endif -%}"
    "<|tool_calls_section_begin|>"
    "{%- for tool_call in message['tool_calls'] -%}"
    "<|tool_call_begin|>{{ tool_call['id'] }}<|tool_call_argument_begin|>"
    "{%- if tool_call['function']['arguments'] is string -%}{{ tool_call['function']['arguments'] }}"
    "{%- else -%}{{ tool_call['function']['arguments'] | tojson }}{%- endif -%}"
    "<|tool_call_end|>"
    "{%- endfor -%}"
    "<|tool_calls_section_end|>"
    "{%- elif message['role'] == 'tool' -%}"
    "## Return of {{ message['tool_call_id'] }}\n{{ message['content'] }}"
    "{%- elif message['content'] is string -%}{{ message['content'] }}"
    "{%- elif message['content'] is not none -%}"
    "{%- for part in message['content'] -%}"
    "{%- if part['type'] == 'text' -%}{{ part['text'] }}{%- endif -%}"
    "{%- endfor -%}"
    "{%- endif -%}"
    "<|im_end|>"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}<|im_assistant|>assistant<|im_middle|>{%- endif -%}"
)

# --------------------------------------------------------------------------------------------
# tokenizer


def train_bpe(texts: list[str], n_merges: int) -> list[bytes]:
    """Byte-level BPE: the ranked tokens (256 bytes, then one per merge). Words are counted once
    with a weight; ties go to the smallest pair, so the result depends on the text alone."""
    words = Counter(w.encode() for t in texts for w in _TRAIN_SPLIT.findall(t))
    seqs = {w: [bytes([b]) for b in w] for w in words}
    ranks = [bytes([b]) for b in range(256)]
    for _ in range(n_merges):
        pairs: Counter[tuple[bytes, bytes]] = Counter()
        for w, seq in seqs.items():
            n = words[w]
            for a, b in itertools.pairwise(seq):
                pairs[(a, b)] += n
        if not pairs:
            break
        best = max(pairs.items(), key=lambda kv: (kv[1], [-x for x in kv[0][0] + b"\xff" + kv[0][1]]))[0]
        merged = best[0] + best[1]
        ranks.append(merged)
        for w, seq in seqs.items():
            if len(seq) < 2:
                continue
            i, out = 0, []
            while i < len(seq):
                if i + 1 < len(seq) and seq[i] == best[0] and seq[i + 1] == best[1]:
                    out.append(merged)
                    i += 2
                else:
                    out.append(seq[i])
                    i += 1
            seqs[w] = out
    return ranks


def tokenizer_corpus() -> list[str]:
    """The dataset's prose plus the JSON, numbers and tool-call text the runbook sends."""
    texts = corpus()
    texts += [json.dumps({"city": c, "unit": u, "days": d}) for c in ("Paris", "Tokyo", "Berlin")
              for u in ("celsius", "fahrenheit") for d in range(1, 8)]
    texts += ["What is the weather in Paris? Use the get_weather tool.",
              "functions.get_weather:0 functions.get_weather:1", "## Return of"] * 20
    return texts


def special_tokens(first_id: int) -> dict[int, str]:
    return {first_id + k: KIMI_SPECIALS.get(k, f"<|reserved_token_{k}|>") for k in range(N_SPECIAL)}


# --------------------------------------------------------------------------------------------
# weights


def bf16_bytes(x: np.ndarray) -> bytes:
    """float32 → bf16 (round to nearest even), little-endian."""
    bits = np.ascontiguousarray(x, dtype="<f4").view("<u4").astype(np.uint64)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype("<u2")
    return rounded.tobytes()


def weight_shapes(c: dict) -> list[tuple[str, tuple[int, ...], str]]:
    """Every tensor of a DeepseekV3ForCausalLM checkpoint (HF names), with shape and init kind."""
    h, v, heads = c["hidden_size"], c["vocab_size"], c["num_attention_heads"]
    nope, rope, vd = c["qk_nope_head_dim"], c["qk_rope_head_dim"], c["v_head_dim"]
    out: list[tuple[str, tuple[int, ...], str]] = [("model.embed_tokens.weight", (v, h), "w")]
    for i in range(c["num_hidden_layers"]):
        p = f"model.layers.{i}."
        out += [(p + "input_layernorm.weight", (h,), "one"),
                (p + "post_attention_layernorm.weight", (h,), "one"),
                (p + "self_attn.q_a_proj.weight", (c["q_lora_rank"], h), "w"),
                (p + "self_attn.q_a_layernorm.weight", (c["q_lora_rank"],), "one"),
                (p + "self_attn.q_b_proj.weight", (heads * (nope + rope), c["q_lora_rank"]), "w"),
                (p + "self_attn.kv_a_proj_with_mqa.weight", (c["kv_lora_rank"] + rope, h), "w"),
                (p + "self_attn.kv_a_layernorm.weight", (c["kv_lora_rank"],), "one"),
                (p + "self_attn.kv_b_proj.weight", (heads * (nope + vd), c["kv_lora_rank"]), "w"),
                (p + "self_attn.o_proj.weight", (h, heads * vd), "w")]

        def mlp(prefix: str, inter: int) -> list[tuple[str, tuple[int, ...], str]]:
            return [(prefix + "gate_proj.weight", (inter, h), "w"),
                    (prefix + "up_proj.weight", (inter, h), "w"),
                    (prefix + "down_proj.weight", (h, inter), "w")]

        if i < c["first_k_dense_replace"]:
            out += mlp(p + "mlp.", c["intermediate_size"])
        else:
            out += [(p + "mlp.gate.weight", (c["n_routed_experts"], h), "w"),
                    (p + "mlp.gate.e_score_correction_bias", (c["n_routed_experts"],), "bias")]
            for e in range(c["n_routed_experts"]):
                out += mlp(p + f"mlp.experts.{e}.", c["moe_intermediate_size"])
            out += mlp(p + "mlp.shared_experts.", c["moe_intermediate_size"] * c["n_shared_experts"])
    out += [("model.norm.weight", (h,), "one"), ("lm_head.weight", (v, h), "w")]
    return out


def write_safetensors(path: Path, config: dict, seed: int = SEED) -> None:
    rng = np.random.RandomState(seed)  # legacy generator: its stream never changes across numpy versions
    header: dict[str, dict] = {"__metadata__": {"format": "pt"}}  # type: ignore[dict-item]
    blobs: list[bytes] = []
    offset = 0
    for name, shape, kind in weight_shapes(config):
        n = int(np.prod(shape))
        if kind == "one":
            data, dtype = bf16_bytes(np.ones(n, dtype=np.float32)), "BF16"
        elif kind == "bias":  # Kimi keeps the router's correction bias in float32
            data, dtype = (rng.standard_normal(n).astype("<f4") * 0.01).tobytes(), "F32"
        else:
            data = bf16_bytes(rng.standard_normal(n).astype(np.float32) * config["initializer_range"])
            dtype = "BF16"
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    head = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)  # the format aligns the data to 8 bytes
    with open(path, "wb") as fh:
        fh.write(struct.pack("<Q", len(head)) + head)
        for b in blobs:
            fh.write(b)


# --------------------------------------------------------------------------------------------


def tiny_kimi_config(vocab_size: int, bos: int, eos: int, variant: str = "tiny-kimi") -> dict:
    if variant not in VARIANTS:
        raise ValueError(f"unknown tiny-kimi variant {variant!r}: one of {', '.join(VARIANTS)}")
    cfg = dict(KIMI_K2_CONFIG)
    cfg.update(SCALED)
    cfg.update(VARIANTS[variant])
    cfg.update(vocab_size=vocab_size, bos_token_id=bos, eos_token_id=eos)
    return cfg


def make(out: Path, variant: str = "tiny-kimi") -> dict:
    if variant not in VARIANTS:
        raise ValueError(f"unknown tiny-kimi variant {variant!r}: one of {', '.join(VARIANTS)}")
    out.mkdir(parents=True, exist_ok=True)
    ranks = train_bpe(tokenizer_corpus(), N_MERGES)
    (out / "tiktoken.model").write_text(
        "".join(f"{base64.b64encode(tok).decode()} {i}\n" for i, tok in enumerate(ranks)))
    specials = special_tokens(len(ranks))
    inv = {t: i for i, t in specials.items()}
    vocab_size = len(ranks) + N_SPECIAL
    added = {str(i): {"content": t, "lstrip": False, "normalized": False, "rstrip": False,
                      "single_word": False, "special": True} for i, t in specials.items()}
    tok_cfg = {
        "added_tokens_decoder": added,
        "additional_special_tokens": [t for t in KIMI_SPECIALS.values()
                                      if t not in ("[BOS]", "[EOS]", "[UNK]", "[PAD]")],
        "auto_map": {"AutoTokenizer": ["tokenization_kimi.TikTokenTokenizer", None]},
        "bos_token": "[BOS]", "chat_template": CHAT_TEMPLATE, "clean_up_tokenization_spaces": False,
        "eos_token": "[EOS]", "extra_special_tokens": {}, "model_max_length": 1048576,
        "pad_token": "[PAD]", "tokenizer_class": "TikTokenTokenizer", "unk_token": "[UNK]",
    }
    config = tiny_kimi_config(vocab_size, inv["[BOS]"], inv["[EOS]"], variant)
    files = {
        "config.json": json.dumps(config, indent=2, sort_keys=True) + "\n",
        "generation_config.json": json.dumps(
            {"bos_token_id": inv["[BOS]"], "eos_token_id": inv["[EOS]"], "max_length": 8192,
             "do_sample": True, "temperature": 0.6}, indent=2, sort_keys=True) + "\n",
        "tokenizer_config.json": json.dumps(tok_cfg, indent=2, sort_keys=True) + "\n",
        # Kimi's remote code, as real files beside this script (ruff-checked, imported by tests).
        **{f.name: f.read_text() for f in sorted(KIMI_CODE.glob("*.py")) if f.name != "__init__.py"},
        "README.md": (f"# {variant}\n\nKimi-K2-Instruct's architecture (DeepseekV3: MLA + MoE, "
                      "Kimi's routing) and tokenizer kind (tiktoken through trust_remote_code), "
                      "scaled down, random bf16 weights. Generated by the runbook's make_kimi.py; "
                      "answers are noise. For plumbing and speed tests only.\n"),
    }
    for name, text in files.items():
        (out / name).write_text(text)
    write_safetensors(out / "model.safetensors", config)
    return {"vocab_size": vocab_size, "ranks": len(ranks)}


def main() -> None:
    if len(sys.argv) not in (2, 3) or (len(sys.argv) == 3 and sys.argv[2] not in VARIANTS):
        sys.exit(__doc__.splitlines()[-1])
    variant = sys.argv[2] if len(sys.argv) == 3 else "tiny-kimi"
    info = make(Path(sys.argv[1]), variant)
    print(f"wrote {variant} to {sys.argv[1]} ({info['ranks']} BPE ranks, vocab {info['vocab_size']})")


if __name__ == "__main__":
    main()
