"""A vision case row with a precision that names no number format is an error naming the file, line and
column (it was a bare 'precision: unknown number format' without the row)."""

from __future__ import annotations

import pytest

from inferchip.validation.cases import CaseFileError
from inferchip.validation.vision.cases import VISION_COLUMNS, parse_vision_cases


def _text(precision: str) -> str:
    row = {c: "" for c in VISION_COLUMNS}
    row.update(case_id="r1", accelerator="nvidia-l4", num_accelerators="1", model="resnet50-v1.5",
               precision=precision, scenario="offline", batch="1", metric="samples_per_s", value="100",
               unit="samples/s")
    return ",".join(VISION_COLUMNS) + "\n" + ",".join(row[c] for c in VISION_COLUMNS) + "\n"


@pytest.mark.parametrize("precision", ["fp3", "bogus", "int3 weights"])
def test_unknown_precision_names_row_and_column(precision):
    with pytest.raises(CaseFileError, match=r"f\.csv: line 2, column \d+ \(precision\): value .* names no number"):
        parse_vision_cases(_text(precision), "f.csv")


@pytest.mark.parametrize("precision, read", [("INT8 (per-channel)", "int8"), ("float8 e4m3", "fp8"), ("", "int8"),
                                             ("fp16", "fp16"), ("bf16", "bf16")])
def test_known_precisions_still_read(precision, read):
    (case,) = parse_vision_cases(_text(precision), "f.csv")
    assert case.precision == read
