"""The energy of an emulated (or widened) GEMM FLOP is the energy of the FLOP the chip executes (stop 44, cli44).

A bf16 GEMM on a chip with only fp8 and fp4 units runs as ceil(8/4)^2 = 4 fp8 products of split operands
(``spec.formats.emulation_passes``; ``cost.peaks``), at a quarter of the fp8 peak. Stop 43 timed it so but charged
each bf16 FLOP the bf16 energy (the catalogue's node-scaled bf16 figure: the chip rates no bf16 peak), as if bf16
units it lacks had run it. Now: the fp8 units' energy per FLOP times the 4 passes, so a chip running the emulated
GEMM flat out draws what it draws running fp8 flat out. A format run on wider units (fp4 on an H100's fp8) costs
the wider units' energy per FLOP (one pass).
"""

from __future__ import annotations

import pytest

from conftest import make_chip
from inferchip.catalog.assumptions import load_assumptions
from inferchip.cost import energy as en
from inferchip.cost.economics import UnitEnergies
from inferchip.cost.peaks import units_for
from inferchip.cost.vision.frame import energy_per_flop_j

FP8, FP4 = 4500e12, 9000e12
A = load_assumptions(None)


def _units(peaks: dict[str, float], rated: bool) -> UnitEnergies:
    return UnitEnergies(4.0, A, 1e-11, 1e-11, rating=(1000.0, 200.0, dict(peaks)) if rated else None,
                        peaks=dict(peaks))


@pytest.mark.parametrize("rated", [True, False])
def test_bf16_emulated_on_fp8_units_costs_four_fp8_flop(rated):
    u = _units({"fp8": FP8, "fp4": FP4}, rated)
    assert units_for(u.peaks, "bf16") == ("fp8", 4)
    e = A.energy
    fp8 = ((1 - e.busy_fraction) * (1000.0 - 200.0) / (e.gemm_fraction * FP8) if rated  # the chip's rating point
           else float(en.energy_per_flop_j("fp8", 4.0, A)) * (1 - e.busy_fraction))  # the catalogue's, rated at peak
    assert u.flop_j("fp8") == pytest.approx(fp8, rel=1e-12)
    assert u.flop_j("bf16") == pytest.approx(4 * fp8, rel=1e-12)
    assert u.flop_j("fp32") == pytest.approx(36 * fp8, rel=1e-12)  # ceil(24 / 4)^2 on fp8 (faster than 144 on fp4)
    # flat out: the emulated GEMM at FP8 / 4 FLOP/s draws what fp8 draws at FP8
    assert u.flop_j("bf16") * FP8 / 4 == pytest.approx(u.flop_j("fp8") * FP8, rel=1e-12)


def test_a_format_run_on_wider_units_costs_theirs_and_a_native_one_its_own():
    u = _units({"bf16": 989e12, "fp8": 1979e12}, rated=True)
    assert u.flop_j("fp4") == u.flop_j("mxfp4") == u.flop_j("fp8")  # an H100 runs fp4 GEMMs on its fp8 units
    assert u.flop_j("bf16") == pytest.approx(2 * u.flop_j("fp8"))  # rated at half the fp8 peak
    bare = _units({}, rated=False)  # no peaks known: the wanted format's figure, as before
    assert bare.flop_j("bf16") == pytest.approx(float(en.energy_per_flop_j("bf16", 4.0, A))
                                                * (1 - A.energy.busy_fraction))


def test_vision_frames_charge_the_executed_format_too():
    gpu = make_chip(family="nvidia-test", peak_flop_per_s={"fp8": FP8, "fp4": FP4})  # a GPU: no TDP cap
    assert energy_per_flop_j(gpu, "bf16", 4.0, 0.0, A) == pytest.approx(4 * energy_per_flop_j(gpu, "fp8", 4.0, 0.0, A))
    assert energy_per_flop_j(gpu, "fp8", 4.0, 0.0, A) == pytest.approx(float(en.energy_per_flop_j("fp8", 4.0, A)))
