"""tools/step_model/decode_intake_rows.py: the request rate of a closed loop and the requests taken in per decode
iteration, by hand."""

from __future__ import annotations

import pytest
from tests.conftest import load_tool


@pytest.fixture(scope="module")
def dr():
    return load_tool("decode_intake_rows")


def test_rates_by_hand(dr):
    # 170,000 output tokens/s of 1,024-token outputs drawn in [819, 1024] (mean 921.6): 184.5 requests/s
    assert dr.requests_per_s(170_000.0, 1024) == pytest.approx(170_000.0 / 921.6)
    # 184 requests/s at a 46 ms decode step: 8.46 requests per iteration; at 25.6 ms, 4.71
    assert dr.per_iteration(184.0, 46.0) == pytest.approx(8.464)
    assert dr.per_iteration(184.0, 25.6) == pytest.approx(4.7104)
    assert dr.per_iteration(0.0, 46.0) == 0.0
