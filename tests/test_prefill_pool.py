"""A disaggregated row's prefill workers hold at most the launch recipe's ``--max-total-tokens`` of KV per rank
(engine field ``prefill_worker_scheduling``, ``max_total_tokens``; SGLang frees a prompt's pages after its transfer:
``disaggregation/prefill.py``). By hand: the shipped record, the pool a capped replica gets, and the prefill steps
of a burst of prompts that the capped pool holds three at a time."""

from __future__ import annotations

import math

import numpy as np
import pytest

from inferchip.catalog.engines import get_engine
from inferchip.sim import LinearStepModel, SchedulerConfig
from inferchip.sim.batching.replica import Replica
from inferchip.sim.engines.bench import capped_pool
from inferchip.sim.results.request import RequestTable
from inferchip.sim.step.steptime import StepTimer
from inferchip.spec.engine import EngineSpec
from inferchip.spec.engine.workers import WorkerScheduling

SGL = "NVIDIA Dynamo + SGLang, PD-disaggregated; lmsysorg/sglang:v0.5.5.post2"
TRT = "NVIDIA Dynamo + TensorRT-LLM, PD-disaggregated; nvcr.io#nvidia/ai-dynamo/tensorrtllm-runtime:0.5.1-rc0.pre3"


def _pool_tokens(eng: EngineSpec, software: str, weights: str = "", workers: int = 0) -> int:
    """The prefill rank's pool as the closed-loop run reads it (validation/closed_loop.py): the matching entry's
    ``max_total_tokens``, 0 (the memory fit's pool) where none matches or it sets none."""
    w = eng.prefill_worker(software, weights, workers)
    return 0 if w is None else w.max_total_tokens


def test_shipped_record_and_default():
    dyn = get_engine("dynamo")
    assert _pool_tokens(dyn, SGL, "fp8", 1) == 8192  # 1p_4d.sh: --max-total-tokens 8192
    assert _pool_tokens(dyn, SGL, "fp8", 10) == 0  # max-throughput recipes: 524288, not capped
    assert _pool_tokens(dyn, SGL, "fp4", 1) == 0  # the low-latency recipes' 8192 / 32768 not stated
    assert dyn.prefill_async_on(SGL, "fp8", 1) is dyn.prefill_async_on(SGL, "fp4", 10) is True
    assert _pool_tokens(dyn, TRT, "fp8", 1) == 0
    eng = EngineSpec(id="x", name="x", match=("x",), step_overhead_s=0, request_overhead_s=0, max_num_seqs=64,
                     chunk_tokens=4096, prefill_worker_scheduling=(WorkerScheduling(software="sglang",
                                                                                    async_scheduling=True),))
    assert _pool_tokens(eng, SGL) == 0
    with pytest.raises(ValueError):
        WorkerScheduling(software="sglang", async_scheduling=True, max_total_tokens=-1)


@pytest.mark.parametrize(("cap", "fit", "blocks"), [(3072, 10_000, 192), (3072, 2048, 128), (0, 2048, 128)])
def test_capped_replica_gets_the_smaller_pool(cap: int, fit: int, blocks: int):
    model = LinearStepModel(fixed_s=0.01, per_token_s=0.0, per_kv_token_s=0.0, kv_capacity_tokens=fit)
    make = capped_pool(None, cap)
    assert (make is None) == (cap == 0)
    rep = (make or Replica)(0, StepTimer(model), SchedulerConfig(block_size_tokens=16), fit, RequestTable())
    assert rep.pool.total_blocks == blocks  # min(cap, fit) // 16


@pytest.mark.parametrize(("cap", "steps", "most"), [(3072, 4, 3000), (0, 2, 8192)])
def test_burst_is_prefilled_as_many_as_the_pool_holds(cap: int, steps: int, most: int):
    """Ten 1,000-token prompts (one output token: the prefill worker's part) under an 8,192-token step budget: a
    prompt holds 63 blocks of 16 (1,001 tokens), so a 3,072-token pool takes 3 per step (4 x 1,008 > 3,072) and the
    burst takes ceil(10 / 3) = 4 steps of at most 3,000 tokens; uncapped: the full 8,192-token budget (the ninth
    prompt chunked), 2 steps."""
    model = LinearStepModel(fixed_s=0.01, per_token_s=0.0, per_kv_token_s=0.0, kv_capacity_tokens=10_000_000)
    table = RequestTable()
    rep = (capped_pool(None, cap) or Replica)(0, StepTimer(model), SchedulerConfig(max_num_batched_tokens=8192),
                                              10_000_000, table)
    for _ in range(10):
        rep.enqueue(table.add(0.0, 1000, 1), 1000, 1, 0.0)
    rep.run_until(math.inf)
    prefill = np.frombuffer(rep.log["prefill_tokens"], dtype=np.int64)
    prefill = prefill[prefill > 0]
    assert prefill.size == steps
    assert prefill.max() == most
    assert prefill.sum() == 10_000


def test_a_cap_too_small_for_the_rows_prompts_names_the_engine_field(monkeypatch):
    """A ``max_total_tokens`` whose pool (x the attention-DP ranks) cannot hold the row's longest prompt is refused
    naming the catalogue file, the engine field and its value, not only as a replica whose KV never fits: an 8k/1k
    FP8 Dynamo + SGLang row (4 ranks) under a cap of 1,024 per rank (4,096 tokens against 8,192-token prompts)."""
    from pathlib import Path

    from inferchip.catalog.calibration_file import load_calibration
    from inferchip.validation.cases import read_cases
    from inferchip.validation.validate import Validator

    cases = Path(__file__).resolve().parents[1] / "src" / "inferchip" / "catalog" / "inferencemax_cases.csv"
    cid = "imax-dsr1-gb200-dynamo-sglang-fp8-disagg-p4x1e1dpa-d4x1e1dpa-8192-1024-c4-r20321908209-ttft"
    case = next(c for c in read_cases(str(cases)) if c.case_id == cid)
    capped = WorkerScheduling(software="sglang", async_scheduling=True, max_total_tokens=1024, router="random")
    monkeypatch.setattr(EngineSpec, "prefill_worker", lambda self, *a: capped)
    res = Validator(load_calibration(), server_model="sim").predict_case(case)
    assert res.status == "invalid_setting"
    for part in ("catalog/engines.yaml", "prefill_worker_scheduling", "max_total_tokens = 1024", "8192"):
        assert part in res.reason, res.reason
