"""Routing of arrivals over a pool's replicas (sim.runs.router): the least-loaded count of an engine replica that holds
received requests before its scheduler takes them, and Dynamo's random choice of a prefill worker."""

from __future__ import annotations

from collections import Counter
from functools import partial
from typing import get_args

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inferchip.catalog.engines import get_engine
from inferchip.errors import InvalidSettingError
from inferchip.sim import BurstArrivals, LinearStepModel, simulate
from inferchip.sim.engines.polling import PollingReplica
from inferchip.sim.runs.router import ROUTERS, Router
from inferchip.spec.engine.workers import WorkerScheduling


class _Rep:
    """A stand-in replica: only what the router reads."""

    def __init__(self, held: int = 0):
        self.n_running, self.waiting, self.swapped, self.held = 0, [], [], held

    @property
    def load(self) -> int:
        return self.n_running + len(self.waiting) + len(self.swapped) + self.held


def test_least_loaded_counts_requests_a_polling_replica_holds():
    # a burst of 12 at one instant on 3 idle replicas that plan ahead (async scheduling): the first request of each
    # goes straight to its queue, the rest wait in the scheduler's inbox; counting them spreads the burst 4 / 4 / 4
    # (counting only the queues sent all 9 others to replica 0, the lowest index on the tie)
    m = LinearStepModel(fixed_s=0.01, per_token_s=1e-5)
    res = simulate(m, BurstArrivals(input_tokens=100, output_tokens=20), num_requests=12, replicas=3,
                   replica_factory=partial(PollingReplica, async_scheduling=True))
    assert sorted(Counter(res.requests["replica"].tolist()).values()) == [4, 4, 4]


def test_least_loaded_prefers_the_replica_holding_fewer():
    reps = [_Rep(held=3), _Rep(held=1), _Rep(held=2)]
    assert Router("least_loaded", reps).choose() is reps[1]  # type: ignore[arg-type]


@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 8), seed=st.integers(0, 10_000))
def test_random_router_is_repeatable_and_blind_to_load(n, seed):
    reps = [_Rep(held=100 * i) for i in range(n)]  # loads differ wildly: the random router ignores them
    a = Router("random", reps, seed)  # type: ignore[arg-type]
    b = Router("random", reps, seed)  # type: ignore[arg-type]
    seq_a = [reps.index(a.choose()) for _ in range(40 * n)]
    seq_b = [reps.index(b.choose()) for _ in range(40 * n)]
    assert seq_a == seq_b  # repeatable for a seed
    assert set(seq_a) <= set(range(n)) and len(set(seq_a)) > 1  # not always the least loaded (replica 0)


def test_random_router_spreads_evenly_on_average():
    reps = [_Rep(held=i) for i in range(4)]
    r = Router("random", reps, seed=7)  # type: ignore[arg-type]
    counts = Counter(reps.index(r.choose()) for _ in range(8000))
    assert all(1800 < counts[i] < 2200 for i in range(4))  # 2000 each, binomial sd ~39


def test_unknown_router_is_refused():
    with pytest.raises(InvalidSettingError):
        Router("fastest", [_Rep(), _Rep()])  # type: ignore[list-item]


def test_dynamo_sglang_prefill_workers_are_picked_at_random():
    eng = get_engine("dynamo")
    sw = "nvidia dynamo + sglang, pd-disaggregated; lmsysorg/sglang:v0.5.5.post2"
    sgl = [eng.prefill_worker(sw, fmt, workers) for fmt, workers in (("fp4", 4), ("fp8", 1))]
    assert all(w is not None and w.router == "random" for w in sgl)
    trt = eng.prefill_worker("nvidia dynamo + tensorrt-llm, pd-disaggregated", "fp4", 4)
    assert trt is not None and trt.router == "round_robin" and not trt.wake_takes_queue


def test_a_numpy_integer_seed_is_accepted_and_repeats():
    # the arrival sources take numpy integers as seeds; the router must too (random.Random refuses np.int64)
    m = LinearStepModel(fixed_s=0.01, per_token_s=1e-5)
    runs = [simulate(m, BurstArrivals(input_tokens=100, output_tokens=20), num_requests=12, replicas=3,
                     router="random", seed=s) for s in (np.int64(3), 3)]
    assert runs[0].requests["replica"].tolist() == runs[1].requests["replica"].tolist()


def test_two_random_pools_draw_different_sequences():
    reps = [_Rep() for _ in range(8)]
    first, second = Router("random", reps, seed=5, stream=0), Router("random", reps, seed=5, stream=1)
    picks = [[reps.index(r.choose()) for _ in range(64)] for r in (first, second)]
    assert picks[0] != picks[1]
    assert [reps.index(Router("random", reps, seed=5).choose()) for _ in range(1)] == picks[0][:1]  # pool 0 = seed


def test_router_names_in_spec_and_sim_agree():
    # the engine record's field (spec layer) and the simulator's policies (sim layer) name the same routers;
    # "" means the simulator's default (least loaded)
    field = WorkerScheduling.model_fields["router"].annotation
    assert set(get_args(field)) - {""} == set(ROUTERS)
