"""Prefill chunks on attention-DP ranks (sim/scheduler.busiest_rank_prefill): a prompt runs whole on one rank, the step
lasts as long as the busiest rank, and the replica prices its steps so."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inferchip.catalog.engines import get_engine
from inferchip.sim import LinearStepModel, SchedulerConfig
from inferchip.sim.batching.replica import Replica
from inferchip.sim.batching.scheduler import busiest_rank_prefill
from inferchip.sim.results.request import RequestTable
from inferchip.sim.step.steptime import StepTimer


def _pairs(c: int, d: int = 0) -> int:
    return c * d + c * (c + 1) // 2


def test_one_prompt_runs_on_one_rank():
    # one 8,192-token prompt on a 4-rank worker: the busiest rank holds all of it, so the worker is priced
    # as if every rank held one (4 x 8,192 tokens), not 2,048 each
    assert busiest_rank_prefill([(8192, 0)], 4) == (4 * 8192, 4 * _pairs(8192))


def test_one_prompt_per_rank_is_the_even_spread():
    assert busiest_rank_prefill([(8192, 0)] * 4, 4) == (4 * 8192, 4 * _pairs(8192))
    assert busiest_rank_prefill([(1000, 0), (1000, 0)], 2) == (2000, 2 * _pairs(1000))


def test_chunks_fill_the_least_loaded_rank_longest_first():
    # 1,000 + 500 + 500 tokens on 2 ranks: 1,000 on one, 500 + 500 on the other: busiest 1,000
    tokens, pairs = busiest_rank_prefill([(500, 0), (1000, 0), (500, 0)], 2)
    assert tokens == 2 * 1000
    assert pairs == 2 * _pairs(1000)
    # a continued chunk counts its pairs against its cached tokens
    assert busiest_rank_prefill([(100, 300)], 2) == (200, 2 * _pairs(100, 300))


def test_one_rank_is_the_plain_sum():
    assert busiest_rank_prefill([(100, 50), (30, 0)], 1) == (130, _pairs(100, 50) + _pairs(30))
    assert busiest_rank_prefill([], 4) == (0, 0)


def test_a_rank_takes_no_more_than_its_budget():
    # nine chunks on 8 ranks of 8,192 tokens each: the ninth would double one rank; its own budget
    # caps it (the engine chunks per rank), pairs scaled with the tokens
    chunks = [(7000, 0)] * 8 + [(6000, 0)]
    tokens, pairs = busiest_rank_prefill(chunks, 8, rank_budget=8192)
    assert tokens == 8 * 8192
    assert pairs == 8 * int((_pairs(7000) + _pairs(6000)) * 8192 / 13000)
    # an even spread above the budget stays the even spread
    assert busiest_rank_prefill([(9000, 0)] * 2, 2, rank_budget=4096)[0] == 18000


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 9000), st.integers(0, 9000)), min_size=1, max_size=40),
       st.integers(1, 16), st.integers(0, 20000))
def test_never_below_the_even_spread_nor_above_all_on_one_rank(chunks, ranks, budget):
    tokens, pairs = busiest_rank_prefill(chunks, ranks, budget)
    total = sum(c for c, _ in chunks)
    total_pairs = sum(_pairs(c, d) for c, d in chunks)
    assert tokens >= total  # the busiest rank holds at least its even share
    # longest-first on the least loaded rank: the busiest holds at most the even share plus one chunk, and
    # never more than a rank's budget (or the even share where that is more)
    largest = max(c for c, _ in chunks)
    even = -(-total // ranks)
    assert tokens <= ranks * (even + largest)
    if budget > 0 and ranks > 1:
        assert tokens <= ranks * max(budget, even)
    assert pairs <= ranks * total_pairs
    if ranks == 1:
        assert (tokens, pairs) == (total, total_pairs)


@dataclass(frozen=True)
class _RankedStep(LinearStepModel):
    ranks: int = 1


def _one_prompt_step_s(ranks: int) -> float:
    model = _RankedStep(per_token_s=1e-5, per_attn_pair_s=1e-9, ranks=ranks)
    rep = Replica(0, StepTimer(model, exact=True), SchedulerConfig(max_num_batched_tokens=8192 * max(ranks, 1)),
                  1_000_000, RequestTable())
    rid = rep.table.add(0.0, 4096, 2)
    rep.enqueue(rid, 4096, 2, 0.0)
    rep._step([])
    return float(rep.log["duration_s"][0])


def test_replica_prices_a_lone_prompt_on_its_rank():
    one = _one_prompt_step_s(1)
    four = _one_prompt_step_s(4)
    # by hand: 4,096 tokens and 4,096 x 4,097 / 2 pairs on one chip of four, the worker priced as four such
    expect = 4 * (1e-5 * 4096 + 1e-9 * (4096 * 4097 // 2))
    assert np.isclose(four, expect, rtol=1e-9)
    assert np.isclose(one, expect / 4, rtol=1e-9)


def test_step_points_take_the_busiest_chips_prefill_apart_from_the_experts_tokens():
    from inferchip.cost.step import replica_point, step_points

    # 8,192 prefill tokens and 16 decodes on 4 attention-DP chips, the prompt whole on one chip
    even = step_points(4, 8192 + 16, 16, 16_000, 4 * 1000.0)
    lone = step_points(4, 8192 + 16, 16, 16_000, 4 * 1000.0, prefill_chip=8192.0)
    # the routed experts serve every token
    assert float(even.all_tokens.item()) == float(lone.all_tokens.item()) == 8208.0
    assert float(even.tokens.item()) == 4 + 8192 / 4  # 16 decodes over 4 chips, a quarter of the prompt
    assert float(lone.tokens.item()) == 4 + 8192  # the busiest chip holds the whole prompt
    assert float(lone.prefill_pairs.item()) == 1000.0  # pairs are passed for the busiest chip times dp
    # the scalar form agrees
    t, t_all, _, t_pre, _, pairs, _ = replica_point(4, 8208.0, 16.0, 16_000.0, 4000.0, None, 8192.0)
    assert (t, t_all, t_pre, pairs) == (4 + 8192, 8208.0, 8192.0, 1000.0)
    # one chip: no attention DP, nothing to place
    assert float(step_points(1, 100, 0, 0, 50, prefill_chip=30.0).tokens.item()) == 100.0


def test_a_lone_prompt_on_a_real_worker_costs_between_the_even_spread_and_every_rank_as_busy():
    """DeepSeek-R1 FP8 on 8 GB200 with attention DP: one 8,192-token prompt on one rank costs more than the
    even spread (a 1/8 share each) and less than every rank holding such a prompt (the routed experts then
    serve 8x the tokens)."""
    from inferchip.performance.serving import serving_model
    from inferchip.sim.engines import EngineStepModel

    step, _ = serving_model("nvidia-gb200-186gb", "deepseek-ai/DeepSeek-R1", count=8, tp=8, ep=8, weights="fp8",
                            attn_dp=True)
    eng = EngineStepModel(step, ranks=8)
    pairs = 8192 * 8193 // 2
    even = float(eng.step_time_s(np.array([8192]), np.array([0]), np.array([0]), np.array([pairs]))[0])
    every = float(eng.step_time_s(np.array([8 * 8192]), np.array([0]), np.array([0]), np.array([8 * pairs]))[0])
    lone = eng.step_time_busiest_s(8192, 0, 0, 8 * pairs, 8192.0)
    assert lone is not None
    assert 2 * even < lone < every
    # a plain step model cannot take the busiest rank apart: the replica falls back to every rank as busy
    assert EngineStepModel(LinearStepModel(), ranks=8).step_time_busiest_s(8192, 0, 0, pairs, 8192.0) is None


# ------------------------------------------------------------------ the page's server rows (validation/server.py)
def _spy_busiest(monkeypatch) -> list[tuple]:
    """Record every call of ServingStepModel.step_time_busiest_s (the replica's busiest-rank pricing)."""
    from inferchip.performance.serving import ServingStepModel

    calls: list[tuple] = []
    orig = ServingStepModel.step_time_busiest_s

    def spy(self, *args):
        calls.append(args)
        return orig(self, *args)

    monkeypatch.setattr(ServingStepModel, "step_time_busiest_s", spy)
    return calls


def test_an_attention_dp_server_row_prices_a_lone_prompt_at_its_busiest_rank(monkeypatch):
    """DeepSeek-R1 FP8 on 8 GB200 with attention DP, a server row at a stated low rate: every prompt arrives
    alone, runs whole on one of the 8 ranks, and its first token comes one busiest-rank step later; with the
    ranks withheld (ServingStepModel.ranks 1, the even spread the page used before) it comes sooner."""
    from conftest import server_case
    from inferchip.performance.serving import serving_model
    from inferchip.spec.calibration import DatasetLengths
    from inferchip.validation import server as vs
    from inferchip.validation import stated_engine as se
    from inferchip.validation.plan import operating_point, plan_for

    step, _ = serving_model("nvidia-gb200-186gb", "deepseek-ai/DeepSeek-R1", count=8, tp=8, ep=8, weights="fp8",
                            attn_dp=True)
    lay = step.mm.layout
    c = server_case("online serving benchmark: 3 requests; request rate 0.01; max_num_tokens 8192",
                    input_tokens="4096", output_tokens="2", num_accelerators="8")
    plan = plan_for(c, DatasetLengths())
    analytic = operating_point(step.mm, plan, lay.replicas)
    calls = _spy_busiest(monkeypatch)
    sim = vs.ReplicaSim(step.mm)
    assert sim.dp_ranks == sim.step.ranks == lay.attn_dp_ways == 8
    cfg, _ = se.scheduler_config(c, step.mm, plan, sim.step.kv_capacity_tokens, sim.dp_ranks)
    assert cfg.max_num_batched_tokens == 8 * 8192  # the stated budget is per rank
    # without one, the engine's default chunk, per rank too (the analytic model's replica budget)
    bare = server_case("online serving benchmark: 3 requests; request rate 0.01", input_tokens="4096",
                       output_tokens="2", num_accelerators="8")
    cfg0, _ = se.scheduler_config(bare, step.mm, plan, sim.step.kv_capacity_tokens, sim.dp_ranks)
    assert cfg0.max_num_batched_tokens == 8 * step.mm.chunk_tokens == step.mm.replica_chunk_tokens
    out = vs.simulate_row(c, plan, lay, analytic, sim)
    prompt = round(plan.inputs.mean)
    pairs = prompt * (prompt + 1) // 2
    # each prefill step: the whole prompt on one rank (8 x its pairs in the whole-worker form), no decodes,
    # priced once at the step cache's rounded inputs (sim.step.steptime.StepTimer.busiest_key), then cached
    key = sim.timer.busiest_key(prompt, 0, 0, 8 * pairs, prompt)
    assert calls == [(*key[:4], float(key[4]))]
    assert key != (prompt, 0, 0, 8 * pairs, prompt)  # rounded to the midpoint of its bucket
    lone = step.step_time_busiest_s(prompt, 0, 0, 8 * pairs, float(prompt))
    assert out.summary["ttft_s_mean"] == pytest.approx(step.step_time_busiest_s(*key[:4], float(key[4])), rel=1e-9)
    # the rounding (sim.step.steptime): 4,096 tokens sit on a GEMM tile edge and on their bucket's start, so they
    # are kept exact (snap); only the attention pairs are rounded (1e-4 here; the bucket's midpoint, 4,104
    # tokens, priced the tile above: +0.3 % on B200, +1.5 % on GB200)
    assert key[0] == key[4] == prompt == 4096
    assert out.summary["ttft_s_mean"] == pytest.approx(lone, rel=1e-3)
    # the even spread: the same row with the ranks withheld from the step model only
    even_sim = vs.ReplicaSim(step.mm)
    even_sim.step.ranks = 1
    n_calls = len(calls)
    even = vs.simulate_row(c, plan, lay, analytic, even_sim)
    assert len(calls) == n_calls
    assert even.summary["ttft_s_mean"] == pytest.approx(
        float(step.step_time_s(np.array([prompt]), np.array([0]), np.array([0]), np.array([pairs]))[0]), rel=1e-3)
    assert out.summary["ttft_s_mean"] > 1.5 * even.summary["ttft_s_mean"]


def test_a_server_row_without_attention_dp_keeps_the_even_spread(monkeypatch):
    """A dense model on one chip: one rank, the busiest-rank pricing never runs, the scheduler as before."""
    from conftest import server_case, server_model
    from inferchip.spec.calibration import DatasetLengths
    from inferchip.validation import server as vs
    from inferchip.validation import stated_engine as se
    from inferchip.validation.plan import operating_point, plan_for

    mm = server_model()
    c = server_case("online serving benchmark: 40 requests; request rate 4")
    plan = plan_for(c, DatasetLengths())
    calls = _spy_busiest(monkeypatch)
    sim = vs.ReplicaSim(mm)
    assert sim.dp_ranks == sim.step.ranks == 1
    cfg, _ = se.scheduler_config(c, mm, plan, sim.step.kv_capacity_tokens, sim.dp_ranks)
    assert cfg.max_num_batched_tokens == mm.chunk_tokens
    out = vs.simulate_row(c, plan, mm.layout, operating_point(mm, plan, 1), sim)
    assert out.kind == "open_loop" and out.summary["ttft_s_mean"] > 0
    assert calls == []


def test_the_step_model_takes_one_rank_or_the_layouts():
    from inferchip.errors import InvalidSettingError
    from inferchip.performance.serving import ServingStepModel, serving_model

    step, _ = serving_model("nvidia-gb200-186gb", "deepseek-ai/DeepSeek-R1", count=8, tp=8, ep=8, weights="fp8",
                            attn_dp=True)
    assert ServingStepModel(step.mm, ranks=8).ranks == 8 and ServingStepModel(step.mm).ranks == 1
    with pytest.raises(InvalidSettingError, match="attention-DP ranks"):
        ServingStepModel(step.mm, ranks=4)


# ------------------------------------------------------------------ inferchip serve / curve and the public serve()
_DP_SERVE = ["--chip", "nvidia-b200-180gb", "--model", "deepseek-ai/DeepSeek-R1", "--count", "8", "--tp", "8",
             "--ep", "8", "--attn-dp", "--weights", "fp8", "--input-tokens", "4096", "--output-tokens", "2",
             "--rate", "0.01", "--requests", "3", "--format", "json"]


def test_an_attention_dp_serve_prices_a_lone_prompt_as_the_page_does(monkeypatch):
    """DeepSeek-R1 FP8 on 8 B200 with attention DP, 3 requests at 0.01/s through ``inferchip serve``: the step
    model carries the layout's 8 ranks (serving_step), the default budget is per rank, every prompt runs whole
    on one rank, and the TTFT is the page's server simulation's for the same setting and load (one
    busiest-rank step), not the even spread's."""
    import json

    from typer.testing import CliRunner

    import inferchip.interfaces.cli  # noqa: F401  (registers the commands)
    from conftest import server_case
    from inferchip.interfaces.app import app
    from inferchip.performance.serving import serving_model
    from inferchip.sim.batching.scheduler import rank_scheduler
    from inferchip.spec.calibration import DatasetLengths
    from inferchip.validation import server as vs
    from inferchip.validation.plan import operating_point, plan_for

    step, replicas = serving_model("nvidia-b200-180gb", "deepseek-ai/DeepSeek-R1", count=8, tp=8, ep=8,
                                   weights="fp8", attn_dp=True)
    assert step.ranks == step.mm.layout.attn_dp_ways == 8 and replicas == 1
    cfg = rank_scheduler(step.ranks)
    assert (cfg.max_num_seqs, cfg.max_num_batched_tokens) == (8 * get_engine("vllm").max_num_seqs, 8 * 8192)
    calls = _spy_busiest(monkeypatch)
    res = CliRunner().invoke(app, ["serve", *_DP_SERVE])
    assert res.exit_code == 0, res.output
    served = json.loads(res.output)
    pairs = 4096 * 4097 // 2
    key = StepTimer(step).busiest_key(4096, 0, 0, 8 * pairs, 4096)  # the step cache's rounded inputs
    assert calls == [(*key[:4], float(key[4]))]  # priced once, then cached
    lone = step.step_time_busiest_s(4096, 0, 0, 8 * pairs, 4096.0)
    assert served["ttft_s_mean"] == pytest.approx(step.step_time_busiest_s(*key[:4], float(key[4])), rel=1e-9)
    assert key[0] == key[4] == 4096  # on a tile edge and its bucket's start: kept exact, the pairs rounded
    assert served["ttft_s_mean"] == pytest.approx(lone, rel=1e-3)
    # the page's server simulation of the same setting and load
    c = server_case("online serving benchmark: 3 requests; request rate 0.01", input_tokens="4096",
                    output_tokens="2", num_accelerators="8")
    plan = plan_for(c, DatasetLengths())
    assert round(plan.inputs.mean) == 4096
    page = vs.simulate_row(c, plan, step.mm.layout, operating_point(step.mm, plan, replicas), vs.ReplicaSim(step.mm))
    assert served["ttft_s_mean"] == pytest.approx(page.summary["ttft_s_mean"], rel=1e-9)
    even = float(step.step_time_s(np.array([4096]), np.array([0]), np.array([0]), np.array([pairs]))[0])
    assert served["ttft_s_mean"] > 1.5 * even
    # the public serve() takes the same path
    api = __import__("inferchip").serve("nvidia-b200-180gb", "deepseek-ai/DeepSeek-R1", count=8, tp=8, ep=8,
                                        weights="fp8", attn_dp=True, rate_per_s=0.01, num_requests=3,
                                        input_tokens=4096, output_tokens=2)
    assert api["ttft_s_mean"] == pytest.approx(served["ttft_s_mean"], rel=1e-12)


def test_a_serve_without_attention_dp_is_the_plain_default_scheduler(monkeypatch):
    """One rank: serving_step's step model has ranks 1, the default scheduler is SchedulerConfig's own, the
    busiest-rank pricing never runs, and serve() gives what the simulator gives with no scheduler at all."""
    from inferchip.performance.serving import serve, serving_model
    from inferchip.sim import PoissonArrivals, SchedulerConfig, simulate
    from inferchip.sim.batching.scheduler import rank_scheduler

    step, replicas = serving_model("nvidia-h100-sxm-80gb", "meta-llama/Llama-3.1-8B", weights="fp8", count=2)
    assert step.ranks == 1 and rank_scheduler(1) == SchedulerConfig()
    vllm = rank_scheduler(1, 128, 2048)
    assert (vllm.max_num_seqs, vllm.max_num_batched_tokens) == (128, 2048)
    calls = _spy_busiest(monkeypatch)
    got = serve("nvidia-h100-sxm-80gb", "meta-llama/Llama-3.1-8B", weights="fp8", count=2, rate_per_s=20,
                num_requests=60, input_tokens=1024, output_tokens=32)
    plain = simulate(step, PoissonArrivals(rate_per_s=20, input_tokens=1024, output_tokens=32), num_requests=60,
                     seed=0, replicas=replicas).summary()
    assert got["ttft_s_mean"] == plain["ttft_s_mean"] and got["tpot_s_mean"] == plain["tpot_s_mean"]
    assert calls == []


def test_a_busiest_rank_step_is_throttled_at_tdp_like_an_even_one():
    """``step_time_busiest_s`` takes the TDP throttle of ``step_time_s`` (by the busiest chip's power): never
    faster than the unthrottled busiest step, equal to it without an energy model, and slower when the
    power limit is cut so the step cannot run at full rate."""
    import dataclasses

    from inferchip.performance.serving import ServingStepModel, serving_model

    step, _ = serving_model("nvidia-b200-180gb", "deepseek-ai/DeepSeek-R1", count=8, tp=8, ep=8, weights="fp8",
                            attn_dp=True)
    assert step.energy is not None
    pairs = 4096 * 4097 // 2
    args = (4096, 0, 0, 8 * pairs, 4096.0)
    raw_t, _ = step.mm.replica_step_s(*args[:4], prefill_chip=args[4])
    raw = float(np.asarray(raw_t, dtype=float).reshape(-1)[0])
    assert step.step_time_busiest_s(*args) >= raw * (1 - 1e-12)
    assert ServingStepModel(step.mm, None, ranks=8).step_time_busiest_s(*args) == pytest.approx(raw, rel=1e-12)
    starved = dataclasses.replace(step.energy, tdp_w=step.energy.idle_w * 1.05)
    slow = ServingStepModel(step.mm, starved, ranks=8).step_time_busiest_s(*args)
    assert slow > 1.05 * raw


def test_a_prompt_longer_than_a_rank_budget_is_chunked_at_that_budget():
    """Attention DP on 4 ranks, the default 8,192 tokens per rank (32,768 for the replica): a lone prompt is
    prefilled on one rank in chunks of at most 8,192 tokens, so 8,000 / 16,000 / 30,000 tokens take 1 / 2 / 4
    prefill steps, TTFT grows at least in proportion to the steps, and the lone 30,000-token prompt on one
    rank is slower than the same prompt spread over 4 tensor-parallel chips."""
    import inferchip as ic

    common = {"count": 4, "tp": 4, "ep": 4, "rate_per_s": 0.01, "num_requests": 1, "output_tokens": 2}
    runs = {n: ic.serve("nvidia-h200-sxm-141gb", "deepseek-ai/DeepSeek-V2-Lite", attn_dp=True, input_tokens=n,
                        **common) for n in (8000, 16000, 30000)}
    assert [runs[n]["num_steps"] for n in (8000, 16000, 30000)] == [1 + 1, 2 + 1, 4 + 1]  # prefill + decode
    assert runs[16000]["ttft_s_mean"] > 1.9 * runs[8000]["ttft_s_mean"]
    assert runs[30000]["ttft_s_mean"] > 3.5 * runs[8000]["ttft_s_mean"]
    tp = ic.serve("nvidia-h200-sxm-141gb", "deepseek-ai/DeepSeek-V2-Lite", input_tokens=30000, **common)
    assert runs[30000]["ttft_s_mean"] > tp["ttft_s_mean"]


def test_the_simulator_without_a_scheduler_takes_the_default_per_rank():
    """``inferchip.sim.runs.simulate`` given an attention-DP step model and no scheduler resolves the default budget
    per rank (sim.batching.scheduler.rank_scheduler) as ``serve()`` does, so a lone 6,000-token prompt on 4 ranks is
    one step on one rank in both, not a rank capped at 8,192 / 4 tokens in the simulator alone."""
    import inferchip as ic
    from inferchip.performance.serving import serving_model
    from inferchip.sim import PoissonArrivals, SchedulerConfig, simulate
    from inferchip.sim.batching.scheduler import rank_scheduler

    assert rank_scheduler(1) == SchedulerConfig()
    assert (rank_scheduler(4).max_num_seqs, rank_scheduler(4).max_num_batched_tokens) == (
        4 * get_engine("vllm").max_num_seqs, 32768)
    step, _ = serving_model("nvidia-h200-sxm-141gb", "deepseek-ai/DeepSeek-V2-Lite", count=4, tp=4, ep=4,
                            attn_dp=True)
    assert step.ranks == 4
    plain = simulate(step, PoissonArrivals(rate_per_s=0.01, input_tokens=6000, output_tokens=2), num_requests=1)
    api = ic.serve("nvidia-h200-sxm-141gb", "deepseek-ai/DeepSeek-V2-Lite", count=4, tp=4, ep=4, attn_dp=True,
                   rate_per_s=0.01, num_requests=1, input_tokens=6000, output_tokens=2)
    got = plain.summary()
    assert got["ttft_s_mean"] == pytest.approx(api["ttft_s_mean"], rel=1e-9)
    assert got["num_steps"] == api["num_steps"] == 2


def test_a_replica_budget_below_its_ranks_still_makes_progress():
    """A stated budget smaller than the attention-DP ranks (2 tokens on 4 ranks) leaves each prompt one token
    per step, never a chunk of 0: every request finishes, a 64-token prompt in at least 64 steps."""
    from inferchip.performance.serving import serving_model
    from inferchip.sim import PoissonArrivals, simulate

    step, _ = serving_model("nvidia-h200-sxm-141gb", "deepseek-ai/DeepSeek-V2-Lite", count=4, tp=4, ep=4,
                            attn_dp=True)
    got = simulate(step, PoissonArrivals(rate_per_s=1, input_tokens=64, output_tokens=2), num_requests=2,
                   scheduler_config={"max_num_batched_tokens": 2, "max_num_seqs": 2}).summary()
    assert got["num_completed"] == 2 and got["num_unfinished"] == 0 and got["num_steps"] >= 64
