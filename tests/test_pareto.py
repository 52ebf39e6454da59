"""The one Pareto front (inferchip.spec.pareto): its definition, its rule for non-finite rows, and that the
review and the design-space exploration both use it."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from inferchip.spec.pareto import pareto_mask

# small integer-valued objectives make ties and duplicates common; some rows get NaN or +-inf
VALUE = st.one_of(st.integers(-3, 3).map(float), st.sampled_from([np.nan, np.inf, -np.inf]))
FINITE = st.integers(-3, 3).map(float)


def matrices(elements: st.SearchStrategy[float]) -> st.SearchStrategy[np.ndarray]:
    return st.tuples(st.integers(0, 30), st.integers(1, 4)).flatmap(
        lambda nk: arrays(float, nk, elements=elements))


def dominates(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.all(a <= b) and np.any(a < b))


@settings(max_examples=300, deadline=None)
@given(matrices(VALUE), st.data())
def test_a_dominated_point_is_never_on_the_front_and_every_non_dominated_finite_one_is(v, data):
    minimize = data.draw(st.lists(st.booleans(), min_size=v.shape[1], max_size=v.shape[1]))
    mask = pareto_mask(v, minimize)
    x = v * np.where(minimize, 1.0, -1.0)
    finite = np.all(np.isfinite(v), axis=1)
    for i in range(len(v)):
        beaten = any(finite[j] and dominates(x[j], x[i]) for j in range(len(v)))
        assert mask[i] == (finite[i] and not beaten), (i, v[i])


@settings(max_examples=200, deadline=None)
@given(matrices(VALUE))
def test_non_finite_rows_are_off_the_front_and_do_not_change_it(v):
    mask = pareto_mask(v)
    finite = np.all(np.isfinite(v), axis=1)
    assert not np.any(mask[~finite])
    assert np.array_equal(mask[finite], pareto_mask(v[finite]))


@settings(max_examples=200, deadline=None)
@given(matrices(FINITE), st.randoms(use_true_random=False))
def test_the_front_does_not_depend_on_the_order_of_the_rows(v, rnd):
    perm = np.array(rnd.sample(range(len(v)), len(v)), dtype=int)
    assert np.array_equal(pareto_mask(v)[perm], pareto_mask(v[perm]))


@settings(max_examples=200, deadline=None)
@given(matrices(FINITE))
def test_same_front_as_pymoos_non_dominated_sorting_on_finite_rows(v):
    from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

    want = np.zeros(len(v), bool)
    if len(v):
        want[NonDominatedSorting().do(v, only_non_dominated_front=True)] = True
    assert np.array_equal(pareto_mask(v), want)


def test_hand_examples():
    # (cost, energy) both minimised: (1, 5) and (2, 2) trade off; (3, 3) is beaten by (2, 2); a duplicate
    # of a front point is on the front too; a row with NaN is off it and would otherwise have beaten all
    pts = np.array([[1, 5], [2, 2], [3, 3], [2, 2], [np.nan, 0], [0, np.inf]], float)
    assert pareto_mask(pts).tolist() == [True, True, False, True, False, False]
    # maximise the first, minimise the second
    assert pareto_mask(pts[:3], [False, True]).tolist() == [False, True, True]
    assert pareto_mask(np.zeros((0, 3))).tolist() == []


@pytest.mark.parametrize("values, minimize", [(np.zeros(3), None), (np.zeros((2, 2)), [True])])
def test_bad_shapes_are_refused(values, minimize):
    with pytest.raises(ValueError):
        pareto_mask(values, minimize)


def test_the_review_and_the_exploration_use_this_function():
    from inferchip.explore import search
    from inferchip.interfaces.report import explore_page
    from inferchip.review import pareto

    assert pareto.pareto_mask is search.pareto_mask is explore_page.pareto_mask is pareto_mask
