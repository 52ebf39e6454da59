"""The spread of the simulated TTFT (median, p99, std) that the benchmark's result file also reports."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inferchip.sim import LinearStepModel, SchedulerConfig
from inferchip.sim.engines import closed_loop_run, uniform_length
from inferchip.sim.results.metrics import weighted_quantile


def test_weighted_quantile_hand_values():
    x = np.array([4.0, 1.0, 3.0, 2.0])
    assert weighted_quantile(x, np.ones(4), 0.5) == 2.0  # cumulative 1, 2, 3, 4 of 4: the second reaches 2
    assert weighted_quantile(x, np.ones(4), 0.99) == 4.0
    assert weighted_quantile(x, np.ones(4), 0.0) == 1.0
    # one value standing for three requests carries the median
    assert weighted_quantile(np.array([1.0, 10.0]), np.array([3.0, 1.0]), 0.5) == 1.0
    assert weighted_quantile(np.array([1.0, 10.0]), np.array([3.0, 1.0]), 0.99) == 10.0
    assert math.isnan(weighted_quantile(np.array([]), np.array([]), 0.5))
    with pytest.raises(ValueError):
        weighted_quantile(x, np.ones(4), 1.5)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=1, max_size=40), st.floats(0.0, 1.0))
def test_unit_weights_match_numpy_inverted_cdf(values, q):
    x = np.array(values)
    assert weighted_quantile(x, np.ones(x.size), q) == pytest.approx(
        float(np.percentile(x, 100 * q, method="inverted_cdf")))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0.0, 100.0), min_size=2, max_size=30), st.integers(1, 5))
def test_repeating_a_value_equals_weighting_it(values, k):
    """A value of weight k is the same as k copies of it."""
    x = np.array(values)
    w = np.ones(x.size)
    w[0] = k
    rep = np.concatenate([np.repeat(x[:1], k), x[1:]])
    for q in (0.1, 0.5, 0.9, 0.99):
        assert weighted_quantile(x, w, q) == weighted_quantile(rep, np.ones(rep.size), q)


def test_the_start_wave_shows_in_the_tail_not_the_median():
    """All clients start at once: the first round queues behind each other's prompts (a wave), the
    later rounds do not. The p99 then lies far above the median and the mean, as in the rows."""
    step = LinearStepModel(fixed_s=0.01, per_token_s=2e-5, per_kv_token_s=1e-8, kv_capacity_tokens=10_000_000)
    fig = closed_loop_run(step, 64, uniform_length(4000), uniform_length(500),
                          SchedulerConfig(max_num_batched_tokens=8192), num_requests=192, bench_requests=640)
    assert fig.ttft_median_s <= fig.ttft_s <= fig.ttft_p99_s
    assert fig.ttft_p99_s > 3 * fig.ttft_median_s
    assert fig.ttft_std_s > 0
    d = fig.as_dict()
    assert d["ttft_p99_ms"] == pytest.approx(fig.ttft_p99_s * 1e3)
    assert d["ttft_median_ms"] == pytest.approx(fig.ttft_median_s * 1e3)
