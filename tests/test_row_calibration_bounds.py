"""A row's stated kernels add their terms to the calibration it is predicted with (validation.moe_kernels
.run_calibration); the sum is validated as a calibration file's value is: the native top-p sampler's time on
a calibration near ``sequence_overhead_s``'s bound (1e-4 s) is an error naming the row and the field, never a
silent out-of-range value (``model_copy(update=...)`` skipped the bound)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from inferchip.catalog.calibration_file import load_calibration
from inferchip.errors import InvalidSettingError
from inferchip.spec.calibration import Calibration
from inferchip.validation.moe_kernels import run_calibration

HOPPER = "nvidia-hopper"  # the chip family the rows' H100 belongs to (catalog/families.yaml)

MLENERGY = Path(__file__).resolve().parents[1] / "src" / "inferchip" / "catalog" / "mlenergy_cases.csv"


def _sampler_row() -> dict[str, str]:
    with MLENERGY.open(encoding="utf-8-sig", newline="") as fh:
        return next(r for r in csv.DictReader(fh) if "vLLM native top-p" in r["notes"])


def test_a_sum_past_the_bound_is_refused_naming_the_row_and_the_field() -> None:
    row = _sampler_row()
    near = Calibration(sequence_overhead_s=9.9e-5)  # in range alone; plus the sampler's ~10-15 us, past 1e-4 s
    with pytest.raises(InvalidSettingError) as exc:
        run_calibration(near, row, closed_loop=False, family=HOPPER)
    msg = str(exc.value)
    assert msg.startswith(f"case {row['case_id']}, column notes: ") and "sequence_overhead_s 0.000110568" in msg
    assert "less than or equal to 0.0001" in msg and "allowed:" in msg


def test_a_sum_in_range_is_the_sum_and_a_valid_calibration() -> None:
    row = _sampler_row()
    cal = load_calibration(None)
    got = run_calibration(cal, row, closed_loop=False, family=HOPPER)
    vocab_s = got.sequence_overhead_s - cal.sequence_overhead_s
    assert 9e-6 < vocab_s < 16e-6  # 76 ps x a vocabulary of 128-201 k entries
    assert Calibration.model_validate(got.model_dump()) == got  # every field within its bounds
