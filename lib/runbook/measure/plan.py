"""What a tier sends, planned as bench_serving 0.5.7 plans it: the same seeded input and output
lengths (``runbook.measure.workload``), prompts of exact token length (token ids, or text made
with the local tokenizer), and the request gaps (rate inf: none; a finite rate: exponential gaps
from the same NumPy stream right after the lengths)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from runbook.core.schema import TierRun
from runbook.measure.tokenizer import LocalTokenizer, text_prompt, vocab_ids
from runbook.measure.workload import Workload

PROMPT_SEED_OFFSET = 7919  # prompt token ids come from their own stream, lengths stay exact


@dataclass
class Plan:
    """What a tier sends: prompts and their lengths in tokens (as planned, and as made)."""

    prompts: list[list[int]] | list[str]
    prompt_lens: list[int]
    planned_lens: list[int]
    out_lens: list[int]
    gaps: list[float]

    @property
    def exact(self) -> int:
        return sum(a == b for a, b in zip(self.prompt_lens, self.planned_lens, strict=True))


def make_plan(spec: TierRun, text: bool = False) -> Plan:
    """Prompts (token ids, or text when ``text``) with their lengths, output lengths, gaps."""
    w = Workload(spec.num_prompts, spec.input_len, spec.output_len, spec.range_ratio, spec.seed)
    rng = np.random.RandomState(w.seed)
    lo_in = max(int(w.input_len * w.range_ratio), 1)
    lo_out = max(int(w.output_len * w.range_ratio), 1)
    in_lens = rng.randint(lo_in, w.input_len + 1, size=w.num_prompts)
    out_lens = rng.randint(lo_out, w.output_len + 1, size=w.num_prompts)
    # bench_serving draws its Poisson gaps from the global NumPy stream after the lengths.
    gaps = ([0.0] * w.num_prompts if math.isinf(spec.request_rate)
            else [float(rng.exponential(1.0 / spec.request_rate)) for _ in range(w.num_prompts)])
    ids = vocab_ids(spec.tokenizer)
    planned = [int(n) for n in in_lens]
    outs = [int(x) for x in out_lens]
    prng = np.random.RandomState(w.seed + PROMPT_SEED_OFFSET)
    if not text:
        prompts = [prng.choice(ids, size=n).tolist() for n in planned]
        return Plan(prompts, planned, planned, outs, gaps)
    tok = LocalTokenizer(spec.tokenizer)
    # Only tokens that are whole characters on their own: a byte-level vocabulary's partial
    # UTF-8 pieces decode to U+FFFD, which never encodes back to them.
    ids = np.asarray([i for i in ids.tolist() if "\ufffd" not in tok.decode([i])])
    made = [text_prompt(tok, prng.choice(ids, size=n).tolist(), n, ids, prng) for n in planned]
    return Plan([t for t, _ in made], [n for _, n in made], planned, outs, gaps)
