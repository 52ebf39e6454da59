"""tools/ttft/request_time_groups.py: a row's group, the request path a run's stated median implies, the request
time a row ran with, and the stated medians read from case notes, by hand."""

from __future__ import annotations

import pytest
from tests.conftest import load_tool

rg = load_tool("request_time_groups")


def test_group_key_by_hand():
    k = rg.group_key("imax-dsr1-0528-mi355x-sglang-fp4-tp8ep1-1024-1024-c8-r20248091324-ttft", "amd-mi355x")
    assert k == ("mi355x", "agg", 1024, "c1-8")
    k = rg.group_key("imax-dsr1-0528-mi355x-sglang-fp8-disagg-dpa-8192-1024-c1024-r1-ttft", "amd-mi355x")
    assert k == ("mi355x", "pd", 8192, "c9+")
    assert rg.group_key("x-h200-sglang-fp8-tp8-1024-8192-c9-r1-ttft", "nvidia-h200-sxm-141gb")[3] == "c9+"
    with pytest.raises(SystemExit, match="no -ISL-OSL-cC-"):
        rg.group_key("no-lengths-here", "amd-mi300x")


def test_implied_path_by_hand():
    # measured median 81 ms; simulated median 223 ms of which 165 ms was the request time: work 58 ms -> path 23 ms
    assert rg.implied_path_s(81.0, 223.0, 0.165) == pytest.approx(0.023)
    # a simulated median without a request time leaves the whole gap
    assert rg.implied_path_s(120.0, 100.0, 0.0) == pytest.approx(0.020)


def test_request_time_as_run_by_hand():
    x = {"r0": 0.165, "e0": 0.0, "sim": {"recipe_request_own_s": 0.3048}}
    assert rg.request_s_as_run(x) == pytest.approx(0.4698)
    assert rg.request_s_as_run({"r0": 0.1, "e0": 0.05, "sim": {}}) == pytest.approx(0.15)


def test_stated_medians_from_notes(tmp_path):
    f = tmp_path / "cases.csv"
    f.write_text("case_id,notes\n"
                 "a,\"x; TTFT spread of the run: median 75.4 ms, p99 21504.8 ms (median_ttft)\"\n"
                 "b,no spread stated\n")
    assert rg.stated_medians(f) == {"a": 75.4}
