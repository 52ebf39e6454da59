"""The steady state's decode step under random admission (performance.phases.decode_step):
a share ``1 - exp(-new)`` of the steps carries the arriving prompts, the rest decode alone."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from inferchip.performance.operating import LengthDist, Question, random_admission
from inferchip.performance.phases import admit_share, decode_step


class _Steps:
    """A replica whose step time is a given function of the step's rows (tokens)."""

    def __init__(self, time_of_rows):
        self.time_of_rows = time_of_rows
        self.calls = []

    def replica_step_s(self, num_tokens, num_decode_seqs, decode_kv_tokens, prefill_attn_pairs, logit_rows=None):
        t = np.asarray(num_tokens, float)
        self.calls.append((t.copy(), np.asarray(prefill_attn_pairs, float).copy()))
        return self.time_of_rows(t), ("cost of", t)


def test_admit_share_is_poisson_probability_of_an_arrival():
    assert math.isclose(float(admit_share(0.1)), 1.0 - math.exp(-0.1), rel_tol=1e-12)
    assert math.isclose(float(admit_share(3.0)), 1.0 - math.exp(-3.0), rel_tol=1e-12)


@given(st.floats(1e-6, 50.0), st.floats(1e-6, 50.0))
def test_admit_share_in_unit_interval_and_increasing(a, b):
    pa, pb = float(admit_share(a)), float(admit_share(b))
    assert 0.0 < pa <= 1.0 and 0.0 < pb <= 1.0
    if a < b:
        assert pa <= pb
    assert pa <= a + 1e-12  # never more admitting steps than prompts


def test_tile_step_by_hand():
    """Rows above 64 cost a 128-row tile: 20 ms up to 64 rows, 36 ms above (a step function)."""
    mm = _Steps(lambda rows: np.where(rows > 64.0, 0.036, 0.020))
    b, new, mean_in = np.array([32.0]), np.array([0.1]), 300.0
    tpot, dec = decode_step(mm, b, new, mean_in, 45150.0, b * 500.0)
    p = 1.0 - math.exp(-0.1)  # 0.0952 of the steps admit, each 0.1 x 300 / p = 315 prompt tokens
    assert math.isclose(float(tpot[0]), (1.0 - p) * 0.020 + p * 0.036, rel_tol=1e-12)  # 21.5 ms
    # the mean step (32 + 0.1 x 300 = 62 rows) would cost 20 ms: the mixture is 1.5 ms above it
    assert float(tpot[0]) > 0.020
    # the returned cost is the mean step's (mean rows 32 + 0.1 x 300), for energy
    assert np.allclose(dec[1], b + new * mean_in)
    # the prefill-carrying step holds new / p prompts' tokens and pairs
    rows, pairs = mm.calls[-1]
    assert np.allclose(rows, 32.0 + 0.1 * 300.0 / p) and np.allclose(pairs, 0.1 * 45150.0 / p)


@given(st.floats(1.0, 512.0), st.floats(1e-4, 20.0), st.floats(1.0, 4000.0), st.floats(1e-4, 1.0))
def test_linear_step_time_gives_the_mean_step(b, new, mean_in, slope_s):
    """Where the step time is linear in the rows the mixture is the mean step (nothing changes)."""
    mm = _Steps(lambda rows: 0.01 + slope_s * 1e-3 * rows)
    tpot, _ = decode_step(mm, np.array([b]), np.array([new]), mean_in, 0.0, np.array([b * 100.0]))
    assert math.isclose(float(tpot[0]), 0.01 + slope_s * 1e-3 * (b + new * mean_in), rel_tol=1e-9)


def test_random_admission_where_arrivals_or_completions_are_random():
    fixed = LengthDist.fixed(500.0)
    spread = LengthDist.lognormal(300.0, 1024.0)
    assert not random_admission(Question("max_throughput", fixed, fixed))
    assert random_admission(Question("max_throughput", fixed, fixed, queue_wait=True))
    assert random_admission(Question("max_throughput", fixed, spread))


def test_steady_state_on_a_mapping_is_the_mixture_of_its_steps():
    """Llama-2-70B fp8 on one H200, MLPerf-like spread lengths: the steady state's TPOT is the
    mixture of the pure-decode step and the prompt-carrying step, each costed by the mapping."""
    from inferchip.performance.operating import steady_state
    from inferchip.performance.setting import resolve_setting

    s = resolve_setting("nvidia-h200-sxm-141gb", "meta-llama/Llama-2-70b-chat-hf", count=1, weights="fp8",
                        activations="fp8", kv="fp8")
    mm = s.mapped(s.layout)
    q = Question("max_throughput", LengthDist.lognormal(320.0, 1024.0), LengthDist.lognormal(290.0, 1024.0),
                 queue_wait=True)
    b = np.array([8.0, 32.0, 96.0])
    met = steady_state(mm, b, q, False)
    i, o = q.inputs, q.outputs
    new = b / o.mean
    kv = b * (i.mean + o.second_moment / (2.0 * o.mean))
    p = 1.0 - np.exp(-new)
    pure, _ = mm.replica_step_s(b, b, kv, 0.0 * b)
    fill, _ = mm.replica_step_s(b + new * i.mean / p, b, kv, new * i.mean_prefill_pairs / p)
    np.testing.assert_allclose(met.tpot_s, (1.0 - p) * pure + p * fill, rtol=1e-12)
    assert np.all(met.tpot_s >= pure)  # a prompt never makes a step faster
