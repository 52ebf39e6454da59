"""tools/mlperf_rows/tp_step_cost.py: the per-GPU cost ratio, TP pairing, all-reduce bytes, bus time and TensorRT-LLM's
AUTO kernel choice by hand, bad input refused, and TensorRT-LLM 0.10's H200 Llama-2-70B TP1 / TP2 pair read end to end
(the model's TP2 premium within 10 % of the measured one, the finding of branch tp2step47), and every pair of the data
file found."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import load_tool


@pytest.fixture(scope="module")
def tc():
    return load_tool("tp_step_cost")


def test_per_gpu_cost_ratio_by_hand(tc):
    # TensorRT-LLM 0.10, H200 FP8 Llama-2-70B 128/128: TP1 4,055.97 tokens/s, TP2 6,299.21 tokens/s on two GPUs
    assert tc.per_gpu_cost_ratio(1, 4055.97, 2, 6299.21) == pytest.approx((2 / 6299.21) / (1 / 4055.97))
    assert tc.per_gpu_cost_ratio(1, 4055.97, 2, 6299.21) == pytest.approx(1.2878, abs=1e-4)


@given(tp=st.integers(1, 64), x=st.floats(1e-3, 1e6), k=st.integers(1, 8))
def test_linear_scaling_costs_nothing(tc, tp, x, k):
    assert tc.per_gpu_cost_ratio(tp, x, tp * k, x * k) == pytest.approx(1.0)


def test_all_reduce_bytes_bus_time_and_strategy_by_hand(tc):
    s = tc.all_reduce_bytes(1481, 8192)  # the v4.1 H100 TP2 step: 839 decodes + 642 prompt tokens, 16-bit
    assert s == 1481 * 8192 * 2 == 24_264_704
    assert tc.bus_time_s(s, 2, 370e9) == pytest.approx(s / 370e9)  # 2 (p-1)/p = 1 at two ranks
    assert tc.bus_time_s(s, 8, 370e9) == pytest.approx(1.75 * s / 370e9)
    assert tc.trtllm_strategy(16_000_000, 2) == "custom one-/two-shot"
    assert tc.trtllm_strategy(16_000_001, 2) == "NCCL"
    assert tc.trtllm_strategy(8_000_001, 4) == "NCCL"
    assert tc.trtllm_strategy(s, 2) == "NCCL"


@pytest.mark.parametrize(("fn", "args"), [("per_gpu_cost_ratio", (0, 1.0, 2, 1.0)),
                                          ("per_gpu_cost_ratio", (1, 0.0, 2, 1.0)),
                                          ("all_reduce_bytes", (-1.0, 8192)),
                                          ("all_reduce_bytes", (10.0, 0)),
                                          ("bus_time_s", (1.0, 2, 0.0)),
                                          ("bus_time_s", (1.0, 0, 1.0))])
def test_bad_input_refused(tc, fn, args):
    with pytest.raises(ValueError):
        getattr(tc, fn)(*args)


def _row(tp, acc="a", isl=128, osl=128):
    return SimpleNamespace(accelerator=acc, model="m", input_tokens=isl, output_tokens=osl, metric="x", pp=1, tp=tp)


def test_pairs_are_neighbours_of_one_group(tc):
    rows = [_row(4), _row(1), _row(2), _row(2, isl=2048), _row(1, acc="b")]
    pairs = [(a.tp, b.tp) for a, b in tc.tp_pairs(rows)]
    assert pairs == [(1, 2), (2, 4)]  # the 2048-token row and chip b have no partner


def test_trtllm010_h200_tp2_premium_end_to_end(tc):
    from inferchip.validation.cases import read_cases

    cases = [c for c in read_cases(tc.DEFAULT_PAIRS) if c.accelerator == "nvidia-h200-sxm-141gb"
             and c.case_id.startswith("trtllm010-") and (c.input_tokens, c.output_tokens) == (128, 128)]
    assert [c.tp for c in cases] == [1, 2]
    v = tc._validator(None, None, None)
    pred = {c.tp: v.predict_case(c).predicted for c in cases}
    measured = tc.per_gpu_cost_ratio(1, cases[0].value, 2, cases[1].value)
    predicted = tc.per_gpu_cost_ratio(1, pred[1], 2, pred[2])
    assert measured == pytest.approx(1.288, abs=1e-3)
    assert predicted == pytest.approx(measured, rel=0.10)


def test_every_pair_of_the_data_file(tc):
    from inferchip.validation.cases import read_cases

    pairs = tc.tp_pairs(read_cases(tc.DEFAULT_PAIRS))
    assert len(pairs) == 5  # v0.10 H200 Llama-2-70B at three lengths, v0.17 H200 Llama-3.1-70B at two
    assert all((a.tp, b.tp) == (1, 2) and a.model == b.model for a, b in pairs)
