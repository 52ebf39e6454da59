"""Invariants of the scheduler under random small settings (hypothesis): conservation and limits."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from inferchip.sim import LinearStepModel, PoissonArrivals, SchedulerConfig, simulate


@settings(max_examples=60, deadline=None)
@given(
    block=st.sampled_from([1, 4, 16]),
    capacity_blocks=st.integers(8, 80),
    max_seqs=st.integers(1, 12),
    budget_extra=st.integers(0, 64),
    chunked=st.booleans(),
    swap=st.booleans(),
    replicas=st.integers(1, 3),
    rate=st.floats(1.0, 200.0),
    seed=st.integers(0, 1000),
)
def test_every_token_is_produced_once_and_limits_hold(block, capacity_blocks, max_seqs, budget_extra, chunked, swap,
                                                      replicas, rate, seed):
    cfg = SchedulerConfig(
        block_size_tokens=block, max_num_seqs=max_seqs, max_num_batched_tokens=max_seqs + budget_extra,
        enable_chunked_prefill=chunked, preemption_mode="swap" if swap else "recompute",
        **({"swap_bytes_per_token": 100.0, "swap_bandwidth_bytes_per_s": 1e6} if swap else {}),
    )
    model = LinearStepModel(fixed_s=0.01, per_token_s=1e-4, per_kv_token_s=1e-6,
                            kv_capacity_tokens=capacity_blocks * block)
    r = simulate(model, PoissonArrivals(rate_per_s=rate, input_tokens=(40, 30), output_tokens=(30, 25)),
                 num_requests=60, seed=seed, scheduler_config=cfg, replicas=replicas)
    req, steps = r.requests, r.steps
    ok = ~req["rejected"]
    # a request is rejected only when it can never fit: KV of input + output - 1 tokens, or, unchunked, a
    # (re)prefill of up to input + output - 1 tokens over the budget
    longest = req["input_tokens"] + req["output_tokens"] - 1
    never_fits = (-(-longest // block) > capacity_blocks) | (~chunked & (longest > cfg.max_num_batched_tokens))
    assert np.array_equal(req["rejected"], never_fits)
    # every admitted request finishes, its events in order
    assert np.all(np.isfinite(req["finish_s"][ok]))
    assert np.all(req["first_scheduled_s"][ok] >= req["arrival_s"][ok])
    assert np.all(req["first_token_s"][ok] > req["first_scheduled_s"][ok])
    assert np.all(req["finish_s"][ok] >= req["first_token_s"][ok])
    # conservation: each output token is emitted once; prompts are prefilled at least once (more after recompute)
    assert steps["emitted_tokens"].sum() == req["output_tokens"][ok].sum()
    assert steps["prefill_tokens"].sum() >= req["input_tokens"][ok].sum()
    if swap or steps["preemptions"].sum() == 0:
        assert steps["prefill_tokens"].sum() == req["input_tokens"][ok].sum()
    assert steps["preemptions"].sum() == req["num_preemptions"].sum()
    # limits of every step, and all blocks returned at the end
    assert np.all(steps["kv_used_blocks"] <= capacity_blocks) and np.all(steps["kv_used_blocks"] >= 0)
    assert np.all(steps["running"] <= max_seqs)
    assert np.all(steps["num_tokens"] <= cfg.max_num_batched_tokens) and np.all(steps["num_tokens"] >= 1)
    assert r.extra["kv_blocks_in_use_at_end"] == [0] * replicas
    # each replica's steps follow one another without overlap
    for rep in range(replicas):
        m = steps["replica"] == rep
        ends = steps["start_s"][m] + steps["duration_s"][m]
        assert np.all(steps["start_s"][m][1:] >= ends[:-1])
