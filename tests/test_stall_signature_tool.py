"""tools/ttft/stall_signature.py: the implied first-wave wait, the throughput of a run that stopped once,
the least mean a run's median and p99 allow (by hand and against numpy on random samples), the case-id split, and
one flagged run of the shipped case file."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import load_tool

ss = load_tool("stall_signature")


def test_implied_wait_by_hand():
    # FP4 TP4 1k/1k at 32 clients, run 20286929996: mean 7,014 ms, median 389 ms, 320 prompts
    # (7014 - 389) ms x 320 / 32 = 66.25 s, against its p99 - median of 68.7 s
    assert ss.implied_wait_s(7014.0, 389.0, 32, 320) == pytest.approx(66.25)


def test_stalled_throughput_by_hand():
    # sibling: 1,000 tok/s, mean E2E 20 s, 320 prompts over 32 clients -> span 200 s; one stop of 70 s: 200 / 270
    assert ss.stalled_throughput(1000.0, 20.0, 32, 320, 70.0) == pytest.approx(740.7407, rel=1e-6)
    assert ss.stalled_throughput(1000.0, 20.0, 32, 320, 0.0) == pytest.approx(1000.0)


def test_least_mean_by_hand():
    # N = 40: h = 38.61, i = 38, f = 0.61; v_19..v_37 (19 values) at the median 527, v_38 = 527,
    # v_39 = (69,660 - 0.39 x 527) / 0.61 = 113,859.8; sum 19 x 527 + 527 + 113,859.8 = 124,399.8 -> 3,110.0 ms
    assert ss.min_mean_ms(527.0, 69660.0, 40) == pytest.approx(3110.0, abs=0.1)
    # N = 640: i = 632, f = 0.61; the top 8 values at the p99 is the cheaper bound:
    # (632 - 319) x 458 + 69,660 + 7 x 69,660 = 143,354 + 557,280 = 700,634 -> 1,094.7 ms
    assert ss.min_mean_ms(458.0, 69660.0, 640) == pytest.approx(700634.0 / 640, rel=1e-9)
    with pytest.raises(ValueError, match="prompts = 5"):
        ss.min_mean_ms(1.0, 2.0, 5)


@settings(max_examples=200, deadline=None)
@given(n=st.integers(6, 700), seed=st.integers(0, 2**31 - 1), heavy=st.floats(0.0, 0.3))
def test_no_sample_has_a_mean_below_the_bound(n, seed, heavy):
    rng = np.random.default_rng(seed)
    v = rng.exponential(0.5, n)
    k = int(heavy * n)
    v[:k] += rng.uniform(0.0, 100.0, k)  # a stalled share
    lb = ss.min_mean_ms(float(np.median(v)), float(np.percentile(v, 99)), n)
    assert float(np.mean(v)) >= lb * (1 - 1e-9) - 1e-12


def test_the_bound_is_reached():
    # the extremal sample itself: N = 40, median 527, p99 69,660, its mean is the bound
    v = [0.0] * 19 + [527.0] * 20 + [(69660.0 - 0.39 * 527.0) / 0.61]
    assert np.median(v) == pytest.approx(527.0)
    assert np.percentile(v, 99) == pytest.approx(69660.0)
    assert np.mean(v) == pytest.approx(ss.min_mean_ms(527.0, 69660.0, 40))


def test_config_key():
    cfg, run = ss.config_key("imax-dsr1-0528-b200-sglang-fp8-tp4ep1-8192-1024-c4-r20860620516-ttft")
    assert (cfg, run) == ("imax-dsr1-0528-b200-sglang-fp8-tp4ep1-8192-1024-c4", "20860620516")
    with pytest.raises(ValueError, match="no '-r<run>-<metric>' suffix"):
        ss.config_key("imax-dsr1-0528-b200-sglang-fp8-tp4ep1-8192-1024-c4")


def test_a_shipped_flagged_run():
    rs = {(r["cfg"], r["run"]): r for r in ss.runs(ss.SHIPPED, "sglang", "b200")}
    r = rs[("imax-dsr1-0528-b200-sglang-fp4-tp4ep4-1024-1024-c32", "20286929996")]
    assert (r["C"], r["N"], r["stall"] is not None) == (32, 320, True)
    assert ss.implied_wait_s(r["mean"], r["median"], r["C"], r["N"]) == pytest.approx(66.25, abs=0.02)


def test_two_point_by_hand():
    # a share 0.1 waited 70 s more: mean - median = 7 s, variance 0.1 x 0.9 x 70^2 = 441 s^2 -> (441 + 49) / 7 = 70
    share, wait = ss.two_point(7.5, 0.5, 441.0)
    assert (share, wait) == (pytest.approx(0.1), pytest.approx(70.0))
    with pytest.raises(ValueError, match="need a positive excess"):
        ss.two_point(0.5, 0.5, 1.0)


@given(n=st.integers(10, 1000), k=st.integers(1, 9), d=st.floats(1.0, 200.0), m=st.floats(0.01, 5.0))
def test_two_point_recovers_a_planted_wait(n, k, d, m):
    v = np.full(n, m)
    v[:k] += d
    share, wait = ss.two_point(float(np.mean(v)), m, float(np.var(v)))
    assert share * n == pytest.approx(k, rel=1e-6)
    assert wait == pytest.approx(d, rel=1e-6)


def test_paused_share_by_hand():
    # 1.25 % of the streams paused: TPOT + 0.076 s; variance 0.0125 x 0.9875 x 0.076^2 = 7.1297e-5
    assert ss.paused_share(0.0125 * 0.9875 * 0.076**2, 0.076) == pytest.approx(0.0125)
    assert ss.paused_share(0.0, 0.076) == 0.0
    assert ss.paused_share(1.0, 0.076) == 0.5
    with pytest.raises(ValueError, match="gap = 0"):
        ss.paused_share(1.0, 0.0)


def test_the_std_file_reads(capsys):
    ss.report_std(str(ss.SHIPPED.parents[3] / "docs" / "data" / "imax_b200_sglang_stall_std.csv"))
    out = capsys.readouterr().out
    # the C = 8 TP4 8k run of 20860620516: 7.1 requests waited 69.0 s for the first token, 0.9 stream paused: all 8
    assert "r20860620516 TP4 8192/1024 C8   N80  : waited   7.1 x  69.0 s, paused   0.9;   8.0 of 8" in out
    assert out.count("record inconsistent") == 2
