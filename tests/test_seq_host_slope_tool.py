"""tools/ttft/seq_host_slope.py: the line by hand, the sequences per scheduler process by Little's law
(replicas and attention-DP ranks divided out, disaggregated runs left out) and a planted per-sequence residual
recovered from a validate JSON."""

from __future__ import annotations

import pytest

from conftest import load_tool


@pytest.fixture(scope="module")
def shs():
    return load_tool("seq_host_slope")


def _run(base, tput, tpot_meas, tpot_pred, *, tp=8, attn_dp=False, replicas=1, engine="vllm"):
    common = {"accelerator": "nvidia-h100-sxm-80gb", "model": "org/m", "tp": tp, "attn_dp": attn_dp,
              "replicas": replicas}
    return [{"case_id": f"{base}-tput", "measured": tput, "predicted": tput, **common},
            {"case_id": f"{base}-tpot", "measured": tpot_meas, "predicted": tpot_pred, "sim": {"engine": engine},
             **common}]


def test_fit_line_by_hand(shs):
    assert shs.fit_line([(0, 1), (1, 3), (2, 5)]) == pytest.approx((1.0, 2.0))
    # (0, 0), (2, 2), (4, 1): mean x 2, mean y 1, b = (-2 x -1 + 0 + 2 x 0) / 8 = 0.25, a = 1 - 0.5 = 0.5
    assert shs.fit_line([(0, 0), (2, 2), (4, 1)]) == pytest.approx((0.5, 0.25))
    with pytest.raises(ValueError, match="one x"):
        shs.fit_line([(1, 0), (1, 2)])


def test_sequences_per_process_by_hand(shs):
    cases = (_run("a-c64-r1", 2000.0, 32.0, 30.0)  # 2000 tok/s x 0.032 s = 64 sequences, one process each
             + _run("b-c64-r1", 2000.0, 32.0, 30.0, replicas=2)  # 32 a replica
             + _run("c-c64-r1", 2000.0, 32.0, 30.0, attn_dp=True, tp=8)  # 8 a rank
             + _run("x-disagg-c64-r1", 2000.0, 32.0, 30.0))  # left out
    g = shs.per_process_points(cases)
    tp = g[("vllm", "nvidia-h100-sxm-80gb", "m", "tp")]
    assert [x for x, _ in tp] == pytest.approx([64.0, 32.0]) and [y for _, y in tp] == pytest.approx([2.0, 2.0])
    (dpa,) = g[("vllm", "nvidia-h100-sxm-80gb", "m", "dpa")]
    assert dpa == pytest.approx((8.0, 2.0))
    assert len(g) == 2


def test_planted_per_sequence_residual_recovered(shs):
    # residual = 0.5 ms + 40 us x n at n = 8, 16, ..., 64 (TPOT measured 20 ms, so throughput = n / 0.020)
    cases = []
    for k, n in enumerate(range(8, 72, 8)):
        cases += _run(f"r{k}-c{n}-r1", n / 0.020, 20.0, 20.0 - 0.5 - 0.040 * n)
    lines = shs.report(shs.per_process_points(cases), min_n=3.0, min_runs=6)
    assert len(lines) == 3
    assert "| 8 | 8-64 | +0.50 ms +40.0 us x n |" in lines[2]
    # too few runs or too little spread: no row
    assert len(shs.report(shs.per_process_points(cases), min_n=3.0, min_runs=9)) == 2
    assert len(shs.report(shs.per_process_points(cases), min_n=40.0, min_runs=2)) == 2
