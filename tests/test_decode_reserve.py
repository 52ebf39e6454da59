"""SGLang's disaggregated decode workers (engine field ``decode_worker``) keep ``R`` tokens free per request they
hold before they reserve a new prompt's pages (SGLang ``DecodePreallocQueue``: ``allocatable = free - R x held``, a
request needs ``prompt + R`` and takes it, oldest first, stopping at the first that does not fit), and a busy one
takes new requests only every ``N`` decode steps (``--scheduler-recv-interval``). By hand: the admission count of one
worker, the step at which a busy worker takes an arrival, and a closed loop whose decode KV binds: the reservation
keeps the decode batch within what the rule allows, fewer sequences are preempted and TPOT falls, while TTFT
carries the wait."""

from __future__ import annotations

import pytest

from inferchip.catalog.engines import get_engine
from inferchip.sim import LinearStepModel, SchedulerConfig
from inferchip.sim.engines.bench import closed_loop_disagg_run
from inferchip.sim.engines.polling import DeliveringDecodeReplica
from inferchip.sim.load.lengths import FixedLength
from inferchip.sim.results.request import RequestTable
from inferchip.sim.step.steptime import StepTimer
from inferchip.spec.engine import DecodeWorker, EngineSpec

SGL = "NVIDIA Dynamo + SGLang, PD-disaggregated; lmsysorg/sglang:v0.5.5.post2"
TRT = "NVIDIA Dynamo + TensorRT-LLM, PD-disaggregated; nvcr.io#nvidia/ai-dynamo/tensorrtllm-runtime:0.5.1-rc0.pre3"


def _engine(*entries: DecodeWorker) -> EngineSpec:
    return EngineSpec(id="x", name="x", match=("x",), step_overhead_s=0, request_overhead_s=0, max_num_seqs=64,
                      chunk_tokens=4096, decode_worker=entries)


def test_entry_matching_first_match_and_default():
    eng = _engine(DecodeWorker(software="sglang", reserve_tokens=512, recv_interval_steps=10),
                  DecodeWorker(software="dynamo", reserve_tokens=7))
    assert eng.decode_worker_on(SGL) == DecodeWorker(software="sglang", reserve_tokens=512, recv_interval_steps=10)
    assert eng.decode_worker_on(TRT).reserve_tokens == 7  # the later "dynamo" entry
    assert eng.decode_worker_on(TRT).recv_interval_steps == 1
    none = _engine().decode_worker_on(SGL)
    assert (none.reserve_tokens, none.recv_interval_steps) == (0, 1)
    with pytest.raises(ValueError):
        DecodeWorker(software="SGLang", reserve_tokens=512)
    with pytest.raises(ValueError):
        DecodeWorker(software="sglang", reserve_tokens=-1)
    with pytest.raises(ValueError):
        DecodeWorker(software="sglang", recv_interval_steps=0)


def test_shipped_records_follow_the_decode_workers():
    dyn = get_engine("dynamo")
    assert dyn.decode_worker_on(SGL).reserve_tokens == 512  # SGLANG_NUM_RESERVED_DECODE_TOKENS default
    assert dyn.decode_worker_on(SGL).recv_interval_steps == 10  # --scheduler-recv-interval 10 of the launch scripts
    assert (dyn.decode_worker_on(TRT).reserve_tokens, dyn.decode_worker_on(TRT).recv_interval_steps) == (0, 1)
    assert get_engine("sglang").decode_worker_on("SGLang; PD-disaggregated").reserve_tokens == 512


def _worker(capacity_tokens: int, reserve: int, recv: int = 1) -> DeliveringDecodeReplica:
    model = LinearStepModel(fixed_s=0.01, per_token_s=0.0, per_kv_token_s=0.0, kv_capacity_tokens=capacity_tokens)
    cfg = SchedulerConfig(max_num_seqs=256, max_num_batched_tokens=8192, block_size_tokens=16)
    return DeliveringDecodeReplica(0, StepTimer(model), cfg, capacity_tokens, RequestTable(), reserve_tokens=reserve,
                                   recv_interval_steps=recv)


@pytest.mark.parametrize("recv", [1, 4, 10])
def test_busy_worker_takes_an_arrival_at_the_next_poll(recv: int):
    """A worker decoding one long request (10 ms steps): an arrival after step 13 is taken by the first step
    whose index is a multiple of ``recv`` (every step for 1): step 13 for 1, 16 for 4, 20 for 10; the first
    token goes out at the end of that step."""
    rep = _worker(1_000_000, 0, recv)
    rid = rep.table.add(0.0, 100, 10_000)
    rep.enqueue_prefilled(rid, 100, 10_000, 0.0, 0.0)
    rep.run_until(0.125)  # steps 0..12 start before 0.125 s
    assert rep.k == 13
    new = rep.table.add(rep.clock_s, 100, 50)
    rep.enqueue_prefilled(new, 100, 50, rep.clock_s, rep.clock_s)
    rep.table.first_token_s[new] = rep.clock_s  # the prefill worker's token (the pool's simulation sets it)
    taken = {1: 13, 4: 16, 10: 20}[recv]
    rep.run_until(0.01 * taken + 0.001)
    assert rep.table.first_token_s[new] == pytest.approx(0.01 * (taken + 1))


@pytest.mark.parametrize("reserve, expected", [(0, 10), (512, 6), (1000, 5)])
def test_admission_count_by_hand(reserve: int, expected: int):
    """10,000 free tokens (625 blocks of 16), ten arrived 1,000-token prompts: each takes 1,000 + R, so
    floor(10,000 / (1,000 + R)) of them: 10 with R = 0, 6 with 512, 5 with 1,000."""
    rep = _worker(10_000, reserve)
    for _ in range(10):
        rid = rep.table.add(0.0, 1000, 50)
        rep.enqueue_prefilled(rid, 1000, 50, 0.0, 0.0)
    assert rep.reserve_admissible() == expected


def test_running_requests_take_their_reserve():
    """Two requests already decoding hold 2 x 1,008 tokens (63 blocks each, prompt + first token rounded up) and
    reserve 2 x 512: of 10,000 tokens, 10,000 - 2,016 - 1,024 = 6,960 are allocatable, so four more prompts
    of 1,000 + 512 (6,048) fit and a fifth (7,560) does not."""
    rep = _worker(10_000, 512)
    for _ in range(2):
        rid = rep.table.add(0.0, 1000, 50)
        rep.enqueue_prefilled(rid, 1000, 50, 0.0, 0.0)
    rep.run_until(0.0, min_steps=1)  # one step takes both in
    assert rep.n_running == 2 and not rep.swapped
    for _ in range(6):
        rid = rep.table.add(0.0, 1000, 50)
        rep.enqueue_prefilled(rid, 1000, 50, 0.0, 0.0)
    free = (rep.pool.total_blocks - rep.pool.used_blocks) * rep.B
    assert free == 10_000 - 2 * 63 * 16
    assert rep.reserve_admissible() == 4


def _tight_decode(reserve: int):
    """A fast prefill worker feeding one decode worker whose 40,000-token KV holds the prompts (1,000) and
    outputs (1,000) of 20 requests, with 40 clients: without the reservation the decode worker takes every
    arrived prompt and preempts (recomputes) sequences as they grow."""
    pre = LinearStepModel(fixed_s=0.02, per_token_s=0.0, per_kv_token_s=0.0, kv_capacity_tokens=10_000_000)
    dec = LinearStepModel(fixed_s=0.010, per_token_s=0.0, per_kv_token_s=0.0, kv_capacity_tokens=40_000)
    return closed_loop_disagg_run(pre, dec, 40, FixedLength(tokens=1000), FixedLength(tokens=1000),
                                  SchedulerConfig(max_num_seqs=64, max_num_batched_tokens=8192),
                                  SchedulerConfig(max_num_seqs=256, max_num_batched_tokens=8192),
                                  num_requests=200, seed=1, prefill_replicas=1, decode_replicas=1,
                                  kv_bytes_per_token=1.0, link_bytes_per_s=1e12, link_latency_s=0.0,
                                  decode_reserve_tokens=reserve)


def test_reservation_moves_the_wait_from_decode_to_ttft():
    free, held = _tight_decode(0), _tight_decode(512)
    # the reservation admits at most 40,000 / 1,512 = 26 prompts while nothing runs, fewer as they grow
    assert held.tpot_s < free.tpot_s  # fewer preempted and recomputed decode sequences
    assert held.ttft_s > free.ttft_s  # the requests wait before their first token instead
