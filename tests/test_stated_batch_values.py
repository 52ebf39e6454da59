"""A row's stated batch and step budget (validation/stated_engine.py ``stated_batch``): a value written after a
setting name is read as written, a whole number >= 1, or refused naming the row, the column and the setting; prose
that only mentions a setting ("batch size of 64", "max_num_seqs requests") states nothing."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inferchip.errors import InvalidSettingError
from inferchip.validation.stated_engine import stated_batch

CATALOG = Path(__file__).resolve().parents[1] / "src" / "inferchip" / "catalog"


@pytest.mark.parametrize("text", ["gpu_batch_size 1e3", "gpu_batch_size inf", "max_num_seqs=1.5",
                                  "max_batch_size: -4", "batch size 64k", "max_num_tokens 8192.5",
                                  "max_num_batched_tokens=nan", "gpu_batch_size 2E+3, max_num_tokens 2048"])
def test_a_stated_value_that_is_not_a_whole_number_is_refused_naming_the_row_and_setting(text):
    """1e3 and inf were skipped (nothing stated), 1.5 was read as 1: each is refused, never guessed."""
    setting = re.escape(text.split(", ")[0])
    with pytest.raises(InvalidSettingError, match=rf"case r4, column notes: '{setting}'.*allowed: a whole number"):
        stated_batch(text, "r4")


@pytest.mark.parametrize("text, value", [
    ("Intel static batch size of 64", (None, None)), ("a query smaller than the batch size waits", (None, None)),
    ("window starts when max_num_seqs requests have their first token", (None, None)),
    ("ends when num_requests-max_num_seqs-1 have finished", (None, None)),
    ("SyncQueue waits up to it for gpu_batch_size samples)", (None, None)),
    ("gpu_batch_size 1024. max_num_tokens=8192", (1024, 8192)), ('README table "Batch Size 1", accuracy', (1, None)),
    ("batch size 175; tp column", (175, None)), ("max_num_seqs=256 caps", (256, None))])
def test_prose_that_names_a_setting_states_nothing_and_the_shipped_forms_read(text, value):
    assert stated_batch(text, "r") == value


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["gpu_batch_size", "max_batch_size", "max_num_seqs", "batch size", "max_num_tokens",
                        "max_num_batched_tokens"]), st.sampled_from([" ", "=", ": ", " = "]),
       st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr),
                 st.integers(min_value=-10**6, max_value=10**6).map(str)))
def test_any_stated_value_is_read_exactly_or_refused(name, sep, value):
    """Whatever number is written after a setting: the same whole number back, or an error naming the row, column
    and setting; never a different number nor nothing."""
    notes = f"engine settings: {name}{sep}{value}, tp 2"
    slot = 1 if "tokens" in name else 0
    if value.isdigit() and int(value) >= 1:
        assert stated_batch(notes, "r1")[slot] == int(value)
    else:
        with pytest.raises(InvalidSettingError, match=rf"case r1, column notes: '{name}.*allowed: a whole number"):
            stated_batch(notes, "r1")


def test_every_shipped_row_states_a_whole_number_or_nothing():
    """No shipped row's notes are refused (the rows read before the values were checked read the same: the
    regression is measured by the predictions, which do not change)."""
    read = 0
    for path in sorted(CATALOG.rglob("*.csv")):
        with path.open(newline="") as fh:
            for row in csv.DictReader(fh):
                seqs, tokens = stated_batch(row.get("notes") or "", row.get("case_id") or "?")
                assert seqs is None or seqs >= 1
                assert tokens is None or tokens >= 1
                read += (seqs, tokens) != (None, None)
    assert read > 100
