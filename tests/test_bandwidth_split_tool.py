"""tools/step_model/bandwidth_split.py: the split of a step into a bandwidth-scaling and a fixed part, by hand."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.conftest import load_tool

bs = load_tool("bandwidth_split")


def test_split_by_hand() -> None:
    # 3 ms moving bytes and 7 ms not, on 3.35 TB/s; on 4.8 TB/s the 3 ms become 3 x 3.35 / 4.8 = 2.09375 ms.
    x, y = bs.bandwidth_split(10.0e-3, 9.09375e-3, 3.35, 4.8)
    assert x == pytest.approx(3.0e-3)
    assert y == pytest.approx(7.0e-3)


def test_limits() -> None:
    # all bandwidth: the times scale by the bandwidth ratio; no bandwidth: the times are equal
    assert bs.bandwidth_split(4.8, 3.35, 3.35, 4.8) == pytest.approx((4.8, 0.0))
    assert bs.bandwidth_split(5.0, 5.0, 3.35, 4.8) == pytest.approx((0.0, 5.0))
    with pytest.raises(ValueError, match="bw_slow < bw_fast"):
        bs.bandwidth_split(1.0, 1.0, 4.8, 3.35)


@given(x=st.floats(0.0, 1.0), y=st.floats(0.0, 1.0), ratio=st.floats(1.01, 4.0))
def test_recovers_the_parts(x: float, y: float, ratio: float) -> None:
    got = bs.bandwidth_split(x + y, x / ratio + y, 1.0, ratio)
    assert got == pytest.approx((x, y), abs=1e-9)


def test_groups_pair_rows_by_everything_but_the_chip() -> None:
    base = {"model": "m", "software": "vLLM", "tp": "2", "ep": "1", "input_tokens": "1024", "output_tokens": "1024",
            "concurrency": "4", "metric": "tpot_ms"}
    rows = [{**base, "case_id": "a", "accelerator": "slow"}, {**base, "case_id": "b", "accelerator": "fast"},
            {**base, "case_id": "c", "accelerator": "slow", "concurrency": "8"},  # no partner
            {**base, "case_id": "d", "accelerator": "fast", "metric": "ttft_ms"}]
    g = bs.groups(rows, "slow", "fast")
    assert list(g.values()) == [{"slow": ["a"], "fast": ["b"]}]
