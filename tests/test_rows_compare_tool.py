"""tools/calibration/rows_compare.py: two fits of the MLPerf-style rows side by side."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.conftest import load_tool

rc = load_tool("rows_compare")


def _row(case_id: str, err: float | None, acc: str = "chip-a") -> dict:
    return {"case_id": case_id, "accelerator": acc, "signed_error_pct": err}


def _fit(held: list[dict], ins: list[dict] | None = None) -> dict:
    return {"held_out": held, "in_sample": ins or []}


def test_chip_figures_by_hand() -> None:
    held = rc.by_case([_row("a", -10.0), _row("b", 20.0), _row("c", 40.0), _row("d", None),
                       _row("e", 5.0, acc="chip-b")])
    f = rc.chip_figures(held)
    med, p90, sgn, n = f["chip-a"]
    assert (med, sgn, n) == (20.0, 20.0, 3)  # |10|, |20|, |40|: median 20; signed -10, 20, 40: median 20
    assert p90 == pytest.approx(36.0)  # linear: 20 + 0.8 x (40 - 20)
    assert f["chip-b"] == (5.0, 5.0, 5.0, 1)


def test_row_table_filters_by_chip_and_change() -> None:
    base = _fit([_row("a", -10.0), _row("b", 20.0, acc="chip-b"), _row("c", 30.0)], [_row("a", -8.0)])
    new = _fit([_row("a", -10.5), _row("b", 5.0, acc="chip-b"), _row("c", None)], [_row("a", -7.0)])
    t = rc.row_table(base, new, "chip-a")
    assert [r[0] for r in t] == ["a", "c"]
    assert t[0] == ("a", "chip-a", -10.0, -10.5, -8.0, -7.0)
    assert t[1][3] is None and t[1][4] is None  # not predicted by the variant; no in-sample row
    moved = rc.row_table(base, new, "", changed=1.0)
    assert [r[0] for r in moved] == ["b", "c"]  # a moved 0.5 points; c lost its prediction: it counts


@given(st.lists(st.floats(-300, 300, allow_nan=False), min_size=1, max_size=40))
def test_figures_bound_each_other(errs: list[float]) -> None:
    held = rc.by_case([_row(str(k), e) for k, e in enumerate(errs)])
    med, p90, sgn, n = rc.chip_figures(held)["chip-a"]
    assert n == len(errs)
    assert med <= p90 + 1e-9 <= max(abs(e) for e in errs) + 1e-9
    assert abs(sgn) <= max(abs(e) for e in errs) + 1e-9
    assert med == pytest.approx(float(np.median(np.abs(errs))))
