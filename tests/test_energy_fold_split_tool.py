"""tools/energy/energy_fold_split.py: the ML.ENERGY steady-state window's mean age by hand, its limits, the gpqa
request counts of the benchmark configs, and the exact tokens/J split."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conftest import load_tool

HOPPER = "nvidia-hopper"  # the chip family the rows' H100 belongs to (catalog/families.yaml)

fs = load_tool("energy_fold_split")


def test_window_age_one_slot_by_hand() -> None:
    # 1 slot, lengths 10, 30, 10, 30: the window ends when 4 - 1 - 1 = 2 have finished, at step 40;
    # the age integral is 10^2/2 + 30^2/2 = 500 over 40 steps of one slot: 12.5 tokens.
    age, t_end = fs.window_mean_age_tokens([10, 30, 10, 30], 1)
    assert t_end == pytest.approx(40.0)
    assert age == pytest.approx(12.5)


def test_window_age_two_slots_by_hand() -> None:
    # 2 slots, lengths 10, 30, 10, 30, 10: slot A runs 0-10, 10-20, 20-50; slot B 0-30. The window ends
    # when 5 - 2 - 1 = 2 have finished: at step 20. Ages: A 10^2/2 + 10^2/2 = 100, B 20^2/2 = 200;
    # 300 / (2 slots x 20 steps) = 7.5 tokens.
    age, t_end = fs.window_mean_age_tokens([10, 30, 10, 30, 10], 2)
    assert t_end == pytest.approx(20.0)
    assert age == pytest.approx(7.5)


def test_no_window_is_an_error() -> None:
    with pytest.raises(ValueError, match="no steady-state window"):
        fs.window_mean_age_tokens([10, 20, 30], 2)


@settings(max_examples=30, deadline=None)
@given(length=st.floats(1.0, 5000.0), c=st.integers(1, 64), rounds=st.integers(3, 20))
def test_fixed_length_age_is_half_the_length(length: float, c: int, rounds: int) -> None:
    # every sequence the same length: each slot's age runs 0..L over and over, whatever the window
    age, _ = fs.window_mean_age_tokens([length] * (c * rounds), c)
    assert age == pytest.approx(length / 2.0)


def test_many_requests_reach_the_length_biased_age() -> None:
    # renewal theory: far from the start the mean age is E[o^2] / (2 E[o]); a cohort cut short is younger
    points = [100.0, 300.0, 1000.0, 3000.0]
    stationary = sum(p * p for p in points) / (2.0 * sum(points))
    long_age, _ = fs.window_mean_age_tokens(fs.request_lengths(points, 4000), 8)
    short_age, _ = fs.window_mean_age_tokens(fs.request_lengths(points, 198), 128)
    assert long_age == pytest.approx(stationary, rel=0.05)
    assert short_age < 0.7 * stationary


def test_request_lengths_use_every_point_about_equally() -> None:
    got = fs.request_lengths([1.0, 2.0, 3.0, 4.0], 400)
    assert len(got) == 400
    assert all(abs(got.count(p) - 100) <= 2 for p in (1.0, 2.0, 3.0, 4.0))


def test_gpqa_request_counts_follow_the_configs() -> None:
    assert fs.gpqa_num_requests("Qwen/Qwen3-8B", 128) == 198
    assert fs.gpqa_num_requests("openai/gpt-oss-120b", 1024) == 6 * 198
    assert fs.gpqa_num_requests("openai/gpt-oss-20b", 2048) == 12 * 198
    assert fs.gpqa_num_requests("openai/gpt-oss-20b", 96, "mle3-gpqa-gpt-oss-20b-h100x1-bs96-power") == 198
    assert fs.gpqa_num_requests("openai/gpt-oss-20b", 96, "mle3-gpqa-gpt-oss-20b-h100x1-bs96-rep2-power") == 396


def test_split_is_exact() -> None:
    e_t, e_p, e_j = fs.split(120.0, 90.0, 100.0, 100.0)
    assert (e_t, e_p) == pytest.approx((0.2, -0.1))
    assert e_j == pytest.approx(1.2 / 0.9 - 1.0)
    assert fs.band("32") == "<=32" and fs.band("33") == "33-256" and fs.band("257") == ">256"


def test_mixture_step_by_hand() -> None:
    # 0.2 prompts per step: 80 % of the steps 10 ms (decode only), 20 % 30 ms (one prompt): 14 ms;
    # at 1.5 prompts per step every step carries prompts: no mixture (NaN, the caller keeps its step)
    got = fs.mixture_step_s(np.array([10e-3, 10e-3]), np.array([30e-3, 30e-3]), np.array([0.2, 1.5]))
    assert got[0] == pytest.approx(14e-3)
    assert np.isnan(got[1])


@given(t0=st.floats(1e-4, 1.0), extra=st.floats(0.0, 1.0), p=st.floats(0.0, 0.999))
def test_mixture_lies_between_its_steps(t0: float, extra: float, p: float) -> None:
    got = float(fs.mixture_step_s(np.array(t0), np.array(t0 + extra), np.array(p)))
    assert t0 - 1e-12 <= got <= t0 + extra + 1e-12


def test_moe_token_scale_parses_and_rejects() -> None:
    assert fs.parse_scales(["mxfp4=2", "FP8=1.5"]) == {"mxfp4": 2.0, "fp8": 1.5}
    for bad in ("mxfp4", "=2", "mxfp4=-1", "mxfp4=nan"):
        with pytest.raises(ValueError, match="moe-token-scale"):
            fs.parse_scales([bad])


def test_moe_token_scale_touches_only_the_stated_triton_rows_of_that_format() -> None:
    from inferchip.cost.constants import TRITON_MOE_TOKEN_VECTOR_FLOP
    from inferchip.spec.calibration import Calibration
    from inferchip.validation.moe_kernels import run_calibration

    triton = "MoE kernels: vLLM Triton (fused_moe for bf16 and FP8, matmul_ogs for MXFP4)"
    mx = {"weight_dtype": "mxfp4", "notes": triton, "software": "vLLM 0.11.1"}
    bf = {**mx, "weight_dtype": "bf16"}
    tuned = {**mx, "notes": "MoE kernels: Marlin"}
    cal = Calibration()
    scales = {"mxfp4": 2.0}
    got = fs.scaled_moe_work(run_calibration(cal, mx, False, HOPPER), mx, scales)
    assert got.moe_token_vector_flop == pytest.approx(2.0 * TRITON_MOE_TOKEN_VECTOR_FLOP)
    # a bf16 Triton row keeps the shipped per-token work; a row without the statement keeps 0
    bf_cal = run_calibration(cal, bf, False, HOPPER)
    assert fs.scaled_moe_work(bf_cal, bf, scales).moe_token_vector_flop == pytest.approx(
        TRITON_MOE_TOKEN_VECTOR_FLOP)
    assert fs.scaled_moe_work(run_calibration(cal, tuned, False, HOPPER), tuned, scales).moe_token_vector_flop == 0.0


def test_tokens_per_j_if_exact_by_hand() -> None:
    # run 1: throughput +50 %, power -20 % -> 1.5 / 0.8 - 1 = +87.5 %; made exact: 1 / 0.8 - 1 = +25 %.
    # run 2 keeps its split: 0.9 / 1.1 - 1 = -18.18 %.
    got = fs.tokens_per_j_if_exact([0.5, -0.1], [-0.2, 0.1], [True, False])
    assert got == pytest.approx([0.25, 0.9 / 1.1 - 1.0])
    assert fs.tokens_per_j_if_exact([0.5], [-0.2], [False]) == pytest.approx([1.5 / 0.8 - 1.0])


@settings(max_examples=50, deadline=None)
@given(et=st.floats(-0.9, 3.0), ep=st.floats(-0.9, 3.0))
def test_exact_throughput_leaves_the_power_error_only(et: float, ep: float) -> None:
    # tokens/J = throughput / power: with the throughput exact the tokens/J error is the power error inverted
    got = fs.tokens_per_j_if_exact([et], [ep], [True])[0]
    assert (1.0 + got) * (1.0 + ep) == pytest.approx(1.0)
    assert fs.tokens_per_j_if_exact([et], [ep], [False])[0] == pytest.approx(fs.split(1.0 + et, 1.0 + ep, 1.0, 1.0)[2])


def test_tail_summary_counts_beyond_the_threshold() -> None:
    s = fs.tail_summary(np.array([-50.0, 10.0, 20.0, 36.0, -5.0]), 35.0)
    assert s.startswith("20.0 / ")
    assert s.endswith("2 of 5 beyond 35 %")


def test_stated_step_reads_the_notes() -> None:
    notes = ("vLLM max_num_seqs=8 caps the running batch; measured mean running batch (vLLM num_requests_running, "
             "steady state) 7.9; energy per response 6303.9 J; median ITL 20.24 ms, p90 20.95 ms")
    assert fs.stated_step_ms(notes) == pytest.approx((20.24, 7.9))
    itl, running = fs.stated_step_ms("no figures here")
    assert np.isnan(itl) and np.isnan(running)


def test_layer_kernels_parse_and_reject() -> None:
    assert fs.parse_layer_kernels(["235B.*FP8=4", "a=b=2"]) == [("235B.*FP8", 4), ("a=b", 2)]
    for bad in ("235B", "=4", "x=-1", "x=1.5", "x="):
        with pytest.raises(ValueError, match="layer-kernels"):
            fs.parse_layer_kernels([bad])


def test_extra_layer_kernels_only_on_matching_models() -> None:
    specs = fs.parse_layer_kernels(["235B.*FP8=4", "FP8=1"])
    assert fs.extra_layer_kernels("Qwen/Qwen3-235B-A22B-Instruct-2507-FP8", specs) == 5
    assert fs.extra_layer_kernels("meta-llama/Llama-3.1-405B-Instruct-FP8", specs) == 1
    assert fs.extra_layer_kernels("Qwen/Qwen3-235B-A22B-Instruct-2507", specs) == 0


def test_layer_kernels_patch_adds_only_inside_a_matching_run(monkeypatch: pytest.MonkeyPatch) -> None:
    import inferchip.mapping.sharding as sh
    from inferchip.validation.energy import rows as er

    seen: list[int] = []
    monkeypatch.setattr(sh, "layer_small_kernels", lambda m, g: 7)
    monkeypatch.setattr(er, "predict_energy_run", lambda row: seen.append(sh.layer_small_kernels(None, None)))
    fs._patch_layer_kernels(fs.parse_layer_kernels(["FP8=3"]))
    er.predict_energy_run({"model": "x-FP8"})
    er.predict_energy_run({"model": "x-bf16"})
    assert seen == [10, 7]
    assert sh.layer_small_kernels(None, None) == 7  # back to the plain count outside a run
