"""tools/closed_loop_runs/first_wave_bound.py: the excess mass a run's mean TTFT carries against what its first wave
and top 1 % can hold, by hand on a MI355X SGLang PD TEP8 run's own record; the bound's edges and bad input; the
per-run table from planted validate rows; and the LOAO tail a group carries, by hand."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import load_tool

fwb = load_tool("first_wave_bound")

# imax-dsr1-mi355x-amd_0-sglang-disagg-fp8-mtp-disagg-p8x8e8-d16x8e8-1024-1024-c32-r20832485469: its record
# (src/inferchip/catalog/inferencemax_cases.csv): mean TTFT 1541.26 ms, median 142.4, p99 6325.1; 2473.97 output
# tokens/s; mean TPOT 10.7308 ms; 32 clients, 10 prompts each (billishyahao/sglang_disagg bench.sh)
RUN = dict(clients=32, n_prompts=320, median_s=0.1424, p99_s=6.3251, osl=1024, throughput_tok_s=2473.97,
           tpot_s=0.0107308)


def test_the_pd_run_waited_beyond_its_first_wave_by_hand():
    # mass: 320 x (1.54126 - 0.1424) = 447.635 request-s
    assert fwb.excess_mass_s(320, 1.54126, 0.1424) == pytest.approx(447.635, abs=1e-3)
    # duration 320 x 921.6 / 2473.97 = 119.2059 s; a client's own 10 x (0.1424 + 920.6 x 0.0107308) = 100.2117 s;
    # slack 18.9942 s for each of ceil(3.2) = 4 outliers; first wave 32 x (6.3251 - 0.1424) = 197.8464
    bound = fwb.first_wave_bound_s(**RUN)
    assert bound == pytest.approx(197.8464 + 4 * 18.9942, abs=1e-2)
    assert fwb.excess_mass_s(320, 1.54126, 0.1424) > bound  # 448 > 274: later rounds waited too


def test_bound_edges_and_bad_input():
    # a first wave of at most 1 % of the run: its p99 bounds nothing in it
    assert math.isinf(fwb.first_wave_bound_s(4, 400, 0.1, 2.0, 1024, 1000.0, 0.01))
    # no slack (the run no longer than its clients' own requests): the first wave alone
    assert fwb.first_wave_bound_s(10, 100, 0.1, 1.1, 1024, 1e9, 0.01) == pytest.approx(10.0)
    for bad in (dict(clients=0), dict(n_prompts=16), dict(throughput_tok_s=0.0)):
        with pytest.raises(ValueError, match="clients"):
            fwb.first_wave_bound_s(**{**RUN, **bad})


@given(p99=st.floats(0.2, 100.0), dp=st.floats(0.0, 50.0), tput=st.floats(100.0, 1e5))
def test_a_longer_p99_or_a_slower_run_never_lowers_the_bound(p99, dp, tput):
    base = fwb.first_wave_bound_s(32, 320, 0.1, p99, 1024, tput, 0.01)
    assert fwb.first_wave_bound_s(32, 320, 0.1, p99 + dp, 1024, tput, 0.01) >= base
    assert fwb.first_wave_bound_s(32, 320, 0.1, p99, 1024, tput / 2, 0.01) >= base


def _case(cid: str, measured: float, sim: dict) -> dict:
    return dict(case_id=cid, measured=measured, status="ok", sim=sim)


def test_run_rows_from_planted_validate_rows():
    base = "imax-x-mi355x-sglang-disagg-p8x8e8-1024-1024-c32-r1"
    sim = dict(ttft_ms=2300.0, ttft_median_ms=290.0, ttft_p99_ms=20500.0, output_tokens_per_s=3000.0, tpot_ms=9.0,
               prompts_per_client=10)
    cases = [_case(base + "-ttft", 1541.26, sim), _case(base + "-tput", 2473.97, sim),
             _case(base + "-tpot", 10.7308, sim),
             # a run without its TPOT row, and a run without a stated spread: both left out
             _case("imax-y-1024-1024-c8-r2-ttft", 100.0, sim), _case("imax-y-1024-1024-c8-r2-tput", 1.0, sim),
             _case("imax-z-1024-1024-c8-r3-ttft", 100.0, sim), _case("imax-z-1024-1024-c8-r3-tput", 1.0, sim),
             _case("imax-z-1024-1024-c8-r3-tpot", 1.0, sim)]
    spread = {base + "-ttft": (142.4, 6325.1), "imax-y-1024-1024-c8-r2-ttft": (90.0, 200.0)}
    rows = fwb.run_rows(cases, spread)
    assert [r["run"] for r in rows] == [base]
    r = rows[0]
    assert (r["clients"], r["prompts"], r["osl"]) == (32, 320, 1024)
    assert r["meas"]["mass"] == pytest.approx(447.635, abs=1e-3)
    assert r["meas"]["bound"] == pytest.approx(fwb.first_wave_bound_s(**RUN))
    # the simulated side read the same way: 320 x (2.3 - 0.29) = 643.2
    assert r["sim"]["mass"] == pytest.approx(643.2)
    assert r["sim"]["p99"] == pytest.approx(20.5)
    assert fwb.run_rows(cases, spread, match="nothing-matches") == []


def test_leverage_by_hand():
    errors = [("a-x", 50.0), ("b-x", -40.0), ("c-y", 10.0), ("d-y", 36.0), ("e-z", 5.0)]
    out = fwb.leverage(errors, {"x": r"-x$"}, 35.0)
    assert (out["x"]["rows"], out["x"]["tail"], out["x"]["tail_after"]) == (2, 2, 1)
    # |errors| with x's at zero: 0, 0, 5, 10, 36; numpy's p90 at position 3.6: 10 + 0.6 x 26
    assert out["x"]["p90_after"] == pytest.approx(25.6)
    # nothing zeroed: 5, 10, 36, 40, 50 -> 40 + 0.6 x 10
    assert (out["(none)"]["tail_after"], out["(none)"]["p90_after"]) == (3, pytest.approx(46.0))


def test_group_option_named_when_malformed():
    with pytest.raises(ValueError, match="NAME=REGEX"):
        fwb._parse_groups(["no-equals-sign"])
    assert fwb._parse_groups(["TEP8=p8x8e8-.*-1024-"]) == {"TEP8": "p8x8e8-.*-1024-"}
