"""Measured sustained DRAM bandwidth (spec.stream): catalogue facts, the share an unmeasured chip gets,
validation, and the memory cost at the fitted fraction of the measured streaming rate."""

from __future__ import annotations

import statistics
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from inferchip.catalog.chips import all_chips, get_chip_params, load_chip
from inferchip.cost.context import cost_context
from inferchip.errors import SpecError
from inferchip.mapping.memory_fit import Formats
from inferchip.spec.calibration import Calibration
from inferchip.spec.stream import (
    MEASURED_SHARE,
    MEDIAN_MEASURED_SHARE,
    MeasuredBandwidth,
    attainable_memory_bytes_per_s,
    stream_share,
)

MEASURED = {
    "tb_per_s": 4.26, "kernel": "BabelStream Mul", "source": "Azure AI-benchmarking-guide",
    "url": "https://github.com/Azure/AI-benchmarking-guide", "date": "2024",
}


def test_share_table_is_the_catalogue_and_median_its_median():
    """MEASURED_SHARE lists exactly the chips whose file has a measurement, at measured / datasheet."""
    found = {s.id: s.memory.measured_bandwidth.tb_per_s / float(s.memory.bandwidth_tb_per_s)
             for s in all_chips() if s.memory.measured_bandwidth is not None}
    assert set(found) == set(MEASURED_SHARE)
    for cid, share in found.items():
        assert MEASURED_SHARE[cid] == pytest.approx(share, rel=1e-12)
        assert 0.5 < share <= 1.0
    assert MEDIAN_MEASURED_SHARE == pytest.approx(statistics.median(found.values()))


def test_measured_chip_streams_its_measurement_and_unmeasured_the_median_with_a_note():
    mi = get_chip_params("amd-mi300x")
    assert mi.memory_stream_share == pytest.approx(4.26 / 5.3)
    assert not any("no measured memory bandwidth" in n for n in mi.notes)
    b200 = get_chip_params("nvidia-b200-180gb")
    assert load_chip("nvidia-b200-180gb").memory.measured_bandwidth is None
    assert b200.memory_stream_share == MEDIAN_MEASURED_SHARE
    assert any("no measured memory bandwidth" in n and "estimate" in n for n in b200.notes)


def test_stream_share_hand_values():
    assert stream_share(5.3, MeasuredBandwidth(**MEASURED)) == (pytest.approx(4.26 / 5.3), None)
    share, note = stream_share(8.0, None)
    assert share == MEDIAN_MEASURED_SHARE and note is not None and "estimate" in note


def test_attainable_hand_calculation():
    """MI300X: 5.3e12 B/s x (4.26/5.3) x 0.8 = 3.408e12 B/s."""
    assert attainable_memory_bytes_per_s(5.3e12, 4.26 / 5.3, 0.8) == pytest.approx(3.408e12)


def test_cost_context_prices_dram_at_fraction_of_measured_rate():
    cal = Calibration()
    fmt = Formats()
    ctx = cost_context(get_chip_params("amd-mi300x"), fmt, cal)
    assert float(np.ravel(ctx.attainable_bytes_per_s)[0]) == pytest.approx(4.26e12 * cal.memory_bandwidth_fraction)
    h200 = cost_context(get_chip_params("nvidia-h200-sxm-141gb"), fmt, cal)
    assert float(np.ravel(h200.attainable_bytes_per_s)[0]) == pytest.approx(4.48e12 * cal.memory_bandwidth_fraction)


@given(share=st.floats(0.3, 1.0), lower=st.floats(0.3, 1.0), fraction=st.floats(0.1, 1.0),
       peak=st.floats(1e10, 1e14))
def test_attainable_is_linear_and_never_above_the_measured_rate(share, lower, fraction, peak):
    got = attainable_memory_bytes_per_s(peak, share, fraction)
    assert got <= peak * share * (1 + 1e-12)
    lo = attainable_memory_bytes_per_s(peak, min(share, lower), fraction)
    assert lo <= got * (1 + 1e-12)


def _write(tmp_path: Path, measured: dict) -> Path:
    doc = {
        "id": "my-npu", "name": "My NPU", "vendor": "Me", "family": "generic",
        "compute": {"dense_tflops": {"bf16": 100.0}, "matrix_unit_count": 64},
        "memory": {"type": "HBM3", "capacity": 32, "capacity_unit": "GiB", "bandwidth_tb_per_s": 4.0,
                   "measured_bandwidth": measured},
        "power": {"tdp_w": 50}, "sources": [{"citation": "my own datasheet", "kind": "datasheet"}],
    }
    path = tmp_path / "my-npu.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


@pytest.mark.parametrize("over, field", [
    ({"tb_per_s": 4.5}, "measured_bandwidth"),  # above the 4.0 TB/s datasheet peak
    ({"tb_per_s": 1.9}, "measured_bandwidth"),  # below half of it (stop 36: a datasheet 4000 for 4.0 passed too)
    ({"tb_per_s": 0.004}, "measured_bandwidth"),  # 4 GB/s written in TB/s
    ({"tb_per_s": -1.0}, "tb_per_s"),
    ({"url": "not a url"}, "url"),
    ({"kernel": ""}, "kernel"),
])
def test_bad_measurement_is_refused_naming_the_field(tmp_path, over, field):
    with pytest.raises(SpecError) as exc:
        load_chip(_write(tmp_path, {**MEASURED, **over}))
    assert field in str(exc.value)


def test_user_chip_with_measurement_uses_it(tmp_path):
    p = get_chip_params(str(_write(tmp_path, {**MEASURED, "tb_per_s": 3.0})))
    assert p.memory_stream_share == pytest.approx(0.75)


def test_explore_catalogue_chips_carry_the_share_through_take():
    from inferchip.catalog.assumptions import load_assumptions
    from inferchip.explore.designs import catalogue_chips

    ch = catalogue_chips(["amd-mi300x", "nvidia-b200-180gb"], load_assumptions(), 128)
    assert ch.stream_share is not None
    np.testing.assert_allclose(ch.stream_share, [4.26 / 5.3, MEDIAN_MEASURED_SHARE])
    one = ch.take(np.array([0]))
    assert one.attainable_bytes_per_s(0.5)[0] == pytest.approx(4.26e12 * 0.5)


@pytest.mark.parametrize("bad", [True, False, 0, -1.0, float("nan"), float("inf"), "fast"])
def test_a_measured_bandwidth_that_is_not_a_positive_number_is_refused(bad):
    """A YAML ``true`` once loaded as 1.0 TB/s: the rate is a bounded number (spec.bounds TB_PER_S)."""
    with pytest.raises(ValueError, match="tb_per_s"):
        MeasuredBandwidth(**{**MEASURED, "tb_per_s": bad})


def test_a_datasheet_bandwidth_in_the_wrong_unit_is_refused_beside_a_measurement(tmp_path):
    """Stop 36: a datasheet 3,350 (GB/s written under bandwidth_tb_per_s) beside a measured 3.18 TB/s was read as a
    chip streaming 0.1 % of its peak, silently (the model prices the measured rate, so no answer changed)."""
    path = _write(tmp_path, {**MEASURED, "tb_per_s": 3.18})
    doc = yaml.safe_load(path.read_text())
    doc["memory"]["bandwidth_tb_per_s"] = 3350
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    with pytest.raises(SpecError) as exc:
        load_chip(path)
    text = str(exc.value)
    assert str(path) in text and "measured_bandwidth" in text and "3350" in text and "allowed: at least 0.5" in text


def test_every_catalogue_measurement_is_within_the_plausible_share():
    from inferchip.spec.stream import MIN_PLAUSIBLE_SHARE

    assert min(MEASURED_SHARE.values()) > MIN_PLAUSIBLE_SHARE
