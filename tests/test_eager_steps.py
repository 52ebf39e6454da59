"""Steps an engine runs without CUDA graphs: which ones (eager_steps), what they cost (eager_step_time_s, the
host's launches overlapping the device's work), and the kernel count a step launches (kernels_per_step)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import tiny_moe
from inferchip.catalog.engines import get_engine
from inferchip.mapping.layout import Layout
from inferchip.mapping.sharding import shard
from inferchip.sim import LinearStepModel
from inferchip.sim.engines import EngineStepModel
from inferchip.sim.engines.engine_step import eager_step_time_s, eager_steps
from inferchip.spec.engine.workers import EagerSteps


def test_eager_step_by_hand():
    """500 launches of 7 us (3.5 ms) against a graphed step of 1 ms host + 9 ms device: the device is
    longer, the step is 1 + 9 + 0.007 ms; against 1 ms host + 2 ms device the launches set it, 1 + 3.5 ms."""
    t = eager_step_time_s(np.array([0.010, 0.003]), 0.001, 500, 7e-6)
    assert t == pytest.approx([0.010007, 0.0045])


def test_which_steps_run_eagerly():
    tokens, decodes = np.array([64, 2048, 2049, 3000]), np.array([64, 10, 0, 3000])
    assert eager_steps(tokens, decodes, 2048, True).tolist() == [False, False, True, True]
    # decode-only graphs (SGLang): any prompt token makes the step eager, whatever its size
    assert eager_steps(tokens, decodes, 0, False).tolist() == [False, True, True, False]
    assert not eager_steps(tokens, decodes, 0, True).any()


def _engine_step(eager: EagerSteps | None) -> EngineStepModel:
    inner = LinearStepModel(fixed_s=0.001, per_token_s=1e-6, per_kv_token_s=0.0, kv_capacity_tokens=1_000_000)
    return EngineStepModel(inner, 8, 512, eager=eager, kernels=1000, step_host_s=0.001)


def test_only_steps_above_the_capture_size_pay_the_launches():
    """Linear steps of 1 ms + 1 us per token; 1000 launches of 7 us = 7 ms. 1,000 tokens: graphed, 2 ms;
    3,000 tokens: 1 ms + max(3 ms, 7 ms) = 8 ms (+ one launch); 10,000 tokens: the device's 10 ms sets it."""
    eng = _engine_step(EagerSteps(graph_max_tokens=2048, kernel_host_s=7e-6))
    tokens = np.array([1000, 3000, 10000])
    t = eng.step_time_s(tokens, np.zeros(3, dtype=np.int64), np.zeros(3), np.zeros(3))
    assert t == pytest.approx([0.002, 0.008, 0.011007])


@given(tokens=st.integers(1, 16384), dec=st.integers(0, 512), host=st.floats(1e-6, 3e-5))
def test_an_eager_step_is_never_faster_and_never_shorter_than_its_launches(tokens, dec, host):
    dec = min(dec, tokens)
    args = (np.array([tokens]), np.array([dec]), np.array([dec * 1000.0]), np.array([0.0]))
    graphed = float(_engine_step(None).step_time_s(*args)[0])
    eager = float(_engine_step(EagerSteps(graph_prefill=False, kernel_host_s=host)).step_time_s(*args)[0])
    assert eager >= graphed * (1 - 1e-12)
    if tokens > dec:
        assert eager >= 0.001 + 1000 * host * (1 - 1e-12)
    else:
        assert eager == graphed


def test_kernels_per_step_by_hand():
    """tiny_moe, 2 layers: qkv, o, router, experts up and down (5 GEMMs), attention, 7 small kernels (4 for
    every layer, 3 for MoE routing) = 13 per layer, plus embedding and LM head: 28. Under TP2 each layer adds
    two all-reduces and the step the logit gather: 33."""
    assert shard(tiny_moe(), Layout(tp=1)).kernels_per_step() == 28
    assert shard(tiny_moe(), Layout(tp=2)).kernels_per_step() == 33


def test_vllm_record_runs_steps_above_the_recipes_capture_size_eagerly():
    e = get_engine("vllm").eager_steps
    assert e is not None and e.graph_max_tokens == 2048 and e.graph_prefill


def test_sglang_record_runs_every_prefill_step_eagerly():
    e = get_engine("sglang").eager_steps
    assert e is not None and e.graph_max_tokens == 0 and not e.graph_prefill
    assert get_engine("trtllm").eager_steps is None  # not modelled: its launch path was not read


def test_a_decode_batch_above_the_largest_graph_runs_eagerly():
    """SGLang's CudaGraphRunner.can_run admits a decode batch only up to its largest capture size: 300 decodes
    on one rank (graph_max_batch 256) run eagerly, 600 on two ranks (300 each) too, 400 on two (200 each) do not;
    without ``above_graph_batch`` (vLLM's record) none does."""
    tokens = np.array([256, 300, 600, 400])
    ranks = np.array([1, 1, 2, 2])
    per_rank = -(-tokens // ranks)
    assert eager_steps(tokens, tokens, 0, False, per_rank, 256).tolist() == [False, True, True, False]
    assert not eager_steps(tokens, tokens, 0, False, per_rank, 0).any()


def test_decode_steps_above_the_largest_graph_pay_the_launches():
    """Linear steps of 1 ms + 1 us per token with 1000 launches of 7 us: 256 decodes stay graphed (1.256 ms),
    300 run eagerly, 1 ms + max(0.3 ms, 7 ms) = 8 ms; MTP's drafts do not count as prompt tokens."""
    inner = LinearStepModel(fixed_s=0.001, per_token_s=1e-6, per_kv_token_s=0.0, kv_capacity_tokens=1_000_000)
    eng = EngineStepModel(inner, 8, 256, eager=EagerSteps(graph_prefill=False, above_graph_batch=True,
                                                          kernel_host_s=7e-6), kernels=1000, step_host_s=0.001)
    n = np.array([256, 300])
    assert eng.step_time_s(n, n, np.zeros(2), np.zeros(2)) == pytest.approx([0.001256, 0.008])
    mtp = EngineStepModel(inner, 8, 256, verify_tokens=1, eager=eng.eager, kernels=1000, step_host_s=0.001)
    assert mtp.step_time_s(n[:1], n[:1], np.zeros(1), np.zeros(1)) == pytest.approx([0.001 + 512e-6])


def test_sglang_record_runs_decode_batches_above_its_largest_graph_eagerly():
    e, v = get_engine("sglang").eager_steps, get_engine("vllm").eager_steps
    assert e is not None and e.above_graph_batch and v is not None and not v.above_graph_batch


def test_a_pipelined_worker_launches_every_micro_batch(h100):
    """A step of a pp-stage worker is pp micro-batches (MappedModel.replica_step_s), each paying the engine's host
    time and launching its stage's kernels on every chip: the eager rule sees pp times both."""
    from conftest import tiny_dense
    from inferchip.mapping.memory_fit import Formats
    from inferchip.performance.mapped import map_model
    from inferchip.spec.calibration import Calibration
    from inferchip.validation.closed_loop import EngineReplica

    engine = get_engine("sglang")
    mm = map_model(tiny_dense(layers=4), h100, Layout(pp=2), Formats(), Calibration(step_overhead_s=0.001))
    rep = EngineReplica(mm, engine, mtp=False)
    assert rep.step.kernels == 2 * mm.sm.kernels_per_step() and rep.step.step_host_s == pytest.approx(0.002)


class _Flat:
    """An inner step model of 2 ms for every step, even or uneven (step_time_busiest_s)."""

    kv_capacity_tokens = 1_000_000
    num_chips = 4

    def step_time_s(self, num_tokens, *_):
        return np.full(np.shape(num_tokens), 0.002)

    def step_time_busiest_s(self, *_):
        return 0.002


def test_the_token_cap_is_a_ranks_batch():
    """Each attention-DP rank captures its own graphs (vLLM: one engine core per rank), so the cap of 2,048 tokens
    is on a rank's tokens: 6,000 tokens on 4 ranks (1,500 each) stay graphed, 9,000 (2,250 each) do not; an uneven
    step with 2,100 prompt tokens on its busiest rank runs eagerly though its 4,000 tokens average 1,000. 1000
    launches of 7 us after 1 ms of host time: 1 + 7 ms."""
    eng = EngineStepModel(_Flat(), 8, 512, ranks=4, eager=EagerSteps(graph_max_tokens=2048, kernel_host_s=7e-6),
                          kernels=1000, step_host_s=0.001)
    t = eng.step_time_s(np.array([6000, 9000]), np.zeros(2, dtype=np.int64), np.zeros(2), np.zeros(2))
    assert t == pytest.approx([0.002, 0.008])
    assert eng.step_time_busiest_s(4000, 0, 0, 0, 2100.0) == pytest.approx(0.008)
    assert eng.step_time_busiest_s(4000, 0, 0, 0, 1000.0) == pytest.approx(0.002)


@pytest.mark.parametrize(("fragment", "worker"), [("dynamo-sglang-fp4-disagg", "sglang"),
                                                  ("dynamo-trt-fp4-disagg", "trtllm")])
def test_dynamo_workers_run_their_worker_engines_graphs(fragment, worker):
    """Dynamo's prefill and decode workers are SGLang or TensorRT-LLM servers (kernel_engine): their steps run
    that engine's graphs, so a Dynamo + SGLang prefill step runs without graphs as an SGLang one does."""
    from pathlib import Path

    from inferchip.catalog.calibration_file import load_calibration
    from inferchip.validation.cases import read_cases
    from inferchip.validation.closed_loop import row_facts
    from inferchip.validation.closed_loop_rows import _replica, with_prefill_scheduling
    from inferchip.validation.plan import case_formats
    from inferchip.validation.validate import Validator

    cases = Path(__file__).parents[1] / "src" / "inferchip" / "catalog" / "inferencemax_cases.csv"
    case = next(c for c in read_cases(cases) if fragment in c.case_id and c.metric == "ttft_ms")
    fmt = case_formats(case)[0]
    facts = with_prefill_scheduling(case, fmt.weights, row_facts(case))
    v = Validator(load_calibration(None), server_model="sim", compare=False)
    for w in (facts.prefill, facts.decode):
        rep, _, _ = _replica(v, case, fmt, w, facts)
        assert rep.engine.id == "dynamo" and rep.step.eager == get_engine(worker).eager_steps
