"""The held context of an ML.ENERGY run's measured window (validation.datasets)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inferchip.performance.operating import LengthDist
from inferchip.validation.datasets import (
    default_requests,
    stated_prompts,
    window_held_output_tokens,
    window_outputs,
)

NOTES = ("198 prompts x num_request_repeats (1-3); window starts when max_num_seqs requests have their first "
         "token, ends when num_requests-max_num_seqs-1 have finished)")


def test_two_slots_fixed_lengths_by_hand() -> None:
    # 2 slots, 5 requests of 10 tokens: the window ends when 5 - 2 - 1 = 2 have finished, at step 10
    # (both first requests end together). Each slot held 0..10 tokens: mean 5 = L / 2.
    assert window_held_output_tokens((10.0,), 5, 2) == pytest.approx(5.0)


def test_one_slot_two_lengths_by_hand() -> None:
    # 1 slot, 4 requests of lengths {4, 12} in stratified blocks: the window ends when 4 - 1 - 1 = 2
    # have finished, i.e. after one 4 and one 12 in either order: 16 steps, token-steps 4^2/2 + 12^2/2 = 80,
    # mean held 80 / 16 = 5 tokens; the steady state would hold E[o^2] / (2 E[o]) = 80 / 16 = 5 too.
    assert window_held_output_tokens((4.0, 12.0), 4, 1) == pytest.approx(5.0)
    # 3 requests: one finished, the window is the first request alone: (4/2 + 12/2) / 2 = 4 averaged over orders
    assert window_held_output_tokens((4.0, 12.0), 3, 1, seeds=64) == pytest.approx(4.0, rel=0.15)


def test_empty_window_and_stated_prompts() -> None:
    assert window_held_output_tokens((10.0,), 3, 2) is None  # 3 - 2 - 1 = 0 finished: no window
    assert stated_prompts(NOTES) == 198
    assert stated_prompts("1,024 prompts x num_request_repeats (1-3)") == 1024
    assert stated_prompts("no run stated") is None
    assert default_requests(198, 128) == 198 and default_requests(198, 256) == 396
    assert default_requests(198, 1024) == 1188  # the sweeps' 6 repeats at 1024


def test_window_outputs_only_where_stated() -> None:
    o = LengthDist.lognormal(8052.0, 32768.0)
    assert window_outputs("no run stated", o, 96) is o
    w = window_outputs(NOTES, o, 96)
    held = w.second_moment / (2 * w.mean)
    assert held == pytest.approx(window_held_output_tokens(o.points, 198, 96))
    assert held < o.second_moment / (2 * o.mean)


@settings(max_examples=60, deadline=None)
@given(mean=st.floats(50.0, 10000.0), sigma=st.floats(0.0, 1.5), slots=st.integers(1, 300),
       turnovers=st.floats(0.0, 6.0))
def test_window_never_holds_more_than_steady_state(mean: float, sigma: float, slots: int, turnovers: float) -> None:
    o = LengthDist.lognormal(mean, 32768.0, sigma=sigma) if sigma > 0 else LengthDist.fixed(mean)
    n = slots + 2 + round(turnovers * slots)
    held = window_held_output_tokens(o.points, n, slots)
    assert held is not None
    assert held <= o.second_moment / (2 * o.mean) * (1 + 1e-9)
