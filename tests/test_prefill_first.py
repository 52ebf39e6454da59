"""Prefill-only iterations and SGLang's output-reserving admission (sim/engines/prefill_first.py):
hand-checked steps of a small replica, the admission rule on hand cases, and properties of the
simulated benchmark (no mixed step, no request lost, TTFT never below its prompt's own prefill)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from inferchip.catalog.engines import get_engine
from inferchip.sim import LinearStepModel, SchedulerConfig
from inferchip.sim.engines import uniform_length
from inferchip.sim.engines.bench import _factory
from inferchip.sim.engines.polling import PollingReplica
from inferchip.sim.engines.prefill_first import PrefillFirstReplica, reservation_fits
from inferchip.sim.results.request import RequestTable
from inferchip.sim.step.steptime import StepTimer

FIXED_S, PER_TOKEN_S = 0.01, 1e-5


def _model(**over):
    base = dict(fixed_s=FIXED_S, per_token_s=PER_TOKEN_S, kv_capacity_tokens=1_000_000)
    base.update(over)
    return LinearStepModel(**base)


def _replica(cls, kv_tokens=1_000_000, **kw):
    return cls(0, StepTimer(_model(), exact=True), SchedulerConfig(), kv_tokens, RequestTable(), **kw)


def _two_requests(cls, **kw):
    """A (prompt 100, 5 tokens) starts alone; B (prompt 200, 5 tokens) arrives with A's first token."""
    rep = _replica(cls, **kw)
    t = rep.table
    a = t.add(0.0, 100, 5)
    rep.enqueue(a, 100, 5, 0.0)
    rep.run_until(1e-9)  # A's prefill step
    b = t.add(rep.clock_s, 200, 5)
    rep.enqueue(b, 200, 5, rep.clock_s)
    rep.run_until(10.0)
    return rep, a, b


# ------------------------------------------------------------------ the engine records
def test_engine_records():
    """SGLang reserves outputs at admission; its and ATOM's prefill-only iterations are off in the
    catalogue (measured: docs/serving_validation.md); vLLM, TensorRT-LLM and Dynamo are unchanged."""
    assert get_engine("sglang").reserve_output and not get_engine("atom").reserve_output
    for eid in ("vllm", "trtllm", "dynamo", "sglang", "atom"):
        assert get_engine(eid).mixed_chunk
    for eid in ("vllm", "trtllm", "dynamo"):
        assert not get_engine(eid).reserve_output


def test_factory_builds_the_prefill_first_replica():
    make = _factory(1, False, None, True, True)
    rep = make(0, StepTimer(_model()), SchedulerConfig(), 10_000, RequestTable())
    assert isinstance(rep, PrefillFirstReplica) and rep.reserve_output and rep.pause_decodes
    mixed = _factory(1, reserve_output=True)(0, StepTimer(_model()), SchedulerConfig(), 10_000, RequestTable())
    assert isinstance(mixed, PrefillFirstReplica) and not mixed.pause_decodes
    assert _factory(1) is None  # the plain replica stays the default
    with pytest.raises(ValueError):
        _factory(1, False, (2, 50, 10), True)


# ------------------------------------------------------------------ prefill-only steps, by hand
def test_a_prefill_step_pauses_the_decodes():
    """Step 1 prefills A (100 tokens: 10 + 1 ms = 11 ms). B arrives; step 2 prefills B alone (200
    tokens: 12 ms) while A waits, so B's first token is at 23 ms and A has still 4 tokens to go; then
    4 steps decode both (2 rows: 10.02 ms each): both finish at 23 + 4 x 10.02 = 63.08 ms."""
    rep, a, b = _two_requests(PrefillFirstReplica)
    t = rep.table
    assert t.first_token_s[a] == pytest.approx(0.011)
    assert t.first_token_s[b] == pytest.approx(0.023)
    assert t.finish_s[a] == pytest.approx(0.023 + 4 * 0.01002)
    assert t.finish_s[b] == pytest.approx(0.023 + 4 * 0.01002)
    log = rep.log
    assert list(log["prefill_tokens"]) == [100, 200, 0, 0, 0, 0]
    assert list(log["num_decode_seqs"]) == [0, 0, 2, 2, 2, 2]
    assert list(log["emitted_tokens"]) == [1, 1, 2, 2, 2, 2]
    assert rep.prefill_steps == 1


@pytest.mark.parametrize("make", [PollingReplica, lambda *a, **k: PrefillFirstReplica(*a, pause_decodes=False, **k)])
def test_a_mixed_engine_decodes_during_the_prefill(make):
    """The same two requests on a mixing engine: step 2 carries A's decode and B's prompt (201 tokens:
    12.01 ms), so A's second token comes with B's first and A finishes one decode step earlier."""
    rep, a, b = _two_requests(make)
    t = rep.table
    assert t.first_token_s[b] == pytest.approx(0.011 + 0.01201)
    assert t.finish_s[a] == pytest.approx(0.011 + 0.01201 + 3 * 0.01002)
    assert list(rep.log["num_decode_seqs"])[:2] == [0, 1]


def test_a_decode_step_takes_no_new_request_when_no_prefill_can_be_formed():
    """Head of the queue blocked by the KV cache: the step is a decode batch and the request stays
    queued (a mixing replica would squeeze a smaller chunk into the remaining budget)."""
    rep = _replica(PrefillFirstReplica, kv_tokens=640)  # 40 blocks of 16
    t = rep.table
    a = t.add(0.0, 300, 40)
    rep.enqueue(a, 300, 40, 0.0)
    rep.run_until(1e-9)
    b = t.add(rep.clock_s, 400, 4)  # 25 blocks; 40 - 19 (A) = 21 free
    rep.enqueue(b, 400, 4, rep.clock_s)
    rep.run_until(rep.clock_s + 0.05, min_steps=2)
    assert np.isnan(t.first_scheduled_s[b])
    assert list(rep.log["prefill_tokens"])[1:] == [0] * (len(rep.log["prefill_tokens"]) - 1)
    rep.run_until(10.0)
    assert t.first_scheduled_s[b] >= t.finish_s[a] - 1e-12  # admitted once A released its blocks


# ------------------------------------------------------------------ output-reserving admission
def test_reservation_rule_by_hand():
    # sorted by tokens left: (100, 200) then (300, 10): 350 - 2 x 100 = 150 > 2; 350 + 200 - 300 = 250 > 1
    assert reservation_fits(350, [(300, 10), (100, 200)])
    # the sum of all outputs (400) exceeds the free 350: only the order of finishing admits it
    assert 350 - (100 + 300) < 0
    assert not reservation_fits(500, [(300, 50), (300, 50)])  # 500 - 2 x 300 < 0
    assert not reservation_fits(202, [(100, 0), (100, 0)])  # exactly the 1-token headroom per request: refused
    assert reservation_fits(203, [(100, 0), (100, 0)])


def test_admission_refuses_when_the_reserved_outputs_would_not_fit():
    """992-token cache (62 blocks of 16). A (prompt 100, 600 tokens out) decodes; B (prompt 100, 400
    out) would leave 768 tokens free after its prompt while A and B still want 599 + 400: with both
    growing until A's end, 768 - 2 x 400 < 0, so B waits. It is admitted only near A's end, when the
    little A has left, counted for both, fits what is free and A's cache, freed, holds B's 400
    (about 700 + 180 - 400 > 1). Without the reservation B is admitted at once."""
    def run(reserve: bool, pause: bool):
        rep = _replica(PrefillFirstReplica, kv_tokens=1000, reserve_output=reserve, pause_decodes=pause)
        t = rep.table
        a = t.add(0.0, 100, 600)
        rep.enqueue(a, 100, 600, 0.0)
        rep.run_until(1e-9)
        arrival = rep.clock_s
        b = t.add(arrival, 100, 400)
        rep.enqueue(b, 100, 400, arrival)
        rep.run_until(100.0)
        return t, a, b, arrival

    for pause in (True, False):  # the rule is the same whether steps mix or not
        t, a, b, arrival = run(True, pause)
        assert arrival + 0.9 * (t.finish_s[a] - arrival) < t.first_scheduled_s[b] < t.finish_s[a]
        assert sum(t.num_preemptions) == 0
    t, a, b, arrival = run(False, True)
    assert t.first_scheduled_s[b] == pytest.approx(arrival)


def test_reservation_admits_where_the_cache_holds_everything():
    rep, a, b = _two_requests(PrefillFirstReplica, reserve_output=True)
    assert rep.table.first_token_s[b] == pytest.approx(0.023)


# ------------------------------------------------------------------ properties of the benchmark
@settings(max_examples=25, deadline=None)
@example(c=14, inp=2504, out=99, recv=1, plan_ahead=False, reserve=True, kv=20_000)  # once a livelock
@example(c=22, inp=2405, out=106, recv=7, plan_ahead=False, reserve=False, kv=20_000)  # once a livelock
@given(c=st.integers(1, 24), inp=st.integers(16, 3000), out=st.integers(2, 120), recv=st.integers(1, 8),
       plan_ahead=st.booleans(), reserve=st.booleans(), kv=st.sampled_from([20_000, 1_000_000]))
def test_prefill_first_runs_never_mix_and_never_beat_the_prefill(c, inp, out, recv, plan_ahead, reserve, kv):
    """Every request completes (a small cache makes prompts in progress wait or go back to the queue,
    never for ever); no step carries prefill and decode rows together; and no request's first token
    comes sooner than its own prompt alone would take (one step of the linear model: fixed time plus
    the per-token time of every prompt token; no chunk of the run is shorter)."""
    model = _model(kv_capacity_tokens=kv)
    n = 3 * c
    per_request = _per_request_ttft(model, c, inp, out, n, recv, plan_ahead, reserve)
    assert per_request["ttft"].size == n
    assert np.all(per_request["ttft"] >= FIXED_S + PER_TOKEN_S * per_request["input"] - 1e-12)
    assert not np.any((per_request["steps"]["prefill_tokens"] > 0) & (per_request["steps"]["num_decode_seqs"] > 0))


def _per_request_ttft(model, c, inp, out, n, recv, plan_ahead, reserve):
    from inferchip.sim.load.arrivals import ClosedLoopArrivals
    from inferchip.sim.runs.simulate import run_pools
    from inferchip.sim.runs.system import Pool

    spec = ClosedLoopArrivals(concurrency=c, input_tokens=uniform_length(inp), output_tokens=uniform_length(out))
    pool = Pool(model, SchedulerConfig(max_num_batched_tokens=2048), 1, "", StepTimer(model, exact=True),
                _factory(recv, plan_ahead, None, True, reserve))
    res = run_pools([pool], None, spec, duration_s=None, num_requests=n, seed=0, slo_ttft_s=None, slo_tpot_s=None,
                    progress=None, router="least_loaded", exact_step_times=True, max_time_s=3600.0, max_drain_s=None)
    fin = res.finished
    return {"ttft": res.ttft_s[fin], "input": res.requests["input_tokens"][fin], "steps": res.steps}
