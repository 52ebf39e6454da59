"""Stop 53 (open53): an open loop plainly above what its system can complete is saturated, however short.

``serve --rate 100 --duration 30`` (Llama-3.1-8B on one H100) served 5.9 requests/s with a p99 TTFT of 413 s and was
called "too short to judge" (fleet52's rule: its ramp, 15 s, ends before its fastest request, 18 s), and
``--find-count`` refused at one chip with a duration to use. The step model the simulator runs bounds what a system
completes (:mod:`inferchip.performance.serving.capacity`): one H100 at most 11.2 requests/s of 1,024/1,024 tokens, so
100 requests/s is saturated whatever the run's length, and the search steps past the count."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import inferchip as ic
from inferchip.errors import InvalidSettingError
from inferchip.interfaces.cli import main
from inferchip.performance.serving import serve_inputs, serving_step
from inferchip.performance.serving.capacity import (
    OVER_CAPACITY_RATIO,
    CapacityBound,
    capacity_bound,
    over_capacity,
    with_capacity,
)
from inferchip.sim.batching.scheduler import SchedulerConfig
from inferchip.sim.runs.slo import judge_run

H100, LLAMA_8B = "nvidia-h100-sxm-80gb", "meta-llama/Llama-3.1-8B"


@dataclass
class LinearStep:
    """A step of ``fixed_s + per_seq_s x b + per_kv_s x kv`` seconds (a memory-bound decode: the weights, each
    sequence's activations, the cached tokens read), a jump of ``jump_s`` above ``jump_at`` sequences (a GEMM tile)."""

    kv_capacity_tokens: int
    fixed_s: float = 0.010
    per_seq_s: float = 1e-5
    per_kv_s: float = 1e-9
    jump_at: int = 10**9
    jump_s: float = 0.0

    def step_time_s(self, num_tokens, num_decode_seqs, decode_kv_tokens, prefill_attn_pairs):
        b = np.asarray(num_decode_seqs, float)
        return (self.fixed_s + self.per_seq_s * b + self.per_kv_s * np.asarray(decode_kv_tokens, float)
                + np.where(b > self.jump_at, self.jump_s, 0.0))


def _config(cap: int) -> SchedulerConfig:
    return SchedulerConfig(max_num_seqs=cap, max_num_batched_tokens=max(cap, 2048))


def test_the_bound_by_hand_where_the_cap_binds():
    """64 sequences of 1,000-token prompts: a step 10 + 0.64 + 0.064 ms (64,000 cached tokens x 1 ns) = 10.704 ms;
    2 replicas x 64 / 10.704 ms / 255 decode steps = 46.89 requests/s."""
    b = capacity_bound(LinearStep(10**7), 2, _config(64), 1000, 256)
    assert b is not None and (b.batch, b.batch_limit) == (64, 64) and "running-batch cap, 64" in b.limit_source
    assert b.step_s == pytest.approx(0.010 + 64e-5 + 64_000e-9)
    assert b.requests_per_s == pytest.approx(2 * 64 / 0.010704 / 255) == pytest.approx(46.89, abs=0.01)


def test_the_bound_by_hand_where_the_kv_cache_binds():
    """7,000 tokens are 437 blocks of 16; a 100-token prompt takes 7: 62 sequences, under the cap of 64."""
    b = capacity_bound(LinearStep(7000), 1, _config(64), 100, 101)
    assert b is not None and b.batch_limit == 62 and b.batch == 62 and "hold 62 prompts of 100" in b.limit_source
    assert b.requests_per_s == pytest.approx(62 / (0.010 + 62e-5 + 6200e-9) / 100)


def test_the_best_batch_is_below_a_jump():
    """A tile jump of 50 ms above 32 sequences: 32 a step (3.07 k tokens/s) beats 64 (1.06 k)."""
    b = capacity_bound(LinearStep(10**7, jump_at=32, jump_s=0.05), 1, _config(64), 10, 11)
    assert b is not None and b.batch == 32 and b.batch_limit == 64


def test_no_bound_without_decode_steps():
    assert capacity_bound(LinearStep(10**7), 1, _config(64), 100, 1) is None
    assert not over_capacity(1e9, None) and not over_capacity(None, CapacityBound(1.0, 1, 1, "", 1.0, 1.0, 1))


BOUND = CapacityBound(10.0, 64, 64, "the running-batch cap, 64", 0.1, 100.0, 1)
RANK = {"judged": 0, "too short": 1, "saturated": 2}


def _verdict(summary: dict[str, object], rate: float) -> str:
    """The verdict as serve reads it: too short (whatever its queue test said: the ramp), else saturated or not."""
    v = judge_run(with_capacity(summary, rate, BOUND), 1.0, 0.05, "p99")
    assert v is not None
    assert not (v["too_short"] and rate * OVER_CAPACITY_RATIO > BOUND.requests_per_s)  # over the bound: never short
    return "too short" if v["too_short"] else "saturated" if v["saturated"] else "judged"


def _summary(ramp_s: float, service_s_min: float, saturated: bool) -> dict[str, object]:
    return {"ttft_s_p99": 0.1, "tpot_s_p99": 0.01, "output_tokens_per_s_per_chip": 1.0,
            "output_tokens_per_s_per_user": 1.0, "saturated": saturated, "ramp_s": ramp_s,
            "service_s_min": service_s_min, "percentile_requests": 100, "e2e_s_p99": 1.0}


def test_a_short_run_above_the_bound_is_saturated_and_below_it_too_short():
    short = _summary(15.0, 18.0, True)  # serve --rate 100 --duration 30's ramp and fastest request
    assert _verdict(short, 100.0) == "saturated"  # main: too short
    assert _verdict(short, 10.0 / OVER_CAPACITY_RATIO * 0.999) == "too short"  # within the margin: the run's rule
    assert _verdict(_summary(60.0, 18.0, False), 5.0) == "judged"


@given(st.floats(0.0, 1e4), st.floats(1e-3, 1e4), st.booleans(), st.floats(1e-3, 1e4), st.floats(1e-3, 1e4))
def test_fuzz_a_higher_rate_is_never_judged_less_saturated(ramp_s, service_s_min, saturated, rate_a, rate_b):
    """All else equal (the run's figures, the system's bound), a higher offered rate's verdict is at least as
    saturated: judged < too short < saturated."""
    lo, hi = sorted((rate_a, rate_b))
    summary = _summary(ramp_s, service_s_min, saturated)
    assert RANK[_verdict(summary, hi)] >= RANK[_verdict(summary, lo)]


@given(st.integers(1, 4096), st.integers(1, 8192), st.integers(2, 4096), st.floats(1e-4, 0.1), st.floats(0, 1e-3),
       st.integers(1, 64), st.floats(1e-3, 1e5), st.floats(1e-3, 1e5))
def test_fuzz_the_bound_is_the_best_batch_and_its_verdict_monotone(cap, prompt, output, fixed_s, per_seq_s,
                                                                    replicas, rate_a, rate_b):
    """The decode-only bound is no batch's rate exceeded (every batch up to the limit priced); with the prompts'
    prefill tokens (open53b) the bound is no higher, and no lower than the best steady mix a step can carry (this
    step's time does not depend on its prefill tokens: ``b`` decode sequences and ``budget - b`` prefill tokens);
    over_capacity is monotone in the offered rate."""
    step = LinearStep(10**7, fixed_s=fixed_s, per_seq_s=per_seq_s)
    config = _config(cap)
    b = capacity_bound(step, replicas, config, prompt, output)
    assert b is not None and 1 <= b.batch <= b.batch_limit <= cap
    sizes = np.arange(1, b.batch_limit + 1, dtype=float)
    t = step.step_time_s(sizes, sizes, sizes * prompt, 0)
    rates = replicas * sizes / t / (output - 1)
    assert b.decode_only_requests_per_s == pytest.approx(float(rates.max()), rel=1e-12)
    mix = replicas * np.minimum(sizes / (output - 1), (config.max_num_batched_tokens - sizes) / prompt) / t
    assert float(mix.max()) * (1 - 1e-9) <= b.requests_per_s <= b.decode_only_requests_per_s * (1 + 1e-12)
    lo, hi = sorted((rate_a, rate_b))
    assert over_capacity(hi, b) >= over_capacity(lo, b)


def _h100_bound() -> CapacityBound:
    setting, _, _ = serve_inputs(H100, LLAMA_8B, 100.0, None, 1024, 1024, 0.8, 1000, None, 0)
    step, replicas = serving_step(setting)
    b = capacity_bound(step, replicas, setting.scheduler(step.ranks), 1024, 1024)
    assert b is not None
    return b


def test_one_h100_completes_at_most_11_requests_a_second_by_hand():
    """Hand check: 440,081 KV tokens are 27,505 blocks of 16, a 1,024-token prompt 64 of them: 429 sequences, under
    the cap of 1,024; the step model's best is 384 a step (the tile rule), 33.56 ms: 384 / 0.03356 / 1,023 = 11.19.
    The memory roofline alone (16.06 GB of weights + 384 x 1,024 x 131,072 B of KV over 3.35 TB/s: 20.2 ms) would
    allow 18.6; the model prices more than the bytes at peak, so less."""
    b = _h100_bound()
    assert (b.batch_limit, b.batch) == (429, 384)
    assert b.decode_only_requests_per_s == pytest.approx(b.batch / b.step_s / 1023)
    assert b.decode_only_requests_per_s == pytest.approx(11.19, abs=0.01)
    # open53b: the prompts' 1,024 prefill tokens each priced in the steps that carry them, 8.96
    assert b.requests_per_s == pytest.approx(8.96, abs=0.01)


@pytest.mark.parametrize(("chip", "rate"), [(H100, 40.0), ("amd-mi300x", 60.0)])
def test_a_long_saturated_run_completes_no_more_than_the_bound(chip, rate):
    """The simulator's own saturated run, 300 s at several times the bound: its window's completions are within it
    (H100 5.7 of 11.2 requests/s, MI300X 8.8 of 15.4: preemptions and prefill, which the bound leaves out)."""
    d = ic.serve(chip, LLAMA_8B, rate_per_s=rate, duration_s=300.0)
    assert d["saturated"] and d["over_capacity"]
    assert d["requests_per_s"] <= d["capacity_requests_per_s"]
    assert d["offered_requests_per_s"] == rate


def test_serve_rate_100_for_30_s_is_saturated_not_too_short(capsys):
    code = main(["serve", "--chip", H100, "--model", LLAMA_8B, "--rate", "100", "--duration", "30",
                 "--slo-ttft-ms", "2000", "--format", "json"])
    d = json.loads(capsys.readouterr().out)
    assert code == 0 and d["ramp_s"] < d["service_s_min"]  # fleet52's too-short run ...
    assert d["over_capacity"] and d["saturated"]  # ... saturated
    assert not d["slo"]["too_short"] and not d["slo"]["meets"]
    assert d["capacity_requests_per_s"] == pytest.approx(_h100_bound().requests_per_s)
    assert "429 prompts of 1,024" in d["capacity_rule"]


def test_serve_says_why_in_its_text(capsys):
    code = main(["serve", "--chip", H100, "--model", LLAMA_8B, "--rate", "100", "--duration", "30"])
    text = " ".join(capsys.readouterr().out.split())
    assert code == 0
    assert "saturated: the offered 100 requests/s is more than this system completes, at most 8.96" in text
    assert "too short" not in text and "most the system completes (bound) 8.96 req/s" in text


def test_a_closed_loop_has_no_bound(capsys):
    code = main(["serve", "--chip", H100, "--model", LLAMA_8B, "--tp", "1", "--concurrency", "2", "--requests", "4",
                 "--input-tokens", "64", "--output-tokens", "8", "--format", "json"])
    d = json.loads(capsys.readouterr().out)
    assert code == 0 and d["capacity_requests_per_s"] is None and d["over_capacity"] is False


def test_a_trace_above_the_bound_is_saturated(tmp_path, capsys):
    """300 requests of 1,024/1,024 tokens in 3 s (100 a second) on one H100: the trace's mean rate is over it."""
    trace = tmp_path / "t.csv"
    trace.write_text("arrival_s,input_tokens,output_tokens\n" +
                     "".join(f"{i / 100:.2f},1024,1024\n" for i in range(300)), encoding="utf-8")
    code = main(["serve", "--chip", H100, "--model", LLAMA_8B, "--tp", "1", "--trace", str(trace), "--format", "json"])
    d = json.loads(capsys.readouterr().out)
    assert code == 0 and d["over_capacity"] and d["saturated"]
    assert d["capacity_requests_per_s"] == pytest.approx(_h100_bound().requests_per_s)


def test_find_count_steps_past_the_counts_above_the_bound():
    """1,000 requests at 1,000/s of 256/256 tokens (a 0.5 s ramp, shorter than any request): the counts whose chips
    complete less than the load are saturated, and the search doubles past them to the first whose bound carries it,
    where the run is too short to judge (main refused at 1 chip, naming a duration)."""
    setting, _, _ = serve_inputs(H100, LLAMA_8B, 1000.0, None, 256, 256, 0.8, 1000, None, 0)
    step, _ = serving_step(setting)
    one = capacity_bound(step, 1, setting.scheduler(step.ranks), 256, 256)
    assert one is not None
    with pytest.raises(InvalidSettingError, match=r"find_count: at (\d+) chips the run is too short") as err:
        ic.find_count(H100, LLAMA_8B, rate_per_s=1000.0, input_tokens=256, output_tokens=256, slo_ttft_s=2.0,
                      slo_tpot_s=0.05, tp=1)
    n = int(str(err.value).split(" chips", 1)[0].rsplit(" ", 1)[1])
    # open53b: the search also doubles past a count whose queue grows where the step model has no steady state
    # for the load (the first count neither: the run there is too short)
    assert n > 1 and n * one.requests_per_s >= 1000 * OVER_CAPACITY_RATIO and one.e2e_estimate(1000 / n)[0]
    assert n // 2 * one.requests_per_s < 1000 * OVER_CAPACITY_RATIO or one.e2e_estimate(1000 / (n // 2))[0] is None
