"""tools/calibration/fold_fixed_rows.py: a held-out row's calibration from its baseline fold, and the held-out
figure with re-predicted rows substituted."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.conftest import load_tool

ff = load_tool("fold_fixed_rows")


def test_fold_calibration_takes_the_folds_physics_and_the_rows_means() -> None:
    base = {"gemm_compute_fraction": 0.7, "kernel_overhead_scale": 1.0, "memory_utilization_fraction": 0.92,
            "mlperf_mean_input_tokens": {"llama2-70b": 368.0, "gptj": 413.0}, "fit_summary": {"x": 1.0},
            "fitted_on": "x"}
    notes = ["W4A4 (fp4/fp4): GEMMs at the fp4 peak",
             "MLPerf llama2-70b: mean input 380 tokens (calibration), lognormal spread"]
    cal = ff.fold_calibration(base, {"gemm_compute_fraction": 0.77, "kernel_overhead_scale": 0.83}, notes)
    assert cal["gemm_compute_fraction"] == 0.77 and cal["kernel_overhead_scale"] == 0.83
    assert cal["memory_utilization_fraction"] == 0.92  # not a fold parameter: the base's
    assert cal["mlperf_mean_input_tokens"] == {"llama2-70b": 380.0, "gptj": 413.0}
    assert "fit_summary" not in cal and "fitted_on" not in cal
    assert base["mlperf_mean_input_tokens"]["llama2-70b"] == 368.0  # the base is not changed


def test_substituted_stats_by_hand() -> None:
    # 11 rows at 0, 10, ..., 100 %: median 50, p90 90; row "10" (100 %) re-predicted at -5 %: the sorted APEs are
    # 0, 5, 10, 20, ..., 90: the median (position 5) 40, the p90 (position 9) 80.
    rows = [{"case_id": str(k), "signed_error_pct": 10.0 * k} for k in range(11)] + [
        {"case_id": "x", "signed_error_pct": None}]
    assert ff.substituted_stats(rows, {}) == pytest.approx((50.0, 90.0))
    assert ff.substituted_stats(rows, {"10": -5.0}) == pytest.approx((40.0, 80.0))
    with pytest.raises(ValueError, match="no predicted"):
        ff.substituted_stats([{"case_id": "x", "signed_error_pct": None}], {})


@given(errs=st.lists(st.floats(-200, 200), min_size=1, max_size=40), k=st.integers(0, 39))
def test_bringing_one_row_to_zero_never_raises_the_p90(errs: list[float], k: int) -> None:
    rows = [{"case_id": str(i), "signed_error_pct": e} for i, e in enumerate(errs)]
    before = ff.substituted_stats(rows, {})
    after = ff.substituted_stats(rows, {str(k % len(errs)): 0.0})
    assert after[0] <= before[0] + 1e-9 and after[1] <= before[1] + 1e-9


def test_a_rows_file_without_the_rows_fold_is_a_clear_error(tmp_path, monkeypatch, capsys) -> None:
    """A held-out row whose accelerator has no fold in the rows file (another run's file, a fold list cut short):
    the tool stops naming the file, the row, its accelerator and the folds it has, not with a KeyError."""
    import json
    import sys

    rows = tmp_path / "rows.json"
    case = "amdblog-llama31-405b-h100-tp8-2048-2048-tput"  # the shipped file's first row (an H100 row)
    rows.write_text(json.dumps({"folds": {"amd-mi300x": {"gemm_compute_fraction": 0.7}},
                                "held_out": [{"case_id": case, "signed_error_pct": 5.0, "notes": []}]}))
    base = tmp_path / "base.yaml"
    base.write_text("gemm_compute_fraction: 0.7\n")
    monkeypatch.setattr(sys, "argv", ["fold_fixed_rows.py", "--base-rows", str(rows), "--base-calibration",
                                      str(base), "--match", "."])
    with pytest.raises(SystemExit) as exc:
        ff.main()
    assert all(s in str(exc.value) for s in (str(rows), case, "nvidia-h100-sxm-80gb", "amd-mi300x"))
