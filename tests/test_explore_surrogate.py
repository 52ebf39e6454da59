"""The surrogate that ranks the search's Pareto local search (explore/search_surrogate.py)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from inferchip.explore import search_surrogate as surrogate
from inferchip.explore.search import search
from inferchip.explore.search_surrogate import Surrogate, features, margins, pick, rank
from inferchip.spec.design_space import DesignSpace
from inferchip.spec.pareto import pareto_mask

SPACE = DesignSpace.from_dict({"parameters": {
    "matrix_units": [32, 64, 128, 256, 512], "clock_ghz": [1.0, 1.5, 2.0, 2.5],
    "memory_type": ["hbm3e", "hbm3", "gddr6"], "sram_mb": [16, 64, 256]}})


def _in_model_class(idx: np.ndarray) -> np.ndarray:
    """Two objectives made of a main effect per parameter and a categorical x ordered product: the
    regression's own form, so a fit on enough designs must reproduce it everywhere."""
    u, c, m, s = (idx[:, j] for j in (0, 2, 5, 3))
    a = 0.7 * u - 0.2 * u * u + 1.5 * (m == 2) - 0.9 * (m == 2) * u + 0.3 * c * s
    b = -0.4 * u + 0.8 * (m == 1) + 0.1 * s * s - 0.5 * c
    return np.stack([a, b], axis=1)


def test_the_regression_reproduces_a_function_of_its_own_form_on_unseen_designs(monkeypatch):
    monkeypatch.setattr(surrogate, "CLIP_QUANTILE", 1.0)  # nothing clipped: the data are of the model's form
    every = SPACE.grid()
    train = every[np.random.default_rng(0).choice(len(every), 120, replace=False)]
    mu, se = Surrogate(SPACE, train, _in_model_class(train)).predict(every)
    truth = _in_model_class(every)
    assert np.max(np.abs(mu - truth)) < 0.02 * np.ptp(truth, axis=0).min()
    assert np.all(se >= 0) and np.max(se) < 0.02 * np.ptp(truth, axis=0).min()  # no residual: no uncertainty


def test_a_floor_value_far_away_does_not_bend_the_fit_of_the_good_designs():
    every = SPACE.grid()
    train = every[np.random.default_rng(2).choice(len(every), 120, replace=False)]
    f = _in_model_class(train)
    floor = train[:, 0] == 0  # the fewest matrix units "serve nothing": a floor value orders of magnitude away
    f[floor] = 1e3
    mu, _ = Surrogate(SPACE, train, f).predict(every)
    truth = _in_model_class(every)
    good = np.all(truth <= np.quantile(f, 0.5, axis=0), axis=1) & (every[:, 0] != 0)
    assert good.sum() > 30
    for k in range(2):
        assert np.corrcoef(mu[good, k], truth[good, k])[0, 1] > 0.8


def test_features_are_main_effects_and_pairwise_products():
    # 4 varying parameters: 3 ordered (matrix_units 5 values, clock 4, sram 3: position and square each) and
    # memory_type (3 values: 2 columns); mains 2+2+2+2 = 8; pairs 6 of them, 2 x 2 columns each = 24; intercept 1
    x = features(SPACE, SPACE.grid())
    assert x.shape == (SPACE.size, 1 + 8 + 24)
    assert np.all(x[:, 0] == 1)
    assert np.linalg.matrix_rank(x) == x.shape[1]  # no column repeats another on the full grid


def test_uncertainty_is_larger_away_from_the_data():
    every = SPACE.grid()
    near = every[every[:, 5] != 2]  # fit on HBM designs only: GDDR6 designs are extrapolated
    model = Surrogate(SPACE, near, _in_model_class(near) + np.random.default_rng(1).normal(0, 0.1, (len(near), 2)))
    _, se = model.predict(every)
    assert se[every[:, 5] == 2].mean() > 3 * se[every[:, 5] != 2].mean()


def test_margins_by_hand():
    front = np.array([[0.0, 1.0], [1.0, 0.0]])
    pts = np.array([[0.5, 0.5],  # beats (0,1) on y by 0.5 and (1,0) on x by 0.5: margin 0.5
                    [2.0, 2.0],  # dominated by both: max(0-2, 1-2) = -1, max(1-2, 0-2) = -1
                    [-1.0, 3.0]])  # beats (0,1) on x by 1, beats (1,0) on x by 2: min(1, 2) = 1
    assert np.allclose(margins(front, pts), [0.5, -1.0, 1.0])


def test_pick_spreads_a_batch_and_fills_it_when_nothing_improves():
    front = np.array([[0.0, 1.0], [1.0, 0.0]])
    pts = np.array([[0.5, 0.5], [0.5, 0.5], [-1.0, 3.0], [2.0, 2.0]])
    got = pick(front, pts, 3)
    assert got[0] == 2  # the largest margin first
    assert got[1] == 0  # then (0.5, 0.5); its twin has margin 0 once it is taken: filled last, by margin
    assert got[2] == 1
    assert pick(front, np.array([[2.0, 2.0], [1.5, 1.5]]), 1) == [1]  # nothing improves: least dominated


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 30), seed=st.integers(0, 1000), n_done=st.integers(0, 60))
def test_rank_returns_distinct_candidates(n, seed, n_done):
    every = SPACE.grid()
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(every))
    done, cand = every[order[:n_done]], every[order[n_done:n_done + 50]]
    f = _in_model_class(done) + rng.normal(0, 0.3, (len(done), 2))
    got = rank(SPACE, done, f, np.flatnonzero(pareto_mask(f)) if len(f) else np.zeros(0, int), cand, n)
    assert len(got) == min(n, len(cand)) == len(np.unique(got, axis=0))
    assert set(map(tuple, got)) <= set(map(tuple, cand))


def test_the_search_asks_for_the_same_designs_however_they_are_evaluated():
    def whole(ix: np.ndarray) -> np.ndarray:
        return _in_model_class(np.asarray(ix))

    def one_by_one(ix: np.ndarray) -> np.ndarray:  # another executor: row by row, in reverse, put back in order
        return np.stack([_in_model_class(np.asarray(r)[None])[0] for r in np.asarray(ix)[::-1]])[::-1]

    a, b, c = search(SPACE, 60, 5, whole), search(SPACE, 60, 5, one_by_one), search(SPACE, 60, 6, whole)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
