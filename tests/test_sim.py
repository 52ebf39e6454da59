"""Serving simulator: hand-computed schedules, preemption, queueing laws, saturation, traces.

Step models here are linear with binary-fraction coefficients (1/16 s, 1/1024 s), so
every step time and every sum of them is exact in floating point and the expected
times below are exact fractions derived by hand, step by step.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from inferchip.errors import InvalidSettingError, SpecError
from inferchip.sim import (
    BurstArrivals,
    ClosedLoopArrivals,
    LinearStepModel,
    PoissonArrivals,
    SchedulerConfig,
    TraceArrivals,
    simulate,
)
from inferchip.sim.runs.search import capacity_estimate_per_s

FIXED = 1 / 16  # s per step, whatever the batch (weights read, launch overhead)
PER_TOKEN = 1 / 1024  # s per token processed in the step


def binary_model(**kw) -> LinearStepModel:
    return LinearStepModel(fixed_s=FIXED, per_token_s=PER_TOKEN, **kw)


def write_trace(tmp_path: Path, rows: list[tuple]) -> str:
    path = tmp_path / "trace.csv"
    path.write_text("arrival_s,input_tokens,output_tokens\n" + "".join(f"{a!r},{i},{o}\n" for a, i, o in rows))
    return str(path)


# ---------------------------------------------------------------------------------------------- one request


def test_single_request_reproduces_step_model_ttft_and_tpot():
    m = LinearStepModel(fixed_s=0.005, per_token_s=1e-4, per_decode_seq_s=2e-4, per_kv_token_s=1e-6,
                        per_attn_pair_s=1e-8)
    r = simulate(m, BurstArrivals(input_tokens=100, output_tokens=5), num_requests=1, exact_step_times=True)
    # prefill: 100 tokens, no decode, causal pairs 100 * (0 + 101/2) = 5050
    ttft = 0.005 + 100 * 1e-4 + 5050 * 1e-8
    # 4 decode steps (tokens 2..5): 1 token, 1 sequence, KV 100, 101, 102, 103 cached tokens
    decode = [0.005 + 1e-4 + 2e-4 + kv * 1e-6 for kv in (100, 101, 102, 103)]
    df = r.to_dataframe()
    assert df.ttft_s[0] == pytest.approx(ttft, rel=1e-12)
    assert df.tpot_s[0] == pytest.approx(np.mean(decode), rel=1e-12)
    assert df.e2e_s[0] == pytest.approx(ttft + sum(decode), rel=1e-12)
    assert list(r.steps["decode_kv_tokens"]) == [0, 100, 101, 102, 103]


def test_chunked_prefill_ttft_is_the_sum_of_chunk_steps():
    m = LinearStepModel(fixed_s=0.01, per_token_s=1e-5, per_kv_token_s=1e-7, per_attn_pair_s=1e-10)
    r = simulate(m, BurstArrivals(input_tokens=20000, output_tokens=3), num_requests=1, exact_step_times=True,
                 scheduler_config=SchedulerConfig(max_num_batched_tokens=8192))
    chunks = [(8192, 0), (8192, 8192), (3616, 16384)]  # (chunk, tokens cached before it): 8192 + 8192 + 3616
    prefill = [0.01 + c * 1e-5 + c * (cached + (c + 1) / 2) * 1e-10 for c, cached in chunks]
    decode = [0.01 + 1e-5 + kv * 1e-7 for kv in (20000, 20001)]
    df = r.to_dataframe()
    assert list(r.steps["prefill_tokens"]) == [8192, 8192, 3616, 0, 0]
    assert list(r.steps["emitted_tokens"]) == [0, 0, 1, 1, 1]  # the first token comes from the last chunk
    assert df.ttft_s[0] == pytest.approx(sum(prefill), rel=1e-12)
    assert df.tpot_s[0] == pytest.approx(np.mean(decode), rel=1e-12)


def test_rounded_step_times_stay_within_half_a_percent_of_exact():
    m = LinearStepModel(fixed_s=0.01, per_token_s=1e-5, per_kv_token_s=1e-7, per_attn_pair_s=1e-10)
    spec = BurstArrivals(input_tokens=20000, output_tokens=300)
    exact = simulate(m, spec, num_requests=1, exact_step_times=True).to_dataframe()
    fast = simulate(m, spec, num_requests=1).to_dataframe()
    for col in ("ttft_s", "tpot_s", "e2e_s"):
        assert fast[col][0] == pytest.approx(exact[col][0], rel=5e-3)


# ---------------------------------------------------------------------------------------------- two requests


def test_two_request_hand_schedule(tmp_path):
    # A arrives at 0 (4 prompt tokens, 3 output); B (2 prompt, 2 output) arrives exactly when step 1 starts,
    # so step 1 sees it (arrivals before steps at equal times).
    # step 0 [0, 68): A prefill 4 tokens -> 64 + 4 = 68 (units of 1/1024 s); A token 1
    # step 1 [68, 135): A decode 1 + B prefill 2 = 3 tokens -> 67; A token 2, B token 1
    # step 2 [135, 201): A decode + B decode = 2 tokens -> 66; A token 3 (done), B token 2 (done)
    u = 1 / 1024
    path = write_trace(tmp_path, [(0.0, 4, 3), (68 * u, 2, 2)])
    r = simulate(binary_model(), TraceArrivals(path=path), exact_step_times=True)
    df = r.to_dataframe()
    assert list(r.steps["num_tokens"]) == [4, 3, 2]
    assert list(r.steps["num_decode_seqs"]) == [0, 1, 2]
    assert list(r.steps["start_s"]) == [0.0, 68 * u, 135 * u]
    assert list(df.first_token_s) == [68 * u, 135 * u]
    assert list(df.finish_s) == [201 * u, 201 * u]
    assert list(df.ttft_s) == [68 * u, 67 * u]
    assert list(df.tpot_s) == [(201 - 68) * u / 2, 66 * u]  # (e2e - ttft) / (out - 1)
    s = r.summary()
    # ITL: A's gaps 67 and 66, B's gap 66 -> sorted 66, 66, 67
    assert s["itl_s_mean"] == pytest.approx((67 + 66 + 66) * u / 3)
    assert s["itl_s_p50"] == 66 * u


def test_arrival_just_after_a_step_starts_waits_for_the_next_step(tmp_path):
    # B one tick after step 1 started: step 1 is A alone (65), B prefills in step 2 with A's decode (3 -> 67)
    u = 1 / 1024
    path = write_trace(tmp_path, [(0.0, 4, 3), (float(np.nextafter(68 * u, 1.0)), 2, 2)])
    r = simulate(binary_model(), TraceArrivals(path=path), exact_step_times=True)
    assert list(r.steps["num_tokens"]) == [4, 1, 3, 1]
    assert r.to_dataframe().first_token_s[1] == (68 + 65 + 67) * u


# ---------------------------------------------------------------------------------------------- preemption

def _preemption_run(mode: str):
    # KV pool of 64 tokens = 4 blocks of 16. Two requests of 16 prompt + 40 output tokens arrive together:
    # each alone needs ceil(55 / 16) = 4 blocks (fits), together they outgrow the pool.
    cfg = SchedulerConfig(block_size_tokens=16, preemption_mode=mode,
                          **({"swap_bytes_per_token": 1024.0, "swap_bandwidth_bytes_per_s": 1024.0**2}
                             if mode == "swap" else {}))
    return simulate(binary_model(kv_capacity_tokens=64), BurstArrivals(input_tokens=16, output_tokens=40),
                    num_requests=2, scheduler_config=cfg, exact_step_times=True)


def test_preemption_by_recompute_hand_schedule():
    # step 0: both prefill (32 tokens, 96); 1 block each, 16 cached each.
    # steps 1-16: both decode (2 tokens, 66); step 1 takes a 2nd block each -> pool full at 32 cached each.
    # step 17: both need a 3rd block, none free -> B (admitted last) is preempted after 17 tokens.
    # steps 17-39: A alone (1 token, 65); A's 40th token at the end of step 39.
    # step 40: B re-prefills 16 + 17 = 33 tokens (97) -> token 18; steps 41-62: 22 decode steps (65).
    u = 1 / 1024
    r = _preemption_run("recompute")
    df = r.to_dataframe()
    a_finish = 96 + 16 * 66 + 23 * 65
    b_resume = a_finish + 97
    assert list(df.first_token_s) == [96 * u, 96 * u]
    assert list(df.finish_s) == [a_finish * u, (b_resume + 22 * 65) * u]
    assert list(df.num_preemptions) == [0, 1]
    assert r.steps["start_s"].size == 63
    assert np.flatnonzero(r.steps["preemptions"]).tolist() == [17]
    assert r.steps["num_tokens"][40] == 33
    blocks = r.steps["kv_used_blocks"]
    # step 0: 1+1; step 1: 2+2; step 17: A's 3rd block; 33: A's 4th; 40: B's 3 blocks; 56: B's 4th
    assert [blocks[i] for i in (0, 1, 16, 17, 32, 33, 40, 55, 56)] == [2, 4, 4, 3, 3, 4, 3, 3, 4]
    # B's gap over the preemption: last token at the end of step 16, next at the end of step 40
    assert r.itl_extra_s.tolist() == [(b_resume - (96 + 16 * 66)) * u]


def test_preemption_by_swap_hand_schedule():
    # As above, but B's 32 cached tokens are copied out in step 17 (32 / 1024 s added) and back in
    # step 40 (32 / 1024 s added), where B decodes at once without re-prefilling.
    u = 1 / 1024
    r = _preemption_run("swap")
    df = r.to_dataframe()
    a_finish = 96 + 16 * 66 + (65 + 32) + 22 * 65  # step 17 carries the swap-out
    b_resume = a_finish + 65 + 32  # step 40: B's decode plus the swap-in
    assert list(df.finish_s) == [a_finish * u, (b_resume + 22 * 65) * u]
    assert r.steps["num_tokens"][40] == 1
    assert r.steps["prefill_tokens"].sum() == 32  # no recompute
    assert list(df.num_preemptions) == [0, 1]
    assert r.itl_extra_s.tolist() == [(b_resume - (96 + 16 * 66)) * u]


def test_many_requests_in_a_small_cache_all_finish_with_preemptions():
    m = binary_model(kv_capacity_tokens=2048)
    r = simulate(m, PoissonArrivals(rate_per_s=40, input_tokens=(200, 100), output_tokens=(150, 100)),
                 num_requests=300, seed=3)
    s = r.summary()
    assert s["preemptions"] > 0
    assert s["num_completed"] == 300
    assert s["kv_cache_used_fraction_max"] <= 1.0
    # every output token was produced exactly once: emitted tokens = requested output tokens
    assert r.steps["emitted_tokens"].sum() == r.requests["output_tokens"].sum()


# ---------------------------------------------------------------------------------------------- queueing laws


def test_littles_law_in_steady_state():
    m = LinearStepModel(fixed_s=0.01, per_token_s=2e-5, per_kv_token_s=2e-8, kv_capacity_tokens=200_000)
    rate = 0.6 * capacity_estimate_per_s(m, 500, 100, SchedulerConfig(), 1)
    r = simulate(m, PoissonArrivals(rate_per_s=rate, input_tokens=(500, 300), output_tokens=(100, 50)),
                 num_requests=8000, seed=1)
    assert not r.summary()["saturated"]
    s = r.steps
    # time-average requests in the system (running + waiting at each step), over the middle of the run
    t_end = r.requests["arrival_s"].max()
    lo, hi = 0.25 * t_end, 0.75 * t_end
    m_ = (s["start_s"] >= lo) & (s["start_s"] < hi)
    in_system_mean = np.sum((s["running"] + s["waiting"])[m_] * s["duration_s"][m_]) / (hi - lo)
    arrived = (r.requests["arrival_s"] >= lo) & (r.requests["arrival_s"] < hi)
    little = rate * np.mean(r.e2e_s[arrived])  # L = lambda * W
    assert in_system_mean == pytest.approx(little, rel=0.05)


def test_closed_loop_keeps_at_most_concurrency_requests_in_flight():
    m = LinearStepModel(fixed_s=0.01, per_token_s=1e-5)
    r = simulate(m, ClosedLoopArrivals(concurrency=5, input_tokens=(100, 50), output_tokens=(20, 10)),
                 num_requests=200)
    df = r.to_dataframe()
    events = sorted([(t, 1) for t in df.arrival_s] + [(t, -1) for t in df.finish_s])  # finishes first on ties
    in_flight = np.cumsum([d for _, d in events])
    assert len(df) == 200 and in_flight.max() == 5
    # a user's next request arrives exactly when one finishes (no think time)
    assert set(np.round(df.arrival_s[5:], 12)) <= set(np.round(df.finish_s, 12))


# ---------------------------------------------------------------------------------------------- determinism


def test_same_seed_same_result_other_seed_other_result():
    m = LinearStepModel(fixed_s=0.01, per_token_s=1e-5, per_kv_token_s=1e-8)
    spec = PoissonArrivals(rate_per_s=10, input_tokens=(300, 200), output_tokens=[10, 50, 200])
    a = simulate(m, spec, num_requests=300, seed=7).to_dataframe()
    b = simulate(m, spec, num_requests=300, seed=7).to_dataframe()
    c = simulate(m, spec, num_requests=300, seed=8).to_dataframe()
    assert a.equals(b)
    assert not np.array_equal(a.arrival_s, c.arrival_s)


def test_two_rates_share_their_random_numbers():
    m = LinearStepModel(fixed_s=0.01)
    slow = simulate(m, PoissonArrivals(rate_per_s=2, input_tokens=(300, 200), output_tokens=(50, 40)),
                    num_requests=100).requests
    fast = simulate(m, PoissonArrivals(rate_per_s=4, input_tokens=(300, 200), output_tokens=(50, 40)),
                    num_requests=100).requests
    np.testing.assert_allclose(fast["arrival_s"], slow["arrival_s"] / 2, rtol=1e-12)
    assert np.array_equal(fast["input_tokens"], slow["input_tokens"])
    assert np.array_equal(fast["output_tokens"], slow["output_tokens"])


# ---------------------------------------------------------------------------------------------- saturation


def test_overload_is_reported_saturated_and_light_load_is_not():
    m = LinearStepModel(fixed_s=0.01, per_token_s=2e-5, per_kv_token_s=2e-8, kv_capacity_tokens=100_000)
    cap = capacity_estimate_per_s(m, 500, 100, SchedulerConfig(), 1)
    light = simulate(m, PoissonArrivals(rate_per_s=0.3 * cap, input_tokens=500, output_tokens=100),
                     num_requests=2000).summary()
    heavy = simulate(m, PoissonArrivals(rate_per_s=3 * cap, input_tokens=500, output_tokens=100),
                     num_requests=2000).summary()
    assert not light["saturated"] and heavy["saturated"]
    assert heavy["requests_per_s"] < 0.5 * 3 * cap  # it serves far less than what arrives


def test_overloaded_run_stops_at_the_time_cap():
    m = LinearStepModel(fixed_s=0.01, per_token_s=1e-4)
    t0 = time.perf_counter()
    r = simulate(m, PoissonArrivals(rate_per_s=200, input_tokens=500, output_tokens=200), duration_s=60,
                 max_time_s=70)
    assert time.perf_counter() - t0 < 30
    s = r.summary()
    assert s["hit_time_cap"] and s["saturated"] and s["num_unfinished"] > 0
    assert r.steps["start_s"].max() < 70


# ---------------------------------------------------------------------------------------------- admission


def test_requests_that_never_fit_are_rejected_not_hung():
    m = binary_model(kv_capacity_tokens=256)
    r = simulate(m, PoissonArrivals(rate_per_s=1, input_tokens=[100, 300], output_tokens=10), num_requests=40)
    s = r.summary()
    big = r.requests["input_tokens"] == 300
    assert s["num_rejected"] == big.sum() > 0
    assert s["num_completed"] == (~big).sum()
    with pytest.raises(InvalidSettingError, match="never fits"):
        simulate(m, ClosedLoopArrivals(concurrency=2, input_tokens=300, output_tokens=10), num_requests=4)


def test_without_chunked_prefill_a_prompt_waits_for_a_whole_budget(tmp_path):
    # budget 8 tokens: A (6 prompt) fills step 0; B (6 prompt) arriving at 0 does not fit in the 2 left,
    # and with chunking off it waits for step 1 (A decodes: 1 + 6 = 7 tokens <= 8).
    cfg = SchedulerConfig(max_num_batched_tokens=8, max_num_seqs=4, enable_chunked_prefill=False)
    path = write_trace(tmp_path, [(0.0, 6, 3), (0.0, 6, 3)])
    r = simulate(binary_model(), TraceArrivals(path=path), scheduler_config=cfg, exact_step_times=True)
    assert list(r.steps["num_tokens"][:2]) == [6, 7]
    chunked = simulate(binary_model(), TraceArrivals(path=path), exact_step_times=True,
                       scheduler_config=cfg.model_copy(update={"enable_chunked_prefill": True}))
    assert list(chunked.steps["prefill_tokens"][:2]) == [8, 4]  # B split 2 + 4


# ---------------------------------------------------------------------------------------------- traces


@pytest.mark.parametrize(
    "body, match",
    [
        ("arrival_s,input_tokens,output_tokens\n0,10,5\n1.5,abc,5\n", r"row 2 \(line 3\), field 'input_tokens'.*'abc'"),
        ("arrival_s,input_tokens,output_tokens\n-1,10,5\n", r"row 1 \(line 2\), field 'arrival_s'.*>= 0"),
        ("arrival_s,input_tokens,output_tokens\n0,10,2.5\n", r"field 'output_tokens'.*whole number"),
        ("arrival_s,input_tokens,output_tokens\n0,10,\n", r"field 'output_tokens': value is missing"),
        ("arrival_s,input_tokens\n0,10\n", r"missing \['output_tokens'\]"),
        ("arrival_ms,input_tokens,output_tokens\n0,10,5\n", r"unknown \['arrival_ms'\]"),
        ("arrival_s,input_tokens,output_tokens\n", r"no requests"),
        # beyond int64 and beyond any context window; beyond float64; a time float64 cannot step through
        ("arrival_s,input_tokens,output_tokens\n0,99999999999999999999999,5\n",
         r"row 1 \(line 2\), field 'input_tokens'.*1\.\.100,000,000"),
        ("arrival_s,input_tokens,output_tokens\n0,10,100000001\n", r"field 'output_tokens'.*1\.\.100,000,000"),
        ("arrival_s,input_tokens,output_tokens\n0,10,5\n1e400,10,5\n", r"row 2 \(line 3\), field 'arrival_s'.*finite"),
        ("arrival_s,input_tokens,output_tokens\n1e300,10,5\n", r"field 'arrival_s'.*<= 1e\+09 seconds"),
        ("arrival_s,input_tokens,output_tokens\n0,1\x00,5\n", r"field 'input_tokens'.*not a number"),
    ],
)
def test_bad_csv_trace_names_file_row_and_field(tmp_path, body, match):
    path = tmp_path / "bad.csv"
    path.write_text(body)
    with pytest.raises(SpecError, match=match) as err:
        simulate(binary_model(), TraceArrivals(path=str(path)))
    assert str(path) in str(err.value)


def test_jsonl_trace_is_read_and_bad_rows_are_named(tmp_path):
    good = tmp_path / "t.jsonl"
    good.write_text('{"arrival_s": 0.5, "input_tokens": 4, "output_tokens": 2}\n\n'
                    '{"arrival_s": 0.0, "input_tokens": 8, "output_tokens": 1}\n')
    r = simulate(binary_model(), TraceArrivals(path=str(good)))
    assert list(r.requests["arrival_s"]) == [0.0, 0.5]  # sorted by arrival
    bad = tmp_path / "b.jsonl"
    bad.write_text('{"arrival_s": 0, "input_tokens": 4, "output_tokens": 2}\n{"arrival_s": 1, "input_tokens": 4\n')
    with pytest.raises(SpecError, match=r"b.jsonl: row 2 \(line 2\): not valid JSON"):
        simulate(binary_model(), TraceArrivals(path=str(bad)))
    with pytest.raises(SpecError, match="cannot read"):
        simulate(binary_model(), TraceArrivals(path=str(tmp_path / "missing.csv")))
    bad.write_text('{"arrival_s": 0, "input_tokens": 4, "output_tokens": 2}\n{"arrival_s": 1 "input_tokens": 4}\n')
    with pytest.raises(SpecError, match=r"b.jsonl: row 2 \(line 2\): not valid JSON: .* at column 17"):
        simulate(binary_model(), TraceArrivals(path=str(bad)))
    bad.write_text('{"arrival_s": 0, "input_tokens": 1' + "0" * 400 + ', "output_tokens": 2}\n')
    with pytest.raises(SpecError, match=r"row 1 \(line 1\), field 'input_tokens': value 1000.*too large"):
        simulate(binary_model(), TraceArrivals(path=str(bad)))


def test_a_trace_that_is_not_utf8_names_its_line_and_column(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"arrival_s,input_tokens,output_tokens\n0,10,5\n1,\xe9\xe9,5\n")
    with pytest.raises(SpecError, match=r"latin1.csv: line 3, column 3 .*not UTF-8"):
        simulate(binary_model(), TraceArrivals(path=str(path)))


# ---------------------------------------------------------------------------------------------- settings


def test_bad_settings_raise_clear_errors():
    m = binary_model()
    spec = PoissonArrivals(rate_per_s=1, input_tokens=10, output_tokens=10)
    with pytest.raises(InvalidSettingError, match="num_requests or duration_s"):
        simulate(m, spec)
    with pytest.raises(InvalidSettingError, match="replicas"):
        simulate(m, spec, num_requests=5, replicas=0)
    with pytest.raises(InvalidSettingError, match="router"):
        simulate(m, spec, num_requests=5, router="fastest")
    with pytest.raises(InvalidSettingError, match="swap_bytes_per_token"):
        simulate(m, spec, num_requests=5, scheduler_config={"preemption_mode": "swap"})
    with pytest.raises(InvalidSettingError, match="max_num_batched_tokens"):
        simulate(m, spec, num_requests=5, scheduler_config={"max_num_batched_tokens": 8, "max_num_seqs": 16})
    with pytest.raises(InvalidSettingError, match="kv_capacity_tokens"):
        simulate(LinearStepModel(kv_capacity_tokens=0), spec, num_requests=5)
    with pytest.raises(InvalidSettingError, match="positive, finite"):
        simulate(LinearStepModel(fixed_s=-1.0), spec, num_requests=5)
    with pytest.raises(InvalidSettingError, match="spread"):
        PoissonArrivals(rate_per_s=1, input_tokens=(10, 20), output_tokens=10)
