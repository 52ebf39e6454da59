"""tools/closed_loop_runs/ttft_little_split.py: Little's law per triple by hand, the exact split of the TTFT error, the
two counterfactuals, the bound test, the interpolation and the fixed point of a decode pool fed at a given rate."""

from __future__ import annotations

import math

import pytest

from conftest import load_tool


@pytest.fixture(scope="module")
def tls():
    return load_tool("ttft_little_split")


def test_side_by_hand(tls):
    # 921.6 tokens/s over a mean output of 0.9 x 1024 = 921.6 tokens: 1 request/s; E2E = 1 + 920.6 x 0.01 = 10.206 s
    s = tls.side(921.6, 1.0, 0.01, 10.0, 1024)
    assert s["x_rps"] == pytest.approx(1.0)
    assert s["e2e_s"] == pytest.approx(10.206)
    assert s["r"] == pytest.approx(1.0206)
    assert s["n_first"] == pytest.approx(1.0)
    assert s["n_decode"] == pytest.approx(9.206)
    with pytest.raises(ValueError, match="must be > 0"):
        tls.side(0.0, 1.0, 0.01, 10.0, 1024)


def test_split_is_exact_and_counterfactuals_by_hand(tls):
    meas = tls.side(921.6, 2.0, 0.02, 20.0, 1024)  # X 1, E2E 20.412, r 1.0206
    sim = tls.side(1843.2, 0.5, 0.01, 20.0, 1024)  # X 2, E2E 9.706, r 0.9706
    sp = tls.little_split(meas, sim, 20.0, 1024)
    assert sp["ttft_gap_s"] == pytest.approx(1.5)
    assert sp["loop_gap_s"] == pytest.approx(20.412 - 9.706)  # 10.706
    assert sp["decode_gap_s"] == pytest.approx(920.6 * 0.01)  # 9.206
    assert sp["loop_gap_s"] - sp["decode_gap_s"] == pytest.approx(sp["ttft_gap_s"])
    assert sp["cf_rate_s"] == pytest.approx(20 * 0.9706 / 1.0 - 920.6 * 0.01)  # 10.206
    assert sp["cf_decode_s"] == pytest.approx(9.706 - 920.6 * 0.02)  # -8.706
    assert sp["ttft_share"] == pytest.approx(2.0 / 20.412)


def test_bound(tls):
    meas = {"n_decode": 100.0, "x_rps": 10.0}
    assert tls.bound(meas, {"n_decode": 105.0, "x_rps": 13.0}) == "decode"  # holds the same, rate differs
    assert tls.bound(meas, {"n_decode": 130.0, "x_rps": 13.0}) == "first"
    assert tls.bound(meas, {"n_decode": 101.0, "x_rps": 10.5}) == "first"  # nothing differs by more than the band


def test_counterfactual_class(tls):
    assert tls.counterfactual_class(True, 0.0, 0.0, 35.0) == "light"
    assert tls.counterfactual_class(False, 10.0, -50.0, 35.0) == "rate"
    assert tls.counterfactual_class(False, 50.0, -10.0, 35.0) == "decode"
    assert tls.counterfactual_class(False, 10.0, -10.0, 35.0) == "either"
    assert tls.counterfactual_class(False, 40.0, -40.0, 35.0) == "neither"


def test_interp_extrap(tls):
    pts = [(1.0, 10.0), (2.0, 20.0), (2.0, 20.0), (4.0, 20.0)]  # a repeated point counts once
    assert tls.interp_extrap(pts, 0.0) == pytest.approx(0.0)  # along (1, 10)-(2, 20)
    assert tls.interp_extrap(pts, 1.5) == pytest.approx(15.0)
    assert tls.interp_extrap(pts, 3.0) == pytest.approx(20.0)
    assert tls.interp_extrap(pts, 5.0) == pytest.approx(20.0)
    assert tls.interp_extrap([(3.0, 7.0), (3.0, 9.0)], 10.0) == pytest.approx(8.0)  # one x: the mean of its ys
    with pytest.raises(ValueError, match="no points"):
        tls.interp_extrap([], 1.0)


def test_prefill_fixed_ttft_by_hand(tls):
    # TPOT = 10 ms + 0.1 ms a request a decode GPU, 10 decode GPUs, 1 request/s, mean output 921.6:
    # N = 920.6 (0.01 + 1e-4 N / 10) -> N = 9.206 / (1 - 0.009206) = 9.29154; TTFT = (100 x 1 - N) / 1
    curve = [(0.0, 0.01), (100.0, 0.02)]
    n = 9.206 / (1 - 0.009206)
    assert tls.prefill_fixed_ttft(100.0, 1.0, 1.0, 1024, 10, curve) == pytest.approx(100.0 - n, rel=1e-6)
    # 20 requests/s: N = 184.12 + 0.18412 N = 225.7 > C r = 100: the decode cannot carry it
    assert math.isnan(tls.prefill_fixed_ttft(100.0, 1.0, 20.0, 1024, 10, curve))


def test_pool_gpus(tls):
    assert tls.pool_gpus("imax-dsr1-gb200-dynamo-sglang-fp4-disagg-p16x1e1dpa-d32x1e1dpa-1024-1024-c8192") == (16, 32)
    assert tls.pool_gpus("imax-dsr1-0528-gb200-dynamo-trt-fp4-disagg-p4x4e4-d32x8e8-1024-1024-c4") == (4, 32)
    assert tls.pool_gpus("imax-dsr1-b200-sglang-fp8-tp8ep1-1024-1024-c4") is None
