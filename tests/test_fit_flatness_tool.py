"""tools/calibration/fit_flatness.py: the directions of the calibration fit that the rows do not pin."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conftest import load_tool

ff = load_tool("fit_flatness")


def test_soft_l1_weights_by_hand() -> None:
    w = ff.soft_l1_weights(np.array([0.0, 0.1, 0.3]), 0.1)
    assert w == pytest.approx([1.0, 2.0 ** -0.25, 10.0 ** -0.25])


def test_a_planted_trade_is_the_flattest_direction() -> None:
    """Rows that see only a + b (and c alone): the direction a - b moves no row, so it is the smallest
    singular vector, with equal and opposite components on a and b and none on c."""
    rng = np.random.default_rng(0)
    u = rng.normal(size=40)
    jac = np.column_stack([u, u, rng.normal(size=40)])
    s, flat = ff.flat_directions(jac, np.zeros(40), ["a", "b", "c"], smallest=1)
    value, comp = flat[0]
    assert value == pytest.approx(0.0, abs=1e-9) and s[0] > 1.0
    assert abs(comp["a"]) == pytest.approx(2 ** -0.5) and comp["a"] == pytest.approx(-comp["b"])
    assert comp["c"] == pytest.approx(0.0, abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 6), st.integers(0, 10_000))
def test_singular_values_are_sorted_and_vectors_unit(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    jac, r = rng.normal(size=(20, n)), rng.normal(scale=0.2, size=20)
    names = [f"p{k}" for k in range(n)]
    s, flat = ff.flat_directions(jac, r, names, smallest=n)
    assert np.all(np.diff(s) <= 1e-12)
    assert [v for v, _ in flat] == pytest.approx(list(s[::-1]))
    for _, comp in flat:
        assert sum(c * c for c in comp.values()) == pytest.approx(1.0)
