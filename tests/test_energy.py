"""Energy and power: hand derivations from the sourced constants, sanity facts, invariants, bad files.

Expected values are derived here from the constants' sources (written out), never
copied from the code's output.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inferchip.catalog.assumptions import BUNDLED_PATH, load_assumptions
from inferchip.cost.energy import (
    energy_per_flop_j,
    flop_energy_j,
    j_per_token,
    link_energy_j,
    memory_energy_j,
    memory_level,
    node_energy_factor,
    sram_energy_j,
    static_power_w,
    step_power_w,
    throttle,
    tokens_per_j,
    wall_power_w,
)
from inferchip.errors import InvalidSettingError, SpecError

A = load_assumptions()
PJ = 1e-12

# Inputs written out from catalog/assumptions.yaml and its sources:
BF16_7NM_PJ = 400 * (1 - 0.12) / 312e12 / PJ  # A100: (TDP - static) / dense bf16 peak = 1.128 pJ
N5_OVER_N7 = 0.70  # TSMC: N5 has 30% lower power than N7 at the same speed
HBM3E_PJ_PER_BYTE = (3.9 + 0.29) * 8  # Samsung HBM3E 3.9 pJ/bit + 4 nm HBM3 PHY 0.29 pJ/bit
SRAM_5NM_PJ_PER_BYTE = 100 / 8 * 0.04704  # Horowitz 1 MB SRAM 100 pJ/64 bit at 45 nm x N5 factor


# --- node scaling -----------------------------------------------------------------------


def test_node_table_encodes_the_published_power_reductions():
    f = A.table("energy.node_energy_factor")
    assert f["28"] == pytest.approx(28 / 45, rel=1e-3)  # C ~ L at constant 0.9 V
    assert f["16"] / f["28"] == pytest.approx(0.30, rel=1e-3)  # 16FF+: -70% vs 28HPM
    assert f["10"] / f["16"] == pytest.approx(0.60, rel=1e-3)  # 10FF: -40% vs 16FF+
    assert f["7"] / f["10"] == pytest.approx(0.60, rel=1e-3)  # N7: -40% vs N10
    assert f["5"] / f["7"] == pytest.approx(N5_OVER_N7, rel=1e-3)
    assert f["3"] / f["5"] == pytest.approx(0.725, rel=1e-3)  # N3: -25..30% vs N5
    assert f["2"] / f["3"] == pytest.approx(0.725, rel=1e-3)  # N2: -25..30% vs N3E


def test_node_interpolation_is_a_local_power_law():
    # Between 5 nm (0.04704) and 3 nm (0.03410): E ~ node^k, k = ln(0.04704/0.03410)/ln(5/3) = 0.6298
    k = math.log(0.04704 / 0.03410) / math.log(5 / 3)
    assert node_energy_factor(4.0, assumptions=A) == pytest.approx(0.04704 * (4 / 5) ** k, rel=1e-9)
    assert node_energy_factor(4.0, assumptions=A) == pytest.approx(0.04087, rel=1e-3)
    # Above the table the 28-45 nm exponent (exactly 1: C ~ L) continues: 90 nm = 2 x 45 nm.
    assert node_energy_factor(90.0, assumptions=A) == pytest.approx(2.0, rel=1e-3)


def test_a100_derivation_reproduces_its_tdp_at_peak():
    # The bf16 constant was derived so that a dense bf16 GEMM at the 312 TFLOP/s peak plus
    # static power draws the A100's 400 W: check the chain from the constant back to it.
    power = flop_energy_j(312e12, "bf16", 7.0, assumptions=A) + static_power_w(400.0, assumptions=A)
    assert power == pytest.approx(400.0, rel=2e-3)


def test_energy_per_flop_at_n5_by_hand():
    assert energy_per_flop_j("bf16", 5.0, assumptions=A) == pytest.approx(BF16_7NM_PJ * N5_OVER_N7 * PJ, rel=2e-3)
    assert energy_per_flop_j("fp8", 5.0, assumptions=A) == pytest.approx(BF16_7NM_PJ / 2 * N5_OVER_N7 * PJ, rel=2e-3)
    assert energy_per_flop_j("int4", 7.0, assumptions=A) == pytest.approx(BF16_7NM_PJ / 4 * PJ, rel=2e-3)


@given(st.floats(min_value=1.0, max_value=120.0))
def test_narrower_formats_never_cost_more_per_flop(node):
    e = {f: energy_per_flop_j(f, node, A)
         for f in ("fp4", "mxfp4", "int4", "fp8", "int8", "bf16", "fp16", "tf32", "fp32")}
    assert e["fp4"] <= e["fp8"] <= e["bf16"] <= e["tf32"] <= e["fp32"]
    assert e["mxfp4"] <= e["fp8"] and e["int4"] <= e["int8"] <= e["bf16"]
    assert e["fp16"] == e["bf16"]


@given(st.floats(min_value=1.0, max_value=120.0), st.floats(min_value=1.0, max_value=120.0))
def test_smaller_nodes_never_cost_more_energy(a, b):
    small, large = sorted((a, b))
    assert energy_per_flop_j("bf16", small, A) <= energy_per_flop_j("bf16", large, A) * (1 + 1e-12)
    assert sram_energy_j(1.0, small, assumptions=A) <= sram_energy_j(1.0, large, assumptions=A) * (1 + 1e-12)


# --- hand calculations ------------------------------------------------------------------


def test_gemm_energy_by_hand():
    # C[4096x4096] (bf16 out) = A[4096x4096] fp8 @ B[4096x4096] fp8, on a 5 nm chip with HBM3e,
    # each operand read once from HBM and C written once.
    flop = 2 * 4096**3  # one multiply-add per (m, n, k) = 137,438,953,472 FLOP
    bytes_hbm = 4096 * 4096 * 1 * 2 + 4096 * 4096 * 2  # A + B in fp8, C in bf16 = 67,108,864 B
    e_flop = flop * BF16_7NM_PJ / 2 * N5_OVER_N7 * PJ  # 0.3948 pJ/FLOP -> 54.26 mJ
    e_mem = bytes_hbm * HBM3E_PJ_PER_BYTE * PJ  # 33.52 pJ/B -> 2.249 mJ
    assert e_flop == pytest.approx(54.26e-3, rel=1e-3)
    assert flop_energy_j(flop, "fp8", 5.0, A) + memory_energy_j(bytes_hbm, "HBM3e", A) == pytest.approx(
        e_flop + e_mem, rel=2e-3
    )


# A 70B-parameter bf16 decode step at batch 8 on an H200 (4N, HBM3e, 700 W), streaming at
# ~4.0 TB/s effective (83% of the 4.8 TB/s peak). KV: 80 layers x 2 (K,V) x 8 kv-heads x 128 x 2 B
# = 327,680 B per token; 8 sequences of 1,024 tokens. Attention FLOP (<2%) left out.
DECODE_WEIGHT_BYTES = 70e9 * 2
DECODE_KV_BYTES = 8 * 1024 * 80 * 2 * 8 * 128 * 2
DECODE_BYTES = DECODE_WEIGHT_BYTES + DECODE_KV_BYTES  # 142.68 GB
DECODE_FLOP = 2 * 70e9 * 8  # 1.12e12
DECODE_TIME_S = DECODE_BYTES / 4.0e12  # 35.67 ms
SRAM_PASSES = 2  # every streamed byte crosses L2 and shared memory once each
H200_STATIC_W = 0.12 * 700


def _decode_dynamic_j(node: float) -> float:
    return (
        flop_energy_j(DECODE_FLOP, "bf16", node, assumptions=A)
        + memory_energy_j(DECODE_BYTES, "HBM3e", assumptions=A)
        + sram_energy_j(SRAM_PASSES * DECODE_BYTES, node, assumptions=A)
    )


def test_decode_step_energy_by_hand():
    e_flop = DECODE_FLOP * BF16_7NM_PJ * N5_OVER_N7 * PJ  # 1.12e12 x 0.7896 pJ = 0.884 J
    e_hbm = DECODE_BYTES * HBM3E_PJ_PER_BYTE * PJ  # 142.68e9 x 33.52 pJ = 4.783 J
    e_sram = SRAM_PASSES * DECODE_BYTES * SRAM_5NM_PJ_PER_BYTE * PJ  # 0.168 J
    assert e_flop + e_hbm + e_sram == pytest.approx(5.835, rel=1e-3)
    assert _decode_dynamic_j(5.0) == pytest.approx(e_flop + e_hbm + e_sram, rel=2e-3)
    # per token: (dynamic + static x time) / batch = (5.835 + 84 x 0.03567) / 8 = 1.104 J
    total = _decode_dynamic_j(5.0) + H200_STATIC_W * DECODE_TIME_S
    assert j_per_token(total, 8) == pytest.approx(1.104, rel=2e-3)


@pytest.mark.parametrize("node", [4.0, 5.0])  # "TSMC 4N" read as 4 nm or as its N5 family
def test_h200_decode_power_is_in_the_measured_range(node):
    # METHODS.md 3.6: H200 decode draws 137-300 W of its 700 W TDP (arXiv 2605.11999).
    power = step_power_w(_decode_dynamic_j(node), DECODE_TIME_S, H200_STATIC_W)
    assert 137.0 <= power <= 300.0
    _, p_after, throttled = throttle(DECODE_TIME_S, _decode_dynamic_j(node), H200_STATIC_W, 700.0)
    assert not throttled and p_after == pytest.approx(power)


@pytest.mark.parametrize("node", [4.0, 5.0])
def test_h200_fp8_prefill_approaches_tdp(node):
    # 8,192-token prefill of the 70B model in fp8 at 75% of the 1,979 TFLOP/s fp8 peak; HBM
    # traffic: fp8 weights read once plus the same again for activations and KV (140 GB).
    flop = 2 * 70e9 * 8192
    time_s = flop / (0.75 * 1978.9e12)  # 0.773 s
    e_dyn = flop_energy_j(flop, "fp8", node, assumptions=A) + memory_energy_j(2 * 70e9, "HBM3e", assumptions=A)
    power = step_power_w(e_dyn, time_s, H200_STATIC_W)
    assert power >= 0.8 * 700.0
    t_after, p_after, throttled = throttle(time_s, e_dyn, H200_STATIC_W, 700.0)
    assert p_after <= 700.0 * (1 + 1e-12)
    assert t_after >= time_s
    assert bool(throttled) == (power > 700.0)


def test_link_and_sram_only_memory_energy():
    assert link_energy_j(1e9, assumptions=A) == pytest.approx(1e9 * 8 * 1.3 * PJ)  # NVLink 1.3 pJ/bit
    # An SRAM-only chip's "memory" is on-chip SRAM at its own node (Groq v1: GF 14 nm).
    sram_only = memory_energy_j(1e9, "SRAM-only (no HBM/DRAM)", A, node_nm=14.0)
    assert sram_only == pytest.approx(sram_energy_j(1e9, 14.0, A))
    assert memory_energy_j(1e9, "GDDR6", assumptions=A) == pytest.approx(1e9 * 7.5 * 8 * PJ)  # no PHY adder off-package


@pytest.mark.parametrize(
    "text, level",
    [
        ("HBM3e", "hbm3e"),
        ("HBM3E (8 stacks, 8192-bit, 6 Gbps)", "hbm3e"),
        ("HBM2e (8 stacks)", "hbm2e"),
        ("HBM2", "hbm2e"),
        ("HBM (4 stacks)", "hbm3"),
        ("HBM3e (GPU) + LPDDR5X (CPU, up to 480 GB)", "hbm3e"),
        ("LPDDR5X (unified)", "lpddr5x"),
        ("LPDDR4-4266 (128-bit)", "lpddr4x"),
        ("GDDR6 (ECC)", "gddr6"),
        ("SRAM-only (no HBM/DRAM)", "sram"),
        ("SRAM-only on die (HBM via Dojo Interface Processors at tile edge)", "sram"),
        ("3-tier: SRAM + HBM (64 GB) + DDR5 (up to 1.5 TB)", "hbm3"),
    ],
)
def test_memory_type_strings_map_to_levels(text, level):
    assert memory_level(text) == level


def test_unknown_memory_type_names_what_is_allowed():
    with pytest.raises(InvalidSettingError, match="MRAM.*hbm3e"):
        memory_level("MRAM")
    with pytest.raises(InvalidSettingError, match="empty"):
        memory_level("  ")


# --- power, throttling, tokens ----------------------------------------------------------


def test_step_power_and_throttle_by_hand():
    assert step_power_w(2.0, 0.01, 100.0) == pytest.approx(300.0)  # 2 J / 10 ms + 100 W
    # 1 J in 1 ms is 1,000 W dynamic: with 100 W static and a 700 W TDP the step stretches
    # to 1 J / 600 W = 1.667 ms at exactly 700 W.
    t, p, thr = throttle(1e-3, 1.0, 100.0, 700.0)
    assert t == pytest.approx(1 / 600) and p == pytest.approx(700.0) and bool(thr)
    t, p, thr = throttle(1e-3, 0.3, 100.0, 700.0)  # 300 + 100 W: untouched
    assert t == pytest.approx(1e-3) and p == pytest.approx(400.0) and not thr


@settings(max_examples=300)
@given(
    st.floats(min_value=0.0, max_value=10.0),
    # zero or at least a picojoule: a subnormal energy (5e-324 J) stretched to E / (TDP - static) cannot
    # carry the quotient (its time rounds to the same subnormal), so E / t misses TDP by up to 1 W
    st.one_of(st.just(0.0), st.floats(min_value=1e-12, max_value=1e4)),
    st.floats(min_value=0.0, max_value=500.0),
    st.floats(min_value=1.0, max_value=2000.0),
)
def test_throttle_never_shortens_and_respects_tdp(time_s, energy_j, static_w, headroom_w):
    tdp = static_w + headroom_w
    t, p, thr = throttle(time_s, energy_j, static_w, tdp)
    assert t >= time_s
    assert p <= tdp * (1 + 1e-9)
    if t > 0:  # power recomputed from the stretched step agrees with the returned power
        # (rel 1e-6: E/t is re-rounded after t = E/(TDP - static) for near-zero steps)
        assert energy_j / t + static_w == pytest.approx(p, rel=1e-6, abs=1e-9)
    if not thr:
        assert t == time_s


def test_throttle_broadcasts_and_rejects_tdp_below_static():
    t, p, thr = throttle(np.array([1e-3, 1e-3]), np.array([0.1, 1.0]), 100.0, 700.0)
    assert list(thr) == [False, True] and t[1] == pytest.approx(1 / 600)
    with pytest.raises(InvalidSettingError, match="tdp_w"):
        throttle(1.0, 1.0, 700.0, 600.0)


def test_tokens_per_joule():
    assert tokens_per_j(100, 50.0) == pytest.approx(2.0)
    assert j_per_token(50.0, 100) == pytest.approx(0.5)
    assert j_per_token(1.0, 0) == math.inf
    out = tokens_per_j(np.array([1, 2, 4]), 2.0)
    assert list(out) == [0.5, 1.0, 2.0]


def test_vectorised_over_batch_sizes():
    batch = np.array([1, 8, 64])
    e = flop_energy_j(2 * 70e9 * batch, "bf16", 5.0, assumptions=A)
    assert e.shape == (3,) and e[2] / e[0] == pytest.approx(64.0)


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(InvalidSettingError, match="flop"):
        flop_energy_j(-1.0, "bf16", 5.0, assumptions=A)
    with pytest.raises(InvalidSettingError, match="fp12"):
        flop_energy_j(1.0, "fp12", 5.0, assumptions=A)
    with pytest.raises(InvalidSettingError, match="node_nm"):
        flop_energy_j(1.0, "bf16", 0.0, assumptions=A)
    with pytest.raises(InvalidSettingError, match="node_nm"):
        flop_energy_j(1.0, "bf16", float("nan"), assumptions=A)
    with pytest.raises(InvalidSettingError, match="time_s"):
        step_power_w(1.0, 0.0, 10.0)


def test_wall_power_of_an_idle_eight_gpu_server():
    # 8 idle H100 boards at the 12% static floor (84 W each), host 750 W + 75 W per GPU,
    # fans +8%, 96%-efficient supplies: (672 + 750 + 600) x 1.08 / 0.96 = 2,274.75 W.
    idle = wall_power_w(8 * static_power_w(700.0, assumptions=A), 8, assumptions=A)
    assert idle == pytest.approx(2274.75)
    assert 2200.0 <= idle <= 2900.0  # validation README: 8-GPU servers idle at 2.2-2.9 kW


# --- the assumptions file ---------------------------------------------------------------


def test_every_constant_has_a_source():
    rows = A.describe()
    assert len(rows) > 60
    names = {r[0] for r in rows}
    assert "energy.flop_pj_at_reference_node.fp8" in names and "tco.pue" in names
    for name, value, unit, citation in rows:
        assert value >= 0 and unit and citation, name


def _write(tmp_path: Path, text: str, name: str = "mine.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_user_file_overrides_a_subset(tmp_path):
    p = _write(tmp_path, "tco:\n  pue: 1.2\n  usd_per_kwh: {value: 0.05, source: {citation: my PPA, kind: price}}\n")
    a = load_assumptions(p)
    assert a.number("tco.pue") == 1.2
    assert a.constant("tco.pue").unit == "ratio"  # unit kept from the bundled entry
    assert a.constant("tco.pue").source.citation == f"user override in {p}"
    assert a.constant("tco.usd_per_kwh").source.citation == "my PPA"
    assert a.number("tco.lifetime_years") == load_assumptions().number("tco.lifetime_years")  # untouched


def test_user_file_can_override_a_node_entry_and_add_one(tmp_path):
    p = _write(tmp_path, "silicon:\n  wafer_price_usd:\n    5: 20000\n    1.4: {value: 45000, unit: USD/wafer}\n")
    a = load_assumptions(p)
    assert a.table("silicon.wafer_price_usd")["5"] == 20000
    assert a.table("silicon.wafer_price_usd")["1.4"] == 45000


@pytest.mark.parametrize(
    "text, field, shown",
    [
        ("tco:\n  pue: -1.5\n", "tco.pue.value", "-1.5"),
        ("tco:\n  pue: lots\n", "tco.pue.value", "'lots'"),
        ("tco:\n  pue: null\n", "tco.pue.value", "None"),
        ("energy:\n  flop_pj_at_reference_node:\n    fp8: {value: true}\n", "fp8.value", "True"),
        # the entry's two missing fields are one problem, one line (newuser47)
        ("silicon:\n  memory_usd_per_gib:\n    hbm5: {unit: USD/GiB}\n", "memory_usd_per_gib.hbm5 = {...}",
         "missing value and source"),
        ("tcoo:\n  pue: 1.2\n", "tcoo", "unknown field"),
    ],
)
def test_bad_values_name_file_field_and_value(tmp_path, text, field, shown):
    p = _write(tmp_path, text)
    with pytest.raises(SpecError) as err:
        load_assumptions(p)
    msg = str(err.value)
    assert str(p) in msg and field in msg and shown in msg


def test_inconsistent_tables_are_rejected(tmp_path):
    p = _write(tmp_path, "energy:\n  flop_pj_at_reference_node:\n    fp6: {value: 0.4, unit: pJ/FLOP}\n")
    with pytest.raises(SpecError, match="fp6"):
        load_assumptions(p)
    p = _write(tmp_path, "energy:\n  node_energy_factor:\n    3: 0.5\n", "nonmono.yaml")
    with pytest.raises(SpecError, match="never fall"):
        load_assumptions(p)
    p = _write(tmp_path, "tco:\n  pue: 0.9\n", "pue.yaml")
    with pytest.raises(SpecError, match="at least 1"):
        load_assumptions(p)


def test_unreadable_files_raise_spec_errors(tmp_path):
    with pytest.raises(SpecError, match="cannot read"):
        load_assumptions(tmp_path / "absent.yaml")
    with pytest.raises(SpecError, match="not valid YAML"):
        load_assumptions(_write(tmp_path, "tco: [unclosed\n"))
    with pytest.raises(SpecError, match="top level"):
        load_assumptions(_write(tmp_path, "- 1\n- 2\n", "list.yaml"))


def test_bundled_file_is_the_default():
    assert load_assumptions() is load_assumptions()
    assert BUNDLED_PATH.name == "assumptions.yaml" and BUNDLED_PATH.exists()
