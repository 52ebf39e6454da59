"""tools/step_model/prefill_step_classes.py: argument parsing and the causal pairs, by hand."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools" / "step_model"))
from prefill_step_classes import causal_pairs, parse_prompts  # noqa: E402


def test_parse_prompts():
    assert parse_prompts("922x8, 7373x1") == ((922, 8), (7373, 1))
    for bad in ("922", "0x8", "922x0", "axb", ""):
        with pytest.raises(ValueError):
            parse_prompts(bad)


def test_causal_pairs_by_hand():
    # 3 prompts of 4 tokens: 3 x (1 + 2 + 3 + 4) = 30
    assert causal_pairs(4, 3) == 30.0
    assert causal_pairs(7373, 1) == pytest.approx(7373 * 7374 / 2)
