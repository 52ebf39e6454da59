"""A user's claim file (``review --claim-file``) with a chip that is not reviewed or a date that is not a day
(stop 39, newuser39).

Before: ``chip: nope`` was taken; the report said "The claim names nope; this review judges tesla-ai5" and the
file's ``deployment`` was silently not applied. ``date: yesterday`` and ``date: 2099-01-01`` were printed as the
day the claim was "posted", and an unquoted ``date: 2025-09-06`` (a YAML date) was refused as "must be text".
Now each bad value is one ``ClaimFileError`` naming the option, the file, the field, the value and what is allowed.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inferchip.catalog.chips import chip_ids
from inferchip.review.claim_file import CLAIM_FILE, ClaimFileError, load_claim
from inferchip.review.inputs import ReviewConfig, resolve

# Text PyYAML writes unquoted that the catalogue's loader reads as a number (YAML 1.2's exponent floats, e.g. 0e0):
# such a chip id is refused as not text (test below), not as an unknown chip.
_EXPONENT_NUMBER = re.compile(r"^[-+]?[0-9]+[eE][-+]?[0-9]+$")

L8 = "meta-llama/Llama-3.1-8B"
_SERIAL = itertools.count()


def _write(tmp: Path, **change: object) -> str:
    raw = yaml.safe_load(CLAIM_FILE.read_text())
    raw.update(change)
    path = tmp / f"claim-{next(_SERIAL)}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)


def _not_a_past_iso_day(text: str) -> bool:
    try:
        return dt.date.fromisoformat(text) > dt.datetime.now(dt.UTC).date() or len(text) != 10
    except ValueError:
        return True


BAD_DATES = st.one_of(st.text(min_size=1, max_size=30).filter(  # (a number's text: the 'must be text' test's)
    lambda t: t.strip() and _not_a_past_iso_day(t) and not _EXPONENT_NUMBER.match(t)),
                      st.sampled_from(["yesterday", "2099-01-01", "2025-13-01", "2025-02-30", "06/09/2025",
                                       "2025-9-6", "Sept 2025", "20250906", "9999-12-31"]))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(date=BAD_DATES)
def test_a_date_that_is_not_a_past_day_is_refused_naming_file_field_value(tmp_path, date):
    path = _write(tmp_path, date=date)
    with pytest.raises(ClaimFileError) as err:
        load_claim(path)
    msg = str(err.value)
    assert msg.startswith(f"claim_file: {path}: date = {date!r}: ") and "allowed: the day the claim was made, " \
        "YYYY-MM-DD, not after today" in msg, msg


def test_an_unquoted_yaml_date_is_the_same_day(tmp_path):
    """Control: ``date: 2025-09-06`` without quotes (PyYAML reads a date) is the day, as the quoted text is."""
    path = tmp_path / "claim.yaml"
    path.write_text(CLAIM_FILE.read_text().replace('date: "2025-09-06"', "date: 2025-09-06"))
    assert load_claim(str(path)).date == "2025-09-06" == load_claim().date


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(chip=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=30)
       .filter(lambda c: c not in chip_ids() and not _EXPONENT_NUMBER.match(c)))
def test_a_chip_neither_in_the_catalogue_nor_the_claimed_one_is_refused(tmp_path, chip):
    path = _write(tmp_path, chip=chip)
    with pytest.raises(ClaimFileError) as err:
        resolve(ReviewConfig(chips=["nvidia-h100-sxm-80gb"], models=[L8], claim_file=path))
    msg = str(err.value)
    assert msg.startswith(f"claim_file: {path}: chip = {chip!r}: not a chip of this review") and \
        "allowed: the id of a chip YAML given with claim=FILE, or a catalogue chip id (`inferchip chips`)" in msg, msg
    # with --claim given, that chip's id is allowed (newuser45: without it the claimed chip is the file's own)
    with pytest.raises(ClaimFileError) as err:
        resolve(ReviewConfig(chips=["nvidia-h100-sxm-80gb"], models=[L8], claim_file=path, claim="tesla-ai5"))
    assert "allowed: the claimed chip's id 'tesla-ai5' (claim=tesla-ai5) or a catalogue chip id" in str(err.value)


def test_a_claim_naming_a_catalogue_chip_or_the_claimed_chip_is_taken(tmp_path):
    """Controls: another catalogue chip is judged as before (the report says which chip it names); a user's own chip
    file's id names the claimed chip."""
    other = _write(tmp_path, chip="nvidia-b200-180gb")
    resolve(ReviewConfig(chips=["nvidia-h100-sxm-80gb"], models=[L8], claim_file=other))
    spec = yaml.safe_load((CLAIM_FILE.parents[1] / "catalog" / "chips" / "tesla-ai5.yaml").read_text())
    spec["id"] = "my-npu"
    chip_file = tmp_path / "my-npu.yaml"
    chip_file.write_text(yaml.safe_dump(spec))
    mine = _write(tmp_path, chip="my-npu")
    claim = resolve(ReviewConfig(chips=["nvidia-h100-sxm-80gb"], claim=str(chip_file), models=[L8],
                                 claim_file=mine)).claim
    assert claim is not None and claim.id == "my-npu" and claim.deployed


def test_review_cli_refuses_an_unknown_claim_chip_before_any_work(tmp_path):
    from cli_in_process import run_main

    path = _write(tmp_path, chip="nope")
    code, out = run_main(["review", "--claim-file", path, "--chips", "nvidia-h100-sxm-80gb", "--models", L8,
                          "--no-sensitivity", "--slo", "batch", "--out", str(tmp_path / "out")])
    assert code == 2 and "Traceback" not in out and f"error: --claim-file: {path}: chip = 'nope'" in out, out
    assert not (tmp_path / "out").exists()


def test_a_chip_id_yaml_reads_as_a_number_is_refused_as_not_text_with_the_fix(tmp_path):
    """``chip: 0e0`` unquoted is the number 0 to the loader (YAML 1.2 core schema): the error says the field must be
    text and how to write it, naming the file and the field."""
    path = _write(tmp_path, chip="0e0")
    assert "chip: 0e0\n" in Path(path).read_text()
    with pytest.raises(ClaimFileError) as err:
        resolve(ReviewConfig(chips=["nvidia-h100-sxm-80gb"], models=[L8], claim_file=path))
    msg = str(err.value)
    assert msg.startswith(f"claim_file: {path}: chip = 0.0: must be text") and "quote it" in msg, msg


@pytest.mark.parametrize(("block", "field", "value", "allowed"), [
    ("scale_out", "max_chips", True, "must be a whole number"),
    ("scale_out", "max_chips", "1024", "must be a whole number"),
    ("scale_out", "chunk_tokens", True, "must be a whole number"),
    ("scale_out", "chunk_tokens", "256", "must be a whole number"),
    ("scale_out", "chunk_tokens", 256.5, "must be a whole number"),
    ("deployment", "chips_per_board", True, "must be a whole number"),
    ("deployment", "weights", 8, "must be text"),
    (None, "text", 42, "must be text"),
    (None, "max_total_params", True, "must be a number"),
])
def test_a_type_swap_is_refused_not_coerced(tmp_path, block, field, value, allowed):
    """Stop 45's fuzz: `scale_out.max_chips: true` ran as 1 chip and `chunk_tokens: "256"` as 256 (pydantic's lax
    mode coerced them); the claim's records are strict now, as the calibration's are."""
    raw = yaml.safe_load(CLAIM_FILE.read_text())
    if block is None:
        raw[field] = value
    else:
        raw[block] = {**raw[block], field: value}
    path = tmp_path / "claim.yaml"
    path.write_text(yaml.safe_dump(raw))
    name = field if block is None else f"{block}.{field}"
    with pytest.raises(ClaimFileError, match=rf"claim\.yaml: {re.escape(name)} = {re.escape(repr(value))}: {allowed}"):
        load_claim(path)
