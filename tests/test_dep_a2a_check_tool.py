"""tools/step_model/dep_a2a_check.py: the one-sided all-to-all's blog-18 price and the DEP / DTP pairing, by hand."""

from __future__ import annotations

import math

import pytest

from conftest import load_tool


@pytest.fixture(scope="module")
def tool():
    return load_tool("dep_a2a_check")


def test_blog18_line_reproduces_its_table(tool):
    # EP 8, 2,048 tokens of hidden 7168 BF16 sent to min(8, 8) ranks: 311.8 us dispatch, 322.6 us combine
    logical = 2048 * 8 * 7168 * 2
    assert tool.one_sided_call_s(logical, tool.DISPATCH_FLOOR_S, tool.DISPATCH_BYTES_PER_S) == pytest.approx(
        311.8e-6, rel=2e-3)
    assert tool.one_sided_call_s(logical, tool.COMBINE_FLOOR_S, tool.COMBINE_BYTES_PER_S) == pytest.approx(
        322.6e-6, rel=2e-3)
    assert tool.one_sided_call_s(logical / 2, tool.DISPATCH_FLOOR_S, tool.DISPATCH_BYTES_PER_S) == pytest.approx(
        166.3e-6, rel=2e-3)


def test_bytes_per_token_by_hand(tool):
    # gpt-oss: 36 layers x ranks reached x (2880 x 33/32 + 4 x 8 B at 807 GB/s + 2880 x 2 B at 799 GB/s)
    ranks = 2 * (1 - math.comb(64, 4) / math.comb(128, 4))
    want = 36 * ranks * ((2880 * 33 / 32 + 32) / 807e9 + 5760 / 799e9)
    assert tool.one_sided_s_per_token(2880, 128, 4, 2, 36) == pytest.approx(want, rel=1e-12)
    assert tool.one_sided_s_per_token(2880, 128, 4, 1, 36) < tool.one_sided_s_per_token(2880, 128, 4, 2, 36)


def test_prompt_tokens_per_step(tool):
    assert tool.prompt_tokens_per_step(64, 8192, 1024) == pytest.approx(512.0)
    assert tool.prompt_tokens_per_step(128, 1024, 8192) == pytest.approx(16.0)


def test_pairs_groups_dep_and_dtp(tool):
    stem = "imax-gptoss120b-b200-trt-trt-fp4"
    cases = [{"case_id": f"{stem}-tp2ep2-dpa-8192-1024-c64-r1-tpot", "measured": 9.0},
             {"case_id": f"{stem}-tp2ep2-dpa-8192-1024-c64-r2-tpot", "measured": 10.0},
             {"case_id": f"{stem}-tp2ep1-dpa-8192-1024-c64-r3-tpot", "measured": 7.0},
             {"case_id": f"{stem}-tp2ep1-8192-1024-c64-r3-tpot", "measured": 1.0},  # no attention DP: not paired
             {"case_id": f"{stem}-tp4ep2-dpa-8192-1024-c64-r3-tpot", "measured": 1.0}]  # neither layout
    got = tool.pairs(cases)
    assert list(got) == [(2, 8192, 1024, 64)]
    assert got[(2, 8192, 1024, 64)]["dep"]["tpot"] == [9.0, 10.0]
    assert got[(2, 8192, 1024, 64)]["dtp"]["tpot"] == [7.0]
