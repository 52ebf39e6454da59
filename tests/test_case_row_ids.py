"""An unknown chip or model in a case row (validation_cases.csv, inferencemax and mlenergy rows: one
format) is refused at the read like any other column error: the file, the line, the column, the value
and what is allowed (the closest catalogue ids), and `inferchip validate` answers one `error:` line, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from inferchip.interfaces.cli import main
from inferchip.validation.cases import CaseFileError, parse_cases, read_cases

DATA = Path(__file__).parent / "data"
FILES = ("validation_small.csv", "inferencemax_subset.csv", "mlenergy_subset.csv")


def _with(name: str, column: str, value: str) -> tuple[str, int]:
    """The file's text with its first row's ``column`` set to ``value``, and that column's 1-based position."""
    lines = (DATA / name).read_text().splitlines()
    header = lines[0].split(",")
    col = header.index(column)
    import csv
    import io

    rows = list(csv.reader(io.StringIO("\n".join(lines[:2]))))
    rows[1][col] = value
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue(), col + 1


@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize("column,value,closest,kind", [
    ("accelerator", "nvidia-h100-sxm-80g", "nvidia-h100-sxm-80gb", "chip"),
    ("model", "meta-llama/Llama-3.1-70B-Instrct", "meta-llama/Llama-3.1-70B-Instruct", "model"),
])
def test_an_unknown_id_names_file_line_column_value_and_the_closest(name, column, value, closest, kind):
    text, col = _with(name, column, value)
    with pytest.raises(CaseFileError) as exc:
        parse_cases(text, f"rows/{name}", known_ids=True)
    msg = str(exc.value)
    assert msg.startswith(f"rows/{name}: line 2, column {col} ({column}): value {value!r} is not a known {kind}")
    assert f"allowed: a {kind} id of `inferchip {kind}s` (closest: {closest}" in msg
    assert (exc.value.line, exc.value.column, exc.value.field) == (2, col, column)


def test_known_ids_aliases_and_the_shipped_files_still_read():
    text, _ = _with("validation_small.csv", "model", "meta-llama/Llama-3.1-8B")  # an alias of the catalogue
    assert parse_cases(text, known_ids=True)[0].model == "meta-llama/Llama-3.1-8B"
    for name in FILES:
        assert read_cases(DATA / name)


@pytest.mark.parametrize("column,value", [("accelerator", "nvidia-h999"), ("model", "no-such/model-7b")])
def test_validate_refuses_the_file_with_one_error_line_exit_2(tmp_path, capsys, column, value):
    text, col = _with("validation_small.csv", column, value)
    bad = tmp_path / "BAD.csv"
    bad.write_text(text)
    assert main(["validate", str(bad)]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {bad}: line 2, column {col} ({column}): value {value!r}")
    assert "Traceback" not in captured.err and "allowed:" in err[0]
