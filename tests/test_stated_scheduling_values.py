"""The scheduling settings a row's notes state (num_scheduler_steps, adp_balancing_*_iters, --gpu-batch-size,
--batcher-threshold) are read as written, as stated_batch's values are: a number-like value after the setting
name that is not a whole number >= 1 (seconds in (0, 60] for the threshold) is refused naming the row, the
column and the setting, never skipped, rounded or read in part; prose that only names a setting states nothing."""

from __future__ import annotations

import glob
from dataclasses import asdict

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inferchip.errors import InvalidSettingError
from inferchip.validation.cases import read_cases
from inferchip.validation.stated_engine import StatedScheduling, stated_scheduling

SETTINGS = ("num_scheduler_steps", "adp_balancing_batching_wait_iters", "adp_balancing_timeout_iters")
FIELD = {"num_scheduler_steps": "recv_interval_steps", "adp_balancing_batching_wait_iters": "adp_batching_wait_iters",
         "adp_balancing_timeout_iters": "adp_timeout_iters"}
BATCHER = "--enable-batcher --batcher-threshold 0.05 --gpu-batch-size {}"


@pytest.mark.parametrize("name", SETTINGS)
@pytest.mark.parametrize("value", ["0", "-4", "+5", "1.5", "1e3", "inf", "nan", ".5", "8x"])
def test_a_stated_value_that_is_not_a_whole_number_is_refused(name, value):
    with pytest.raises(InvalidSettingError) as exc:
        stated_scheduling("r4", f"run with {name}={value}, rest")
    msg = str(exc.value)
    assert msg.startswith("case r4, column notes: ") and name in msg and value in msg
    assert "allowed: a whole number >= 1" in msg


@pytest.mark.parametrize("value", ["0", "-4", "1.5", "1e3", "inf", "nan"])
def test_a_stated_gpu_batch_size_is_checked(value):
    with pytest.raises(InvalidSettingError) as exc:
        stated_scheduling("r5", BATCHER.format(value))
    assert "case r5, column notes: '--gpu-batch-size" in str(exc.value) and value in str(exc.value)


@pytest.mark.parametrize("value", ["1e-3x", "inf", "nan", "-0.05", "0", "61", "abc1"])
def test_a_stated_batcher_threshold_is_checked(value):
    with pytest.raises(InvalidSettingError) as exc:
        stated_scheduling("r6", f"--enable-batcher --batcher-threshold {value} --gpu-batch-size 8")
    assert "case r6, column notes:" in str(exc.value) and "--batcher-threshold" in str(exc.value)


@pytest.mark.parametrize("notes,want", [
    ("num_scheduler_steps=8.", {"recv_interval_steps": 8}),
    ("adp_balancing_batching_wait_iters: 20", {"adp_batching_wait_iters": 20, "adp_timeout_iters": 50}),
    ("adp_balancing_timeout_iters 30", {"adp_batching_wait_iters": 10, "adp_timeout_iters": 30}),
    ("--enable-batcher --batcher-threshold 0.05s --gpu-batch-size=16", {"batcher_window_s": 0.05,
                                                                       "batcher_max_batch": 16}),
    ("num_scheduler_steps was not set; adp_balancing_timeout_iters defaults apply", {}),  # prose states nothing
])
def test_the_forms_that_state_a_value_and_prose_that_does_not(notes, want):
    got = asdict(stated_scheduling("r", notes))
    assert got == {**asdict(StatedScheduling()), **want}


@given(st.sampled_from(SETTINGS), st.one_of(st.integers(-10, 10**6).map(str), st.floats(allow_nan=True).map(repr)))
def test_any_number_is_read_whole_or_refused(name, value):
    try:
        got = asdict(stated_scheduling("r", f"{name} {value}"))[FIELD[name]]
    except InvalidSettingError as exc:
        assert "case r, column notes:" in str(exc)
        return
    assert value.isdigit() and got == int(value) >= 1


def test_every_shipped_row_states_what_it_stated():
    rows, stated = 0, {k: 0 for k in ("adp_batching_wait_iters", "batcher_max_batch", "recv_interval_steps")}
    for path in sorted(glob.glob("src/inferchip/catalog/*cases.csv")):
        for c in read_cases(path):
            s = stated_scheduling(c.case_id, c.notes)
            rows += 1
            stated["adp_batching_wait_iters"] += s.adp_batching_wait_iters is not None
            stated["batcher_max_batch"] += s.batcher_max_batch is not None
            stated["recv_interval_steps"] += s.recv_interval_steps != 1
    # recv_interval_steps: the three MLPerf v5.1 MI300X Llama-2-70B Server rows (num_scheduler_steps 11,
    # tests/test_mi300x_multi_step_rows.py)
    assert rows >= 5353 and stated == {"adp_batching_wait_iters": 3, "batcher_max_batch": 2, "recv_interval_steps": 3}
