"""MLPerf scenarios for vision, from a service time per batch: hand calculations and invariants."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inferchip.errors import InvalidSettingError
from inferchip.performance.vision_scenarios import (
    SERVER_LATENCY_BOUND_S,
    constant_stream,
    multi_stream,
    offline,
    run_scenario,
    server,
    single_stream,
)

A, C = 1e-3, 2e-4  # 1 ms fixed + 0.2 ms per sample


def linear(b):
    return A + C * np.asarray(b, dtype=float)


def test_single_stream_is_the_batch_one_time():
    r = single_stream(linear, latency_bound_s=1.5e-3)
    assert r.metric == "latency_p90_ms" and r.value == pytest.approx((A + C) * 1e3)
    assert r.batch == 1 and r.passed is True and r.samples_per_s == pytest.approx(1 / (A + C))
    assert single_stream(linear, latency_bound_s=1.0e-3).passed is False
    auto = single_stream(linear, percentile=99.9)
    assert auto.metric == "latency_p999_ms"  # MLPerf Automotive's SingleStream metric, as the CSV names it


def test_service_noise_is_seeded_and_spreads_the_tail():
    a = single_stream(linear, service_cv=0.05, seed=1, queries=4096)
    b = single_stream(linear, service_cv=0.05, seed=1, queries=4096)
    c = single_stream(linear, service_cv=0.05, seed=2, queries=4096)
    assert a == b and a.value != c.value
    assert a.latency_s["p99.9"] > a.latency_s["p50"]
    assert a.latency_s["mean"] == pytest.approx(A + C, rel=0.01)  # mean-1 multipliers


def test_multi_stream_takes_the_split_that_ends_a_query_first():
    r = multi_stream(linear)
    # one batch of 8: A + 8C = 2.6 ms beats two of 4 (2A + 8C) and eight of 1 (8A + 8C)
    assert r.batch == 8 and r.value == pytest.approx((A + 8 * C) * 1e3) and r.metric == "latency_p99_ms"
    two = multi_stream(linear, devices=2)
    # two devices: batches of 4 side by side, A + 4C
    assert two.batch == 4 and two.value == pytest.approx((A + 4 * C) * 1e3)
    capped = multi_stream(linear, max_batch=3)
    # batches of 3, 3, 2 one after another: 3A + 8C
    assert capped.batch == 3 and capped.value == pytest.approx((3 * A + 8 * C) * 1e3)


def test_offline_best_batch_by_hand():
    r = offline(linear, max_batch=64, devices=8)
    # b / (A + C b) grows with b: the largest batch wins
    assert r.batch == 64 and r.value == pytest.approx(8 * 64 / (A + 64 * C))
    # a service time that turns super-linear past 16 has its best batch at 16
    r = offline(lambda b: A + C * b + np.where(b > 16, 1e-3 * (b - 16), 0.0), max_batch=64)
    assert r.batch == 16


def test_server_meets_its_bound_below_capacity():
    bound = SERVER_LATENCY_BOUND_S["resnet50"]
    r = server(linear, latency_bound_s=bound, max_batch=64, queries=5000, seed=3)
    cap = offline(linear, max_batch=64).value
    assert r.passed is True and 0 < r.value <= cap
    assert r.latency_s["p99"] <= bound
    assert r.value > 0.5 * cap  # 15 ms leaves room for big batches
    again = server(linear, latency_bound_s=bound, max_batch=64, queries=5000, seed=3)
    assert again == r


def test_server_with_a_bound_below_one_sample_passes_nothing():
    r = server(linear, latency_bound_s=0.5e-3, queries=1000)
    assert r.passed is False and r.value == 0.0


@settings(max_examples=8, deadline=None)
@given(st.floats(3e-3, 5e-2), st.floats(1.1, 4.0))
def test_a_looser_server_bound_never_lowers_the_rate(bound, factor):
    tight = server(linear, latency_bound_s=bound, max_batch=32, queries=2000, seed=0, tolerance=1e-4)
    loose = server(linear, latency_bound_s=bound * factor, max_batch=32, queries=2000, seed=0, tolerance=1e-4)
    assert loose.value >= tight.value * (1 - 2e-3)


def test_constant_stream_below_and_above_capacity():
    ok = constant_stream(linear, rate_per_s=500.0, latency_bound_s=2e-3)
    assert ok.metric == "latency_p999_ms" and ok.value == pytest.approx((A + C) * 1e3) and ok.passed is True
    # 2,000/s against 1.2 ms per sample at batch 1: the queue grows without end
    over = constant_stream(linear, rate_per_s=2000.0, latency_bound_s=4e-3, queries=2000)
    # the last of 2,000 samples waits for 1,999 before it: 1,999 x (1.2 - 0.5) ms, plus its own 1.2 ms
    assert over.passed is False and over.latency_s["max"] == pytest.approx(1999 * 0.7e-3 + 1.2e-3)
    # batching keeps up: a batch b takes 1 + 0.2 b ms while 2 + 0.4 b new samples arrive, so b settles near
    # 2 / 0.6 = 3.3 and a sample waits at most one batch and is served in the next: about 2 x 1.7 ms
    batched = constant_stream(linear, rate_per_s=2000.0, latency_bound_s=4e-3, max_batch=8, queries=2000)
    assert batched.passed is True and batched.batch in (3, 4) and 2e-3 < batched.latency_s["max"] < 4e-3


def test_bad_settings_are_refused():
    with pytest.raises(InvalidSettingError, match="unknown scenario"):
        run_scenario("interactive", linear)
    with pytest.raises(InvalidSettingError, match="percentile"):
        single_stream(linear, percentile=100)
    with pytest.raises(InvalidSettingError, match="latency_bound_s"):
        server(linear, latency_bound_s=float("nan"))
    with pytest.raises(InvalidSettingError, match="rate_per_s"):
        constant_stream(linear, rate_per_s=0)
    with pytest.raises(InvalidSettingError, match="service time"):
        offline(lambda b: np.full(len(b), np.inf))
    with pytest.raises(InvalidSettingError, match="scenario offline"):
        run_scenario("offline", linear, latency_bound_s=1.0)
