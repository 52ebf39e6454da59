"""calibrate fits only what its rows identify (issue 12: no parameter that only compensates another):
``validation/fitting/search.py`` ``directions`` / ``parameter_log_se`` / ``flat_hold`` and
``validation/calibrate.py`` ``identified_fit``, on hand-made Jacobians and on synthetic fits whose residuals are
written out here (the real rows' residuals are replaced), plus the shipped rows at the shipped point."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from inferchip.spec.calibration import Calibration
from inferchip.validation import calibrate as cmod
from inferchip.validation.fitting.search import FLAT_LOG_SE, Direction, directions, flat_hold, parameter_log_se

N_ROWS = 24
A = np.array([1.0 + 0.5 * math.sin(i) for i in range(N_ROWS)])
B = np.array([math.cos(i) for i in range(N_ROWS)])
C = np.array([math.sin(2.0 * i) + 0.3 for i in range(N_ROWS)])
NOISE = np.array([0.03 * (-1) ** i for i in range(N_ROWS)])  # the rows' error the parameters cannot remove
PAIR = ["kernel_overhead_scale", "step_overhead_s"]
NAMES = ["gemm_compute_fraction", *PAIR]


def test_directions_and_standard_errors_by_hand() -> None:
    """J = diag(1, 2), every residual 0.05: soft-L1 weight (1 + 0.25)^-0.25 = 0.94574; sigma = 1.4826 x 0.05 =
    0.07413; singular values 1.89148 and 0.94574; log se 0.07413 / 0.94574 = 0.07838 (flattest, along p0) and
    0.03919; each parameter's own log se the same (the columns are orthogonal)."""
    jac, r = np.array([[1.0, 0.0], [0.0, 2.0]]), np.array([0.05, 0.05])
    d = directions(jac, r, ["p0", "p1"], 0.1)
    assert [x.singular_value for x in d] == pytest.approx([0.945742, 1.891483], rel=1e-5)
    assert [x.log_se for x in d] == pytest.approx([0.078384, 0.039192], rel=1e-4)
    assert d[0].of_largest == pytest.approx(0.5) and abs(d[0].components["p0"]) == pytest.approx(1.0)
    assert not d[0].flat and d[0].members() == ["p0"]
    assert parameter_log_se(jac, r, ["p0", "p1"], 0.1) == pytest.approx({"p0": 0.078384, "p1": 0.039192}, rel=1e-4)


def test_two_columns_that_only_trade_are_one_flat_direction() -> None:
    jac = np.column_stack([A, B, B])
    d = directions(jac, A * 0 + NOISE, NAMES, 0.1)
    assert d[0].flat and d[0].log_se > 1e6 and sorted(d[0].members()) == sorted(PAIR)
    assert abs(d[0].components["gemm_compute_fraction"]) < 1e-9
    assert not d[1].flat and not d[2].flat
    se = parameter_log_se(jac, NOISE, NAMES, 0.1)
    assert se["gemm_compute_fraction"] < 0.05  # the pseudo-inverse: the flat pair does not spill onto gemm


def _direction(log_se: float, **components: float) -> Direction:
    return Direction(1.0, 0.1, log_se, dict(sorted(components.items(), key=lambda kv: -abs(kv[1]))))


def test_flat_hold_prefers_the_parameter_other_rows_pin_and_never_holds_a_data_set_mean() -> None:
    flat = FLAT_LOG_SE * 1.5
    pair = _direction(flat, step_overhead_s=0.75, kernel_overhead_scale=-0.66)
    assert flat_hold([pair], PAIR, {"kernel_overhead_scale": 0.99}) == ("kernel_overhead_scale", pair)
    assert flat_hold([pair], PAIR, {}) == ("step_overhead_s", pair)  # none pinned: the largest member
    means_only = _direction(flat * 2, **{"mlperf_mean_input_tokens:gptj": 0.9, "moe_imbalance": 0.1})
    assert flat_hold([means_only, pair], PAIR + ["moe_imbalance"], {}) == ("step_overhead_s", pair)
    identified = _direction(FLAT_LOG_SE * 0.9, step_overhead_s=1.0)
    assert flat_hold([identified, pair], PAIR, {}) is None  # flattest first: nothing flat at all


def _synthetic(monkeypatch: pytest.MonkeyPatch, degenerate: bool) -> list[cmod.FitRow]:
    """Rows whose log residuals are ``A ln(g / 0.7) + B (ln k + ln(s / 0.002) - ln 0.9) + NOISE`` (the kernel and
    step overheads only as their product: degenerate) or ``A ln(g / 0.7) + B ln(k / 0.95) + C ln(s / 0.0019)``."""

    def residuals(rows: object, point: cmod.FitPoint) -> np.ndarray:
        cal = point.calibration
        g, k, s = cal.gemm_compute_fraction, cal.kernel_overhead_scale, cal.step_overhead_s
        if degenerate:
            return A * math.log(g / 0.7) + B * (math.log(k) + math.log(s / 0.002) - math.log(0.9)) + NOISE
        return A * math.log(g / 0.7) + B * math.log(k / 0.95) + C * math.log(s / 0.0019) + NOISE

    monkeypatch.setattr(cmod, "row_residuals", residuals)
    return [cmod.FitRow(None, None, None, None) for _ in range(N_ROWS)]  # type: ignore[arg-type]


def test_a_degenerate_pair_holds_the_pinned_parameter_and_fits_the_other(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = _synthetic(monkeypatch, degenerate=True)
    res = cmod.identified_fit(rows, Calibration(), NAMES, anchors={"kernel_overhead_scale": 0.95})
    assert res.held == {"kernel_overhead_scale": 0.95}
    assert "pinned by the closed-loop rows" in res.held_why["kernel_overhead_scale"]
    assert "flat direction" in res.held_why["kernel_overhead_scale"]
    assert res.names == ["gemm_compute_fraction", "step_overhead_s"]  # never reported as fitted
    assert res.calibration.kernel_overhead_scale == 0.95
    assert res.calibration.step_overhead_s == pytest.approx(0.002 * 0.9 / 0.95, rel=0.03)
    assert res.calibration.gemm_compute_fraction == pytest.approx(0.7, rel=0.03)
    assert all(not d.flat for d in res.directions)


def test_with_nothing_pinned_the_larger_member_is_held_at_the_start_value(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = _synthetic(monkeypatch, degenerate=True)
    start = Calibration()
    res = cmod.identified_fit(rows, start, NAMES, anchors={})
    (name, value), = res.held.items()
    assert name in PAIR and value == getattr(start, name)
    assert "start's value" in res.held_why[name]
    cal = res.calibration
    assert cal.kernel_overhead_scale * cal.step_overhead_s == pytest.approx(0.9 * 0.002, rel=0.03)


def test_an_identified_problem_holds_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = _synthetic(monkeypatch, degenerate=False)
    res = cmod.identified_fit(rows, Calibration(), NAMES, anchors={"kernel_overhead_scale": 0.5})
    assert res.held == {} and res.names == NAMES
    assert res.calibration.kernel_overhead_scale == pytest.approx(0.95, rel=0.03)  # not the anchor's 0.5
    assert res.calibration.step_overhead_s == pytest.approx(0.0019, rel=0.03)
    assert max(res.log_se.values()) < FLAT_LOG_SE


def test_the_shipped_rows_with_the_kernel_overhead_held_leave_no_flat_direction() -> None:
    """At the shipped calibration, the 114 rows of validation_cases.csv pin every direction of the parameters
    calibrate fits once kernel_overhead_scale is held (the closed-loop rows' value)."""
    from inferchip.catalog.calibration_file import load_calibration, load_dataset_lengths
    from inferchip.validation.cases import read_cases
    from inferchip.validation.fitting.search import identifiability
    cases = Path(__file__).resolve().parents[1] / "src" / "inferchip" / "catalog" / "validation_cases.csv"
    point = cmod.FitPoint(load_calibration(None), load_dataset_lengths(None))
    rows, _ = cmod.prepare([c for c in read_cases(cases) if c.energy_scope is None], point)
    names = [n for n in cmod.fit_parameter_names(rows) if n != "kernel_overhead_scale"]
    dirs, se = identifiability(lambda y: cmod.row_residuals(rows, cmod.with_values(point, names, np.exp(y))),
                               np.log(cmod.current_values(point, names)), names, cmod.F_SCALE)
    assert len(rows) >= 100
    assert not [d.text() for d in dirs if d.flat]
    assert max(se.values()) < FLAT_LOG_SE
