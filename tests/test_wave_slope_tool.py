"""tools/ttft/wave_slope.py: the first wave's marginal cost per prompt and its fixed part, by hand, the front share,
and the configurations it reads from a validate JSON."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.conftest import load_tool

ws = load_tool("wave_slope")


def _id(c: int, run: int = 1) -> str:
    return f"imax-dsr1-0528-mi355x-atom-fp8-tp8ep1-8192-1024-c{c}-r{run}-ttft"


def _case(c: int, mean: float, med: float, p99: float, run: int = 1) -> dict:
    return {"case_id": _id(c, run), "status": "ok", "measured": 1.0 * c, "replicas": 1,
            "sim": {"engine": "atom", "ttft_ms": mean, "ttft_median_ms": med, "ttft_p99_ms": p99}}


def test_wave_line_by_hand():
    # p99 = 300 + 100 x 0.9 C at C = 4, 8, 16: 660, 1020, 1740 ms -> a 300 ms, d 100 ms a prompt
    a, d = ws.wave_line([4, 8, 16], [660.0, 1020.0, 1740.0])
    assert a == pytest.approx(300.0) and d == pytest.approx(100.0)


def test_wave_line_needs_two_concurrencies():
    with pytest.raises(ValueError, match="two or more concurrencies"):
        ws.wave_line([8, 8], [1.0, 2.0])
    with pytest.raises(ValueError, match="one p99 per run"):
        ws.wave_line([4, 8], [1.0])


def test_front_share_by_hand():
    # mean 657, median 301, p99 13,510 (ATOM FP8 8k/1k c128, run 20921978993): 10 x (657 - 270.9) / 13,510 = 0.2858
    assert ws.front_share(657.0, 301.0, 13510.0) == pytest.approx(10 * (657.0 - 0.9 * 301.0) / 13510.0)
    assert ws.front_share(657.0, 301.0, 13510.0) == pytest.approx(0.28579, abs=1e-5)
    with pytest.raises(ValueError, match="positive p99"):
        ws.front_share(1.0, 1.0, 0.0)


@given(st.floats(0.0, 1e4), st.floats(0.1, 1e3))
def test_a_constant_rate_wave_gives_its_line_back(a: float, d: float):
    cs = [4, 8, 16, 32, 64, 128]
    got_a, got_d = ws.wave_line(cs, [a + d * 0.9 * c for c in cs])
    assert got_a == pytest.approx(a, abs=1e-6 * (1 + a + d * 128)) and got_d == pytest.approx(d, rel=1e-6)


def test_constant_rate_wave_front_share_is_about_055():
    # C prompts drained one every d ms after the same start, the other 9 C at the median m: mean = 0.9 m + d (C+1)/20,
    # p99 = 0.9 C d, front = 10 x d (C+1)/20 / (0.9 C d) = (C+1) / (1.8 C) -> 0.5556 at large C
    c, d, m = 128, 100.0, 50.0
    mean = 0.9 * m + d * (c + 1) / 20
    assert ws.front_share(mean, m, 0.9 * c * d) == pytest.approx((c + 1) / (1.8 * c))


def test_groups_from_rows():
    # measured p99 = 400 + 110 x 0.9 C; simulated 100 + 180 x 0.9 C; two runs at C = 4 count once as a concurrency
    cs = [4, 4, 8, 16, 32]
    cases = [_case(c, 500.0, 200.0, 100.0 + 180.0 * 0.9 * c, run=i) for i, c in enumerate(cs)]
    spread = {x["case_id"]: (250.0 + i, 400.0 + 110.0 * 0.9 * c)
              for i, (x, c) in enumerate(zip(cases, cs, strict=True))}
    rows = ws.slope_rows(cases, spread)
    assert len(rows) == 5
    assert rows[0]["key"] == ("atom", "mi355x", "dsr1-0528", "tp8ep1", 8192, 1024, 1, "fp8")
    ((key, s, n),) = ws.group_slopes(rows, min_points=4)
    assert n == 5
    assert s["meas_a"] == pytest.approx(400.0) and s["meas_d"] == pytest.approx(110.0)
    assert s["sim_a"] == pytest.approx(100.0) and s["sim_d"] == pytest.approx(180.0)
    assert s["meas_us_per_token"] == pytest.approx(110e3 / (0.9 * 8192))
    assert s["meas_alone"] == pytest.approx(250.5)  # the median of the two C = 4 runs' medians, 250 and 251
    assert s["sim_alone"] == pytest.approx(200.0)
    # front share over the rows of >= 16 clients only (C 16 and 32): measured means are the case's "measured"
    fronts = [ws.front_share(16.0, 253.0, 400.0 + 110.0 * 0.9 * 16), ws.front_share(32.0, 254.0, 400.0 + 99.0 * 32)]
    assert s["meas_front"] == pytest.approx(sum(fronts) / 2)
    assert ws.group_slopes(rows, min_points=5) == []  # four concurrencies only


def test_rows_left_out():
    case = _case(16, 1.0, 1.0, 2.0)
    assert ws.slope_rows([case], {}) == []  # no stated spread
    assert ws.slope_rows([dict(case, status="failed")], {case["case_id"]: (1.0, 2.0)}) == []
    assert ws.slope_rows([dict(case, sim=None)], {case["case_id"]: (1.0, 2.0)}) == []
