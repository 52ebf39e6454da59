"""A fresh server's one-time first-use wait (engine field ``first_use_waits``): which rows pay it (the untimed
warm-up prompt at or below the kernel branch's edge, the first wave's batch above it), the shift of the first
wave's requests and the benchmark's figures with it, by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from inferchip.catalog.engines import get_engine
from inferchip.sim import LinearStepModel, SchedulerConfig
from inferchip.sim.engines import closed_loop_run, uniform_length
from inferchip.sim.engines.bench import closed_loop_disagg_run, first_wave_shift, prompt_mean_tokens, steady_weights
from inferchip.spec.engine.workers import FirstUseWait, first_use_wait_s, first_wave_batch_tokens
from inferchip.validation.closed_loop import num_requests

EDGE = FirstUseWait(accelerator="mi355x", weights="mxfp4", batch_tokens_above=1024, wait_s=20.0)


def wait(entries=(EDGE,), chip="amd-mi355x", weights="mxfp4", disagg=False, warmup=1024, batch=3686):
    return first_use_wait_s(entries, accelerator=chip, weights=weights, disaggregated=disagg,
                            warmup_prompt_tokens=warmup, first_batch_tokens=batch)


def test_which_runs_wait_by_hand():
    # 1k prompts: the untimed request (<= 1,024 tokens) never crosses the edge, the first wave of 4 x 922 does
    assert wait(warmup=1024, batch=4 * prompt_mean_tokens(1024)) == 20.0
    # 8k prompts: the untimed request (6,554-8,192 tokens) is above the edge: built before the timed run
    assert wait(warmup=8192, batch=4 * prompt_mean_tokens(8192)) == 0.0
    # a first wave that stays at or below the edge never takes the branch
    assert wait(warmup=512, batch=1024) == 0.0
    assert wait(warmup=512, batch=1025) == 20.0
    # other chips, weights and layouts: no entry, no wait
    assert wait(chip="amd-mi300x") == 0.0
    assert wait(weights="fp8") == 0.0
    assert wait(disagg=True) == 0.0
    assert wait(entries=()) == 0.0


def test_bounds_are_refused():
    with pytest.raises(ValidationError):
        FirstUseWait(accelerator="mi355x", batch_tokens_above=1024, wait_s=0.0)
    with pytest.raises(ValidationError):
        FirstUseWait(accelerator="mi355x", batch_tokens_above=1024, wait_s=121.0)
    with pytest.raises(ValidationError):
        FirstUseWait(accelerator="mi355x", batch_tokens_above=0, wait_s=1.0)


def test_shipped_sglang_entry():
    sgl = get_engine("sglang")
    args = dict(accelerator="amd-mi355x", weights="mxfp4", disaggregated=False)
    assert first_use_wait_s(sgl.first_use_waits, warmup_prompt_tokens=1024, first_batch_tokens=3688, **args) > 0
    assert first_use_wait_s(sgl.first_use_waits, warmup_prompt_tokens=8192, first_batch_tokens=29492, **args) == 0
    for other in ("vllm", "trtllm", "atom", "dynamo"):
        assert first_use_wait_s(get_engine(other).first_use_waits, warmup_prompt_tokens=1024,
                                first_batch_tokens=3688, **args) == 0


def test_the_shift_falls_on_the_first_wave_only():
    assert first_wave_shift(6, 2, 3.0).tolist() == [3.0, 3.0, 0.0, 0.0, 0.0, 0.0]
    assert first_wave_shift(3, 8, 1.0).tolist() == [1.0, 1.0, 1.0]
    assert first_wave_shift(4, 2, 0.0).tolist() == [0.0] * 4


@given(c=st.integers(2, 256), per_client=st.integers(3, 60), w=st.floats(0.5, 60.0))
def test_the_mean_ttft_grows_by_the_wait_over_the_prompts_per_client(c, per_client, w):
    # steady requests at 0.1 s; the first wave pays w once: the benchmark's mean grows by w / per_client
    bench, n, _ = num_requests(c, per_client)
    ttft = np.full(n, 0.1) + first_wave_shift(n, c, w)
    mean = float(np.average(ttft, weights=steady_weights(n, c, bench)))
    assert mean == pytest.approx(0.1 + w / per_client)


def test_a_simulated_run_carries_the_wait_on_its_first_wave_and_span():
    """closed_loop_run with and without a 5 s first-wave wait: the same run otherwise, so the mean TTFT and
    end-to-end time grow by 5 s x C over the benchmark's requests, TPOT is unchanged, the p99 is the wave's, and
    throughput falls as the span grows by the 5 s (the same tokens: 1 / throughput grows by 5 s / tokens)."""
    step = LinearStepModel(fixed_s=0.02, per_token_s=2e-5, per_kv_token_s=1e-8, kv_capacity_tokens=1_000_000)
    c, n, bench = 8, 32, 80
    kw = dict(num_requests=n, bench_requests=bench, seed=1)
    base = closed_loop_run(step, c, uniform_length(200), uniform_length(50), SchedulerConfig(), **kw)
    wave = closed_loop_run(step, c, uniform_length(200), uniform_length(50), SchedulerConfig(), first_wave_wait_s=5.0,
                           **kw)
    assert wave.ttft_s - base.ttft_s == pytest.approx(5.0 * c / bench)
    assert wave.e2e_s - base.e2e_s == pytest.approx(5.0 * c / bench)
    assert wave.tpot_s == pytest.approx(base.tpot_s)
    assert wave.ttft_p99_s >= 5.0 > base.ttft_p99_s
    # span = tokens / throughput with the same tokens: the two spans differ by the wait alone
    span_gap_per_token = 1.0 / wave.output_tokens_per_s - 1.0 / base.output_tokens_per_s
    tokens = 5.0 / span_gap_per_token
    assert 40 * bench < tokens < 50 * bench  # each request emits 40-50 tokens (uniform in [0.8 L, L], L = 50)


PD = FirstUseWait(accelerator="mi355x", weights="fp8", layout="disaggregated", batch_tokens_above=1024, wait_s=20.0,
                  first_concurrencies=(32, 256, 2048))


def pd_wait(c, warmup=1024, entries=(PD,), disagg=True, weights="fp8"):
    return first_use_wait_s(entries, accelerator="amd-mi355x", weights=weights, disaggregated=disagg,
                            warmup_prompt_tokens=warmup, first_batch_tokens=c * prompt_mean_tokens(warmup),
                            concurrency=c)


def test_only_each_jobs_first_run_waits_by_hand():
    # one server launch runs [32, 64, 128], [256, 512, 1024] or [2048] in order: the first run builds the module
    assert [pd_wait(c) for c in (32, 64, 128)] == [20.0, 0.0, 0.0]
    assert [pd_wait(c) for c in (256, 512, 1024)] == [20.0, 0.0, 0.0]
    assert pd_wait(2048) == 20.0
    # 8k prompts: the untimed request crosses the edge before the clock starts, as on the aggregated entry
    assert pd_wait(256, warmup=8192) == 0.0
    # the entry is for disaggregated FP8 rows only
    assert pd_wait(256, disagg=False) == 0.0
    assert pd_wait(256, weights="mxfp4") == 0.0
    with pytest.raises(ValidationError):  # a job's first concurrency is a number of clients
        FirstUseWait(accelerator="mi355x", batch_tokens_above=1024, wait_s=1.0, first_concurrencies=("x",))


@given(firsts=st.lists(st.integers(1, 4096), max_size=4, unique=True), c=st.integers(1, 4096),
       w=st.floats(0.5, 120.0))
def test_a_listed_concurrency_waits_the_whole_build_any_other_none(firsts, c, w):
    e = FirstUseWait(accelerator="mi355x", layout="any", batch_tokens_above=1024, wait_s=w,
                     first_concurrencies=tuple(firsts))
    got = first_use_wait_s((e,), accelerator="amd-mi355x", weights="fp8", disaggregated=True,
                           warmup_prompt_tokens=1024, first_batch_tokens=2048, concurrency=c)
    assert got == (w if (not firsts or c in firsts) else 0.0)


def test_shipped_sglang_pd_entry():
    """The MI355X PD rows (FP8, one launch per job of [32, 64, 128], [256, 512, 1024] or [2048]): the job's first
    run waits, the later ones do not; aggregated FP8 rows and other engines never."""
    sgl = get_engine("sglang")
    args = dict(accelerator="amd-mi355x", weights="fp8", warmup_prompt_tokens=1024)
    first = {c: first_use_wait_s(sgl.first_use_waits, disaggregated=True, first_batch_tokens=c * 922, concurrency=c,
                                 **args) for c in (32, 64, 128, 256, 512, 1024, 2048)}
    assert first[32] == first[256] == first[2048] > 0
    assert first[64] == first[128] == first[512] == first[1024] == 0
    assert first_use_wait_s(sgl.first_use_waits, disaggregated=False, first_batch_tokens=256 * 922, concurrency=256,
                            **args) == 0
    pd_software = "SGLang PD-disaggregated (AMD); rocm/sgl-dev:sglang-0.5.6.post1"
    assert sgl.request_path("amd-mi355x", "fp8", pd_software) is None  # off the per-request path: the wave stands


def _pd_run(wave_s):
    pre = LinearStepModel(fixed_s=0.02, per_token_s=1e-5, per_kv_token_s=0.0, kv_capacity_tokens=10_000_000)
    dec = LinearStepModel(fixed_s=0.010, per_token_s=0.0, per_kv_token_s=0.0, kv_capacity_tokens=10_000_000)
    return closed_loop_disagg_run(pre, dec, 8, uniform_length(200), uniform_length(40), SchedulerConfig(),
                                  SchedulerConfig(), num_requests=32, bench_requests=80, seed=1, prefill_replicas=1,
                                  decode_replicas=1, kv_bytes_per_token=1.0, link_bytes_per_s=1e12,
                                  link_latency_s=0.0, first_wave_wait_s=wave_s)


def test_a_disaggregated_run_carries_the_wait_on_its_first_wave():
    """closed_loop_disagg_run with and without a 4 s wait: TTFT and E2E grow by 4 s x C over the benchmark's
    requests (8 of 80), TPOT is unchanged and throughput falls."""
    base, wave = _pd_run(0.0), _pd_run(4.0)
    assert wave.ttft_s - base.ttft_s == pytest.approx(4.0 * 8 / 80)
    assert wave.e2e_s - base.e2e_s == pytest.approx(4.0 * 8 / 80)
    assert wave.tpot_s == pytest.approx(base.tpot_s)
    assert wave.output_tokens_per_s < base.output_tokens_per_s


def test_the_first_batch_is_the_busiest_prompt_workers_share_by_hand():
    # one worker: all C prompts at once, capped by its per-iteration token budget
    assert first_wave_batch_tokens(4, 1, 922, 196_608) == 3_688
    assert first_wave_batch_tokens(2048, 1, 922, 196_608) == 196_608
    # two prefill workers, 33 clients: the least-loaded choice gives one worker 17 prompts
    assert first_wave_batch_tokens(33, 2, 922, 1_000_000) == 17 * 922
    # a worker count of 0 (a row without the pool stated) counts as one worker
    assert first_wave_batch_tokens(3, 0, 500, 10_000) == 1_500
    # one 1k prompt per worker never crosses a 1,024-token edge: no wait where each worker holds one prompt
    assert wait(batch=first_wave_batch_tokens(8, 8, 922, 196_608)) == 0.0


@given(c=st.integers(1, 4096), workers=st.integers(1, 64), mean=st.integers(1, 10_000),
       chunk=st.integers(1, 4_000_000))
def test_the_first_batch_never_exceeds_the_budget_nor_grows_with_more_workers(c, workers, mean, chunk):
    got = first_wave_batch_tokens(c, workers, mean, chunk)
    assert 0 < got <= chunk
    assert got >= min(mean, chunk)  # the busiest worker holds at least one prompt
    assert first_wave_batch_tokens(c, workers + 1, mean, chunk) <= got


def test_a_shadowed_first_use_wait_is_refused(tmp_path):
    import yaml

    from inferchip.catalog.engines import load_engines
    from inferchip.errors import SpecError
    src = Path(__file__).resolve().parents[1] / "src" / "inferchip" / "catalog" / "engines.yaml"
    data = yaml.safe_load(src.read_text())
    sgl = next(e for e in data["engines"] if e["id"] == "sglang")
    # a chip-wide entry for any layout placed first: the shipped MXFP4 entry behind it is never reached
    sgl["first_use_waits"].insert(0, {"accelerator": "mi355x", "layout": "any", "batch_tokens_above": 1024,
                                      "wait_s": 19.5})
    bad = tmp_path / "engines.yaml"
    bad.write_text(yaml.safe_dump(data))
    with pytest.raises(SpecError, match=r"engine sglang: first_use_waits entry 1 .* never reached: entry 0"):
        load_engines(bad)
    assert FirstUseWait(accelerator="mi355x", layout="any", batch_tokens_above=1, wait_s=1.0).covers(PD)
    assert not FirstUseWait(accelerator="mi355x", batch_tokens_above=1, wait_s=1.0).covers(PD)  # aggregated only
    assert not PD.covers(EDGE) and not EDGE.covers(PD)


def test_a_first_concurrency_below_one_is_refused():
    with pytest.raises(ValidationError):
        FirstUseWait(accelerator="mi355x", batch_tokens_above=1024, wait_s=1.0, first_concurrencies=(32, 0))


class _Stop(Exception):
    pass


def test_a_disaggregated_rows_first_batch_is_its_prefill_workers(monkeypatch):
    """The MI355X PD c2048 1k/1k row: the first wave's batch is the prefill worker's (its chunk, 8 ranks x 196,608
    tokens, caps 2,048 x 922), not the decode worker's (16 ranks: 3,145,728, which would not cap it), and the wait is
    resolved on the prefill pool's weights. The wait is recorded and the run stopped before it simulates."""
    from inferchip.catalog.calibration_file import load_calibration
    from inferchip.catalog.engines import request_host_time
    from inferchip.validation import closed_loop as cl
    from inferchip.validation.cases import read_cases
    from inferchip.validation.closed_loop_rows import _replica, with_prefill_scheduling
    from inferchip.validation.plan import case_formats
    from inferchip.validation.validate import Validator

    cases = Path(__file__).parents[1] / "src" / "inferchip" / "catalog" / "inferencemax_cases.csv"
    case = next(c for c in read_cases(cases) if "mi355x" in c.case_id and "sglang-disagg-fp8-disagg" in c.case_id
                and "-1024-1024-c2048-" in c.case_id and c.metric == "ttft_ms")
    v = Validator(load_calibration(None), server_model="sim", compare=False)
    fmt = case_formats(case)[0]
    facts = with_prefill_scheduling(case, fmt.weights, cl.row_facts(case))
    reps = {"decode": _replica(v, case, fmt, facts.decode, facts)[0],
            "prefill": _replica(v, case, fmt, facts.prefill, facts)[0]}
    seen = {}

    def record(entries, **kw):
        seen.update(kw)
        raise _Stop

    monkeypatch.setattr(cl, "first_use_wait_s", record)
    host = request_host_time(facts.engine, 922, case.accelerator, reps["decode"].mm.formats.weights, case.software,
                             case.model)
    with pytest.raises(_Stop):
        cl.simulate_closed_loop(case, facts, reps, case.num_accelerators, host)
    pcfg, dcfg = cl.recipe_configs(case, facts, reps["prefill"], reps["decode"], [])
    assert facts.prefill_workers == 1 and pcfg.max_num_batched_tokens < 2048 * 922 < dcfg.max_num_batched_tokens
    assert seen["first_batch_tokens"] == pcfg.max_num_batched_tokens
    assert seen["weights"] == reps["prefill"].mm.formats.weights
    assert seen["disaggregated"] and seen["concurrency"] == 2048
