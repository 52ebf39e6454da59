"""tools/step_model/row_step_classes.py: a row's decode step by operator class over a batch grid."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.conftest import load_tool

rs = load_tool("row_step_classes")
CASES = Path(__file__).resolve().parents[1] / "src/inferchip/catalog/validation_cases.csv"


def test_parse_batches_by_hand() -> None:
    assert rs.parse_batches("65, 32,64,32") == (32, 64, 65)
    for bad in ("", "0,4", "-1"):
        with pytest.raises(ValueError, match="positive integers"):
            rs.parse_batches(bad)


def test_jumps_and_largest_jump_by_hand() -> None:
    # 10 -> 11 ms is +10 % over 32 sequences; 11 -> 15.4 ms is +40 % over one sequence (the tile boundary).
    times = [0.010, 0.011, 0.0154]
    j = rs.jumps_pct(times)
    assert j[0] is None and j[1] == pytest.approx(10.0) and j[2] == pytest.approx(40.0)
    assert rs.largest_jump([32, 64, 65], times) == (64, 65, pytest.approx(40.0))
    assert rs.largest_jump([32], [0.01]) is None


@given(st.lists(st.floats(1e-4, 1.0), min_size=2, max_size=20))
def test_largest_jump_is_the_steepest_neighbour_pair(times: list[float]) -> None:
    batches = list(range(1, len(times) + 1))
    b0, b1, pct = rs.largest_jump(batches, times)
    assert b1 == b0 + 1
    steepest = max(100.0 * (t1 / t0 - 1.0) for t0, t1 in zip(times, times[1:], strict=False))
    assert pct == pytest.approx(steepest)
    assert len(rs.jumps_pct(times)) == len(times)


def test_step_rows_of_a_real_row_sum_their_classes_and_mark_the_tile() -> None:
    from inferchip.catalog.calibration_file import load_calibration
    from inferchip.validation.cases import read_cases
    from inferchip.validation.validate import Validator, case_formats, plan_for

    case = next(c for c in read_cases(CASES) if c.case_id == "mlp51-llama2-70b-99-interactive-h200x8-nebius")
    v = Validator(load_calibration(None))
    fmt, _ = case_formats(case)
    layout, _pt = v._search(case, plan_for(case, v.lengths), fmt)
    rows = rs.step_rows(v.mapped(case, layout, fmt), (64, 65, 128), 1000.0)
    # Hopper GEMM tile 128 x 256: the smallest power of two holding 64 rows is 64, 65 rows take 128.
    assert [r["m_tile"] for r in rows] == [64.0, 128.0, 128.0]
    for r in rows:
        assert sum(r["classes"].values()) == pytest.approx(r["time_s"], rel=1e-6)
    assert rows[0]["time_s"] < rows[1]["time_s"] <= rows[2]["time_s"]


def test_the_shared_parser_reads_a_grid_and_names_a_bad_option(capsys: pytest.CaptureFixture[str]) -> None:
    """row_parser / parsed_grid, which this tool and prefill_step_classes.py share: the grid read by the tool's own
    parser and --rows compiled; a bad value of either exits with argparse's status 2 naming the option."""
    ap = rs.row_parser("test")
    ap.add_argument("--batch", default="32,64")
    grid, pat = rs.parsed_grid(ap, ap.parse_args(["x.csv", "--rows", "h100"]), "batch", rs.parse_batches)
    assert grid == (32, 64) and pat.pattern == "h100"
    for argv, named in ((["x.csv", "--rows", "h100", "--batch", "0"], "--batch '0': positive integers"),
                        (["x.csv", "--rows", "("], "--rows '(': not a regular expression")):
        with pytest.raises(SystemExit) as exc:
            rs.parsed_grid(ap, ap.parse_args(argv), "batch", rs.parse_batches)
        assert exc.value.code == 2 and named in capsys.readouterr().err
