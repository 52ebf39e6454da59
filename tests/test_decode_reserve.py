"""SGLang's disaggregated decode workers keep ``R`` tokens free per request they hold before they reserve a new
prompt's pages (engine field ``decode_reserve``; SGLang ``DecodePreallocQueue``: ``allocatable = free - R x held``,
a request needs ``prompt + R`` and takes it, oldest first, stopping at the first that does not fit). By hand:
the admission count of one worker, and a closed loop whose decode KV binds: the reservation keeps the decode
batch within what the rule allows, so no decode sequence is preempted and TPOT falls, while TTFT carries the wait."""

from __future__ import annotations

import pytest

from inferchip.catalog.engines import get_engine
from inferchip.sim import LinearStepModel, SchedulerConfig
from inferchip.sim.engines.bench import closed_loop_disagg_run
from inferchip.sim.engines.polling import DeliveringDecodeReplica
from inferchip.sim.lengths import FixedLength
from inferchip.sim.request import RequestTable
from inferchip.sim.steptime import StepTimer
from inferchip.spec.engine import DecodeReserve, EngineSpec

SGL = "NVIDIA Dynamo + SGLang, PD-disaggregated; lmsysorg/sglang:v0.5.5.post2"
TRT = "NVIDIA Dynamo + TensorRT-LLM, PD-disaggregated; nvcr.io#nvidia/ai-dynamo/tensorrtllm-runtime:0.5.1-rc0.pre3"


def _engine(*entries: DecodeReserve) -> EngineSpec:
    return EngineSpec(id="x", name="x", match=("x",), step_overhead_s=0, request_overhead_s=0, max_num_seqs=64,
                      chunk_tokens=4096, decode_reserve=entries)


def test_entry_matching_first_match_and_default():
    eng = _engine(DecodeReserve(software="sglang", tokens=512), DecodeReserve(software="dynamo", tokens=7))
    assert eng.decode_reserve_on(SGL) == 512  # first match wins over the later "dynamo" entry
    assert eng.decode_reserve_on(TRT) == 7
    assert eng.decode_reserve_on("vLLM") == 0
    assert _engine().decode_reserve_on(SGL) == 0
    with pytest.raises(ValueError):
        DecodeReserve(software="SGLang", tokens=512)
    with pytest.raises(ValueError):
        DecodeReserve(software="sglang", tokens=-1)


def test_shipped_records_reserve_for_sglang_decode_workers_only():
    assert get_engine("dynamo").decode_reserve_on(SGL) == 512  # SGLANG_NUM_RESERVED_DECODE_TOKENS default
    assert get_engine("dynamo").decode_reserve_on(TRT) == 0
    assert get_engine("sglang").decode_reserve_on("SGLang; PD-disaggregated") == 512


def _worker(capacity_tokens: int, reserve: int) -> DeliveringDecodeReplica:
    model = LinearStepModel(fixed_s=0.01, per_token_s=0.0, per_kv_token_s=0.0, kv_capacity_tokens=capacity_tokens)
    cfg = SchedulerConfig(max_num_seqs=256, max_num_batched_tokens=8192, block_size_tokens=16)
    return DeliveringDecodeReplica(0, StepTimer(model), cfg, capacity_tokens, RequestTable(), reserve_tokens=reserve)


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
