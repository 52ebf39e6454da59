"""Fewer sequences than replicas (issue 11): a static batch or closed loop of C sequences on R > C
replicas runs C replicas at batch 1 while the others idle (``operating.replica_load``), never a
fractional batch below one sequence."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inferchip.catalog.calibration_file import load_calibration
from inferchip.cost.economics import idle_power_w
from inferchip.errors import InvalidSettingError
from inferchip.mapping.layout import Layout
from inferchip.performance.layout_choice import Choice, system_tokens_per_s
from inferchip.performance.operating import LengthDist, Question, operating_point, replica_load
from inferchip.performance.predict import best_layout, predict_setting
from inferchip.performance.setting import resolve_setting
from inferchip.validation.cases import COLUMNS, parse_cases
from inferchip.validation.plan import case_formats, plan_for
from inferchip.validation.validate import Validator

CHIP, MODEL = "nvidia-h100-sxm-80gb", "meta-llama/Llama-3.1-8B-Instruct"
MAX_R = 8


def _setting(replicas: int):
    """Llama-3.1-8B on ``replicas`` H100s, one chip per replica (tp=1: the only layout)."""
    s = resolve_setting(CHIP, MODEL, count=replicas, tp=1, weights="fp8")
    assert [(lay.tp, lay.pp, lay.replicas) for lay in s.layouts] == [(1, 1, replicas)]
    return s


def _question(mode: str, concurrency: int, inp: int, out: int) -> Question:
    return Question(mode, LengthDist.fixed(inp), LengthDist.fixed(out), concurrency=float(concurrency))


# ------------------------------------------------------------------ the reproduction (was ZeroDivisionError)
def _single_stream_case(tp: str):
    values = dict.fromkeys(COLUMNS, "")
    values.update(case_id="ss-2xh100", source_kind="test", source="test", accelerator=CHIP, num_accelerators="2",
                  software="", model=MODEL, weight_dtype="bf16", tp=tp, scenario="single_stream",
                  input_tokens="128", output_tokens="128", concurrency="1", metric="batch_e2e_latency_ms",
                  value="1000", unit="ms")
    text = ",".join(COLUMNS) + "\n" + ",".join(values[c] for c in COLUMNS) + "\n"
    (case,) = parse_cases(text, "cases.csv")
    return case


@pytest.mark.parametrize("tp", ["", "1"])
def test_a_single_stream_on_two_h100s_predicts_on_every_candidate_layout(tp):
    v = Validator(load_calibration(None))
    case = _single_stream_case(tp)
    fmt, _ = case_formats(case)
    setting, plan = v.setting(case, fmt), plan_for(case, v.lengths)
    assert any(lay.tp == 1 and lay.replicas == 2 for lay in setting.layouts)  # the layout that divided by zero
    for lay in setting.layouts:
        pred = predict_setting(replace(setting, layouts=(lay,), _mapped={}, sweeps={}, derived={}), plan, fast=False)
        assert pred.batch == 1
        for x in (pred.e2e_latency_s, pred.output_tokens_per_s, pred.extra["j_per_output_token"],
                  pred.extra["power_w_per_chip"]):
            assert math.isfinite(x) and x > 0
    res = v.predict_case(case)
    assert res.status == "ok" and res.point is not None and res.point.batch == 1.0


# ------------------------------------------------------------------ C < R is C replicas at batch 1
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(2, MAX_R), st.data(), st.sampled_from(["static", "closed_loop"]),
       st.sampled_from([128, 1024]), st.sampled_from([16, 256]))
def test_fewer_sequences_than_replicas_is_those_sequences_at_batch_one(r, data, mode, inp, out):
    c = data.draw(st.integers(1, r - 1))
    on_r = operating_point(_setting(r).mapped(Layout(replicas=r)), _question(mode, c, inp, out), r)
    on_c = operating_point(_setting(c).mapped(Layout(replicas=c)), _question(mode, c, inp, out), c)
    one = operating_point(_setting(1).mapped(Layout()), _question(mode, 1, inp, out), 1)
    assert on_r.batch == on_c.batch == one.batch == 1.0
    assert on_r.busy_fraction == pytest.approx(c / r) and on_c.busy_fraction == 1.0
    for a, b in ((on_r, on_c), (on_r, one)):  # the latency of one sequence on a busy replica
        assert (a.ttft_s, a.tpot_s, a.e2e_s) == pytest.approx((b.ttft_s, b.tpot_s, b.e2e_s), rel=1e-12)
    # system tokens/s: C x one sequence's rate, however many replicas idle beside them
    assert on_r.tokens_per_s_replica * r == pytest.approx(c * one.tokens_per_s_replica, rel=1e-12)
    assert on_r.tokens_per_s_replica * r == pytest.approx(on_c.tokens_per_s_replica * c, rel=1e-12)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(1, MAX_R - 1), st.data(), st.sampled_from(["static", "closed_loop"]))
def test_more_replicas_never_make_a_single_stream_faster(r1, data, mode):
    r2 = data.draw(st.integers(r1 + 1, MAX_R))
    a = operating_point(_setting(r1).mapped(Layout(replicas=r1)), _question(mode, 1, 512, 64), r1)
    b = operating_point(_setting(r2).mapped(Layout(replicas=r2)), _question(mode, 1, 512, 64), r2)
    assert b.e2e_s >= a.e2e_s * (1 - 1e-12) and b.tpot_s >= a.tpot_s * (1 - 1e-12)
    assert b.tokens_per_s_replica * r2 <= a.tokens_per_s_replica * r1 * (1 + 1e-12)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(1, 4), st.integers(1, 24))
def test_as_many_sequences_as_replicas_or_more_keep_the_mean_per_replica(r, c):
    if c < r:
        c = r
    pt = operating_point(_setting(r).mapped(Layout(replicas=r)), _question("closed_loop", c, 256, 64), r)
    assert pt.busy_fraction == 1.0 and pt.batch == pytest.approx(c / r)
    assert pt.tokens_per_s_replica == pytest.approx(pt.batch / pt.tpot_s, rel=1e-12)


# ------------------------------------------------------------------ energy: idle replicas at idle power
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(2, MAX_R), st.data(), st.sampled_from(["static", "closed_loop"]))
def test_idle_replicas_draw_idle_power_in_the_energy_per_token(r, data, mode):
    c = data.draw(st.integers(1, r - 1))
    q = _question(mode, c, 512, 128)
    s_r, s_c = _setting(r), _setting(c)
    p_r, p_c = predict_setting(s_r, q, fast=False), predict_setting(s_c, q, fast=False)
    assert p_r.output_tokens_per_s == pytest.approx(p_c.output_tokens_per_s, rel=1e-12)
    assert p_r.e2e_latency_s == pytest.approx(p_c.e2e_latency_s, rel=1e-12)
    idle_w = idle_power_w(s_r.chip.tdp_w, s_r.chip.idle_w, s_r.assumptions)
    assert 0 < idle_w < p_c.extra["power_w_per_chip"]
    # by hand: the C busy chips as on C replicas, plus R - C chips at idle, over the same tokens/s
    system_w = p_c.extra["power_w_per_chip"] * c + idle_w * (r - c)
    assert p_r.extra["power_w_per_chip"] * r == pytest.approx(system_w, rel=1e-12)
    assert p_r.extra["j_per_output_token"] == pytest.approx(system_w / p_c.output_tokens_per_s, rel=1e-12)
    assert p_r.extra["j_per_output_token"] > p_c.extra["j_per_output_token"]


# ------------------------------------------------------------------ questions that cannot be answered
@pytest.mark.parametrize("q, match", [
    (Question("static", LengthDist.fixed(128), LengthDist.fixed(16), concurrency=0.5), "concurrency"),
    (Question("closed_loop", LengthDist.fixed(128), LengthDist.fixed(16), concurrency=0.0), "concurrency"),
    (Question("static", LengthDist.fixed(128), LengthDist.fixed(16), concurrency=math.nan), "concurrency"),
    (Question("static", LengthDist.fixed(128), LengthDist.fixed(16)), "concurrency"),
    (Question("static", LengthDist.fixed(128), LengthDist.fixed(16), batch=0.5), "batch"),
])
def test_under_one_sequence_is_a_clear_error(q, match):
    with pytest.raises(InvalidSettingError, match=match):
        replica_load(q, 2)
    s = _setting(2)
    with pytest.raises(InvalidSettingError, match=match):
        predict_setting(s, q, fast=False)


# ------------------------------------------------------------------ predict's figures are the point's
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(1, 4), st.integers(1, 9), st.sampled_from(["static", "closed_loop"]))
def test_predict_reports_the_system_tokens_per_s_of_the_point_it_chose(r, c, mode):
    """Whatever C and R (C/R a fraction such as 1.5 too), the prediction's system tokens/s is
    the chosen point's ``tokens_per_s_replica x replicas`` (the layout choice's objective)."""
    s = _setting(r)
    q = _question(mode, c, 512, 128)
    lay, pt = best_layout(s, q)
    pred = predict_setting(s, q, fast=False)
    assert not pred.extra["throttled"]  # throttling would stretch the steps after the choice
    assert pred.output_tokens_per_s == pytest.approx(pt.tokens_per_s_replica * lay.replicas, rel=1e-12)
    assert pred.output_tokens_per_s == pytest.approx(system_tokens_per_s(Choice(lay, pt)), rel=1e-12)
    assert pred.output_tokens_per_s_per_chip * pred.num_chips == pytest.approx(pred.output_tokens_per_s, rel=1e-12)
