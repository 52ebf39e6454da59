"""vLLM's Triton MoE kernels, where a run states them (issue 12, energy): the per-token work beyond
the MMA (``cost.gemm.moe_token_time_s``), scoped to those runs, against hand calculations.

vLLM PR #39902 (H100, gpt-oss-120b TP2 expert shape, default Triton configs): 0.594 us per added token
and layer, 0.101 us of it the bf16 MMA at the dense peak, so 0.49 us per token and MoE layer beyond the
MMA: 0.245 us per grouped-GEMM kernel (two per layer) at H100's 66.9 TFLOP/s vector rate.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from inferchip.catalog.calibration_file import load_calibration
from inferchip.cost.constants import TRITON_MOE_TOKEN_VECTOR_FLOP
from inferchip.cost.gemm import moe_token_time_s
from inferchip.cost.step import compile_step
from inferchip.performance.setting import resolve_setting
from inferchip.validation.energy_rows import predict_energy_run
from inferchip.validation.moe_kernels import run_calibration, states_triton_moe

MLENERGY = Path(__file__).resolve().parents[1] / "src" / "inferchip" / "catalog" / "mlenergy_cases.csv"
H100_VECTOR = 66.9e12


def _row(case_id: str) -> dict[str, str]:
    with MLENERGY.open(encoding="utf-8-sig", newline="") as fh:
        return next(r for r in csv.DictReader(fh) if r["case_id"] == case_id)


def test_per_token_time_by_hand() -> None:
    w = TRITON_MOE_TOKEN_VECTOR_FLOP
    assert moe_token_time_s(1000.0, w, H100_VECTOR) == pytest.approx(1000 * 0.245e-6, rel=1e-12)
    assert moe_token_time_s(1000.0, w, 2 * H100_VECTOR) == pytest.approx(1000 * 0.1225e-6, rel=1e-12)
    assert moe_token_time_s(1000.0, 0.0, H100_VECTOR) == 0.0  # tuned kernels: none
    np.testing.assert_allclose(moe_token_time_s(np.array([1.0, 4.0]), w, H100_VECTOR), [0.245e-6, 0.98e-6],
                               rtol=1e-12)


def _experts_overhead(model: str, flop_per_token: float, seqs: np.ndarray, **kw: object) -> np.ndarray:
    cal = load_calibration(None).model_copy(update={"moe_token_vector_flop": flop_per_token})
    s = resolve_setting("nvidia-h100-sxm-80gb", model, calibration=cal, **kw)
    mm = s.mapped(s.layout)
    plan = compile_step(mm.sm, mm.chip, mm.formats, mm.cal)
    args = [seqs, seqs, seqs * 1000.0, np.zeros_like(seqs)]
    classes = plan.cost(*args, None).classes
    return np.asarray(classes["experts"].overhead_s, dtype=float) if "experts" in classes else np.zeros(1)


def test_gpt_oss_120b_tp2_decode_pays_049_us_per_token_and_moe_layer() -> None:
    """gpt-oss-120b, 36 MoE layers, TP2 on H100: 512 more decoding sequences add
    512 x 36 x 0.49 us = 9.03 ms of expert overhead, on the scalar path (one point) and on the array
    path (two points at once); without the Triton kernels (0) they add none."""
    kw = dict(count=2, tp=2, weights="mxfp4", activations="bf16")
    w = TRITON_MOE_TOKEN_VECTOR_FLOP
    one = [float(_experts_overhead("openai/gpt-oss-120b", w, np.array(s), **kw).sum()) for s in (512.0, 1024.0)]
    both = _experts_overhead("openai/gpt-oss-120b", w, np.array([512.0, 1024.0]), **kw).reshape(-1)
    assert one[1] - one[0] == pytest.approx(512 * 36 * 0.49e-6, rel=1e-9)
    assert both[1] - both[0] == pytest.approx(512 * 36 * 0.49e-6, rel=1e-9)
    tuned = [float(_experts_overhead("openai/gpt-oss-120b", 0.0, np.array(s), **kw).sum()) for s in (512.0, 1024.0)]
    assert tuned[1] == tuned[0]


def test_the_term_needs_the_statement_and_a_moe_model() -> None:
    cal = load_calibration(None)
    moe = _row("mle3-gpqa-gpt-oss-120b-h100x2-bs512-power")
    assert states_triton_moe(moe)
    assert run_calibration(cal, moe, closed_loop=True).moe_token_vector_flop == TRITON_MOE_TOKEN_VECTOR_FLOP
    bare = {**moe, "notes": moe["notes"].replace("MoE kernels: vLLM Triton", "MoE kernels: Marlin")}
    assert not states_triton_moe(bare)
    assert run_calibration(cal, bare, closed_loop=True).moe_token_vector_flop == 0.0
    # the same run predicted with tuned kernels is faster (the term only adds time)
    triton, why = predict_energy_run(moe)
    tuned, why_tuned = predict_energy_run(bare)
    assert triton is not None and tuned is not None, (why, why_tuned)
    assert triton.output_tokens_per_s < tuned.output_tokens_per_s
    # a dense model has no experts: the statement changes nothing
    dense = _row("mle3-lm-arena-chat-qwen3-8b-h100x1-bs256-power")
    assert states_triton_moe(dense)
    a, _ = predict_energy_run(dense)
    b, _ = predict_energy_run({**dense, "notes": dense["notes"].replace("MoE kernels: vLLM Triton", "")})
    assert a is not None and a == b



def _fp32_and_energy(flop_per_token: float, seqs: np.ndarray) -> tuple[np.ndarray, np.ndarray, object]:
    """FP32 FLOP and dynamic energy of a gpt-oss-120b TP2 decode step on H100 at ``seqs`` sequences."""
    from inferchip.cost.economics import step_dynamic_energy_j

    cal = load_calibration(None).model_copy(update={"moe_token_vector_flop": flop_per_token})
    s = resolve_setting("nvidia-h100-sxm-80gb", "openai/gpt-oss-120b", calibration=cal, count=2, tp=2,
                        weights="mxfp4", activations="bf16")
    mm = s.mapped(s.layout)
    cost = compile_step(mm.sm, mm.chip, mm.formats, mm.cal).cost(seqs, seqs, seqs * 1000.0, np.zeros_like(seqs))
    e = step_dynamic_energy_j(cost, s.chip_spec, s.chip_spec.memory.technology(), s.assumptions)
    return np.asarray(cost.flop_by_format.get("fp32", 0.0), dtype=float).reshape(-1), np.reshape(e, -1), s


def test_the_per_token_work_is_fp32_flop_with_its_energy() -> None:
    """The work the Triton kernels add is counted as FP32 vector FLOP: 36 MoE layers x 2 kernels x half
    the per-token work = 36 x 32.78 MFLOP per token, on the scalar (one point) and array (two points)
    paths; its dynamic energy is those FLOP at H100's rated J per FP32 FLOP,
    (1 - busy) (700 W - idle) / (gemm fraction x 66.9 TFLOP/s), by hand from the setting's figures."""
    w = TRITON_MOE_TOKEN_VECTOR_FLOP
    seqs = np.array([512.0, 1024.0])
    fp32, e, s = _fp32_and_energy(w, seqs)
    fp32_tuned, e_tuned, _ = _fp32_and_energy(0.0, seqs)
    added = seqs * 36 * 0.49e-6 * H100_VECTOR
    np.testing.assert_allclose(fp32 - fp32_tuned, added, rtol=1e-9)
    one = [_fp32_and_energy(w, np.array(x))[0][0] - _fp32_and_energy(0.0, np.array(x))[0][0] for x in seqs]
    np.testing.assert_allclose(one, added, rtol=1e-9)
    a = s.assumptions.energy  # type: ignore[attr-defined]
    chip = s.chip  # type: ignore[attr-defined]
    flop_j = (1 - a.busy_fraction) * (chip.tdp_w - chip.idle_w) / (a.gemm_fraction * H100_VECTOR)
    assert 5e-12 < flop_j < 10e-12  # about 7.6 pJ per FP32 FLOP on H100
    np.testing.assert_allclose(e - e_tuned, added * flop_j, rtol=1e-9)
