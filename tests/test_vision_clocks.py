"""Sustained GPU clocks (``cost/vision/clocks.py``, ``catalog/vision/sustained_clocks.csv``): the table's rows
against the chip catalogue, the rates scaled by hand, the table's errors, and the invariants (a faster clock is
never slower; no prediction beats the roofline bound at the clock it runs at)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import make_chip
from inferchip.catalog.chips import load_chip
from inferchip.cost.vision.clocks import (
    CLOCK_KINDS,
    SustainedClockFileError,
    at_sustained_clock,
    clock_factor,
    load_sustained_clocks,
)
from inferchip.cost.vision.layers import layer_costs, roofline_bound_s
from inferchip.spec.vision import VisionCalibration
from inferchip.workload.vision.network import load_network

CAL = VisionCalibration(matrix_fraction=0.5, inference_overhead_s=0.0, memory_bandwidth_fraction=1.0,
                        layer_overhead_scale=0.0, sram_usable_fraction=1.0)
HEADER = "chip_id,datasheet_clock_ghz,sustained_clock_ghz,kind,source\n"


def test_every_row_names_a_catalogued_chip_at_its_datasheet_clock():
    """The table's datasheet clock is the clock the chip's catalogue peaks are quoted at, so the factor rescales
    exactly those peaks; every row has a kind and a source."""
    table = load_sustained_clocks()
    assert table
    for chip_id, row in table.items():
        spec = load_chip(chip_id)
        assert spec.compute.clock_ghz == pytest.approx(row.datasheet_ghz), chip_id
        assert row.kind in CLOCK_KINDS and row.source
        assert row.sustained_ghz > row.datasheet_ghz  # the table lists cards that run above their datasheet clock


def test_rtx_4090_rates_by_hand():
    """2.81 / 2.52 GHz: int8 660.6 -> 736.6 TOPS, fp32 vector 82.6 -> 92.1 TFLOPS; memory untouched."""
    chip = make_chip(id="nvidia-geforce-rtx-4090", peak_flop_per_s={"int8": 660.6e12, "fp16": 165.2e12},
                     vector_flop_per_s=82.6e12, memory_bytes_per_s=1.008e12)
    assert clock_factor("nvidia-geforce-rtx-4090") == pytest.approx(2.81 / 2.52)
    fast = at_sustained_clock(chip)
    assert fast.peak_flop_per_s["int8"] == pytest.approx(736.6e12, rel=1e-4)
    assert fast.peak_flop_per_s["fp16"] == pytest.approx(165.2e12 * 2.81 / 2.52)
    assert fast.vector_flop_per_s == pytest.approx(92.11e12, rel=1e-3)
    assert fast.memory_bytes_per_s == chip.memory_bytes_per_s


def test_a_chip_not_in_the_table_keeps_its_datasheet_rates():
    chip = make_chip()
    assert clock_factor(chip.id) == 1.0
    assert at_sustained_clock(chip) is chip


def test_compute_bound_layer_time_scales_with_the_clock():
    """A compute-bound call on the 4090's id takes datasheet time x 2.52 / 2.81 (same chip under another id)."""
    net = load_network("resnet50-v1.5").arrays
    b = np.array([64.0])
    on_table = make_chip(id="nvidia-geforce-rtx-4090", memory_bytes_per_s=1e18)
    plain = make_chip(id="not-in-table", memory_bytes_per_s=1e18)
    t_fast = layer_costs(on_table, net, b, "int8", CAL).time_s.sum()
    t_plain = layer_costs(plain, net, b, "int8", CAL).time_s.sum()
    assert t_fast == pytest.approx(t_plain * 2.52 / 2.81, rel=1e-9)


@pytest.mark.parametrize("row, msg", [
    ("x,2.52,,measured,src\n", "sustained_clock_ghz must be a clock in GHz > 0"),
    ("x,0,2.8,measured,src\n", "datasheet_clock_ghz must be a clock in GHz > 0"),
    ("x,2.52,2.8,guess,src\n", "kind 'guess' not allowed; allowed: measured, estimate"),
    ("x,2.52,2.8,measured,\n", "source is empty"),
    (",2.52,2.8,measured,src\n", "chip_id '' is empty or repeats"),
])
def test_bad_table_rows_name_file_line_and_field(tmp_path, row, msg):
    path = tmp_path / "clocks.csv"
    path.write_text(HEADER + row)
    with pytest.raises(SustainedClockFileError, match=msg) as e:
        load_sustained_clocks(path)
    assert f"{path}:2" in str(e.value)


@settings(max_examples=25, deadline=None)
@given(net=st.sampled_from(["resnet50-v1.5", "retinanet-resnext50-fpn-800", "3d-unet-kits19"]),
       batch=st.sampled_from([1.0, 2.0, 8.0, 64.0]), precision=st.sampled_from(["int8", "fp16", "fp32"]),
       bw=st.floats(0.05e12, 5e12))
def test_sustained_clock_never_slower_and_never_below_its_roofline(net, batch, precision, bw):
    """At the sustained clock a call is never slower than at the datasheet clock, and never beats the roofline
    bound computed at the clock it runs at."""
    a = load_network(net).arrays
    b = np.array([batch])
    fast = make_chip(id="nvidia-geforce-rtx-4090", memory_bytes_per_s=bw)
    plain = make_chip(id="not-in-table", memory_bytes_per_s=bw)
    t_fast = layer_costs(fast, a, b, precision, CAL).time_s.sum(axis=0)
    t_plain = layer_costs(plain, a, b, precision, CAL).time_s.sum(axis=0)
    assert np.all(t_fast <= t_plain * (1 + 1e-12))
    assert np.all(t_fast >= roofline_bound_s(fast, a, b, precision) * (1 - 1e-12))
    assert np.all(roofline_bound_s(fast, a, b, precision) <= roofline_bound_s(plain, a, b, precision))


def test_desktop_cpu_clocks_by_hand():
    """Ryzen 9 7950X: 5.0 / 4.5 GHz (all cores loaded against base). Core i9-13900K: its catalogue fp32 peak is 8
    P-cores x 32 FLOP/cycle x 3.0 GHz + 16 E-cores x 16 FLOP/cycle x 2.2 GHz = 1.3312 TFLOPS; at the turbo clocks
    (P 5.4, E 4.3 GHz) 2.4832 TFLOPS, a factor 1.8654, written in the table as 3.0 -> 5.596 GHz."""
    assert clock_factor("cpu:amd-ryzen-9-7950x") == pytest.approx(5.0 / 4.5)
    base = 8 * 32 * 3.0e9 + 16 * 16 * 2.2e9
    turbo = 8 * 32 * 5.4e9 + 16 * 16 * 4.3e9
    assert load_chip("cpu:intel-core-i9-13900k").compute.dense_tflops["fp32"] == pytest.approx(base / 1e12)
    assert clock_factor("cpu:intel-core-i9-13900k") == pytest.approx(turbo / base, rel=1e-3)
