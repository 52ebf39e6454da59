"""Generated bad values in every column of a closed-loop case row and of a vision case row: the read either
succeeds or stops with a CaseFileError naming the file, the line, the column and the value and saying what is
allowed; nothing else escapes (no traceback from deeper down, no row past the command line's bounds)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inferchip.validation.cases import COLUMNS, CaseFileError, parse_cases
from inferchip.validation.vision.cases import VISION_COLUMNS, parse_vision_cases
from inferchip.workload.limits import MAX_BATCH, MAX_CHIPS, MAX_CONCURRENCY, MAX_TOKENS

CATALOG = Path(__file__).parents[1] / "src" / "inferchip" / "catalog"
ALLOWED_WORDS = ("allowed", "expected", "must be", "required", "repeats")


def _first_row(path: Path) -> tuple[list[str], list[str]]:
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    return rows[0], rows[1]


IMAX_HEADER, IMAX_ROW = _first_row(CATALOG / "inferencemax_cases.csv")
VISION_HEADER, VISION_ROW = _first_row(CATALOG / "vision" / "vision_cases.csv")

values = st.one_of(
    st.sampled_from(["", " ", "nan", "inf", "-inf", "-1", "0", "-0", "1e400", "1e12", "2.5", "abc", "0x10", "1,5",
                     "true", "１２", "9" * 30]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-10**15, 10**15).map(str),
    st.text(max_size=40))


def _text(header: list[str], row: list[str], column: str, value: str) -> str:
    row = list(row)
    row[header.index(column)] = value
    buf = io.StringIO()
    csv.writer(buf).writerows([header, row])
    return buf.getvalue()


def _check_error(exc: CaseFileError, path: str, column: str, value: str) -> None:
    msg = str(exc)
    assert msg.startswith(f"{path}: line 2"), msg
    if exc.field is not None:  # a cell: its column by name and its value
        assert exc.field == column and f"({column})" in msg and repr(value.strip())[1:-1] in msg, msg
    assert any(w in msg for w in ALLOWED_WORDS), msg


def _parsed_or_refused(parse, header, row, path: str, column: str, value: str):
    """The one row of ``row`` with ``column`` set to ``value``, parsed by ``parse``; None where it is refused, after
    checking that the refusal names the file, the line, the column, the value and what is allowed."""
    try:
        return parse(_text(header, row, column, value), path)[0]
    except CaseFileError as exc:
        _check_error(exc, path, column, value)
        return None


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(column=st.sampled_from(COLUMNS), value=values)
def test_a_closed_loop_row_cell_parses_or_names_file_column_value_and_what_is_allowed(column, value):
    case = _parsed_or_refused(parse_cases, IMAX_HEADER, IMAX_ROW, "f.csv", column, value)
    if case is None:
        return
    bounds = {"num_accelerators": MAX_CHIPS, "tp": MAX_CHIPS, "pp": MAX_CHIPS, "ep": MAX_CHIPS,
              "concurrency": MAX_CONCURRENCY, "input_tokens": MAX_TOKENS, "output_tokens": MAX_TOKENS}
    for name, most in bounds.items():
        v = getattr(case, name)
        assert v is None or 0 < v <= most, (name, v)
    assert 0 < case.value < float("inf")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(column=st.sampled_from(VISION_COLUMNS), value=values)
def test_a_vision_row_cell_parses_or_names_file_column_value_and_what_is_allowed(column, value):
    case = _parsed_or_refused(parse_vision_cases, VISION_HEADER, VISION_ROW, "v.csv", column, value)
    if case is None:
        return
    assert 0 < case.num_accelerators <= MAX_CHIPS and (case.batch is None or 0 < case.batch <= MAX_BATCH)
    assert 0 < case.value < float("inf")
