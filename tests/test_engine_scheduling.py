"""Engine scheduling behaviours of the simulated benchmark (sim/engines): a scheduler that polls its
request queue every few decode steps (SGLang ``--scheduler-recv-interval``), the token budget per
step, a mixed prefill + decode step's cost, and how the clients' requests spread after the start."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inferchip.catalog.engines import get_engine
from inferchip.sim import LinearStepModel, SchedulerConfig
from inferchip.sim.engines import EngineStepModel, closed_loop_run, uniform_length
from inferchip.sim.engines.polling import PollingReplica
from inferchip.sim.results.request import RequestTable
from inferchip.sim.step.steptime import StepTimer
from inferchip.spec.engine import EngineSpec
from inferchip.spec.engine.workers import RecvInterval


def _step(**over):
    base = dict(fixed_s=0.01, per_token_s=1e-5, per_kv_token_s=1e-8, kv_capacity_tokens=1_000_000)
    base.update(over)
    return LinearStepModel(**base)


def _send_together(rep: PollingReplica, n: int, prompt: int, output: int) -> list[int]:
    """``n`` requests of ``prompt`` / ``output`` tokens that reach ``rep`` at the same instant, 0; their ids."""
    rids = [rep.table.add(0.0, prompt, output) for _ in range(n)]
    for rid in rids:
        rep.enqueue(rid, prompt, output, 0.0)
    return rids


def _after_a_lone_prompt(recv: int, ahead: bool, wake: bool) -> PollingReplica:
    """A replica that has run a lone 100-token prompt (one output token) sent at 0 in its one step, [0, 11 ms)."""
    rep = PollingReplica(0, StepTimer(_step()), SchedulerConfig(), 1_000_000, RequestTable(), recv_interval_steps=recv,
                         async_scheduling=ahead, wake_takes_queue=wake)
    rep.enqueue(rep.table.add(0.0, 100, 1), 100, 1, 0.0)
    rep.run_until(1e-9, stop_on_finish=True, min_steps=1)
    return rep


def _run(c: int, recv: int, inp: int = 200, out: int = 200, n: int | None = None, **step):
    return closed_loop_run(_step(**step), c, uniform_length(inp), uniform_length(out), SchedulerConfig(),
                           num_requests=n or 6 * c, recv_interval_steps=recv)


# ------------------------------------------------------------------ the engine record
def test_recv_interval_by_concurrency():
    eng = EngineSpec(id="x", name="x", match=("x",), step_overhead_s=0, request_overhead_s=0, max_num_seqs=8,
                     chunk_tokens=512, recv_interval=(RecvInterval(min_concurrency=16, steps=30),
                                                      RecvInterval(min_concurrency=1, steps=10)))
    assert [eng.recv_interval_steps(c) for c in (1, 15, 16, 500)] == [10, 10, 30, 30]
    assert get_engine("vllm").recv_interval_steps(64) == 1  # vLLM's scheduler takes requests every step
    sgl = get_engine("sglang")
    b200 = "nvidia-b200-180gb"
    assert sgl.recv_interval_steps(64, b200) == 30 and sgl.recv_interval_steps(8, b200) == 10
    assert sgl.recv_interval_steps(64, "nvidia-h200-sxm-141gb") == 1  # its launch script leaves the default
    # the AMD recipes' --num-continuous-decode-steps 4 is read by no SGLang v0.5 code: they poll every step
    assert sgl.recv_interval_steps(4, "amd-mi355x") == sgl.recv_interval_steps(64, "amd-mi300x") == 1
    recv = (RecvInterval(steps=5), RecvInterval(accelerator="b200", steps=9))
    chip = EngineSpec(id="x", name="x", match=("x",), step_overhead_s=0, request_overhead_s=0, max_num_seqs=8,
                      chunk_tokens=512, recv_interval=recv)
    assert chip.recv_interval_steps(4, "nvidia-b200-180gb") == 9 and chip.recv_interval_steps(4, "amd-mi355x") == 5
    # entries for one weight format and TP size take precedence over those for any, on their rows only
    sized = EngineSpec(id="x", name="x", match=("x",), step_overhead_s=0, request_overhead_s=0, max_num_seqs=8,
                       chunk_tokens=512, recv_interval=(RecvInterval(accelerator="b200", steps=10),
                                                        RecvInterval(accelerator="b200", min_concurrency=16, steps=30),
                                                        RecvInterval(accelerator="b200", weights="fp8", tp=4, steps=7)))
    assert sized.recv_interval_steps(32, "nvidia-b200-180gb", 4, "fp8") == 7
    assert sized.recv_interval_steps(32, "nvidia-b200-180gb", 4, "nvfp4") == 30
    assert sized.recv_interval_steps(32, "nvidia-b200-180gb", 8, "fp8") == 30
    assert sized.recv_interval_steps(8, "nvidia-b200-180gb") == 10
    # the B200 FP8 recipe at TP4 (8k/1k only): every 10 decode steps at any concurrency, chunk 8,192
    assert sgl.recv_interval_steps(32, b200, 4, "fp8") == 10 and sgl.recv_interval_steps(32, b200, 8, "fp8") == 30
    assert sgl.chunk_tokens_on(b200, "fp8", 4) == 8192 < sgl.chunk_tokens_on(b200, "fp8", 8)


# ------------------------------------------------------------------ polling the request queue
def test_interval_one_is_the_plain_replica():
    plain = closed_loop_run(_step(), 8, uniform_length(200), uniform_length(100), SchedulerConfig(), num_requests=40)
    one = _run(8, 1, out=100, n=40)
    assert one.ttft_s == plain.ttft_s and one.output_tokens_per_s == plain.output_tokens_per_s


def test_polling_adds_about_half_an_interval_of_decode_steps_to_ttft():
    """With few clients and long outputs a request arrives while the others decode: it waits for the
    next poll, uniformly up to ``N`` decode steps (mean ~N/2), then its prefill."""
    n_steps = 20
    base = _run(4, 1, out=400, n=200)
    slow = _run(4, n_steps, out=400, n=200)
    step_s = slow.tpot_s
    extra = slow.ttft_s - base.ttft_s
    assert 0.2 * n_steps * step_s < extra < 1.0 * n_steps * step_s
    assert slow.queue_s > base.queue_s


@settings(max_examples=12, deadline=None)
@given(c=st.integers(1, 24), recv=st.integers(1, 40), out=st.integers(2, 200))
def test_polling_never_shortens_ttft_nor_loses_requests(c, recv, out):
    base = _run(c, 1, out=out, n=3 * c)
    slow = _run(c, recv, out=out, n=3 * c)
    assert slow.requests == base.requests == 3 * c
    # waiting for a poll can regroup which requests share a prefill step, so the mean may move by part
    # of a step either way, but never drop by a whole step (10 ms fixed time per step here)
    assert slow.ttft_s > base.ttft_s - 0.01


def test_an_idle_engine_takes_a_request_at_once():
    """One client: the engine is idle whenever the next request arrives, so the poll interval costs nothing."""
    base = _run(1, 1, out=50, n=10)
    slow = _run(1, 30, out=50, n=10)
    assert slow.ttft_s == pytest.approx(base.ttft_s, rel=1e-9)


def test_polling_replica_counts_prefill_steps_as_a_whole_interval():
    timer = StepTimer(_step())
    rep = PollingReplica(0, timer, SchedulerConfig(), 1_000_000, RequestTable(), recv_interval_steps=5)
    table = rep.table
    rid = table.add(0.0, 100, 50)
    rep.enqueue(rid, 100, 50, 0.0)  # idle: straight to the queue
    assert rep.waiting and not rep.inbox
    rep.run_until(0.025)  # prefill step, then a decode step
    rid2 = table.add(rep.clock_s, 100, 50)
    rep.enqueue(rid2, 100, 50, rep.clock_s)
    assert rep.inbox and rep.load == 2
    polls = rep.polls
    rep.run_until(rep.clock_s + 0.5, min_steps=1)
    assert not rep.inbox and rep.polls > polls
    assert not np.isnan(table.first_token_s[rid2])


# ------------------------------------------------------------------ token budget and mixed steps
def test_token_budget_caps_prefill_tokens_per_step():
    from inferchip.sim import simulate
    from inferchip.sim.load.arrivals import BurstArrivals

    res = simulate(_step(), BurstArrivals(input_tokens=3000, output_tokens=4), num_requests=4,
                   scheduler_config=SchedulerConfig(max_num_batched_tokens=1024, max_num_seqs=8))
    s = res.steps
    assert int((s["prefill_tokens"] + s["num_decode_seqs"]).max()) <= 1024
    assert int(s["prefill_tokens"].sum()) == 4 * 3000


@settings(max_examples=30, deadline=None)
@given(pre=st.integers(1, 16384), dec=st.integers(1, 512), kv=st.integers(0, 2_000_000))
def test_a_mixed_step_is_at_least_as_long_as_either_part(pre, dec, kv):
    """Prefill interference: a step with prefill tokens and decodes costs at least the prefill alone and
    the decodes alone (the engine step over a linear model and over the validator's step model alike)."""
    eng = EngineStepModel(_step(), 8, 512)
    pairs = float(pre) * (pre + 1) / 2

    def t(tokens, seqs, kv_tokens, p):
        return float(eng.step_time_s(np.array([tokens]), np.array([seqs]), np.array([kv_tokens]), np.array([p]))[0])

    mixed = t(pre + dec, dec, kv, pairs)
    assert mixed >= t(pre, 0, 0, pairs) * (1 - 1e-12)
    assert mixed >= t(dec, dec, kv, 0.0) * (1 - 1e-12)


# ------------------------------------------------------------------ clients after the start
def test_clients_start_together_and_spread_with_their_lengths():
    """All clients start together (the benchmark's ``--request-rate inf``, its warm-up requests done
    before the timed run); their lengths differ, so later requests no longer arrive at one instant:
    the second round's arrivals spread over at least the spread of the first round's lifetimes."""
    from inferchip.sim import simulate
    from inferchip.sim.load.arrivals import ClosedLoopArrivals

    c = 32
    res = simulate(_step(), ClosedLoopArrivals(concurrency=c, input_tokens=uniform_length(200),
                                               output_tokens=uniform_length(200)), num_requests=6 * c)
    r = res.requests
    order = np.argsort(r["arrival_s"], kind="stable")
    t = r["arrival_s"][order]
    assert np.ptp(t[:c]) == 0.0
    first_finish = r["finish_s"][order][:c]
    assert np.ptp(t[c:2 * c]) >= 0.9 * np.ptp(first_finish) > 0
    assert np.mean(np.diff(t[2 * c:]) == 0.0) < 0.25


# ------------------------------------------------------------------ disaggregated: first token from the decode worker
def test_disaggregated_ttft_ends_at_the_decode_worker():
    """The client's first token comes from the decode worker: TTFT is at least the prefill, the KV
    transfer and one decode step, and grows when the decode worker has few slots (queued hand-offs)."""
    from inferchip.sim.engines.bench import closed_loop_disagg_run

    def run(decode_seqs: int, latency_s: float):
        return closed_loop_disagg_run(_step(), _step(), 8, uniform_length(200), uniform_length(100),
                                      SchedulerConfig(), SchedulerConfig(max_num_seqs=decode_seqs), num_requests=40,
                                      seed=0, prefill_replicas=1, decode_replicas=1, kv_bytes_per_token=1.0,
                                      link_bytes_per_s=1e12, link_latency_s=latency_s)

    free = run(64, 0.0)
    assert free.ttft_s >= 2 * 0.01  # a prefill step and a decode step, each at least the fixed 10 ms
    slow_link = run(64, 0.05)
    assert slow_link.ttft_s >= free.ttft_s + 0.05 * (1 - 1e-9)
    few_slots = run(2, 0.0)
    assert few_slots.ttft_s > 2 * free.ttft_s


# ------------------------------------------------------------------ async scheduling and attention-DP balance
def _run_with(c: int, out: int = 200, n: int | None = None, **kw):
    return closed_loop_run(_step(), c, uniform_length(200), uniform_length(out), SchedulerConfig(),
                           num_requests=n or 6 * c, **kw)


def test_async_scheduling_adds_about_one_step_to_ttft():
    """vLLM's async scheduling plans step k+1 while step k runs: a request arriving during a step waits
    for the rest of it and one whole step more (here each step is at least 10 ms)."""
    base = _run_with(8, out=400, n=120)
    late = _run_with(8, out=400, n=120, async_scheduling=True)
    step_s = base.tpot_s
    extra = late.ttft_s - base.ttft_s
    assert 0.6 * step_s < extra < 1.5 * step_s
    assert late.tpot_s == pytest.approx(base.tpot_s, rel=0.05)


def test_async_scheduling_costs_nothing_on_an_idle_engine():
    base = _run_with(1, out=50, n=10)
    late = _run_with(1, out=50, n=10, async_scheduling=True)
    assert late.ttft_s == pytest.approx(base.ttft_s, rel=1e-9)


def test_async_replica_takes_a_request_two_boundaries_after_it_arrived():
    rep = PollingReplica(0, StepTimer(_step()), SchedulerConfig(), 1_000_000, RequestTable(), async_scheduling=True)
    table = rep.table
    rid = table.add(0.0, 100, 50)
    rep.enqueue(rid, 100, 50, 0.0)  # idle: scheduled at once
    assert rep.waiting and not rep.held
    rep.run_until(0.015, min_steps=1)  # its prefill step: [0, ~11 ms)
    t1 = rep.clock_s
    rid2 = table.add(t1, 100, 50)
    rep.enqueue(rid2, 100, 50, t1)  # step starting at t1 was planned already
    assert rep.held == 1 and rep.load == 2
    rep.run_until(rep.clock_s + 1e-9, min_steps=1)  # that step: a decode of the first request only
    assert np.isnan(table.first_scheduled_s[rid2]) and rep.held == 1
    rep.run_until(rep.clock_s + 1e-9, min_steps=1)
    assert table.first_scheduled_s[rid2] > t1 and rep.held == 0


@pytest.mark.parametrize("recv", [1, 10])
def test_prompts_sent_together_share_the_first_step(recv):
    """vLLM V1's idle engine core drains its whole input queue before it plans a step
    (EngineCoreProc._process_input_queue): four prompts reaching an idle engine at the same instant are
    prefilled in one step (400 tokens under the 8,192 budget), not the first alone and the rest a step later."""
    rep = PollingReplica(0, StepTimer(_step()), SchedulerConfig(), 1_000_000, RequestTable(),
                         recv_interval_steps=recv, async_scheduling=True)
    table = rep.table
    rids = _send_together(rep, 4, 100, 50)
    assert len(rep.waiting) == 4 and not rep.held
    rep.run_until(1e-9, min_steps=1)
    assert rep.log["prefill_tokens"][0] == 400
    assert all(table.first_scheduled_s[r] == 0.0 for r in rids)
    # by hand: one step of 400 prompt tokens, 0.01 s + 400 x 1e-5 s = 14 ms, gives all four their first token
    assert {round(float(table.first_token_s[r]), 6) for r in rids} == {0.014}


def test_a_prompt_at_the_boundary_of_a_planned_step_waits_for_the_next_plan():
    """Only the woken engine's first step takes what arrives at its start: after a step has run, a request arriving
    exactly as the next (already planned) step starts waits for the step after it, even when that step runs nothing
    but queued prompts. By hand: prompts of 100 and 200 tokens (output 1) at 0 with a 250-token budget and no
    chunking; step 1 prefills the first, 0.01 + 100 x 1e-5 = 11 ms; the 50-token prompt arriving at 11 ms is not in
    step 2 (the 200-token prompt) but in step 3."""
    cfg = SchedulerConfig(enable_chunked_prefill=False, max_num_batched_tokens=250, max_num_seqs=8)
    rep = PollingReplica(0, StepTimer(_step()), cfg, 1_000_000, RequestTable(), async_scheduling=True)
    table = rep.table
    first, second = table.add(0.0, 100, 1), table.add(0.0, 200, 1)
    rep.enqueue(first, 100, 1, 0.0)
    rep.enqueue(second, 200, 1, 0.0)
    rep.run_until(1.0, stop_on_finish=True, min_steps=1)
    assert rep.clock_s == pytest.approx(0.011) and rep.n_running == 0 and len(rep.waiting) == 1
    late = table.add(rep.clock_s, 50, 1)
    rep.enqueue(late, 50, 1, rep.clock_s)
    assert rep.held == 1
    rep.run_until(1.0)
    assert list(rep.log["prefill_tokens"]) == [100, 200, 50]
    assert table.first_scheduled_s[late] > table.first_scheduled_s[second] == pytest.approx(0.011)


def test_an_engine_woken_by_one_prompt_takes_the_rest_a_step_later():
    """TensorRT-LLM's idle executor returns the one request its blocking get woke on
    (ExecutorRequestQueue._get_from_request_queue); under the overlap scheduler the others, fetched at the next
    iteration, join the second step. By hand: step 1 prefills 100 tokens, 0.01 s + 100 x 1e-5 s = 11 ms; the other
    three are first scheduled at 11 ms, in a step of their 300 prompt tokens and the first prompt's decode."""
    rep = PollingReplica(0, StepTimer(_step()), SchedulerConfig(), 1_000_000, RequestTable(),
                         async_scheduling=True, wake_takes_queue=False)
    table = rep.table
    rids = _send_together(rep, 4, 100, 50)
    assert len(rep.waiting) == 1 and rep.held == 3
    rep.run_until(0.012, min_steps=2)
    assert list(rep.log["prefill_tokens"][:2]) == [100, 300]
    assert table.first_scheduled_s[rids[0]] == 0.0
    assert {round(float(table.first_scheduled_s[r]), 9) for r in rids[1:]} == {0.011}


@pytest.mark.parametrize("recv,wake", [(1, True), (10, True), (1, False)])
def test_requests_arriving_during_the_last_step_share_the_next_plan(recv, wake):
    """An engine whose last step still runs plans its next step when that step ends, with every request that came
    meanwhile: vLLM's core drains its input queue at the top of each loop, SGLang's recv_requests reads its socket
    until empty (an idle scheduler polls whatever its recv interval), and TensorRT-LLM's idle fetch drains a queue that
    is not empty (ExecutorRequestQueue._get_from_request_queue). By hand: a 100-token prompt with one output token at 0
    runs alone, 0.01 + 100 x 1e-5 = 11 ms; three 100-token prompts arriving at 5, 6 and 7 ms are all first scheduled
    at 11 ms in one step of 300 prompt tokens (0.01 + 300 x 1e-5 = 13 ms: first tokens at 24 ms), not the first alone
    and the other two a step later."""
    rep = _after_a_lone_prompt(recv, True, wake)
    table = rep.table
    assert rep.clock_s == pytest.approx(0.011) and rep.idle
    rids = [table.add(t, 100, 1) for t in (0.005, 0.006, 0.007)]
    for rid, t in zip(rids, (0.005, 0.006, 0.007), strict=True):
        rep.enqueue(rid, 100, 1, t)
    assert len(rep.waiting) == 3 and not rep.held
    rep.run_until(1.0)
    assert list(rep.log["prefill_tokens"]) == [100, 300]
    assert {round(float(table.first_scheduled_s[r]), 9) for r in rids} == {0.011}
    assert {round(float(table.first_token_s[r]), 9) for r in rids} == {0.024}


def test_a_worker_woken_by_one_prompt_without_planning_ahead_takes_the_rest_after_its_first_step():
    """TensorRT-LLM without the overlap scheduler (the Dynamo context workers: disable_overlap_scheduler) fetches
    again only at the top of its next iteration, after the first step: by hand, four 100-token prompts (one output
    token) at 0: step 1 prefills the first, 0.01 + 100 x 1e-5 = 11 ms, step 2 the other three from 11 ms (300 tokens,
    13 ms). A worker that drains its queue (wake_takes_queue, SGLang) prefills all four in one step of 400 tokens."""
    for wake, steps in ((False, [100, 300]), (True, [400])):
        rep = PollingReplica(0, StepTimer(_step()), SchedulerConfig(), 1_000_000, RequestTable(),
                             wake_takes_queue=wake)
        table = rep.table
        rids = _send_together(rep, 4, 100, 1)
        rep.run_until(1.0)
        assert list(rep.log["prefill_tokens"]) == steps
        assert {round(float(table.first_scheduled_s[r]), 9) for r in rids[1:]} == ({0.011} if not wake else {0.0})
    # the Dynamo + TensorRT-LLM context workers carry TensorRT-LLM's rule, the SGLang prefill workers SGLang's
    dyn = get_engine("dynamo")
    assert not dyn.prefill_worker("nvidia dynamo + tensorrt-llm, pd-disaggregated", "fp4", 4).wake_takes_queue
    assert dyn.prefill_worker("nvidia dynamo + sglang, pd-disaggregated", "fp4", 4).wake_takes_queue


def _adp(ranks: int, timeout: int, wait: int):
    return (ranks, timeout, wait)


def test_adp_balance_holds_a_lone_context_request_up_to_the_timeout():
    """Four attention-DP ranks, all decoding, requests arriving one at a time: a context request waits
    for the next release of the iteration counter (up to ``timeout_iters`` iterations, about half on
    average), or until every rank has one."""
    base = _run_with(16, out=400, n=100)
    held = _run_with(16, out=400, n=100, adp_balance=_adp(4, 50, 10))
    step_s = base.tpot_s
    extra = held.ttft_s - base.ttft_s
    assert 2 * step_s < extra < 50 * step_s
    short = _run_with(16, out=400, n=100, adp_balance=_adp(4, 4, 0))
    assert base.ttft_s - 0.01 < short.ttft_s < held.ttft_s


def test_adp_balance_releases_when_ranks_lack_decodes():
    """Fewer running decodes than ranks: 'not every rank decodes' releases context requests at once."""
    base = _run_with(2, out=100, n=20)
    held = _run_with(2, out=100, n=20, adp_balance=_adp(8, 50, 10))
    assert held.ttft_s == pytest.approx(base.ttft_s, rel=1e-9)


@settings(max_examples=10, deadline=None)
@given(c=st.integers(1, 24), ranks=st.integers(1, 8), timeout=st.integers(0, 60), wait=st.integers(0, 12),
       asy=st.booleans())
def test_holding_never_loses_requests_nor_shortens_ttft_much(c, ranks, timeout, wait, asy):
    base = _run_with(c, out=60, n=3 * c)
    kw = {"async_scheduling": True} if asy else {"adp_balance": _adp(ranks, timeout, wait)}
    held = _run_with(c, out=60, n=3 * c, **kw)
    assert held.requests == base.requests == 3 * c
    assert held.ttft_s > base.ttft_s - 0.01


def test_engine_records_name_their_schedulers():
    assert get_engine("vllm").async_scheduling and get_engine("trtllm").attention_dp_balance is not None
    assert get_engine("sglang").async_scheduling and get_engine("sglang").attention_dp_balance is None
    assert not get_engine("atom").async_scheduling
    # the idle engine's first step: vLLM and SGLang drain their queue, TensorRT-LLM takes the request that woke it
    assert get_engine("vllm").wake_takes_queue and get_engine("sglang").wake_takes_queue
    assert not get_engine("trtllm").wake_takes_queue
    with pytest.raises(ValueError):
        _run_with(4, recv_interval_steps=4, adp_balance=_adp(2, 50, 10))


def test_polling_with_async_scheduling_waits_at_least_as_long_as_either():
    """SGLang with a poll interval and its overlap scheduler: the poll sees what arrived before the
    step in flight started, so the wait is at least the poll's and at least the async step's."""
    poll = _run_with(8, out=400, n=120, recv_interval_steps=10)
    asy = _run_with(8, out=400, n=120, async_scheduling=True)
    both = _run_with(8, out=400, n=120, recv_interval_steps=10, async_scheduling=True)
    assert both.ttft_s > max(poll.ttft_s, asy.ttft_s) - 0.005
    assert both.requests == poll.requests == 120


def test_recipe_chunk_by_chip_and_format():
    from inferchip.spec.engine import RecipeChunk

    eng = EngineSpec(id="x", name="x", match=("x",), step_overhead_s=0, request_overhead_s=0, max_num_seqs=8,
                     chunk_tokens=512, recipe_chunk_tokens=(RecipeChunk(accelerator="b200", weights="fp4", tokens=2048),
                                                            RecipeChunk(accelerator="b200", tokens=4096)))
    assert eng.chunk_tokens_on("nvidia-b200-180gb", "fp4") == 2048
    assert eng.chunk_tokens_on("nvidia-b200-180gb", "fp8") == 4096
    assert eng.chunk_tokens_on("nvidia-h100-sxm-80gb", "fp4") == 512
    sgl = get_engine("sglang")
    assert sgl.chunk_tokens_on("amd-mi355x", "mxfp4") > sgl.chunk_tokens  # the AMD recipes' 196,608
    assert get_engine("vllm").chunk_tokens_on("nvidia-b200-180gb", "fp4") == get_engine("vllm").chunk_tokens


@settings(max_examples=40, deadline=None)
@given(st.booleans(), st.booleans(), st.sampled_from([1, 10]),
       st.lists(st.floats(min_value=0.0, max_value=0.011, allow_nan=False), min_size=1, max_size=6))
def test_every_arrival_inside_the_last_step_is_planned_at_its_end(ahead, wake, recv, offsets):
    """Invariant of the in-flight rule (``PollingReplica.enqueue``), whatever the engine's planning ahead, recv
    interval or ``wake_takes_queue``: after a lone 100-token prompt's step [0, 11 ms) leaves the engine idle, every
    prompt sent inside that step (strictly before its end) is first scheduled at 11 ms, all in one step."""
    rep = _after_a_lone_prompt(recv, ahead, wake)
    table = rep.table
    times = sorted(t for t in offsets if t < rep.clock_s)
    if not times:
        return
    rids = [table.add(t, 100, 1) for t in times]
    for rid, t in zip(rids, times, strict=True):
        rep.enqueue(rid, 100, 1, t)
    rep.run_until(1.0)
    assert {round(float(table.first_scheduled_s[r]), 9) for r in rids} == {0.011}
    assert list(rep.log["prefill_tokens"]) == [100, 100 * len(rids)]
