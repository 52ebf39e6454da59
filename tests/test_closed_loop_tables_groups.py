"""tools/closed_loop/closed_loop_tables.py --groups: LOAO errors grouped by a capture of the case id."""

from __future__ import annotations

import pytest

from conftest import load_tool


@pytest.fixture(scope="module")
def clt():
    return load_tool("closed_loop_tables")


def test_rows_are_grouped_by_the_format_in_their_id(clt):
    loao = [({"case_id": "imax-dsr1-gb200-dynamo-sglang-fp8-disagg-x-c4-r1-tpot", "metric": "tpot_ms"}, 30.0),
            ({"case_id": "imax-dsr1-gb200-dynamo-sglang-fp8-disagg-x-c8-r1-tpot", "metric": "tpot_ms"}, -10.0),
            ({"case_id": "imax-dsr1-gb200-dynamo-sglang-fp4-disagg-x-c4-r1-ttft", "metric": "ttft_ms"}, 5.0),
            ({"case_id": "imax-dsr1-b200-sglang-fp8-tp8-c4-r1-tpot", "metric": "tpot_ms"}, 99.0)]  # not Dynamo
    assert clt.grouped(loao, "dynamo-sglang-(fp[48])-") == [("fp8", "tpot_ms", 30.0), ("fp8", "tpot_ms", -10.0),
                                                             ("fp4", "ttft_ms", 5.0)]


def test_a_pattern_without_a_group_is_refused_naming_the_option(clt):
    with pytest.raises(ValueError, match="--groups"):
        clt.grouped([], "dynamo")


def test_stats_decimals_by_hand(clt, monkeypatch):
    # |e| 1, 2, 4: median 2, p90 3.6 (numpy's linear percentile: 2 + 0.8 x 2), signed median -1 of (-1, 2, -4)
    assert clt.stats([-1.0, 2.0, -4.0]) == "3 | 2.0 | 3.6 | -1.0"
    monkeypatch.setattr(clt, "DECIMALS", [2])
    assert clt.stats([-1.0, 2.0, -4.0]) == "3 | 2.00 | 3.60 | -1.00"
