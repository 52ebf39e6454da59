"""tools/closed_loop_runs/ttft_little_attribution.py: the exact split of a TTFT error into rate, TPOT and occupancy
terms (by hand, a Hypothesis property, antisymmetry), the first-order amplification, the per-run law check and the
stall check on a planted validate JSON, and the refused --light."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import load_tool


@pytest.fixture(scope="module")
def tla():
    return load_tool("ttft_little_attribution")


def _sides(tla, meas: tuple[float, float, float], sim: tuple[float, float, float], clients: float, osl: float):
    # (output tokens/s, TTFT s, TPOT s) of each side, through the same law the tool reads them with
    return tla.side(*meas, clients, osl), tla.side(*sim, clients, osl)


def test_terms_by_hand(tla):
    # mean output 921.6 (0.9 x 1024), k = 920.6. meas: X 1 request/s, E2E 2 + 9.206 = 11.206 s, r 0.5603 (20 clients)
    # sim: X 2, E2E 0.5 + 4.603 = 5.103 s, r 0.5103
    ms, ss = _sides(tla, (921.6, 2.0, 0.01), (1843.2, 0.5, 0.005), 20.0, 1024)
    t = tla.terms_s(ms, ss, 20.0, 1024)
    assert t["rate"] == pytest.approx(20 * 0.5 * (0.5603 + 0.5103) * (0.5 - 1.0))  # -5.353
    assert t["tpot"] == pytest.approx(-920.6 * (0.005 - 0.01))  # +4.603
    assert t["occupancy"] == pytest.approx(20 * (0.5103 - 0.5603) * 0.5 * (0.5 + 1.0))  # -0.75
    assert sum(t.values()) == pytest.approx(0.5 - 2.0)


@given(st.floats(10.0, 1e5), st.floats(1e-3, 50.0), st.floats(1e-4, 0.2), st.floats(10.0, 1e5),
       st.floats(1e-3, 50.0), st.floats(1e-4, 0.2), st.floats(1.0, 2e4), st.sampled_from([2, 128, 1024, 8192]))
def test_terms_sum_to_the_ttft_gap_and_swap_sign(tla, xm, fm, pm, xs, fs, ps, clients, osl):
    ms, ss = _sides(tla, (xm, fm, pm), (xs, fs, ps), clients, osl)
    t = tla.terms_s(ms, ss, clients, osl)
    scale = max(fm, fs, ms["e2e_s"], ss["e2e_s"])
    assert sum(t.values()) == pytest.approx(fs - fm, abs=1e-9 * scale)
    back = tla.terms_s(ss, ms, clients, osl)
    for k in t:
        assert back[k] == pytest.approx(-t[k], abs=1e-9 * scale)


def test_linear_error_is_the_first_order_of_the_law(tla):
    # 10 clients (r = 1) at 1 request/s, TPOT 10 ms over 920.6 tokens: E2E 10 s, TTFT 0.794 s, A = 12.6
    clients, k = 10.0, 920.6  # k = 0.9 x 1024 - 1
    x, p = 1.0, 0.01
    ttft = clients / x - k * p
    a = (clients / x) / ttft
    assert a == pytest.approx(10.0 / 0.794)
    for ex, ep in ((0.001, 0.0), (0.0, 0.001), (-0.0005, 0.0007)):
        ttft_s = clients / (x * (1 + ex)) - k * p * (1 + ep)
        exact = 100.0 * (ttft_s / ttft - 1.0)
        assert tla.linear_error_pct(a, 0.0, ex, ep) == pytest.approx(exact, rel=0.02)
    assert tla.linear_error_pct(a, 0.01, 0.0, 0.0) == pytest.approx(100 * a * 0.01)  # a 1 % occupancy error: A %
    with pytest.raises(ValueError, match="at least 1"):
        tla.linear_error_pct(0.5, 0.0, 0.0, 0.0)


def _case(base: str, metric: str, measured: float, sim: dict, stall: float | None = None) -> dict:
    suffix = {"output_tokens_per_s_total": "tput", "ttft_ms": "ttft", "tpot_ms": "tpot"}[metric]
    return dict(case_id=f"{base}-{suffix}", metric=metric, measured=measured, status="ok", measured_stall_s=stall,
                sim=dict(sim, kind="closed_loop"))


def _planted(tmp_path) -> str:
    cases = []
    # run 1: 10 clients, 1k output; measured X 1/s, TTFT 0.5 s, TPOT 10 ms: E2E 9.706 s, r 0.9706; stall 20 s, P 10
    sim1 = dict(engine="vllm", output_tokens_per_s=921.6, ttft_ms=300.0, tpot_ms=10.0, prompts_per_client=10)
    base1 = "imax-x-h100-vllm-fp8-tp8-1024-1024-c10-r1"
    cases += [_case(base1, "output_tokens_per_s_total", 921.6, sim1), _case(base1, "ttft_ms", 500.0, sim1, 20.0),
              _case(base1, "tpot_ms", 10.0, sim1)]
    # run 2: no TPOT row: not a run the law can check
    base2 = "imax-x-h100-vllm-fp8-tp8-1024-1024-c20-r1"
    cases += [_case(base2, "output_tokens_per_s_total", 921.6, sim1), _case(base2, "ttft_ms", 500.0, sim1)]
    path = tmp_path / "v.json"
    path.write_text(json.dumps({"cases": cases}), encoding="utf-8")
    return str(path)


def test_law_check_and_stall_check_on_planted_runs(tla, tmp_path):
    path = _planted(tmp_path)
    chk = tla.law_check(path)
    assert list(chk) == ["vllm"] and len(chk["vllm"]) == 1
    run = chk["vllm"][0]
    assert run["meas"] == pytest.approx(0.9706)
    assert run["sim"] == pytest.approx((0.3 + 9.206) / 10.0)
    assert run["idle_s"] == pytest.approx(0.0294 * 10.0)  # (1 - r) C / X
    st_ = tla.stall_check(path)
    assert len(st_) == 1
    base, s_per_p, gap = st_[0]
    assert base.endswith("-c10-r1") and s_per_p == pytest.approx(2.0) and gap == pytest.approx(0.2)


def test_inside_without(tla):
    rs = [dict(error=-60.0, rate=-40.0, tpot=-20.0, occupancy=0.0, refit=0.0),
          dict(error=50.0, rate=30.0, tpot=10.0, occupancy=10.0, refit=0.0)]
    assert tla.inside_without(rs, ("rate",), 35.0) == 2
    assert tla.inside_without(rs, ("tpot",), 35.0) == 0
    assert tla.inside_without(rs, ("rate", "tpot"), 35.0) == 2


def test_ceiling_keeps_stalled_rows_and_other_regimes(tla):
    row = dict(rate=0.0, tpot=0.0, occupancy=0.0, refit=0.0, flagged=False)
    rs = [dict(row, error=-60.0, rate=-50.0, regime="loop"),  # comes in with its rate made exact
          dict(row, error=-60.0, rate=-50.0, regime="loop", flagged=True),  # a stalled run keeps its error
          dict(row, error=-60.0, rate=-50.0, regime="light"),  # another regime keeps its error
          dict(row, error=10.0, rate=50.0, regime="loop")]  # goes out: -40
    assert tla.ceiling(rs, "loop", (), 35.0)[0] == 3
    n_tail, p90 = tla.ceiling(rs, "loop", ("rate",), 35.0)
    assert n_tail == 3  # one in, one out
    assert p90 == pytest.approx(float(np.percentile([10.0, 60.0, 60.0, 40.0], 90)))
    assert tla.ceiling(rs, None, ("rate",), 35.0)[0] == 2


def test_light_share_refused(tla, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["ttft_little_attribution.py", "x.json", "--light", "1.5"])
    with pytest.raises(SystemExit) as exc:
        tla.main()
    assert exc.value.code == 2
    assert "--light 1.5" in capsys.readouterr().err
