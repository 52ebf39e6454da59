"""A disaggregated row's prefill workers run the scheduler of the engine its ``software`` names (engine
field ``prefill_worker_scheduling``): Dynamo + SGLang prefill workers plan their next batch while one runs
(SGLang's overlap scheduler), Dynamo + TensorRT-LLM context servers do not (``disable_overlap_scheduler``).
What planning ahead does to a prefill worker: a prompt that arrives during step ``k`` is first run in step
``k + 2`` when step ``k + 1`` was already formed, but a worker whose step ``k`` finishes every prompt it holds formed
no step ``k + 1`` and takes everything that came during ``k`` when ``k`` ends (SGLang
``event_loop_overlap_disagg_prefill``), as a worker without planning ahead does."""

from __future__ import annotations

import pytest

from inferchip.catalog.engines import get_engine
from inferchip.sim import LinearStepModel, SchedulerConfig
from inferchip.sim.engines.bench import closed_loop_disagg_run
from inferchip.sim.load.lengths import FixedLength, UniformLength
from inferchip.spec.engine import EngineSpec, WorkerScheduling

SGL = "NVIDIA Dynamo + SGLang, PD-disaggregated; lmsysorg/sglang:v0.5.5.post2"
TRT = "NVIDIA Dynamo + TensorRT-LLM, PD-disaggregated; nvcr.io#nvidia/ai-dynamo/tensorrtllm-runtime:0.5.1-rc0.pre3"


def _engine(async_scheduling: bool, *entries: WorkerScheduling) -> EngineSpec:
    return EngineSpec(id="x", name="x", match=("x",), step_overhead_s=0, request_overhead_s=0, max_num_seqs=64,
                      chunk_tokens=4096, async_scheduling=async_scheduling, prefill_worker_scheduling=entries)


def test_entry_matching_first_match_and_fallback():
    eng = _engine(False, WorkerScheduling(software="sglang", async_scheduling=True),
                  WorkerScheduling(software="dynamo", async_scheduling=False))
    assert eng.prefill_async_on(SGL) is True  # first match wins over the later "dynamo" entry
    assert eng.prefill_async_on(TRT) is False
    assert eng.prefill_async_on("vLLM") is False  # no entry: the engine's own async_scheduling
    assert _engine(True).prefill_async_on("anything") is True


def test_worker_fragment_must_be_lower_case_text():
    with pytest.raises(ValueError):
        WorkerScheduling(software="SGLang", async_scheduling=True)
    with pytest.raises(ValueError):
        WorkerScheduling(software="", async_scheduling=True)


def test_shipped_dynamo_record_follows_its_workers():
    dyn = get_engine("dynamo")
    assert dyn.prefill_async_on(SGL) is True
    assert dyn.prefill_async_on(TRT) is False
    assert dyn.async_scheduling is False  # rows naming neither worker keep the record's own setting
    sgl = get_engine("sglang")  # SGLang PD rows (their own engine) keep SGLang's overlap scheduler
    assert sgl.prefill_async_on("SGLang; PD-disaggregated") is sgl.async_scheduling is True


def _busy_prefill(async_scheduling: bool):
    """One prefill worker whose step lasts 0.1 s whatever it holds, decodes of 80-100 steps of 10 ms
    (uniform, so the clients' sends fall anywhere in a prefill step): 50 clients send about 45 prompts
    per second, so every prefill step has new prompts waiting."""
    pre = LinearStepModel(fixed_s=0.1, per_token_s=0.0, per_kv_token_s=0.0, kv_capacity_tokens=10_000_000)
    dec = LinearStepModel(fixed_s=0.010, per_token_s=0.0, per_kv_token_s=0.0, kv_capacity_tokens=10_000_000)
    out = UniformLength(mean_tokens=91, spread_tokens=10)
    return closed_loop_disagg_run(pre, dec, 50, FixedLength(tokens=100), out,
                                  SchedulerConfig(max_num_seqs=64, max_num_batched_tokens=8192),
                                  SchedulerConfig(max_num_seqs=256, max_num_batched_tokens=8192),
                                  num_requests=1000, seed=0, prefill_replicas=1, decode_replicas=1,
                                  kv_bytes_per_token=1.0, link_bytes_per_s=1e12, link_latency_s=0.0,
                                  async_scheduling=async_scheduling)


def test_planning_ahead_costs_a_worker_that_empties_every_step_nothing():
    """By hand: a prompt waits the rest of the step it arrived in (0.05 s on average), its own step (0.1 s) and
    the decode worker's first step (0.01 s): about 0.16 s, with or without planning ahead. Every prompt fits one
    step, so the step planned while step ``k`` runs is empty (nothing had arrived at its start but what ``k``
    took); SGLang's overlap loop, finding no batch to launch, waits for ``k``'s result, then receives everything
    that came meanwhile and launches it at once (sgl-project/sglang ``disaggregation/prefill.py``
    ``event_loop_overlap_disagg_prefill``). The simulator had the second and later of those arrivals wait a step
    more (about 0.26 s) until branch sim-intake."""
    sync, ahead = _busy_prefill(False), _busy_prefill(True)
    assert sync.ttft_s == pytest.approx(0.16, rel=0.25)
    assert ahead.ttft_s == pytest.approx(sync.ttft_s, abs=0.01)
    assert ahead.tpot_s == pytest.approx(sync.tpot_s, rel=0.01)


@pytest.mark.parametrize("async_scheduling", [False, True])
def test_prefill_workers_that_take_only_the_waking_prompt_split_the_first_wave(async_scheduling):
    """``closed_loop_disagg_run(wake_takes_queue=False)`` reaches the prefill workers, with or without planning
    ahead (the Dynamo + TensorRT-LLM context servers run without it). By hand, four clients sending 100-token
    prompts (2 output tokens) at 0 to one prefill worker whose step lasts 0.1 s and a decode worker of 10 ms steps:
    a worker draining its queue prefills all four in one step, TTFT 0.1 + 0.01 = 0.11 s each; TensorRT-LLM's idle
    fetch returns the waking prompt alone, the other three run in the second step, mean TTFT
    (0.11 + 3 x 0.21) / 4 = 0.185 s, in four prefill and decode steps instead of two."""
    pre = LinearStepModel(fixed_s=0.1, per_token_s=0.0, per_kv_token_s=0.0, kv_capacity_tokens=10_000_000)
    dec = LinearStepModel(fixed_s=0.010, per_token_s=0.0, per_kv_token_s=0.0, kv_capacity_tokens=10_000_000)

    def run(wake: bool):
        return closed_loop_disagg_run(pre, dec, 4, FixedLength(tokens=100), FixedLength(tokens=2),
                                      SchedulerConfig(max_num_seqs=64, max_num_batched_tokens=8192),
                                      SchedulerConfig(max_num_seqs=256, max_num_batched_tokens=8192),
                                      num_requests=4, seed=0, prefill_replicas=1, decode_replicas=1,
                                      kv_bytes_per_token=1.0, link_bytes_per_s=1e12, link_latency_s=0.0,
                                      async_scheduling=async_scheduling, wake_takes_queue=wake)

    drain, alone = run(True), run(False)
    assert drain.ttft_s == pytest.approx(0.11, abs=1e-6) and drain.steps == 2
    assert alone.ttft_s == pytest.approx(0.185, abs=1e-6) and alone.steps == 4


AMD_PD = "SGLang PD-disaggregated (AMD); rocm/sgl-dev:sglang-0.5.6.post1-rocm700-mi35x-mori-1224"


def test_shipped_sglang_pd_launcher_pins_prompts_to_random_prefill_ranks():
    """The MI355X SGLang PD launcher's MiniLB draws every request's bootstrap_room at random and SGLang's PD
    ``round_robin`` sends it to rank ``room % dp`` (engines.yaml, sglang record's sources): its rows' prefill
    workers pin prompts to random ranks; no other SGLang row reaches the entry."""
    sgl = get_engine("sglang")
    w = sgl.prefill_worker(AMD_PD, "fp8", 1, 8192)
    assert w is not None and (w.dp_rank, w.router, w.async_scheduling) == ("random", "random", True)
    assert sgl.prefill_worker(AMD_PD, "fp8", 1, 1024) == w  # every length, weights and worker count
    for other in ("SGLang; PD-disaggregated", "SGLang 0.5.6.post1", SGL):
        assert sgl.prefill_worker(other, "fp8", 1, 1024) is None
    assert sgl.prefill_async_on(AMD_PD) is sgl.async_scheduling is True  # planning ahead unchanged



def test_amd_pd_row_states_random_prefill_ranks():
    """One MI355X PD 8k/1k attention-DP TTFT row, simulated: its notes name the random prefill ranks."""
    from conftest import shipped_case
    from inferchip.catalog.calibration_file import load_calibration
    from inferchip.validation.validate import validate_cases

    case = shipped_case("-sglang-disagg-fp8-disagg-p8x1e8dpa-d16x1e8dpa-8192-1024-c256-r20832485469-ttft")
    (res,) = validate_cases([case], load_calibration(), server_model="sim", compare=False)
    assert res.status == "ok"
    assert any("picked random; DP ranks random" in n for n in res.notes)
