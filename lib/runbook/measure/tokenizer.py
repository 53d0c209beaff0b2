"""The local tokenizer a client uses where it makes prompts itself (the builtin runner): the ids of
ordinary tokens (from ``tokenizer.json``, or Kimi K2's ``tiktoken.model``), the tokenizer itself
(``tokenizers``, or transformers' AutoTokenizer with remote code, as the server loads Kimi's), and
text that encodes to an exact number of tokens."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from runbook.core.errors import BenchError


def vocab_ids(tokenizer: str | None, fallback: int = 1000) -> np.ndarray:
    """Ids of ordinary tokens: from tokenizer.json (or a tiktoken.model, as Kimi K2 ships) when
    there is one, else 100..fallback."""
    if tokenizer:
        path = Path(tokenizer)
        tiktoken_file = path / "tiktoken.model"
        if path.is_dir() and not (path / "tokenizer.json").is_file() and tiktoken_file.is_file():
            n = sum(1 for line in tiktoken_file.read_text().splitlines() if line.strip())
            return np.arange(n // 10, n)  # BPE ranks (specials follow them), byte alphabet skipped
        tj = path / "tokenizer.json" if path.is_dir() else path
        if tj.is_file():
            data = json.loads(tj.read_text())
            vocab = data.get("model", {}).get("vocab", {})
            special = {t["id"] for t in data.get("added_tokens", [])}
            ids = sorted(i for i in vocab.values() if i not in special)
            if ids:
                return np.asarray(ids[len(ids) // 10:] or ids)  # skip the byte alphabet
    return np.arange(100, fallback)


class LocalTokenizer:
    """The local tokenizer, for text prompts: a ``tokenizer.json`` through ``tokenizers``, or a
    model folder whose tokenizer is remote code (Kimi K2's tiktoken one) through transformers'
    AutoTokenizer with trust_remote_code — as the server and bench_serving load it."""

    def __init__(self, path: str | None) -> None:
        p = Path(path) if path else None
        tj = (p / "tokenizer.json" if p is not None and p.is_dir() else p)
        self.tok: Any = None
        self.hf: Any = None
        if tj is not None and tj.is_file() and tj.suffix == ".json":
            from tokenizers import Tokenizer

            self.tok = Tokenizer.from_file(str(tj))
        elif p is not None and (p / "tokenizer_config.json").is_file():
            from transformers import AutoTokenizer

            self.hf = AutoTokenizer.from_pretrained(str(p), trust_remote_code=True)
        else:
            raise BenchError(
                f"text prompts need the model's tokenizer (tokenizer.json, or tokenizer_config.json "
                f"with its files); none at {path!r}",
                hint="set target.tokenizer to the model folder, or benchmark.prompt_format=token_ids")

    def encode(self, text: str) -> list[int]:
        if self.hf is not None:
            return list(self.hf.encode(text, add_special_tokens=False))
        return self.tok.encode(text, add_special_tokens=False).ids

    def decode(self, ids: list[int]) -> str:
        if self.hf is not None:
            return self.hf.decode(ids, skip_special_tokens=False)
        return self.tok.decode(ids, skip_special_tokens=False)


def text_prompt(tok: LocalTokenizer, ids: list[int], n: int, vocab: np.ndarray,
                rng: np.random.RandomState, tries: int = 8) -> tuple[str, int]:
    """Text that the tokenizer encodes to ``n`` tokens, when it can be found; else the closest.
    Decoding ids and encoding the text back need not round-trip (merges across the joins), so
    the canonical ids are trimmed or topped up until the lengths agree. Returns the text and
    its length in tokens (the prompt length the result reports, as bench_serving's does)."""
    best: tuple[str, int] | None = None
    for _ in range(tries):
        text = tok.decode(ids)
        got = tok.encode(text)
        if len(got) == n:
            return text, n
        if best is None or abs(len(got) - n) < abs(best[1] - n):
            best = (text, len(got))
        ids = got[:n] if len(got) > n else got + rng.choice(vocab, size=n - len(got)).tolist()
    assert best is not None
    return best
