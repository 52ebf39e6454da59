"""tools/ttft/decode_rank_line.py: Blom's expected maximum and the busiest randomly pinned rank by hand, the
least-squares line by hand, and a planted validate JSON whose two layouts lie on one line."""

from __future__ import annotations

import pytest

from conftest import load_tool


@pytest.fixture(scope="module")
def drl():
    return load_tool("decode_rank_line")


def test_expected_max_and_busiest_rank_by_hand(drl):
    assert drl.expected_max_normal(1) == 0.0
    # Blom: Phi^-1((32 - 0.375) / 32.25) = Phi^-1(0.98062) = 2.067; 48 ranks: Phi^-1(0.98700) = 2.226
    assert drl.expected_max_normal(32) == pytest.approx(2.067, abs=2e-3)
    assert drl.expected_max_normal(48) == pytest.approx(2.226, abs=2e-3)
    # 100 a rank on 32 ranks: 100 + 2.067 x sqrt(100 x 31 / 32) = 100 + 2.067 x 9.843 = 120.3
    assert drl.busiest_rank(100.0, 32) == pytest.approx(120.35, abs=0.05)
    assert drl.busiest_rank(100.0, 1) == 100.0
    with pytest.raises(ValueError, match="at least one draw"):
        drl.expected_max_normal(0)


def test_fit_line_by_hand(drl):
    assert drl.fit_line([(0, 1), (1, 3), (2, 5)]) == pytest.approx((1.0, 2.0))
    # (0, 0), (2, 2), (4, 1): mean x 2, mean y 1, b = (-2 x -1 + 0 + 2 x 0) / 8 = 0.25, a = 1 - 0.5 = 0.5
    assert drl.fit_line([(0, 0), (2, 2), (4, 1)]) == pytest.approx((0.5, 0.25))
    with pytest.raises(ValueError, match="at least two points"):
        drl.fit_line([(1, 1)])
    with pytest.raises(ValueError, match="share one x"):
        drl.fit_line([(1, 1), (1, 2)])


def _case(layout: str, conc: int, metric: str, measured: float, predicted: float) -> dict:
    return {"case_id": f"imax-m-gb200-dynamo-sglang-fp4-disagg-{layout}-1024-1024-c{conc}-r1-{metric}",
            "measured": measured, "predicted": predicted}


def test_planted_layouts_on_one_line(drl):
    # TPOT = 10 ms + 0.1 ms x requests a rank on both layouts; requests a rank = tput x TPOT / 1e3 / GPUs
    cases, notes = [], {}
    for layout, gpus, conc, per_rank in (("p2-d32", 32, 100, 50.0), ("p2-d32", 32, 200, 150.0),
                                         ("p2-d48", 48, 100, 100.0), ("p2-d48", 48, 200, 250.0)):
        tpot = 10.0 + 0.1 * per_rank
        tput = per_rank * gpus * 1e3 / tpot
        cases += [_case(layout, conc, "tput", tput, tput), _case(layout, conc, "tpot", tpot, 0.8 * tpot)]
        notes[cases[-2]["case_id"]] = f"4 prefill GPUs (1 worker(s)) + {gpus} decode GPUs (1 worker(s), TP1/EP1, " \
                                      "DP-attention true); more"
    cases.append(_case("p2-d32", 300, "tput", 1.0, 1.0))  # no TPOT record: skipped
    recs = drl.runs(cases, "dynamo-sglang", notes)
    assert len(recs) == 4
    assert {r["ranks"] for r in recs} == {32, 48}
    assert sorted(round(r["n_meas"], 6) for r in recs) == [50.0, 100.0, 150.0, 250.0]
    out = "\n".join(drl.report(recs, 30.0))
    assert "measured TPOT = 10.00 ms + 100.0 us x requests a rank (4 runs" in out
    assert "p2-d32-1024-1024: median residual +0.00 ms" in out
    assert "p2-d48-1024-1024: median residual +0.00 ms" in out
    # simulated: TPOT 0.8 x, throughput as measured, so requests a rank 0.8 x and TPOT = 8 + 0.1 n: same slope
    assert "simulated TPOT = 8.00 ms + 100.0 us x requests a rank" in out
