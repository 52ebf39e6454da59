"""tools/calibration/refit_check.py: the page before/after statistics and the closed-loop run subset."""

from __future__ import annotations

import math

import pytest
from tests.conftest import load_tool

rc = load_tool("refit_check")


def test_stats_by_hand() -> None:
    """Signed -10, +2, +4, -20, +30: |e| sorted 2, 4, 10, 20, 30, median 10; linear p90 at rank 0.9 x 4 = 3.6:
    20 + 0.6 x 10 = 26; signed median +2."""
    n, med, p90, signed = rc.stats([-10.0, 2.0, 4.0, -20.0, 30.0])
    assert (n, med, p90, signed) == (5, 10.0, pytest.approx(26.0), 2.0)


def test_stats_of_nothing_is_nan() -> None:
    n, med, p90, signed = rc.stats([])
    assert n == 0 and math.isnan(med) and math.isnan(p90) and math.isnan(signed)


def test_page_groups_split_by_kind_and_skip_unpredicted_rows() -> None:
    cases = [
        {"case_id": "a", "status": "ok", "signed_error_pct": 5.0, "energy_scope": None},
        {"case_id": "b", "status": "ok", "signed_error_pct": -7.0, "energy_scope": "board"},
        {"case_id": "c", "status": "ok", "signed_error_pct": 1.0, "energy_scope": "wall"},
        {"case_id": "d", "status": "unsupported", "signed_error_pct": None, "energy_scope": None},
    ]
    g = rc.page_groups(cases)
    assert g == {"all rows": [5.0, -7.0, 1.0], "performance": [5.0], "energy (board)": [-7.0],
                 "energy (wall)": [1.0]}


def test_every_nth_run_keeps_a_runs_metric_rows_together() -> None:
    rows = [{"case_id": f"run{k}-{m}"} for k in range(5) for m in ("tput", "ttft", "tpot")]
    sub = rc.every_nth_run(rows, 2)
    assert sorted({rc.run_of(r["case_id"]) for r in sub}) == ["run0", "run2", "run4"]
    assert len(sub) == 9
    assert rc.every_nth_run(rows, 1) == rows


def test_every_nth_run_refuses_a_step_below_one() -> None:
    with pytest.raises(ValueError, match="--every 0"):
        rc.every_nth_run([{"case_id": "r-tput"}], 0)
