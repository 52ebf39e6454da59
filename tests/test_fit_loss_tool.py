"""tools/calibration/fit_loss.py: the soft-L1 cost it prints is calibrate's, summed by hand from the rows' residuals."""

from __future__ import annotations

import math

import numpy as np
import pytest
from tests.conftest import load_tool

from inferchip.catalog.calibration_file import load_calibration, load_dataset_lengths
from inferchip.spec.calibration import Calibration, DatasetLengths
from inferchip.validation.calibrate import F_SCALE, FitPoint
from inferchip.validation.cases import read_cases
from inferchip.validation.fitting.points import prepare, row_residuals


def test_shipped_cost_by_hand(capsys: pytest.CaptureFixture[str]) -> None:
    tool = load_tool("fit_loss")
    [(name, cost, med, n)] = tool.losses(["shipped"], tool.CASES)
    cases = [c for c in read_cases(tool.CASES) if c.energy_scope is None]
    rows, _ = prepare(cases, FitPoint(Calibration(), DatasetLengths()))
    r = row_residuals(rows, FitPoint(load_calibration(None), load_dataset_lengths(None)))
    by_hand = sum(F_SCALE ** 2 * (math.sqrt(1.0 + (float(f) / F_SCALE) ** 2) - 1.0) for f in r)
    assert name == "shipped" and n == len(rows) > 0
    assert cost == pytest.approx(by_hand, rel=1e-12) and med == pytest.approx(float(np.median(np.abs(r))))
    tool.main(["shipped"])
    assert capsys.readouterr().out.startswith(f"shipped: soft-L1 cost {cost:.4f} on {n} rows")
