"""The calibration's host time per running sequence (``Calibration.sequence_overhead_s``).

A decoding sequence adds that host time to every step it runs in: the rule (arrays), the
scalar plan (its loop and its compiled form) and predict's fast decode sweep must all add
``sequence_overhead_s x decode sequences`` and nothing else. The compiled step against its loop, and the
fast path against the general one at every length, are checked for such a calibration among
tests/test_fast_path.py's SETTINGS.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import make_chip
from inferchip.cost.rules import cost_context, cost_operator
from inferchip.cost.step import step_points
from inferchip.mapping.memory_fit import Formats
from inferchip.mapping.operators import HostStep
from inferchip.performance import fast_path
from inferchip.performance.predict import ask, predict_setting
from inferchip.performance.setting import resolve_setting
from inferchip.spec.calibration import Calibration

PER_SEQ_S = 2.5e-5


def _host_overhead_s(cal: Calibration, decode_seqs: float) -> float:
    ctx = cost_context(make_chip(), Formats("bf16", "bf16", "bf16"), cal)
    c = cost_operator(HostStep(), ctx, step_points(1, decode_seqs, decode_seqs, 0.0, 0.0, None))
    return float(np.asarray(c.overhead_s).reshape(-1)[0])


@given(st.floats(0.0, 4096.0), st.floats(0.0, 1e-4), st.floats(0.0, 0.01))
@settings(max_examples=40, deadline=None)
def test_host_time_is_step_plus_sequences(seqs: float, per_seq_s: float, step_s: float):
    cal = Calibration(step_overhead_s=step_s, sequence_overhead_s=per_seq_s)
    assert _host_overhead_s(cal, seqs) == pytest.approx(step_s + per_seq_s * seqs, rel=1e-12, abs=1e-18)


def test_default_adds_nothing():
    assert Calibration().sequence_overhead_s == 0.0
    assert _host_overhead_s(Calibration(), 512.0) == Calibration().step_overhead_s


def _setting(cal: Calibration):
    s = resolve_setting("nvidia-h100-sxm-80gb", "meta-llama/Llama-3.1-8B", tp=1, calibration=cal)
    for _ in range(fast_path.FAST_AFTER):  # a setting's first question goes the general way
        fast_path.fast_layout(s)
    return s


@pytest.mark.parametrize("batch", [1.0, 8.0, 64.0])
def test_every_path_adds_the_same_time(batch: float):
    """The step of a batch grows by ``PER_SEQ_S x batch`` on the general and the fast path alike,
    and the fast path gives the general path's TPOT."""
    base, per_seq = Calibration(), Calibration(sequence_overhead_s=PER_SEQ_S)
    q = ask(1024, 128, batch)
    tpot = {}
    for name, cal in (("base", base), ("seq", per_seq)):
        s = _setting(cal)
        slow, fast = predict_setting(s, q, fast=False), predict_setting(s, q, fast=True)
        assert fast.tpot_s == pytest.approx(slow.tpot_s, rel=1e-9)
        tpot[name] = slow.tpot_s
    assert tpot["seq"] - tpot["base"] == pytest.approx(PER_SEQ_S * batch, rel=0.02)


def test_calibrate_fits_the_parameters_it_is_given_and_refuses_unknown_ones():
    from inferchip.errors import InferchipError
    from inferchip.validation.calibrate import fit_parameter_names

    assert "sequence_overhead_s" not in fit_parameter_names([])  # shipped fit: seven physical parameters
    held = [n for n in Calibration.physical_parameter_names() if n != "memory_bandwidth_fraction"]
    names = fit_parameter_names([], [*held, "sequence_overhead_s"])
    assert "memory_bandwidth_fraction" not in names and names[-1] == "sequence_overhead_s"
    with pytest.raises(InferchipError, match="fitted_on"):
        fit_parameter_names([], ["fitted_on"])
