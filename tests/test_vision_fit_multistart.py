"""The vision fit's fixed multi-start: the same parameters whatever calibration is shipped, a kept loss no higher
than any single start's, and a residual cache that recomputes a row only when a parameter it reads moves."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from inferchip.catalog.vision_networks import VISION_CASES_FILE, load_vision_calibration
from inferchip.spec.vision import VisionCalibration
from inferchip.validation.vision.cases import read_vision_cases
from inferchip.validation.vision.fit import (
    NAMES,
    STARTS,
    ResidualCache,
    fit,
    fit_from,
    is_calibration_row,
    log_residuals,
)
from inferchip.validation.vision.predict import predict_row
from inferchip.validation.vision.rows import RowModel
from inferchip.validation.vision.validate import _models, fit_reference, params_of


@pytest.fixture(scope="module")
def calib() -> list[RowModel]:
    _, models = _models(read_vision_cases(VISION_CASES_FILE), fit_reference(load_vision_calibration()))
    return [m for m in models if is_calibration_row(m)]


@pytest.fixture(scope="module")
def cache() -> ResidualCache:
    return ResidualCache()


def test_fit_gives_the_same_parameters_from_the_shipped_and_the_default_calibration(calib, cache):
    shipped = fit(calib, params_of(load_vision_calibration()), cache=cache)
    default = fit(calib, params_of(VisionCalibration()), cache=cache)
    far = fit(calib, replace(STARTS[-1], memory_bandwidth_fraction=VisionCalibration().memory_bandwidth_fraction),
              cache=cache)
    assert shipped.names == default.names == far.names and len(shipped.names) >= 4
    for n in shipped.names:
        assert getattr(shipped.params, n) == pytest.approx(getattr(default.params, n), rel=1e-9)
        assert getattr(shipped.params, n) == pytest.approx(getattr(far.params, n), rel=1e-9)


def test_kept_loss_is_at_most_each_single_starts_loss(calib, cache):
    best = fit(calib, cache=cache)
    singles = [fit_from(calib, s, cache=cache) for s in STARTS]
    assert all(best.loss <= f.loss for f in singles)
    assert best.loss == singles[best.start].loss
    assert best.evaluations == sum(f.evaluations for f in singles)


def test_cached_residuals_equal_fresh_ones_when_each_parameter_moves(calib):
    """A cache warmed at one point answers a point that moves one parameter with the rows' fresh values: a row
    whose dependence the cache missed would keep its stale value."""
    cache = ResidualCache()
    p0 = params_of(load_vision_calibration())
    log_residuals(calib, p0, cache)
    for n in NAMES:
        p1 = replace(p0, **{n: getattr(p0, n) * 1.3 if n != "memory_bandwidth_fraction" else 0.6})
        fresh = np.clip(np.nan_to_num(np.array([np.log(predict_row(r, p1)[0] / r.case.value) for r in calib]),
                                      nan=5.0, posinf=5.0), -5.0, 5.0)
        np.testing.assert_array_equal(log_residuals(calib, p1, cache), fresh, err_msg=n)


def test_folds_in_worker_processes_give_the_serial_folds_parameters(calib):
    """``workers`` > 1 forks the folds out; each fold is the same fit, so the same parameters per accelerator
    (and the same rows to predict) as the serial loop."""
    from collections import Counter

    from inferchip.validation.vision.fit import leave_one_accelerator_out

    top = [acc for acc, _ in Counter(m.case.accelerator for m in calib if m.case.accelerator.startswith("nvidia-"))
           .most_common(3)]
    rows = [m for m in calib if m.case.accelerator in top]
    serial = leave_one_accelerator_out(rows, rows, workers=1)
    forked = leave_one_accelerator_out(rows, rows, workers=2)
    assert sorted(serial) == sorted(forked) == sorted(top)
    for acc in top:
        assert forked[acc][0] == serial[acc][0]
        assert [r.case.case_id for r in forked[acc][1]] == [r.case.case_id for r in serial[acc][1]]
