"""Parts of the serving simulator: step-time cache, event order, lengths, routing, bulk steps, metrics."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import inferchip.sim.batching.replica as replica_module
from inferchip.errors import InvalidSettingError
from inferchip.sim import (
    BurstArrivals,
    ClosedLoopArrivals,
    LinearStepModel,
    PoissonArrivals,
    SchedulerConfig,
    simulate,
)
from inferchip.sim.load.lengths import EmpiricalLength, FixedLength, UniformLength, as_length, sample
from inferchip.sim.results import step_log
from inferchip.sim.results.metrics import weighted_percentile
from inferchip.sim.runs.engine import EventQueue, Priority
from inferchip.sim.step.protocol import check_step_model
from inferchip.sim.step.steptime import GRID_PAYBACK, MANTISSA_BITS, StepTimer, round_bits

# ---------------------------------------------------------------------------------------------- step-time cache


@given(st.integers(min_value=0, max_value=2**40), st.integers(min_value=1, max_value=MANTISSA_BITS))
def test_round_bits_is_exact_below_two_to_the_bits_and_close_above(value, bits):
    r = round_bits(value, bits)
    if value < 2**bits:
        assert r == value
    else:
        # bucket of width 2**(L - bits) holding value; the midpoint is at most half a width away
        assert abs(r - value) / value <= 2.0**-bits
        assert r.bit_length() == value.bit_length()  # stays in the same octave


class KinkedModel:
    """Roofline-like: max(compute, memory) + fixed; the kink is where rounding is hardest."""

    kv_capacity_tokens = 10**6
    num_chips = 1

    def step_time_s(self, n, s, kv, pairs):
        n, kv, pairs = (np.asarray(x, dtype=float) for x in (n, kv, pairs))
        compute = 2e-5 * n + 1e-10 * pairs + 1e-9 * kv
        memory = 8e-3 + 2e-7 * kv
        return np.maximum(compute, memory) + 1e-3 + 1e-6 * np.asarray(s, dtype=float)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 8192), st.integers(0, 512), st.integers(0, 400_000), st.integers(0, 8192))
def test_rounded_step_time_is_within_half_a_percent(tokens, decode, kv, chunk):
    decode = min(decode, tokens)
    chunk = min(chunk, tokens - decode)
    pairs = chunk * (chunk + 1) // 2
    kv = kv if decode else 0
    timer = StepTimer(KinkedModel())
    exact = float(KinkedModel().step_time_s(tokens, decode, kv, pairs))
    assert timer.time_s(tokens, decode, kv, pairs) == pytest.approx(exact, rel=5e-3)


def test_cached_values_do_not_depend_on_the_order_of_lookups():
    inputs = [(700, 100, 90_000, 245_350), (701, 100, 90_100, 245_350), (130, 130, 91_000, 0), (5000, 10, 1000, 10**7)]
    a, b = StepTimer(KinkedModel()), StepTimer(KinkedModel())
    forward = [a.time_s(*x) for x in inputs]
    backward = [b.time_s(*x) for x in reversed(inputs)][::-1]
    assert forward == backward


def test_a_kind_of_step_whose_grid_keys_go_unused_is_priced_one_key_a_miss():
    """Prefill steps whose attention pairs differ every time (varied prompts): the first miss prices a grid,
    none of whose keys is looked up again, so the next misses price their one key each (sim.step.steptime)."""
    timer = StepTimer(KinkedModel())
    timer.time_s(8000, 100, 90_000, 2**30)  # compute-bound: probes the cell's elasticities, then the first grid
    assert timer.grids == [0, 1] and timer.num_evaluations > 20
    for i in range(1, 100):
        calls, evals = timer.num_model_calls, timer.num_evaluations
        timer.time_s(8000, 100, 90_000, 2**30 + 2**22 * i)  # a new key (new pairs) in the same cell
        assert (timer.num_model_calls, timer.num_evaluations) == (calls + 1, evals + 1)
    assert timer.grids == [0, 1] and timer.grid_hits == [0, 0]
    calls = timer.num_model_calls
    assert timer.time_s(8000, 100, 90_000, 2**30 + 2**22) == timer.time_s(8000, 100, 90_000, 2**30 + 2**22)
    assert timer.num_model_calls == calls  # a hit prices nothing


def test_a_kind_of_step_whose_grid_keys_are_looked_up_keeps_its_grids():
    """Decode steps of one batch whose KV grows (a steady decode): the grid's KV lengths ahead are looked
    up, more than GRID_PAYBACK a grid, so misses go on pricing grids; the values are the ones a timer
    asked in the opposite order gives (a value depends on its key only)."""
    timer = StepTimer(KinkedModel())
    kvs = range(40_000, 65_000, 100)
    times = [timer.time_s(200, 200, kv, 0) for kv in kvs]
    assert timer.grid_hits[0] >= GRID_PAYBACK * timer.grids[0] > 0
    assert timer.num_model_calls < len(kvs) / 4
    other = StepTimer(KinkedModel())
    assert [other.time_s(200, 200, kv, 0) for kv in reversed(kvs)][::-1] == times


def test_decode_keys_match_single_keys():
    timer = StepTimer(KinkedModel())
    kv = np.array([0, 5, 511, 512, 60_000, 65_535, 65_536, 300_001])
    assert timer.decode_keys(37, kv) == [timer.key(37, 37, int(v), 0) for v in kv]


def test_exact_mode_passes_inputs_unchanged():
    timer = StepTimer(KinkedModel(), exact=True)
    assert timer.key(5001, 300, 123_457, 999_999) == (5001, 300, 123_457, 999_999)
    assert timer.time_s(5001, 300, 123_457, 999_999) == float(KinkedModel().step_time_s(5001, 300, 123_457, 999_999))


def test_step_model_members_are_checked():
    class NoCapacity:
        num_chips = 1

        def step_time_s(self, *a):
            return np.ones(1)

    with pytest.raises(InvalidSettingError, match="kv_capacity_tokens"):
        check_step_model(NoCapacity())
    with pytest.raises(InvalidSettingError, match="step_time_s"):
        check_step_model(object())


# ---------------------------------------------------------------------------------------------- events


def test_event_queue_orders_by_time_then_priority_then_insertion():
    q = EventQueue()
    q.push(1.0, Priority.STEP, "step@1")
    q.push(1.0, Priority.ARRIVAL, "arrival@1 first")
    q.push(0.5, Priority.STEP, "step@0.5")
    q.push(1.0, Priority.ARRIVAL, "arrival@1 second")
    assert [q.pop()[1] for _ in range(4)] == ["step@0.5", "arrival@1 first", "arrival@1 second", "step@1"]
    assert q.peek_time_s() == math.inf


# ---------------------------------------------------------------------------------------------- lengths


def test_length_shorthands():
    assert as_length(128) == FixedLength(tokens=128)
    assert as_length((100, 20)) == UniformLength(mean_tokens=100, spread_tokens=20)
    assert as_length([3, 5, 7]) == EmpiricalLength(samples_tokens=(3, 5, 7))
    assert as_length(np.array([4, 4])) == EmpiricalLength(samples_tokens=(4, 4))
    for bad in ("long", 0, [1.5, 2], (10, 10), [], True):
        with pytest.raises(InvalidSettingError):
            as_length(bad)


def test_length_samples_stay_in_their_support():
    rng = np.random.default_rng(0)
    u = sample(UniformLength(mean_tokens=100, spread_tokens=20), rng, 10_000)
    assert u.min() == 80 and u.max() == 120  # both ends reachable in 10k draws of 41 values
    assert abs(u.mean() - 100) < 1
    e = sample(EmpiricalLength(samples_tokens=(3, 5, 7)), rng, 3000)
    assert set(e.tolist()) == {3, 5, 7}


# ---------------------------------------------------------------------------------------------- routing


def test_round_robin_and_least_loaded_routing():
    m = LinearStepModel(fixed_s=0.01, per_token_s=1e-5)
    rr = simulate(m, BurstArrivals(input_tokens=10, output_tokens=50), num_requests=5, replicas=2, router="round_robin")
    assert rr.requests["replica"].tolist() == [0, 1, 0, 1, 0]
    # least loaded at one instant: every arrival goes where the fewest requests are, lowest index on ties
    ll = simulate(m, BurstArrivals(input_tokens=10, output_tokens=50), num_requests=5, replicas=3)
    assert ll.requests["replica"].tolist() == [0, 1, 2, 0, 1]
    assert ll.summary()["num_chips"] == 3


# ---------------------------------------------------------------------------------------------- bulk decode


SCENARIOS = [
    (PoissonArrivals(rate_per_s=20, input_tokens=(300, 200), output_tokens=(200, 150)), {"num_requests": 400}, {}),
    (ClosedLoopArrivals(concurrency=16, input_tokens=(300, 200), output_tokens=(100, 90)), {"num_requests": 200},
     {"replicas": 2}),
    (BurstArrivals(input_tokens=(200, 100), output_tokens=(300, 200)), {"num_requests": 120}, {}),
]


@pytest.mark.parametrize("spec, count, extra", SCENARIOS)
def test_bulk_decode_stretches_equal_step_by_step(monkeypatch, spec, count, extra):
    m = LinearStepModel(fixed_s=0.01, per_token_s=1e-5, per_kv_token_s=1e-7, kv_capacity_tokens=30_000)
    kw = {"seed": 5, **count, **extra}
    bulk = simulate(m, spec, **kw)
    monkeypatch.setattr(replica_module, "decode_stretch", lambda rep, limit: 0)
    single = simulate(m, spec, **kw)
    assert bulk.to_dataframe().equals(single.to_dataframe())
    for name, col in single.steps.items():
        assert np.array_equal(bulk.steps[name], col), name
    assert bulk.steps["start_s"].size > 100


def test_step_log_columns_are_the_replica_log_then_the_added_ones_with_their_dtypes():
    """SimResult.steps (step_log.StepLog) lists every field the replicas log, in LOG_FIELDS order, as doubles ('d')
    or 64-bit integers ('q'), then replica, kv_capacity_blocks, step and prefill_attn_pairs."""
    m = LinearStepModel(fixed_s=0.01, per_token_s=1e-5, kv_capacity_tokens=30_000)
    res = simulate(m, BurstArrivals(input_tokens=200, output_tokens=20), num_requests=10, replicas=2)
    logged = [name for name, _ in step_log.LOG_FIELDS]
    assert list(res.steps) == [*logged, "replica", "kv_capacity_blocks", "step", "prefill_attn_pairs"]
    for name, code in step_log.LOG_FIELDS:
        assert res.steps[name].dtype == (np.float64 if code == "d" else np.int64), name
    assert sorted(set(res.steps["replica"].tolist())) == [0, 1]


# ---------------------------------------------------------------------------------------------- metrics


def test_weighted_percentile_inverts_the_cdf():
    values = np.array([3.0, 1.0, 2.0])
    weights = np.array([1.0, 1.0, 2.0])  # sorted: 1 (w1), 2 (w2), 3 (w1): cumulative 1, 3, 4 of 4
    assert weighted_percentile(values, weights, 25) == 1.0
    assert weighted_percentile(values, weights, 50) == 2.0
    assert weighted_percentile(values, weights, 75) == 2.0
    assert weighted_percentile(values, weights, 76) == 3.0


def test_one_token_outputs_have_no_tpot_and_slos_count_in_goodput():
    m = LinearStepModel(fixed_s=0.01, per_token_s=1e-4)
    r = simulate(m, BurstArrivals(input_tokens=100, output_tokens=1), num_requests=3, slo_ttft_s=0.025)
    df = r.to_dataframe()
    assert df.tpot_s.isna().all()
    # one prefill step of 300 tokens: 0.01 + 0.03 = 0.04 s > 0.025 s, so nobody meets the TTFT limit
    assert df.ttft_s.tolist() == pytest.approx([0.04] * 3)
    s = r.summary()
    assert s["goodput_requests_per_s"] == 0 and s["slo_attainment_fraction"] == 0
    assert math.isnan(s["tpot_s_mean"])


def test_summary_throughputs_and_timeline_agree():
    m = LinearStepModel(fixed_s=0.01, per_token_s=1e-5, per_kv_token_s=1e-8, num_chips=4)
    r = simulate(m, PoissonArrivals(rate_per_s=10, input_tokens=200, output_tokens=100), num_requests=1000,
                 slo_ttft_s=10.0, slo_tpot_s=1.0)
    s = r.summary()
    assert s["num_chips"] == 4
    assert s["output_tokens_per_s_per_chip"] == pytest.approx(s["output_tokens_per_s"] / 4)
    # stable light load: served rate ~ offered 10/s, every token is one of the 100 per request
    assert s["requests_per_s"] == pytest.approx(10, rel=0.1)
    assert s["output_tokens_per_s"] == pytest.approx(100 * s["requests_per_s"], rel=0.05)
    assert s["goodput_requests_per_s"] == s["requests_per_s"]  # generous SLOs: everyone meets them
    tl = r.timeline(num_bins=50)
    width = tl.time_s[1] - tl.time_s[0]
    assert (tl.output_tokens_per_s * width).sum() == pytest.approx(1000 * 100)
    assert tl.kv_cache_used_fraction.between(0, 1).all()
    expected = {"ttft_s_p50", "ttft_s_p90", "ttft_s_p99", "tpot_s_mean", "itl_s_p99", "e2e_s_p99",
                "requests_per_s", "output_tokens_per_s", "output_tokens_per_s_per_chip", "goodput_requests_per_s",
                "preemptions", "saturated", "kv_cache_used_fraction_mean"}
    assert expected <= set(s)


def test_progress_is_reported_up_to_one():
    seen: list[float] = []
    simulate(LinearStepModel(fixed_s=0.01), PoissonArrivals(rate_per_s=5, input_tokens=10, output_tokens=10),
             num_requests=500, progress=seen.append)
    assert seen[-1] == 1.0 and len(seen) > 10
    assert all(b >= a for a, b in itertools.pairwise(seen))


def test_scheduler_config_limits_batch_size():
    m = LinearStepModel(fixed_s=0.01, per_token_s=1e-5)
    r = simulate(m, BurstArrivals(input_tokens=10, output_tokens=20), num_requests=50,
                 scheduler_config=SchedulerConfig(max_num_seqs=8, max_num_batched_tokens=64))
    assert r.steps["running"].max() == 8
    assert r.steps["num_tokens"].max() <= 64


def test_a_shared_step_timer_gives_the_same_results_as_a_fresh_one():
    m = LinearStepModel(fixed_s=0.01, per_token_s=1e-5, per_kv_token_s=1e-8)
    spec = PoissonArrivals(rate_per_s=8, input_tokens=(300, 200), output_tokens=(100, 50))
    timer = StepTimer(m)
    simulate(m, PoissonArrivals(rate_per_s=30, input_tokens=700, output_tokens=20), num_requests=200,
             step_timer=timer)  # fills the cache with other batches first
    shared = simulate(m, spec, num_requests=300, step_timer=timer)
    fresh = simulate(m, spec, num_requests=300)
    assert shared.to_dataframe().equals(fresh.to_dataframe())
    assert shared.step_model_evaluations < fresh.step_model_evaluations  # counted for this run only
    with pytest.raises(InvalidSettingError, match="step_timer"):
        simulate(LinearStepModel(fixed_s=0.02), spec, num_requests=10, step_timer=timer)


def test_arrivals_and_scheduler_settings_may_be_plain_dicts(tmp_path):
    m = LinearStepModel(fixed_s=0.01, per_token_s=1e-5)
    as_dict = simulate(m, {"kind": "poisson", "rate_per_s": 5, "input_tokens": 100, "output_tokens": [5, 20]},
                       num_requests=50, scheduler_config={"max_num_seqs": 4, "max_num_batched_tokens": 512})
    as_model = simulate(m, PoissonArrivals(rate_per_s=5, input_tokens=100, output_tokens=[5, 20]), num_requests=50,
                        scheduler_config=SchedulerConfig(max_num_seqs=4, max_num_batched_tokens=512))
    assert as_dict.to_dataframe().equals(as_model.to_dataframe())
    with pytest.raises(InvalidSettingError, match="rate_per_s"):
        simulate(m, {"kind": "poisson", "rate_per_s": -1, "input_tokens": 10, "output_tokens": 10}, num_requests=5)
    with pytest.raises(InvalidSettingError, match="not an arrival spec"):
        simulate(m, "poisson", num_requests=5)
