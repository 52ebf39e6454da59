"""Malformed vision case CSVs (found by tools/fuzz/fuzz_commands.py, stop 45). The vision parser read with a
non-strict ``csv.reader`` and did not catch ``csv.Error``: a bare carriage return in a field, a cell over the csv
module's field limit, or a duplicated header gave ``internal error: ... (a bug; please report it)`` (exit 3), and a
file cut inside a quoted field (a truncated download) was taken whole with its last row's text cut short. Each is
now a CaseFileError naming the file and line, as the LLM case parser (``validation/cases.py``) already did."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from cli_in_process import run_main
from inferchip.validation.cases import CaseFileError
from inferchip.validation.vision.cases import parse_vision_cases

GOOD = (Path(__file__).parent / "data" / "vision_cases_subset.csv").read_text(encoding="utf-8")
HEADER, FIRST = GOOD.split("\n")[0], GOOD.split("\n")[1]


def test_the_good_file_parses():
    assert len(parse_vision_cases(GOOD, "v.csv")) == len([x for x in GOOD.split("\n")[1:] if x.strip()])


@pytest.mark.parametrize(("text", "message"), [
    (HEADER + "\n" + FIRST.replace(",", ",\r", 1) + "\n", r"v\.csv: line 2: not valid CSV: new-line character"),
    (HEADER + "\n" + FIRST + "\n\"" + "x" * 200_000 + "\"\n", r"v\.csv: line 3: not valid CSV: field larger"),
    (GOOD.replace("\n", "\r"), r"v\.csv: line 1: not valid CSV: new-line character"),
    (HEADER + ",case_id\n" + FIRST + ",x\n", r"v\.csv: line 1, column 17 \(case_id\): column given twice"),
    (HEADER + "\n" + FIRST[: FIRST.rindex('"') - 3], r"v\.csv: line 2: not valid CSV: unexpected end of data; a "
                                                       r"quote \(\"\) is not closed"),
])
def test_a_malformed_record_names_the_line(text, message):
    with pytest.raises(CaseFileError, match=message):
        parse_vision_cases(text, "v.csv")


def test_seeded_truncations_parse_or_name_the_line():
    """The file cut at 60 seeded offsets: each parses (cut at a record's end) or is refused naming a line; none is
    taken with a quoted field still open."""
    rng = random.Random(45)
    for cut in sorted(rng.sample(range(len(HEADER) + 2, len(GOOD)), 60)):
        text = GOOD[:cut]
        try:
            cases = parse_vision_cases(text, "v.csv")
        except CaseFileError as exc:
            assert str(exc).startswith("v.csv: line "), exc
            continue
        assert text.count('"') % 2 == 0, f"cut at {cut}: a quote left open was accepted ({len(cases)} rows)"


def test_cli_exit_2_no_traceback(tmp_path):
    path = tmp_path / "v.csv"
    path.write_text(HEADER + "\n" + FIRST + "\n\"" + "x" * 200_000 + "\"\n", encoding="utf-8")
    code, out = run_main(["validate", str(path)])
    assert code == 2 and "internal error" not in out and "Traceback" not in out, out
    assert f"{path}: line 3: not valid CSV: field larger than field limit" in out
