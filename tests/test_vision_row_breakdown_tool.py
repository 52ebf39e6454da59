"""tools/vision/vision_row_breakdown.py: its device times are the row model's, its FLOP ratio is spent over useful
matrix work (never below 1, and on a 22-SM RTX 2000E larger for a batch of 8 than for 1,024: partial waves), the
useful work is ResNet-50's published MAC count, and the CLI prints one table line per requested batch."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import load_tool
from inferchip.catalog.vision_networks import VISION_CASES_FILE, load_vision_calibration
from inferchip.validation.vision.cases import read_vision_cases
from inferchip.validation.vision.rows import build_row
from inferchip.validation.vision.validate import params_of

ROW = "mlpinf-v5.1-lenovo-se100-rtx2000e-ada-16gbx1-trt-resnet50-multi-stream"


@pytest.fixture(scope="module")
def tool():
    return load_tool("vision_row_breakdown")


@pytest.fixture(scope="module")
def case():
    return next(c for c in read_vision_cases(VISION_CASES_FILE) if c.case_id == ROW)


def test_device_time_is_the_row_models(tool, case):
    cal = load_vision_calibration()
    rows = tool.breakdown(case, cal, [1.0, 8.0])
    assert [r["batch"] for r in rows] == [1.0, 8.0]
    model = build_row(case, cal)
    t = model.latency_s(params_of(cal))
    for r in rows:
        i = int(np.flatnonzero(model.batches == r["batch"])[0])
        assert r["device_ms"] == pytest.approx(t[i] * 1e3, rel=1e-12)
        assert r["per_sample_ms"] == pytest.approx(t[i] * 1e3 / r["batch"], rel=1e-12)
        # one call is at least its summed per-layer maxima plus overheads (the TDP bound may only lengthen it)
        assert r["device_ms"] >= r["layer_max_ms"] + r["overhead_ms"] - 1e-9


def test_spent_never_below_useful_and_waves_cost_at_small_batch(tool, case):
    cal = load_vision_calibration()
    rows = {r["batch"]: r for r in tool.breakdown(case, cal)}
    assert all(r["spent_over_useful"] >= 1.0 for r in rows.values())
    assert rows[8.0]["spent_over_useful"] > rows[1024.0]["spent_over_useful"]


def test_useful_work_is_resnet50s_published_macs(tool, case):
    from inferchip.catalog.chips import family_defaults, load_chip
    from inferchip.cost.vision.layers import layer_costs
    from inferchip.spec.chip import chip_params
    from inferchip.workload.vision.network import load_network

    spec = load_chip(case.accelerator)
    c = layer_costs(chip_params(spec, family_defaults(spec.family)), load_network(case.model).arrays,
                    np.array([1.0]), "int8", load_vision_calibration())
    # 4.089 GMAC per frame (catalog/vision/resnet50-v1.5.yaml), 2 FLOP per MAC
    assert c.useful_flop.sum() == pytest.approx(2 * 4.089e9, rel=0.02)
    ratio = tool.flop_ratio(case, load_vision_calibration(), np.array([1.0]))
    assert ratio[0] == pytest.approx(c.spent_flop.sum() / c.useful_flop.sum(), rel=1e-12)


def test_cli_prints_one_line_per_batch(tool, capsys):
    tool.main([ROW, "--batches", "1,8"])
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(ROW) and "measured 1.483" in out[0]
    table = [line for line in out[2:] if line.startswith("| ")]
    assert [line.split(" | ")[0] for line in table] == ["| 1", "| 8"]
