"""tools/fit_engines.py: the first-order moves of a simulated row to new engine host times, by hand,
and the grid fit recovering host times planted in synthetic rows."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import load_tool


@pytest.fixture(scope="module")
def fe():
    return load_tool("fit_engines")


def row(metric: str, **kw: float) -> dict:
    base = {"engine": "e", "chip": "c", "metric": metric, "meas": 1.0, "ttft": 0.2, "tpot": 0.01, "e2e": 10.0,
            "tput": 1000.0, "s0": 0.001, "r0": 0.05, "k0": 0.0, "conc": 16.0, "tau": 2.0, "steps": 400.0}
    base.update(kw)
    return base


def test_moves_by_hand(fe):
    rows = [row("ttft_ms"), row("tpot_ms"), row("output_tokens_per_s_total")]
    s, r, k = 0.003, 0.08, 0.0005
    p = fe.predict(rows, np.array(s), np.array(r), k)
    ds, dr = s - 0.001, (r - 0.05) + k * 16.0
    assert p[0] == pytest.approx((0.2 + dr + ds) * 1e3)  # request and one step more before the first token
    assert p[1] == pytest.approx((0.01 + ds / 2.0) * 1e3)  # a step emits tau tokens
    assert p[2] == pytest.approx(1000.0 * 10.0 / (10.0 + dr + ds * 400.0))  # Little's law on the loop


def test_grid_broadcast_matches_single_points(fe):
    rows = [row("ttft_ms"), row("tpot_ms"), row("output_tokens_per_s_total")]
    s, r = np.meshgrid(fe.STEP_GRID[:5], fe.REQUEST_GRID[:4], indexing="ij")
    grid = fe.predict(rows, s, r)
    assert grid.shape == (3, 5, 4)
    for i in range(5):
        for j in range(4):
            one = fe.predict(rows, np.array(s[i, j]), np.array(r[i, j]))
            assert np.allclose(grid[:, i, j], one)


def test_fit_recovers_planted_host_times(fe):
    s_true, r_true = float(fe.STEP_GRID[20]), float(fe.REQUEST_GRID[60])
    rows = []
    for conc, osl in ((4, 1024), (64, 1024), (16, 8192), (128, 2048)):
        for metric in ("ttft_ms", "tpot_ms", "output_tokens_per_s_total"):
            x = row(metric, conc=float(conc), steps=(0.9 * osl - 1) / 2.0, ttft=0.1 + conc * 1e-3)
            x["meas"] = float(fe.predict([x], np.array(s_true), np.array(r_true))[0])
            rows.append(x)
    s_fit, r_fit, k_fit = fe.fit(rows)
    assert s_fit == pytest.approx(s_true) and r_fit == pytest.approx(r_true) and k_fit == 0.0
