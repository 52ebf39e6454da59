"""Measured attainable ceilings (catalog/measured_rates.csv): the rule min(fraction x peak, ceiling) by
hand, the data file validated with errors naming file/line/field, and a higher ceiling never slower."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import make_chip, tiny_dense, tiny_moe
from inferchip.catalog.chips import chip_ids, get_chip_params, load_chip, measured_ceilings
from inferchip.catalog.measured_rates import (
    COLUMNS,
    read_measured_rates,
    with_measured_ceilings,
)
from inferchip.cost.peaks import capped_rate, ceiling_flop_per_s
from inferchip.cost.rules import cost_context, cost_operator
from inferchip.cost.step import step_cost, step_points
from inferchip.errors import SpecError
from inferchip.mapping.layout import Layout
from inferchip.mapping.memory_fit import Formats
from inferchip.mapping.operators import Gemm
from inferchip.mapping.sharding import shard
from inferchip.spec.calibration import Calibration
from inferchip.spec.params import stack_chips

CAL = Calibration()  # gemm 0.80, attention 0.55, memory 0.80
BF16 = Formats("bf16", "bf16", "bf16")
FP8 = Formats("fp8", "fp8", "fp8")
HEADER = ",".join(COLUMNS)
SRC = '"Lab X, tool Y"'


def val(x) -> float:
    return float(np.asarray(x).reshape(-1)[0])


# --- the rule, by hand ---------------------------------------------------------------------------
def test_capped_rate_by_hand():
    # fraction 0.8 of 1000 = 800; a ceiling of 700 binds, one of 900 does not.
    assert val(capped_rate(1000.0, 0.8, 700.0)) * 0.8 == pytest.approx(700.0)
    assert val(capped_rate(1000.0, 0.8, 900.0)) * 0.8 == pytest.approx(800.0)
    assert val(capped_rate(1000.0, 0.8, math.inf)) == 1000.0


def test_ceilings_in_the_cost_context():
    # bf16 GEMM ceiling 700 TFLOP/s: carried beside the datasheet peak (the GEMM rule takes the slower).
    chip = make_chip(measured_flop_per_s={"bf16": 1000e12})
    ctx = cost_context(chip, BF16, CAL)
    assert val(ctx.peak_gemm_flop_per_s) == pytest.approx(989.4e12)
    assert val(ctx.gemm_ceiling_flop_per_s) == val(ctx.lm_head_ceiling_flop_per_s) == 1000e12
    # attention at 0.55 x 989.4 = 544 TFLOP/s: a 500 TFLOP/s ceiling binds (its peak becomes 500 / 0.55).
    low = cost_context(make_chip(measured_flop_per_s={"bf16": 500e12}), BF16, CAL)
    assert val(low.peak_attention_flop_per_s) * CAL.attention_compute_fraction == pytest.approx(500e12)
    assert val(ctx.peak_attention_flop_per_s) == pytest.approx(989.4e12)
    # fp8 has no measurement: no ceiling.
    assert val(cost_context(chip, FP8, CAL).gemm_ceiling_flop_per_s) == math.inf


def _gemm_time(m: float, ceiling: float | None) -> float:
    chip = make_chip(measured_flop_per_s={} if ceiling is None else {"bf16": ceiling})
    c = cost_operator(Gemm("o", 4096, 4096, "attention_proj"), cost_context(chip, BF16, CAL),
                      step_points(1, m, m, 0.0, 0.0, None))
    return val(c.compute_s)


def test_full_gemm_is_held_to_the_measured_ceiling_by_hand():
    # m = k = n = 4096 on 128x128 tiles: 1024 tiles, ceil(1024 / 132) = 8 waves of 132 tiles.
    # Waves at 0.80 x 989.4 TFLOP/s: 8 x 132 x 2 x 128 x 128 x 4096 / 791.52e12 = 179.0 us;
    # useful 2 x 4096^3 FLOP at the measured 700 TFLOP/s: 196.3 us, the slower: the ceiling binds.
    waves = 8 * 132 * 2 * 128 * 128 * 4096 / (989.4e12 * 0.80)
    useful = 2 * 4096**3 / 700e12
    assert useful > waves
    assert _gemm_time(4096.0, 700e12) == pytest.approx(useful)
    assert _gemm_time(4096.0, None) == pytest.approx(waves)


def test_skinny_gemm_keeps_its_wave_time_by_hand():
    # m=256: 2 x 32 = 64 tiles, one wave of 132 in flight: 132 x 2 x 128 x 128 x 4096 / 791.52e12 = 22.4 us,
    # while 2 x 256 x 4096^2 useful FLOP at 700 TFLOP/s take 12.3 us: a half-empty chip is not held to the
    # whole-chip ceiling (measured at the clock a fully loaded chip sustains).
    waves = 132 * 2 * 128 * 128 * 4096 / (989.4e12 * 0.80)
    assert 2 * 256 * 4096**2 / 700e12 < waves
    assert _gemm_time(256.0, 700e12) == pytest.approx(waves)


def test_memory_ceiling_binds_only_below_fraction_times_peak():
    # 3.35 TB/s x 0.80 = 2.68 TB/s; a measured 2.5 TB/s binds, 3.0 TB/s does not.
    assert val(cost_context(make_chip(measured_memory_bytes_per_s=2.5e12), BF16, CAL).attainable_bytes_per_s) \
        == pytest.approx(2.5e12)
    assert val(cost_context(make_chip(measured_memory_bytes_per_s=3.0e12), BF16, CAL).attainable_bytes_per_s) \
        == pytest.approx(2.68e12)


def test_ceiling_follows_the_format_actually_computed():
    # No fp4 units: fp4 GEMMs run in fp8, so the fp8 measurement applies.
    chip = make_chip(measured_flop_per_s={"fp8": 1500e12})
    assert val(ceiling_flop_per_s(chip, "fp4")) == 1500e12
    assert val(ceiling_flop_per_s(chip, "bf16")) == math.inf


def test_stacked_chips_keep_their_own_ceilings():
    a, b = make_chip(measured_flop_per_s={"bf16": 700e12}), make_chip(id="other")
    both = stack_chips([a, b])
    assert list(ceiling_flop_per_s(both, "bf16")) == [700e12, math.inf]
    assert list(both.measured_memory_bytes_per_s) == [math.inf, math.inf]


# --- the bundled data ----------------------------------------------------------------------------
def test_bundled_ceilings_are_below_the_datasheet_peak():
    rates = measured_ceilings()
    assert rates, "the bundled file has rows"
    for r in rates:
        spec = load_chip(r.chip_id)
        if r.kernel_class == "gemm":
            peak = float(spec.compute.dense_tflops[r.format])  # type: ignore[arg-type]
        else:
            peak = float(spec.memory.bandwidth_tb_per_s)  # type: ignore[arg-type]
        assert 0 < r.rate <= peak, (r.chip_id, r.kernel_class, r.format)


def test_catalogue_chip_gets_its_ceilings():
    ids = {r.chip_id for r in measured_ceilings()}
    some = sorted(ids)[0]
    p = get_chip_params(some)
    assert p.measured_flop_per_s or math.isfinite(p.measured_memory_bytes_per_s)
    none = next(c for c in chip_ids() if c not in ids)
    assert get_chip_params(none).measured_flop_per_s == {}


def test_with_measured_ceilings_attaches_by_id(tmp_path):
    f = _csv(tmp_path, f"test-h100,memory,,3.0,TB/s,{SRC},,2025-01,")
    p = with_measured_ceilings(make_chip(), read_measured_rates(f))
    assert p.measured_memory_bytes_per_s == 3.0e12
    assert with_measured_ceilings(make_chip(id="x"), read_measured_rates(f)).measured_memory_bytes_per_s == math.inf


# --- bad rows: clear errors ----------------------------------------------------------------------
def _csv(tmp_path: Path, *rows: str, header: str = HEADER) -> Path:
    p = tmp_path / "rates.csv"
    p.write_text("# comment\n" + header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return p


@pytest.mark.parametrize(("row", "words"), [
    (f"c,gemm,bf16,700,TB/s,{SRC},,2025-02,", ["line 3", "unit", "TFLOP/s"]),
    (f"c,gemm,bf17,700,TFLOP/s,{SRC},,2025-02,", ["line 3", "format", "bf17"]),
    (f"c,memory,bf16,4.0,TB/s,{SRC},,2025-02,", ["line 3", "memory row has no number format"]),
    (f"c,cache,,4.0,TB/s,{SRC},,2025-02,", ["line 3", "kernel_class", "cache"]),
    (f"c,gemm,bf16,-3,TFLOP/s,{SRC},,2025-02,", ["line 3", "rate", "-3"]),
    (f"c,gemm,bf16,fast,TFLOP/s,{SRC},,2025-02,", ["line 3", "rate", "fast"]),
    ("c,gemm,bf16,700,TFLOP/s,,,2025-02,", ["line 3", "source"]),
    (f"c,gemm,bf16,700,TFLOP/s,{SRC},,Feb 2025,", ["line 3", "date", "ISO 8601"]),
])
def test_bad_row_names_file_line_and_field(tmp_path, row, words):
    f = _csv(tmp_path, row)
    with pytest.raises(SpecError) as e:
        read_measured_rates(f)
    msg = str(e.value)
    assert str(f) in msg
    for w in words:
        assert w in msg


def test_duplicate_and_unknown_chip_and_header(tmp_path):
    row = f"c,gemm,bf16,700,TFLOP/s,{SRC},,2025-02,"
    with pytest.raises(SpecError, match="line 4.*appears twice"):
        read_measured_rates(_csv(tmp_path, row, row))
    with pytest.raises(SpecError, match="chip_id = 'c': not a catalogue chip"):
        read_measured_rates(_csv(tmp_path, row), known_chips=["amd-mi300x"])
    with pytest.raises(SpecError, match="header must be.*missing note"):
        read_measured_rates(_csv(tmp_path, row[:-1], header=HEADER.replace(",note", "")))


# --- property: a higher measured ceiling never makes a prediction slower -------------------------
MODELS = [tiny_dense(layers=4, hidden=2048, heads=16, kv_heads=4, ffn=8192), tiny_moe(layers=2)]
rate = st.floats(1e12, 5e15, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(batch=st.integers(1, 512), ctx=st.integers(1, 32768), prefill=st.integers(0, 8192),
       model=st.sampled_from(range(len(MODELS))), tp=st.sampled_from([1, 2, 4, 8]),
       gemm=rate, memory=st.floats(1e11, 5e12), factor=st.floats(1.0, 8.0), fmt=st.sampled_from([BF16, FP8]))
def test_higher_measured_ceiling_is_never_slower(batch, ctx, prefill, model, tp, gemm, memory, factor, fmt):
    sm = shard(MODELS[model], Layout(tp=tp))
    pairs = prefill * (prefill + 1) / 2

    def time(chip) -> float:
        return float(step_cost(sm, chip, fmt, CAL, batch + prefill, batch, batch * ctx, pairs).time_s)

    low = make_chip(measured_flop_per_s={"bf16": gemm, "fp8": 2 * gemm}, measured_memory_bytes_per_s=memory)
    high = dataclasses.replace(low, measured_flop_per_s={k: v * factor for k, v in low.measured_flop_per_s.items()},
                               measured_memory_bytes_per_s=memory * factor)
    unmeasured = make_chip()
    assert time(high) <= time(low) * (1 + 1e-12)
    assert time(unmeasured) <= time(high) * (1 + 1e-12)
