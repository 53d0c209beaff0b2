"""Fuzz the result parser on mutated real outputs: it parses or raises ResultParseError, never
crashes with a bare exception."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings, strategies as st

from runbook.core.errors import ResultParseError
from runbook.judge.reference import load_reference
from runbook.measure.results import format_block, parse_text

REF = load_reference()
BLOCK = format_block(REF.loc["high"].to_dict())
LINE = json.dumps({k: (None if isinstance(v, float) and v != v else v)
                   for k, v in REF.loc["low"].to_dict().items()
                   if isinstance(v, (int, float, str, type(None)))})


def _mutate(text: str, ops: list[tuple[int, int, str]]) -> str:
    chars = list(text)
    for kind, pos, s in ops:
        if not chars:
            break
        i = pos % len(chars)
        if kind == 0:
            del chars[i:i + len(s) + 1]
        elif kind == 1:
            chars[i:i] = list(s)
        else:
            chars[i] = s[:1] or chars[i]
    return "".join(chars)


OPS = st.lists(st.tuples(st.integers(0, 2), st.integers(0, 10_000), st.text(max_size=6)), max_size=8)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(OPS, st.booleans())
def test_parser_never_crashes_on_mutations(ops, jsonl):
    text = _mutate(LINE if jsonl else BLOCK, ops)
    try:
        rows = parse_text(text, "fuzz")
    except ResultParseError:
        return
    assert rows and all(isinstance(r, dict) for r in rows)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, len(BLOCK.splitlines()) - 1))
def test_truncated_blocks_name_the_line(cut):
    text = "\n".join(BLOCK.splitlines()[:cut])
    try:
        parse_text(text, "run.log")
    except ResultParseError as e:
        assert "run.log" in str(e)
