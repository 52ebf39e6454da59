"""The TDP arithmetic floor covers every dense format and every node (quality42, the lead's stop-41 item 2).

Before: the floor (catalog.chips.arithmetic_w) counted only bf16/fp16, int8, fp32 and the fp32 vector peak, and
returned None above the node table's 45 nm, so a user's chip with only fp8 or fp4 peaks, or on a 65 nm process,
loaded with its TDP typed in kW (0.7 for 700 W) and no word. Now:
- fp8, fp4/mxfp4 and int4 count the multiply of their narrowest significand alone, scaled from Horowitz's 8-bit
  integer multiply (0.2 pJ at 45 nm) by width squared: fp8 (E5M2, 3 bits) 0.2 x (3/8)^2 = 0.028125 pJ per MAC,
  fp4 (E2M1, 2 bits) 0.0125 pJ, int4 0.05 pJ; tf32 takes the 16-bit FMA's 1.5 pJ. By hand, an H100 whose only peak
  is fp8 1,978.9 TFLOP/s at 4 nm (node factor 0.04087): 1,978.9e12 x 0.028125e-12 / 2 x 0.04087 = 1.14 W;
- above 45 nm the node table's 28-45 nm line (E ~ node, C ~ L at 0.9 V) continues: 65 nm is 65/45 = 1.444, the
  lenient side, since older nodes ran at higher supply voltages.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chip_yaml import catalogue_raw, write_chip
from inferchip.catalog.chips import arithmetic_w, chip_ids, get_chip_params, load_chip
from inferchip.errors import SpecError
from inferchip.spec.bounds import pick

H100 = "nvidia-h100-sxm-80gb"
NODE_4NM = 0.04704 * (4 / 5) ** (math.log(0.04704 / 0.0341) / math.log(5 / 3))  # 0.04087, log-log 5-3 nm
NARROW = ("fp8", "fp4", "mxfp4")
NARROW_ONLY = [(c, f) for c in chip_ids() for f in NARROW
               if f in load_chip(c).compute.dense_tflops and load_chip(c).power is not None
               and load_chip(c).power.tdp_w is not None]


def _only(raw: dict[str, Any], fmt: str) -> dict[str, Any]:
    """The chip with ``fmt`` its one peak (no other dense format, no vector peak, no idle power to trip on)."""
    raw["compute"]["dense_tflops"] = {fmt: raw["compute"]["dense_tflops"][fmt]}
    raw["compute"].pop("vector_tflops", None)
    raw["power"].pop("idle_w", None)
    return raw


def test_an_fp8_only_chip_has_a_floor_by_hand(tmp_path):
    raw = _only(catalogue_raw(H100), "fp8")
    w, fmt, peak = arithmetic_w(load_chip(write_chip(tmp_path, raw, "fp8-only")), "central")
    assert fmt == "fp8" and peak == 1978.9
    assert w == pytest.approx(1978.9e12 * 0.2 * (3 / 8) ** 2 / 2 * 1e-12 * NODE_4NM, rel=1e-9)
    assert w == pytest.approx(1.137, abs=0.001)


def test_an_fp8_only_chip_with_its_tdp_in_kw_is_refused(tmp_path):
    raw = _only(catalogue_raw(H100), "fp8")
    raw["power"]["tdp_w"] = 0.7
    with pytest.raises(SpecError, match=r"fp8-kw\.yaml: power\.tdp_w = 0\.7: below the bare arithmetic of its own "
                       r"fp8 peak \(1,978\.9 TFLOP/s x 0\.028 pJ per fp8 significand multiply at 45 nm.* = 1\.14 W\); "
                       r"allowed: above that, in W; is it in kW\?"):
        load_chip(write_chip(tmp_path, raw, "fp8-kw"))


def test_an_fp4_only_chip_with_its_tdp_in_kw_is_refused(tmp_path):
    # B200 fp4 9,000 TFLOP/s: 9,000e12 x 0.0125e-12 / 2 x 0.04087 = 2.30 W against a TDP typed 1 (kW)
    raw = _only(catalogue_raw("nvidia-b200-180gb"), "fp4")
    raw["power"]["tdp_w"] = 1.0
    with pytest.raises(SpecError, match=r"power\.tdp_w = 1: below the bare arithmetic of its own fp4 peak "
                       r"\(9,000 TFLOP/s x 0\.0125 pJ per fp4 significand multiply.* = 2\.3 W\)"):
        load_chip(write_chip(tmp_path, raw, "fp4-kw"))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pair=st.sampled_from(NARROW_ONLY), unit=st.sampled_from([1e3, 1024.0]))
def test_every_catalogue_narrow_peak_alone_with_a_tdp_in_kw_is_refused_or_noted(tmp_path, pair, unit):
    """Each catalogue chip's fp8/fp4/mxfp4 peak as its only one: a TDP typed in kW is refused where the lenient
    significand floor is crossed (most accelerators), and noted (over a quarter of the TDP) everywhere else."""
    chip, fmt = pair
    raw = _only(catalogue_raw(chip), fmt)
    tdp = raw["power"]["tdp_w"]
    raw["power"]["tdp_w"] = {**tdp, **{k: tdp[k] / unit for k in ("low", "central", "high") if k in tdp}} \
        if isinstance(tdp, dict) else tdp / unit
    path = write_chip(tmp_path, raw, "narrow-kw")
    try:
        load_chip(path)
    except SpecError as err:
        assert f"its own {fmt} peak" in str(err) and "is it in kW?" in str(err), err
        return
    notes = get_chip_params(path).notes
    assert any(n.startswith("power.tdp_w = ") and f"is low for its {fmt} peak" in n for n in notes), notes


def test_a_chip_above_45_nm_has_a_floor_by_hand(tmp_path):
    """An H100's bf16 peak on a 65 nm process: 989.4e12 x 0.75e-12 x 65/45 = 1,072 W, above its 700 W: refused
    (such a peak does not fit in 700 W at 65 nm); before, no floor above 45 nm and it loaded."""
    raw = catalogue_raw(H100)
    raw["silicon"]["node_nm"] = 65.0
    with pytest.raises(SpecError, match=r"power\.tdp_w = 700: below the bare arithmetic of its own bf16 peak "
                       r"\(989\.4 TFLOP/s x 1\.5 pJ per 16-bit FMA at 45 nm, Horowitz ISSCC 2014, scaled to 65 nm "
                       r".* = 1\.07e\+03 W\)"):
        load_chip(write_chip(tmp_path, raw, "h100-65nm"))


def test_a_real_chip_above_45_nm_loads_and_its_kw_slip_is_refused(tmp_path):
    """A GeForce GTX 280-like part (65 nm, 933 GFLOP/s fp32, 236 W: NVIDIA's 2008 figures): the floor is
    0.933e12 x 2.3e-12 x 65/45 = 3.10 W, far under 236 W, so it loads; 0.236 (kW) is refused."""
    raw = _only(catalogue_raw(H100), "fp32")
    raw["compute"]["dense_tflops"] = {"fp32": 0.933}
    raw["silicon"]["node_nm"] = 65.0
    raw["silicon"].pop("die_area_mm2", None)
    raw["power"]["tdp_w"] = 236
    spec = load_chip(write_chip(tmp_path, raw, "gtx280"))
    w, fmt, _ = arithmetic_w(spec, "central")
    # the 28-45 nm exponent is ln(1 / 0.6222) / ln(45 / 28) = 1.00003 (0.6222 is 28/45 to four figures)
    assert fmt == "fp32" and w == pytest.approx(0.933e12 * 2.3e-12 * 65 / 45, rel=1e-4)  # 3.10 W
    raw["power"]["tdp_w"] = 0.236
    with pytest.raises(SpecError, match=r"power\.tdp_w = 0\.236: .* scaled to 65 nm .* = 3\.1 W\)"):
        load_chip(write_chip(tmp_path, raw, "gtx280-kw"))


def test_no_catalogue_floor_moves_with_the_new_formats():
    """Where a chip has a 16-bit, int8 or fp32 peak, the narrow formats never draw the most: fp8 at twice the bf16
    rate costs 2 x 0.0141 / 0.75 = 4 % of it."""
    for c in chip_ids():
        got = arithmetic_w(load_chip(c), "low")
        assert got is not None and got[1] not in ("fp8", "fp4", "mxfp4", "int4"), (c, got)
        assert pick(load_chip(c).compute.dense_tflops.get(got[1]) or load_chip(c).compute.vector_tflops, "low")
