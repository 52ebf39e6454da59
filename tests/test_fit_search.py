"""The calibration fit's search (validation/fitting/search.py): the soft-L1 losses by hand, the compass probe's escape
from a saturation plateau, and no change where least_squares' point is already a coordinate-wise minimum."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from inferchip.validation.fitting.search import compass_probe, flat_steps, forward_jacobian, search, soft_l1_losses

C = 0.1  # the calibration's f_scale (calibrate.F_SCALE)


def test_soft_l1_losses_by_hand() -> None:
    # f = C: C^2 (sqrt(2) - 1) = 0.0041421; f = 0: 0; f = -0.4: 0.01 (sqrt(17) - 1) = 0.031231
    got = soft_l1_losses(np.array([0.1, 0.0, -0.4]), C)
    assert got == pytest.approx([0.0041421, 0.0, 0.031231], abs=1e-6)


@given(st.lists(st.floats(-50.0, 50.0, allow_nan=False), min_size=1, max_size=40)
       | st.lists(st.sampled_from([0.0, -0.0, 1e-300, 5e-324, -1e-160, 1e-8, 0.1, -3.0, 1e150]), min_size=1),
       st.sampled_from([0.1, 0.05, 1.0, 0.3]))
def test_each_scale_gives_the_floats_its_own_expression_gave(values: list[float], f_scale: float) -> None:
    """The one soft-L1 equation (stop 40) against the three expressions it replaced, float for float: the calibration
    fit's share of cost, and the energy fit's and calibration_sensitivity's rho sum (scale 1), so no fitted figure
    moves."""
    f = np.array(values)
    cost_share = f_scale ** 2 * (np.sqrt(1.0 + (f / f_scale) ** 2) - 1.0)  # fit_search before stop 40
    z = (f / f_scale) ** 2
    rho_sum = float(np.sum(2.0 * (np.sqrt(1.0 + z) - 1.0)))  # power_fit._soft_l1, calibration_sensitivity.soft_l1
    assert np.array_equal(soft_l1_losses(f, f_scale), cost_share)
    assert float(np.sum(soft_l1_losses(f, f_scale, scale=1.0))) == rho_sum


def test_the_energy_fit_sums_the_shared_equation() -> None:
    from inferchip.validation.energy.power_fit import F_SCALE, _soft_l1

    r = np.array([0.1, -0.4, 0.0, 2.0])
    assert F_SCALE == C and _soft_l1(r) == pytest.approx(2 * (math.sqrt(2) - 1) + 2 * (math.sqrt(17) - 1)
                                                          + 2 * (math.sqrt(401) - 1), rel=1e-12)


def _plateau(x: np.ndarray) -> np.ndarray:
    """Three rows that want x = 1 and one row that rises steeply from x = 0.3 and saturates at 3.0 from x = 0.6 on
    (a row scored at its full batch: past the edge it stops resisting)."""
    v = float(x[0])
    return np.array([v - 1.0] * 3 + [min(max(10 * (v - 0.3), 0.0), 3.0)])


def _cost(v: float) -> float:
    return float(soft_l1_losses(_plateau(np.array([v])), C).sum())


def test_plateau_trap_and_escape_by_hand() -> None:
    lo, hi = np.array([-2.0]), np.array([2.0])
    jac = forward_jacobian(_plateau, hi, step=1e-4)
    # On the plateau only the three rows pull: x = 1, cost 0.01 (sqrt(1 + 900) - 1) = 0.29017 (the saturated row)
    one = search(_plateau, jac, np.array([1.01]), lo, hi, f_scale=C, max_evaluations=60, xtol=1e-8, ftol=1e-10,
                 restarts=0)
    assert one.x[0] == pytest.approx(1.0, abs=1e-3)
    assert one.cost == pytest.approx(0.29017, abs=1e-4)
    # The probe of -0.7 lands at 0.3, the foot of the rise: 3 x 0.01 (sqrt(1 + 49) - 1) = 0.18213
    better, cost, spent = compass_probe(_plateau, one.x, lo, hi, C)
    assert better is not None and better[0] == pytest.approx(0.3, abs=1e-3)
    assert cost == pytest.approx(0.18213, abs=2e-4) and spent == 4
    # Restarted there: the three rows' pull (each ~C once far off) meets the rise's (10 f / sqrt(1 + (f / C)^2)):
    # f = 10 (x - 0.3) ~ 0.045, x ~ 0.3045, cost ~ 3 x 0.01 (sqrt(1 + 48.4) - 1) + 0.01 (sqrt(1.2) - 1) ~ 0.182
    two = search(_plateau, jac, np.array([1.01]), lo, hi, f_scale=C, max_evaluations=60, xtol=1e-8, ftol=1e-10)
    assert two.restarts == 1 and 0.3 < two.x[0] < 0.31
    assert two.cost < 0.1825 < 0.29 < one.cost
    # one probe round that moved, one that found nothing better; each round 4 coordinate steps + 4 along the one
    # (flattest) direction of least_squares' Jacobian
    assert two.probes == 16


def test_no_restart_at_a_coordinate_minimum() -> None:
    def quad(x: np.ndarray) -> np.ndarray:
        return np.array([x[0] - 0.2, x[1] + 0.1, 0.5 * (x[0] - x[1])])

    lo, hi = np.full(2, -3.0), np.full(2, 3.0)
    jac = forward_jacobian(quad, hi, step=1e-4)
    kw = dict(f_scale=C, max_evaluations=60, xtol=1e-8, ftol=1e-10)
    one = search(quad, jac, np.zeros(2), lo, hi, restarts=0, **kw)  # type: ignore[arg-type]
    many = search(quad, jac, np.zeros(2), lo, hi, **kw)  # type: ignore[arg-type]
    assert many.restarts == 0 and many.probes == 16  # 2 coordinates x 4 steps + 2 flattest directions x 4 steps
    assert many.x == pytest.approx(one.x) and many.cost == one.cost


def test_separable_columns_probed_together_and_combined() -> None:
    """Two columns each moving only its own rows: one probe evaluation per step covers both, and each takes its own
    best step (column 0 is best at a -0.7 step, column 1 at +0.35; the combined point is evaluated once more)."""
    def sep(x: np.ndarray) -> np.ndarray:
        return np.array([x[0] + 0.7, x[1] - 0.35])

    masks = [(0, np.array([True, False])), (1, np.array([False, True]))]
    lo, hi = np.full(2, -3.0), np.full(2, 3.0)
    better, cost, spent = compass_probe(sep, np.zeros(2), lo, hi, C, masks)
    assert spent == 5  # four steps, then the combined point
    assert better is not None and better == pytest.approx([-0.7, 0.35])
    assert cost == pytest.approx(0.0, abs=1e-12)


def test_jacobian_separable_columns_read_only_their_rows() -> None:
    def f(x: np.ndarray) -> np.ndarray:
        return np.array([2 * x[0] + x[1], 3 * x[1], math.exp(x[2])])

    masks = [(1, np.array([True, True, False])), (2, np.array([False, False, True]))]  # disjoint rows
    hi = np.full(3, 5.0)
    J = forward_jacobian(f, hi, masks, step=1e-6)(np.zeros(3))
    # column 0 by its own step; columns 1 and 2 from one joint step, each read only on its own rows
    assert J[:, 0] == pytest.approx([2, 0, 0], abs=1e-5)
    assert J[:, 1] == pytest.approx([1, 3, 0], abs=1e-5) and J[2, 1] == 0
    assert J[:, 2] == pytest.approx([0, 0, 1], abs=1e-5) and J[0, 2] == 0


def _c(f: float) -> float:
    """One residual's soft-L1 cost share at f_scale C: C^2 (sqrt(1 + (f / C)^2) - 1)."""
    return C ** 2 * (math.sqrt(1.0 + (f / C) ** 2) - 1.0)


def _two_basin(x: np.ndarray) -> np.ndarray:
    """A narrow valley along (1, 1) (row 0 steep across it) with two basins along u = (x0 + x1) / 2: one row wants
    u = 0; three rows want u = 0.6 but saturate at -0.5 below u = 0.1 (they stop pulling there: a plateau)."""
    u = 0.5 * float(x[0] + x[1])
    return np.array([5.0 * float(x[0] - x[1]), u] + [max(u - 0.6, -0.5)] * 3)


def test_two_basins_left_only_along_the_flattest_direction() -> None:
    """Stop 42 (calib42): least_squares stops in the shallow basin at (0, 0), cost 3 c(0.5) = 0.12297 by hand; no
    single coordinate leaves it (a step of 0.35 on x0: row 0 at 1.75 costs 0.16529 alone), the +0.7 step along the
    flattest direction (1, 1) / sqrt 2 reaches u = 0.495 at c(0.495) + 3 c(0.105) = 0.05400, and the restart ends in
    the deep basin near u = 0.566 (c(u) + 3 c(u - 0.6) stationary), cost below c(0.6) = 0.05083."""
    lo, hi = np.full(2, -3.0), np.full(2, 3.0)
    jac = forward_jacobian(_two_basin, hi, step=1e-6)
    kw = dict(f_scale=C, max_evaluations=200, xtol=1e-10, ftol=1e-12)
    x0 = np.array([0.01, 0.01])
    one = search(_two_basin, jac, x0, lo, hi, restarts=0, **kw)  # type: ignore[arg-type]
    assert one.x == pytest.approx([0.0, 0.0], abs=1e-4)
    assert one.cost == pytest.approx(3 * _c(0.5), abs=1e-6) and 3 * _c(0.5) == pytest.approx(0.12297, abs=1e-5)
    assert _c(1.75) == pytest.approx(0.16529, abs=1e-5) and _c(1.75) > one.cost
    # the coordinate probes alone find nothing better; the flattest direction of the Jacobian there is (1, 1) / sqrt 2
    assert compass_probe(_two_basin, one.x, lo, hi, C)[0] is None
    v = flat_steps(jac(one.x), 1)[0]
    assert v == pytest.approx([math.sqrt(0.5)] * 2, abs=1e-6)
    better, cost, _ = compass_probe(_two_basin, one.x, lo, hi, C, jac=jac(one.x))
    assert better is not None and better == pytest.approx([0.7 * math.sqrt(0.5)] * 2, abs=1e-4)
    assert cost == pytest.approx(_c(0.495) + 3 * _c(0.105), abs=1e-4)
    assert _c(0.495) + 3 * _c(0.105) == pytest.approx(0.05400, abs=1e-4)
    # restarted from it: the deep basin, stationary where c'(u) = -3 c'(u - 0.6), c'(f) = f / sqrt(1 + (f / C)^2)
    two = search(_two_basin, jac, x0, lo, hi, **kw)  # type: ignore[arg-type]
    u = float(two.x.mean())
    assert two.restarts >= 1 and two.x[0] == pytest.approx(two.x[1], abs=1e-4)
    assert u / math.sqrt(1 + (u / C) ** 2) == pytest.approx(-3 * (u - 0.6) / math.sqrt(1 + ((u - 0.6) / C) ** 2),
                                                            abs=1e-4)
    assert 0.55 < u < 0.6 and two.cost < _c(0.6) < one.cost
    # the flat probes off: the shallow basin stands (the search before stop 42)
    old = search(_two_basin, jac, x0, lo, hi, flat_probes=False, **kw)  # type: ignore[arg-type]
    assert old.restarts == 0 and old.cost == one.cost
