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
from inferchip.cost.constants import TRITON_MOE_TOKEN_VECTOR_FLOP, VECTOR_WORK_FORMAT
from inferchip.cost.gemm import moe_token_time_s
from inferchip.cost.step import compile_step
from inferchip.performance.setting import resolve_setting
from inferchip.validation.energy.rows import predict_energy_run
from inferchip.validation.moe_kernels import run_calibration, states_triton_moe

HOPPER = "nvidia-hopper"  # the chip family the rows' H100 belongs to (catalog/families.yaml)

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
    got = run_calibration(cal, moe, closed_loop=True, family=HOPPER).moe_token_vector_flop
    assert got == TRITON_MOE_TOKEN_VECTOR_FLOP
    bare = {**moe, "notes": moe["notes"].replace("MoE kernels: vLLM Triton", "MoE kernels: Marlin")}
    assert not states_triton_moe(bare)
    assert run_calibration(cal, bare, closed_loop=True, family=HOPPER).moe_token_vector_flop == 0.0
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



def _work_and_energy(flop_per_token: float, seqs: np.ndarray) -> tuple[np.ndarray, np.ndarray, object]:
    """Vector-work FLOP and dynamic energy of a gpt-oss-120b TP2 decode step on H100 at ``seqs`` sequences."""
    from inferchip.cost.economics import step_dynamic_energy_j

    cal = load_calibration(None).model_copy(update={"moe_token_vector_flop": flop_per_token})
    s = resolve_setting("nvidia-h100-sxm-80gb", "openai/gpt-oss-120b", calibration=cal, count=2, tp=2,
                        weights="mxfp4", activations="bf16")
    mm = s.mapped(s.layout)
    cost = compile_step(mm.sm, mm.chip, mm.formats, mm.cal).cost(seqs, seqs, seqs * 1000.0, np.zeros_like(seqs))
    e = step_dynamic_energy_j(cost, s.chip_spec, s.chip_spec.memory.technology(), s.assumptions)
    work = np.asarray(cost.flop_by_format.get(VECTOR_WORK_FORMAT, 0.0), dtype=float).reshape(-1)
    return work, np.reshape(e, -1), s


def test_the_per_token_work_draws_at_most_the_limit_while_it_runs() -> None:
    """The work the Triton kernels add is counted as FLOP-equivalents at the FP32 vector rate (its own
    bucket, not FP32 FLOP): 36 MoE layers x 2 kernels x half the per-token work = 36 x 32.78 MFLOP per
    token, on the scalar (one point) and array (two points) paths. Its energy is rated at the rate it was
    timed at: (1 - busy) (700 W - idle) / 66.9 TFLOP/s per FLOP-equivalent, by hand from the setting's
    figures, so over the 0.49 us per token and layer it takes the chip draws exactly its power limit
    (busy floor + the rest of the range), whatever the GEMM rate at the limit is."""
    w = TRITON_MOE_TOKEN_VECTOR_FLOP
    seqs = np.array([512.0, 1024.0])
    work, e, s = _work_and_energy(w, seqs)
    work_tuned, e_tuned, _ = _work_and_energy(0.0, seqs)
    added = seqs * 36 * 0.49e-6 * H100_VECTOR
    np.testing.assert_allclose(work - work_tuned, added, rtol=1e-9)
    assert not np.any(work_tuned)
    one = [_work_and_energy(w, np.array(x))[0][0] - _work_and_energy(0.0, np.array(x))[0][0] for x in seqs]
    np.testing.assert_allclose(one, added, rtol=1e-9)
    a = s.assumptions.energy  # type: ignore[attr-defined]
    chip = s.chip  # type: ignore[attr-defined]
    j_per_flop = (1 - a.busy_fraction) * (chip.tdp_w - chip.idle_w) / H100_VECTOR
    assert 3e-12 < j_per_flop < 6e-12  # about 4.6 pJ on H100 at the shipped busy floor
    np.testing.assert_allclose(e - e_tuned, added * j_per_flop, rtol=1e-9)
    # power while the added time runs: busy floor + its energy / its time = the power limit, by hand
    busy_w = chip.idle_w + a.busy_fraction * (chip.tdp_w - chip.idle_w)
    added_s = seqs * 36 * 0.49e-6
    np.testing.assert_allclose(busy_w + (e - e_tuned) / added_s, chip.tdp_w, rtol=1e-9)


def test_vector_work_energy_ignores_the_gemm_rate_at_the_limit() -> None:
    """vector_work_energy_per_flop_j: (1 - busy)(limit - idle) / vector peak, by hand; the GEMM rate at the
    limit moves real FP32 FLOP's energy (UnitEnergies.flop_j('fp32')) but not the vector work's."""
    from inferchip.catalog.assumptions import load_assumptions
    from inferchip.cost.economics import UnitEnergies
    from inferchip.cost.energy import vector_work_energy_per_flop_j
    from inferchip.validation.energy.power_fit import GEMM, with_power

    assert vector_work_energy_per_flop_j(700.0, 100.0, 60e12, 0.5) == pytest.approx(0.5 * 600.0 / 60e12, rel=1e-12)
    a = load_assumptions()
    rating = (700.0, 100.0, {"fp32": 60e12, "bf16": 900e12})
    lo = UnitEnergies(4.0, with_power(a, {GEMM: 0.6}), 0.0, 0.0, rating=rating)
    hi = UnitEnergies(4.0, with_power(a, {GEMM: 0.9}), 0.0, 0.0, rating=rating)
    assert lo.flop_j(VECTOR_WORK_FORMAT) == pytest.approx(hi.flop_j(VECTOR_WORK_FORMAT), rel=1e-12)
    assert lo.flop_j("fp32") == pytest.approx(1.5 * hi.flop_j("fp32"), rel=1e-12)
    busy = a.energy.busy_fraction
    assert lo.flop_j(VECTOR_WORK_FORMAT) == pytest.approx((1 - busy) * 600.0 / 60e12, rel=1e-12)


def test_vector_work_without_a_rating_takes_the_catalogue_fp32_figure() -> None:
    """A chip that publishes no TDP or FP32 peak: the node-scaled FP32 figure less the busy floor, as real FP32."""
    from inferchip.catalog.assumptions import load_assumptions
    from inferchip.cost.economics import UnitEnergies
    from inferchip.cost.energy import energy_per_flop_j

    a = load_assumptions()
    u = UnitEnergies(5.0, a, 0.0, 0.0)
    by_hand = float(energy_per_flop_j("fp32", 5.0, a)) * (1 - a.energy.busy_fraction)
    assert u.flop_j(VECTOR_WORK_FORMAT) == pytest.approx(by_hand, rel=1e-12)
    assert u.flop_j(VECTOR_WORK_FORMAT) == pytest.approx(u.flop_j("fp32"), rel=1e-12)
