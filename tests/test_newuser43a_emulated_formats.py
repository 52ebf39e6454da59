"""A GEMM format a chip has no units as wide as (stop 42, newuser43a).

Before: a chip that listed only fp4 (or only fp8 and fp4) ran its bf16 GEMMs at its fastest format's peak, the fp4
one (``cost.peaks.peak_flop_per_s`` took ``max`` of the peaks when nothing in the widening chain had units), and the
notes said only "has no bf16 units: GEMMs run at fp4". A bf16 product cannot be computed on fp4 or fp8 units at their
own rate: it is emulated on them, each operand split into narrower slices and every slice pair multiplied
(``spec.formats.emulation_passes``, the rule of cuBLAS's BF16x9 FP32 emulation), at their peak divided by the passes.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from conftest import make_chip, tiny_dense
from inferchip.cost.peaks import emulation, executed_format, peak_flop_per_s
from inferchip.performance.predict import ask, predict_setting
from inferchip.performance.setting import resolve_setting
from inferchip.spec.formats import emulation_passes
from inferchip.spec.params import stack_chips

FP4 = 9000e12
FP8 = 4500e12


@pytest.mark.parametrize("want, units, passes", [
    ("fp32", "bf16", 9),   # ceil(24 / 8)^2: cuBLAS CUBLAS_COMPUTE_32F_EMULATED_16BFX9
    ("bf16", "fp8", 4),    # ceil(8 / 4)^2
    ("fp16", "fp8", 9),    # ceil(11 / 4)^2
    ("bf16", "fp4", 16),   # ceil(8 / 2)^2
    ("fp8", "fp4", 4),     # ceil(4 / 2)^2
    ("bf16", "int8", 4),   # ceil(8 / 7)^2
    ("tf32", "bf16", 4),   # ceil(11 / 8)^2
    ("bf16", "bf16", 1),
    ("fp4", "fp8", 1),     # wider units: one pass
])
def test_emulation_passes_by_hand(want, units, passes):
    assert emulation_passes(want, units) == passes


def test_bf16_on_an_fp4_only_chip_is_emulated_not_run_at_the_fp4_peak():
    chip = make_chip(peak_flop_per_s={"fp4": FP4})
    assert float(peak_flop_per_s(chip, "bf16")) == pytest.approx(FP4 / 16)  # was FP4
    assert float(peak_flop_per_s(chip, "fp8")) == pytest.approx(FP4 / 4)
    assert float(peak_flop_per_s(chip, "fp4")) == pytest.approx(FP4)
    assert executed_format(chip, "bf16") == "fp4" and emulation(chip, "bf16") == ("fp4", 16)
    assert emulation(chip, "fp4") is None


def test_the_fastest_emulation_is_taken_and_a_wider_format_still_wins_over_emulation():
    chip = make_chip(peak_flop_per_s={"fp8": FP8, "fp4": FP4})
    # fp8 units: 4500 / 4 = 1125 TFLOP/s; fp4 units: 9000 / 16 = 562.5: the fp8 emulation is the faster
    assert float(peak_flop_per_s(chip, "bf16")) == pytest.approx(FP8 / 4)
    assert emulation(chip, "bf16") == ("fp8", 4) and executed_format(chip, "bf16") == "fp8"
    with_bf16 = make_chip(peak_flop_per_s={"bf16": 100e12, "fp8": FP8, "fp4": FP4})
    assert float(peak_flop_per_s(with_bf16, "bf16")) == pytest.approx(100e12)  # units of its own: no emulation
    assert emulation(with_bf16, "bf16") is None
    # fp32: on bf16 100 / 9 = 11.1, on fp8 4500 / ceil(24 / 4)^2 = 4500 / 36 = 125, on fp4 9000 / 144 = 62.5 TFLOP/s
    assert float(peak_flop_per_s(with_bf16, "fp32")) == pytest.approx(FP8 / 36)
    assert float(peak_flop_per_s(make_chip(peak_flop_per_s={"bf16": 100e12}), "fp32")) == pytest.approx(100e12 / 9)


def test_a_sweep_takes_the_same_peaks_chip_by_chip():
    chips = [make_chip(peak_flop_per_s={"fp4": FP4}), make_chip(peak_flop_per_s={"fp8": FP8, "fp4": FP4}),
             make_chip()]
    stacked = stack_chips(chips)
    for fmt in ("bf16", "fp8", "fp4", "fp32"):
        got = np.asarray(peak_flop_per_s(stacked, fmt))
        assert got == pytest.approx([float(peak_flop_per_s(c, fmt)) for c in chips]), fmt


def test_a_bf16_prediction_on_an_fp4_only_chip_equals_one_with_bf16_units_at_the_emulated_rate():
    """The whole prediction: the fp4-only chip prices bf16 exactly as a chip whose bf16 units run at fp4/16, and its
    notes say the GEMMs are emulated. Before, its prefill ran 16x faster than that chip's."""
    only_fp4 = make_chip(id="only-fp4", peak_flop_per_s={"fp4": FP4})
    slow_bf16 = make_chip(id="slow-bf16", peak_flop_per_s={"bf16": FP4 / 16, "fp4": FP4})
    q = ask(4096, 16, batch=8)
    a = predict_setting(resolve_setting(only_fp4, tiny_dense(), weights="bf16"), q)
    b = predict_setting(resolve_setting(slow_bf16, tiny_dense(), weights="bf16"), q)
    assert a.ttft_s == pytest.approx(b.ttft_s, rel=1e-9) and a.tpot_s == pytest.approx(b.tpot_s, rel=1e-9)
    s = resolve_setting(only_fp4, tiny_dense(), weights="bf16")
    assert s.compute_format == "fp4"
    said = [n for n in s.notes if "emulated" in n]
    assert said and "only-fp4 has no bf16 units nor any as wide" in said[0] and "1/16 of the fp4 peak" in said[0]
    fast = dataclasses.replace(slow_bf16, peak_flop_per_s={"bf16": FP4, "fp4": FP4})
    assert predict_setting(resolve_setting(fast, tiny_dense(), weights="bf16"), q).ttft_s < a.ttft_s


def test_a_wider_fallback_keeps_its_old_note():
    a100_like = make_chip(peak_flop_per_s={"bf16": 312e12, "fp16": 312e12, "int8": 624e12, "fp32": 19.5e12})
    s = resolve_setting(a100_like, tiny_dense(), weights="fp8")
    assert s.compute_format == "int8" and any("has no fp8 units: GEMMs run at int8" in n for n in s.notes)
    assert not any("emulated" in n for n in s.notes)
