"""The workload fingerprint: bench_serving 0.5.7's seeded random length draw, exactly.

``--dataset-name random`` seeds ``random`` and ``numpy.random`` with ``--seed`` (default 1 in
0.5.7; 0.5.23 changed it to 42), then draws the input lengths and THEN the output lengths, each
``np.random.randint(max(int(L * range_ratio), 1), L + 1, size=num_prompts)``. The totals of those
draws identify a workload: a result whose token totals differ did not run the stated workload.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class Workload:
    num_prompts: int
    input_len: int
    output_len: int
    range_ratio: float = 0.0
    seed: int = 1


def random_lengths(w: Workload) -> tuple[np.ndarray, np.ndarray]:
    """Per-request (input_lens, output_lens) as bench_serving 0.5.7 draws them."""
    # RandomState(seed) is the generator np.random.seed(seed) installs globally; using our own
    # instance gives the same stream without touching the caller's global RNG.
    rng = np.random.RandomState(w.seed)
    inp = rng.randint(max(int(w.input_len * w.range_ratio), 1), w.input_len + 1, size=w.num_prompts)
    out = rng.randint(max(int(w.output_len * w.range_ratio), 1), w.output_len + 1,
                      size=w.num_prompts)
    return inp, out


def fingerprint(w: Workload) -> dict[str, int | float]:
    inp, out = random_lengths(w)
    return {**asdict(w), "total_input_tokens": int(inp.sum()), "total_output_tokens": int(out.sum())}
