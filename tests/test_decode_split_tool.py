"""tools/step_model/decode_split.py: configurations, per-sequence increments and measured medians by hand."""

from __future__ import annotations

import pytest
from tests.conftest import load_tool

ds = load_tool("decode_split")


def test_configuration_drops_clients_run_and_metric() -> None:
    cid = "imax-gptoss120b-b200-trt-trt-fp4-tp2ep1-1024-8192-c64-r20286968709-tpot"
    assert ds.configuration(cid) == "imax-gptoss120b-b200-trt-trt-fp4-tp2ep1-1024-8192"
    assert ds.configuration(cid.replace("-c64-", "-c8-")) == ds.configuration(cid)


def test_increments_by_hand() -> None:
    # 2.0 ms at 4, 3.0 at 8, 4.6 at 16: 0.25 and 0.2 ms per added sequence
    assert ds.increments([4, 8, 16], [2.0, 3.0, 4.6]) == [None, pytest.approx(0.25), pytest.approx(0.2)]


def test_measured_median_per_clients_of_one_configuration() -> None:
    rows = [("x-a-c4-r1-tpot", 4, 2.0), ("x-a-c4-r2-tpot", 4, 4.0), ("x-a-c8-r1-tpot", 8, 5.0),
            ("x-b-c4-r1-tpot", 4, 9.0)]  # another configuration
    assert ds.measured_tpot(rows, "x-a") == {4: 3.0, 8: 5.0}
