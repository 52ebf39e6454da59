"""Each chip's per-FLOP energy from its own rating point, the on-chip cost of DRAM bytes and the
power cap (cost.energy.rated_energy_per_flop_j, cost.economics.unit_energies), by hand."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inferchip.catalog.assumptions import load_assumptions
from inferchip.catalog.chips import family_defaults, load_chip
from inferchip.cost import energy as en
from inferchip.cost.economics import active_static_power_w, chip_economy, chip_money, unit_energies
from inferchip.errors import InvalidSettingError
from inferchip.spec.chip import chip_params
from inferchip.validation.energy.power_fit import BUSY, GEMM, ONCHIP, measured_throughput, with_power

A = load_assumptions()


def test_rated_energy_per_flop_by_hand():
    # 700 W limit, 70 W idle, 989.4 TFLOP/s: a floor of 0.4 of the range leaves 0.6 x 630 W = 378 W
    # to a GEMM that runs at 0.8 of the peak: 378 / (0.8 x 989.4e12) J per FLOP.
    assert en.rated_energy_per_flop_j(700.0, 70.0, 989.4e12, 0.4, 0.8) == pytest.approx(378.0 / (0.8 * 989.4e12))
    with pytest.raises(InvalidSettingError, match="gemm_peak_fraction"):
        en.rated_energy_per_flop_j(700.0, 70.0, 989.4e12, 0.4, 0.0)
    with pytest.raises(InvalidSettingError, match="peak"):
        en.rated_energy_per_flop_j(700.0, 70.0, 0.0, 0.4, 0.8)


def _h100(beta: float, gemm: float, onchip: float = 0.0, limit_w: float | None = None):
    spec = load_chip("nvidia-h100-sxm-80gb")
    a = with_power(A, {BUSY: beta, GEMM: gemm, ONCHIP: onchip})
    tdp = float(spec.power.tdp_w)  # type: ignore[arg-type]
    idle = chip_params(spec, family_defaults(spec.family)).idle_w  # the idle power predictions use
    eco = chip_economy(spec, spec.memory.technology(), limit_w or tdp, idle, chip_money(spec, a), a)
    return spec, a, tdp, idle, eco


@settings(max_examples=30, deadline=None)
@given(beta=st.floats(0.0, 0.85), gemm=st.floats(0.6, 1.0), fmt=st.sampled_from(["bf16", "fp8"]))
def test_a_gemm_at_its_rated_rate_draws_the_tdp_and_a_faster_one_is_capped(beta, gemm, fmt):
    spec, a, tdp, idle, eco = _h100(beta, gemm)
    peak = float(spec.compute.dense_tflops[fmt]) * 1e12  # type: ignore[arg-type]
    flop = 1e13
    t_rated = flop / (gemm * peak)
    t, p, throttled, _ = eco.step_power({fmt: flop}, 0.0, 0.0, t_rated, 1)
    assert p == pytest.approx(tdp, rel=1e-9) and t == pytest.approx(t_rated, rel=1e-9)
    # the same GEMM at the datasheet peak would exceed the TDP: the clocks drop to the rated rate
    t, p, throttled, _ = eco.step_power({fmt: flop}, 0.0, 0.0, flop / peak, 1)
    assert (throttled or gemm == pytest.approx(1.0)) and p == pytest.approx(tdp, rel=1e-9)
    assert t == pytest.approx(t_rated, rel=1e-9)


def test_a_power_cap_lowers_the_floor_and_stretches_a_gemm():
    spec, a, tdp, idle, capped = _h100(0.5, 0.8, limit_w=450.0)
    assert capped.static_w == pytest.approx(active_static_power_w(450.0, idle, a))
    peak = float(spec.compute.dense_tflops["bf16"]) * 1e12  # type: ignore[arg-type]
    flop = 1e13
    t, p, throttled, _ = capped.step_power({"bf16": flop}, 0.0, 0.0, flop / (0.8 * peak), 1)
    # the FLOPs keep the rated energy; the cap leaves 450 - floor W for them: t = E / (450 - floor)
    e_dyn = flop * capped.units.flop_j("bf16")
    assert throttled and p == pytest.approx(450.0)
    assert t == pytest.approx(e_dyn / (450.0 - capped.static_w), rel=1e-9)


def test_onchip_energy_adds_to_every_dram_byte():
    spec = load_chip("nvidia-h100-sxm-80gb")
    mem = spec.memory.technology()
    base = unit_energies(spec, mem, with_power(A, {ONCHIP: 0.0})).per_byte_dram_j
    more = unit_energies(spec, mem, with_power(A, {ONCHIP: 5.0})).per_byte_dram_j
    assert base == pytest.approx(float(en.memory_energy_per_byte_j(mem, A, node_nm=spec.silicon.node_nm)))
    assert more - base == pytest.approx(5.0 * 8 * 1e-12)  # 5 pJ/bit x 8 bits per byte


def test_a_chip_without_a_rating_uses_the_node_scaled_energy():
    a = with_power(A, {BUSY: 0.4, GEMM: 0.8})
    u = chip_economy(None, "HBM3", 700.0, 84.0, chip_money(None, a), a).units
    # rated at the datasheet peak (flop_pj_at_reference_node's derivation): only the busy floor comes off
    assert u.flop_j("bf16") == pytest.approx(0.6 * float(en.energy_per_flop_j("bf16", u.node_nm, a)))


def test_measured_throughput_in_total_tokens_is_scaled_to_output_tokens():
    row = {"notes": "power scope board; measured throughput 261.27 total_tokens/s (input+output) in the same run",
           "input_tokens": "1024", "output_tokens": "1024"}
    assert measured_throughput(row) == pytest.approx(261.27 / 2)
    assert measured_throughput({"notes": "measured throughput 387.87 output_tokens/s in the run"}) == 387.87
    assert measured_throughput({**row, "input_tokens": ""}) is None  # a total without both lengths
