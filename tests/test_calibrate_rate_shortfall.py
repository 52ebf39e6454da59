"""The fit residual of a row run at a stated rate that the analytic point cannot carry: the rate's shortfall
(``validation.plan.rate_shortfall``) by hand, and the residual keeps growing past the saturation edge, where the
full batch's TPOT alone goes flat (the plateau the H200 fold escaped along, docs/serving_validation.md
`vllm-decode38b`)."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from inferchip.performance.operating import OperatingPoint
from inferchip.performance.question import LengthDist
from inferchip.spec.calibration import Calibration, DatasetLengths
from inferchip.validation.calibrate import FitPoint, prepare, row_residuals
from inferchip.validation.cases import COLUMNS, parse_cases
from inferchip.validation.plan import Plan, rate_shortfall
from inferchip.validation.validate import evaluate_fixed


def _plan(mode: str = "open_loop", rate: float | None = 10.0, beams: int = 1) -> Plan:
    return Plan(mode, LengthDist.fixed(1000.0), LengthDist.fixed(100.0), rate_per_s=rate, beams=beams)


def _point(saturated: bool, batch: float = 100.0, e2e_s: float = 20.0) -> OperatingPoint:
    return OperatingPoint(batch, 0.5, 0.2, e2e_s, batch / 0.2, saturated=saturated)


def test_rate_shortfall_by_hand():
    # one replica holds 100 sequences that each take 20 s: it turns over 100 / 20 = 5 sequences/s;
    # the run carried 10 requests/s, so the model is short by 10 / 5 = 2
    assert rate_shortfall(_plan(), _point(True), 1) == pytest.approx(2.0)
    # two replicas carry 10/s: no shortfall (never below 1)
    assert rate_shortfall(_plan(), _point(True), 2) == pytest.approx(1.0)
    # beam search of width 4: 40 sequences/s to start against 2 x 5 carried -> 4
    assert rate_shortfall(_plan(beams=4), _point(True), 2) == pytest.approx(4.0)


def test_no_shortfall_where_the_point_carries_the_rate_or_there_is_no_rate():
    assert rate_shortfall(_plan(), _point(False), 1) == 1.0
    assert rate_shortfall(_plan("max_throughput", rate=None), _point(True), 1) == 1.0
    assert rate_shortfall(_plan("closed_loop", rate=None), _point(True), 1) == 1.0


_SERVER_TPOT = dict(
    case_id="h100-8b-tpot", source_kind="test", source="test", accelerator="nvidia-h100-sxm-80gb",
    num_accelerators="1", software="TensorRT-LLM", model="meta-llama/Llama-3.1-8B-Instruct", weight_dtype="fp8",
    act_dtype="fp8", kv_dtype="fp8", tp="1", pp="1", ep="", scenario="server", input_tokens="1000",
    output_tokens="128", concurrency="", metric="tpot_ms", value="20", unit="ms",
    notes="server run; measured at 40 completed samples/s")


def _tpot_row():
    buf = ",".join(COLUMNS) + "\n" + ",".join(f'"{_SERVER_TPOT[c]}"' for c in COLUMNS) + "\n"
    return parse_cases(buf, "test.csv")


def test_a_saturated_stated_rate_row_keeps_a_growing_residual():
    (case,) = _tpot_row()
    start = FitPoint(Calibration(), DatasetLengths())
    rows, _ = prepare([case], start)
    assert len(rows) == 1
    row = rows[0]
    # longer prompts at the same stated 40 requests/s: past the edge the KV cache holds fewer sequences and the
    # full batch's TPOT stays put (within 2 %), while the shortfall grows; the residual must keep rising
    tpot, short, res = [], [], []
    for tokens in (2000.0, 4000.0, 8000.0):
        r = replace(row, case=replace(case, input_tokens=tokens))
        t, s = evaluate_fixed(r.case, r.layout, r.mm, start.calibration, start.lengths)
        tpot.append(t)
        short.append(s)
        res.append(float(row_residuals([r], start)[0]))
        assert res[-1] == pytest.approx(math.log(t / 20.0) + math.log(s))
    assert min(short) > 1.0
    assert max(tpot) / min(tpot) < 1.02, tpot  # the plateau the shortfall removes
    assert res[0] < res[1] < res[2], res
