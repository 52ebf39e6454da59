"""Bounds in the simulator: every impossible or absurd setting is a clear InvalidSettingError naming
the option, the value and what is allowed; never a traceback, a hang or a huge allocation."""

from __future__ import annotations

import math
import time

import pytest

from inferchip.errors import InvalidSettingError
from inferchip.sim import (
    BurstArrivals,
    ClosedLoopArrivals,
    LinearStepModel,
    PoissonArrivals,
    SchedulerConfig,
    TraceArrivals,
    simulate,
    simulate_disaggregated,
)
from inferchip.workload.limits import MAX_CONCURRENCY, MAX_REQUESTS

MODEL = LinearStepModel(fixed_s=0.01, per_token_s=1e-5, kv_capacity_tokens=100_000)


@pytest.mark.parametrize("rate", [0, -1.0, math.nan, math.inf, -math.inf])
def test_a_rate_that_is_not_positive_and_finite_is_named(rate):
    with pytest.raises(InvalidSettingError, match=r"PoissonArrivals: field 'rate_per_s'"):
        PoissonArrivals(rate_per_s=rate, input_tokens=10, output_tokens=10)
    with pytest.raises(InvalidSettingError, match=r"field '(poisson\.)?rate_per_s': value"):
        simulate(MODEL, {"kind": "poisson", "rate_per_s": rate, "input_tokens": 10, "output_tokens": 10},
                 num_requests=5)


def test_concurrency_zero_or_beyond_the_limit_is_named():
    with pytest.raises(InvalidSettingError, match=r"field 'concurrency': value 0.*greater than or equal to 1"):
        ClosedLoopArrivals(concurrency=0, input_tokens=10, output_tokens=10)
    with pytest.raises(InvalidSettingError, match=rf"field 'concurrency': value 1000000000.*{MAX_CONCURRENCY}"):
        ClosedLoopArrivals(concurrency=10**9, input_tokens=10, output_tokens=10)


def test_more_users_than_the_kv_cache_holds_tokens_are_queued_not_refused():
    # 200,000 users: more than the 100,000 tokens the KV cache holds; the engine queues the rest (issue 12)
    t0 = time.perf_counter()
    users = ClosedLoopArrivals(concurrency=200_000, input_tokens=10, output_tokens=10)
    res = simulate(MODEL, users, num_requests=20_000)
    assert res.summary()["num_completed"] == 20_000
    assert time.perf_counter() - t0 < 30


@pytest.mark.parametrize("seed", [-1, 2**63, 1.5, True])
def test_a_seed_outside_0_to_2_63_is_named_with_the_range(seed):
    spec = PoissonArrivals(rate_per_s=1, input_tokens=10, output_tokens=10)
    with pytest.raises(InvalidSettingError, match=r"seed: value .* 0\.\.2\*\*63-1 \(9223372036854775807\)"):
        simulate(MODEL, spec, num_requests=5, seed=seed)
    assert simulate(MODEL, spec, num_requests=5, seed=2**63 - 1).summary()["num_completed"] == 5


def test_a_run_expecting_more_requests_than_the_cap_is_refused_before_allocating():
    t0 = time.perf_counter()
    with pytest.raises(InvalidSettingError, match=r"duration_s: 5 requests/s x 1e\+09 s = 5e\+09 expected requests.*"
                                                  rf"cap of {MAX_REQUESTS:,}"):
        simulate(MODEL, PoissonArrivals(rate_per_s=5, input_tokens=10, output_tokens=10), duration_s=1e9)
    with pytest.raises(InvalidSettingError, match=r"duration_s: value 10000000000.0 .*at most 1e\+09"):
        simulate(MODEL, PoissonArrivals(rate_per_s=1e-6, input_tokens=10, output_tokens=10), duration_s=1e10)
    with pytest.raises(InvalidSettingError, match=rf"num_requests: value {MAX_REQUESTS + 1} .*1\.\.{MAX_REQUESTS:,}"):
        simulate(MODEL, BurstArrivals(input_tokens=10, output_tokens=10), num_requests=MAX_REQUESTS + 1)
    # a closed loop ended by time alone: 1000 users of 10-token requests at >= 10 ms a step for 1e8 s
    with pytest.raises(InvalidSettingError, match=r"duration_s: 1000 users for 1e\+08 s could send up to .*"
                                                  r"give num_requests"):
        simulate(MODEL, ClosedLoopArrivals(concurrency=1000, input_tokens=10, output_tokens=10), duration_s=1e8)
    assert time.perf_counter() - t0 < 5
    # rate x duration under the cap runs; a given num_requests bounds a long duration
    ok = simulate(MODEL, PoissonArrivals(rate_per_s=1e-6, input_tokens=10, output_tokens=10), duration_s=1e9,
                  num_requests=3)
    assert ok.summary()["num_requests"] <= 3


@pytest.mark.parametrize(("make", "field"), [
    (lambda: PoissonArrivals(rate_per_s=1, input_tokens=10**30, output_tokens=10), "tokens"),
    (lambda: PoissonArrivals(rate_per_s=1, input_tokens=10, output_tokens=[5, 2**70]), "output_tokens"),
    (lambda: BurstArrivals(at_s=math.inf, input_tokens=10, output_tokens=10), "at_s"),
    (lambda: ClosedLoopArrivals(concurrency=2, think_time_s=math.nan, input_tokens=10, output_tokens=10),
     "think_time_s"),
    (lambda: SchedulerConfig(max_num_seqs=0), "max_num_seqs"),
    (lambda: SchedulerConfig(block_size_tokens=10**9), "block_size_tokens"),
    (lambda: TraceArrivals(path=3), "path"),
])
def test_bad_fields_of_settings_are_invalid_setting_errors(make, field):
    with pytest.raises(InvalidSettingError, match=field):
        make()


def test_disaggregated_runs_check_the_same_settings_as_aggregated_ones():
    spec = PoissonArrivals(rate_per_s=1, input_tokens=10, output_tokens=10)
    kw = dict(kv_bytes_per_token=1.0, link_bandwidth_bytes_per_s=1e9, num_requests=5)
    for bad in ({"slo_ttft_s": -1.0}, {"max_drain_s": 0}, {"seed": -3}, {"decode_replicas": 0}):
        with pytest.raises(InvalidSettingError, match=next(iter(bad))):
            simulate_disaggregated(MODEL, MODEL, spec, **{**kw, **bad})
    with pytest.raises(InvalidSettingError, match=r"link_bandwidth_bytes_per_s: value inf"):
        simulate_disaggregated(MODEL, MODEL, spec, **{**kw, "link_bandwidth_bytes_per_s": math.inf})


def test_absurd_replica_counts_and_rates_too_low_to_keep_time_are_named():
    spec = PoissonArrivals(rate_per_s=1, input_tokens=10, output_tokens=10)
    with pytest.raises(InvalidSettingError, match=r"replicas: value 1000000000 must be a whole number in 1\.\.100,000"):
        simulate(MODEL, spec, num_requests=5, replicas=10**9)
    with pytest.raises(InvalidSettingError, match=r"decode_replicas: value 0 "):
        simulate_disaggregated(MODEL, MODEL, spec, num_requests=5, decode_replicas=0, kv_bytes_per_token=1.0,
                               link_bandwidth_bytes_per_s=1e9)
    slow = PoissonArrivals(rate_per_s=1e-300, input_tokens=10, output_tokens=10)
    with pytest.raises(InvalidSettingError, match=r"rate_per_s: value 1e-300 spreads 5 requests over .* beyond 1e\+09"):
        simulate(MODEL, slow, num_requests=5)
