"""tools/calibration/heldout_tail.py: the held-out rows beyond the p90 of the MLPerf-style fit."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.conftest import load_tool

ht = load_tool("heldout_tail")


def _row(case_id: str, err: float | None, acc: str = "chip-a", metric: str = "ttft_ms") -> dict:
    return {"case_id": case_id, "accelerator": acc, "model": "org/m", "scenario": "server", "metric": metric,
            "signed_error_pct": err}


def test_p90_by_hand() -> None:
    # 11 rows with APEs 0, 10, ..., 100: the linear 90th percentile is at position 0.9 x 10 = 9, i.e. 90.
    rows = [_row(str(k), (-1) ** k * 10.0 * k) for k in range(11)]
    assert ht.p90_ape(rows) == pytest.approx(90.0)
    with pytest.raises(ValueError, match="no predicted rows"):
        ht.p90_ape([])


def test_tail_keeps_rows_above_with_in_sample_error() -> None:
    held = [_row("a", -70.0), _row("b", 35.0, acc="chip-b", metric="samples_per_s"), _row("c", 10.0),
            _row("d", None)]
    ins = [_row("a", -69.0), _row("b", 2.0)]
    t = ht.tail(held, ins, 35.0)
    assert [r["case_id"] for r in t] == ["a", "b"]  # largest first; 35 itself is kept, 10 and None are not
    assert t[0]["in_sample_pct"] == -69.0 and t[1]["in_sample_pct"] == 2.0
    c = ht.counts(t)
    assert c["accelerator"] == {"chip-a": 1, "chip-b": 1} and c["metric"]["ttft_ms"] == 1
    assert ht.tail(held, [], 35.0)[0]["in_sample_pct"] is None


@given(st.lists(st.floats(-300, 300, allow_nan=False), min_size=1, max_size=60))
def test_tail_at_p90_holds_about_a_tenth(errs: list[float]) -> None:
    # Physical reading of the p90: at most ceil(10 %) + ties of the rows lie at or above it, and every
    # row strictly above it is listed.
    rows = [_row(str(k), e) for k, e in enumerate(errs)]
    p90 = ht.p90_ape(rows)
    t = ht.tail(rows, [], p90)
    assert all(abs(r["held_out_pct"]) >= p90 for r in t)
    assert sum(abs(e) > p90 for e in errs) <= len(t)
    assert p90 == pytest.approx(float(np.percentile(np.abs(errs), 90)))
