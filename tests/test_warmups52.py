"""Steady-state percentiles (stop 52): ``serve --warmups N`` / ``ic.serve(warmups=N)`` and ``curve
--warmups-per-user N`` / ``ic.curve(warmups_per_user=N)`` run the first requests sent but leave them out of the
percentiles, SLO attainment and the verdict (one implementation: ``sim.runs.simulate``'s ``warmup_requests``); the
record and the text say how many each percentile read. The default, 0, reads every request as benchmark_serving
reads a run: the figures are the same as without the option."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import inferchip as ic
from inferchip.errors import InvalidSettingError
from inferchip.sim import LinearStepModel, benchmark_clients, simulate

H100 = "nvidia-h100-sxm-80gb"
L8 = "meta-llama/Llama-3.1-8B-Instruct"
SHORT = {"input_tokens": 512, "output_tokens": 128}
STEP = LinearStepModel(fixed_s=0.01, per_token_s=2e-5, per_decode_seq_s=1e-5, kv_capacity_tokens=200_000)
WINDOW_KEYS = ("output_tokens_per_s", "requests_per_s", "window_start_s", "window_end_s", "num_completed")


def _run(warmups: int, clients: int = 32, requests: int = 96):
    return simulate(STEP, benchmark_clients(clients, 2048, 64, 1.0), num_requests=requests, seed=3,
                    warmup_requests=warmups)


def test_the_percentiles_read_the_requests_after_the_warmups_by_hand():
    """32 clients of 2,048-token prompts, 96 requests: the first wave queues behind 32 prompts of one step budget each
    (1.4 s TTFT at its tail), the steady requests behind one or two (0.35 s). With 32 warm-ups the p99 TTFT is numpy's
    p99 of requests 32..95 (issue order), below half a second; every request read, it is the wave's."""
    whole, steady = _run(0), _run(32)
    s0, s32 = whole.summary(), steady.summary()
    assert np.isclose(s32["ttft_s_p99"], np.percentile(steady.ttft_s[32:], 99))
    assert np.isclose(s0["ttft_s_p99"], np.percentile(whole.ttft_s, 99))
    assert s32["ttft_s_p99"] < 0.5 < 1.0 < s0["ttft_s_p99"]
    assert (s32["percentile_requests"], s32["warmup_requests"], s32["first_wave_requests"]) == (64, 32, 0)
    assert (s0["percentile_requests"], s0["warmup_requests"], s0["first_wave_requests"]) == (96, 0, 32)


@given(st.integers(0, 95))
def test_warmups_move_no_throughput_and_count_every_request(n):
    """Any N below the run's requests: the same run (its throughputs and window are the same), and the requests read
    plus those left out are every finished one."""
    s0, s = _run(0).summary(), _run(n).summary()
    assert all(s[k] == s0[k] for k in WINDOW_KEYS)
    assert s["percentile_requests"] + s["warmup_requests"] == s["num_completed"] == 96
    assert s["first_wave_requests"] == max(32 - n, 0)


def test_the_default_reads_every_request_as_before():
    """warmups=0 is the run as it was: every figure of the summary equal to a run not given the keyword."""
    a = simulate(STEP, benchmark_clients(8, 512, 64, 1.0), num_requests=40, seed=1).summary()
    b = simulate(STEP, benchmark_clients(8, 512, 64, 1.0), num_requests=40, seed=1, warmup_requests=0).summary()
    assert a.keys() == b.keys()
    assert all(a[k] == b[k] or (a[k] != a[k] and b[k] != b[k]) for k in a)


def test_serve_and_find_count_take_warmups_and_say_so():
    d = ic.serve(H100, L8, concurrency=16, num_requests=200, slo_ttft_s=0.2, warmups=16, **SHORT)
    assert (d["percentile_requests"], d["warmup_requests"], d["first_wave_requests"]) == (184, 16, 0)
    assert (d["slo"]["requests_judged"], d["slo"]["warmup_requests"]) == (184, 16)
    base = ic.serve(H100, L8, concurrency=16, num_requests=200, **SHORT)
    assert d["output_tokens_per_s"] == base["output_tokens_per_s"] and d["ttft_s_p99"] < base["ttft_s_p99"]
    f = ic.find_count(H100, L8, slo_ttft_s=10.0, concurrency=16, num_requests=200, warmups=16, tp=1, **SHORT)
    assert f["warmup_requests"] == 16 and f["percentile_requests"] == 184


def test_a_curve_point_leaves_out_its_users_first_requests():
    """1 warm-up a user: a point of 64 clients reads 7 x 64 of its 512 requests, no first wave; replicated points
    (8 clients on 4 replicas) count every replica's."""
    cur = ic.curve(H100, L8, concurrencies=[64], slo_ttft_s=10.0, warmups_per_user=1, **SHORT)
    (p,) = cur.points
    assert (p["percentile_requests"], p["warmup_requests"], p["first_wave_requests"]) == (448, 64, 0)
    assert (cur.slo["best_requests_judged"], cur.slo["best_warmup_requests"]) == (448, 64)
    rep = ic.curve(H100, L8, count=4, concurrencies=[8], warmups_per_user=1, **SHORT)
    assert (rep.points[0]["percentile_requests"], rep.points[0]["warmup_requests"]) == (56, 8)


@pytest.mark.parametrize("bad", [-1, 200, 1.5, True])
def test_a_warmup_count_that_leaves_nothing_to_read_is_refused(bad):
    with pytest.raises(InvalidSettingError, match="^warmups: value"):  # ic.serve's keyword, not simulate's
        ic.serve(H100, L8, concurrency=16, num_requests=200, warmups=bad, **SHORT)
    with pytest.raises(InvalidSettingError, match="^warmups: value"):
        ic.find_count(H100, L8, slo_ttft_s=10.0, concurrency=16, num_requests=200, warmups=bad, tp=1, **SHORT)


def test_warmups_refused_after_the_run_are_named_as_each_interface_takes_them():
    """A run stopped by its duration sends fewer requests than the warm-ups: ic.serve names its ``warmups``, the
    command line ``--warmups`` (both read ``warmup_requests``, the simulator's keyword, before)."""
    from cli_in_process import run_main

    with pytest.raises(InvalidSettingError, match="^warmups: 500 of a run that sent"):
        ic.serve(H100, L8, rate_per_s=1.0, duration_s=5.0, warmups=500, tp=1, **SHORT)
    args = ["serve", "--chip", H100, "--model", L8, "--input-tokens", "512", "--output-tokens", "128", "--tp", "1"]
    for extra, said in ((["--rate", "1", "--duration", "5", "--warmups", "500"], "--warmups: 500 of a run"),
                        (["--concurrency", "4", "--requests", "10", "--warmups", "10"], "--warmups: value 10")):
        code, text = run_main([*args, *extra])
        flat = " ".join(text.split())
        assert code == 2 and said in flat and "warmup_requests" not in flat, text


def test_a_numpy_integer_is_a_whole_number_of_warmups_per_user():
    """ic.curve takes warmups_per_user as ic.serve takes warmups: a numpy integer too (it was refused)."""
    a = ic.curve(H100, L8, concurrencies=[8], warmups_per_user=np.int64(1), **SHORT)
    b = ic.curve(H100, L8, concurrencies=[8], warmups_per_user=1, **SHORT)
    assert a.points == b.points and a.points[0]["warmup_requests"] == 8


def test_a_curve_warmup_count_of_every_request_is_refused():
    with pytest.raises(InvalidSettingError, match="warmups_per_user: value 8"):
        ic.curve(H100, L8, concurrencies=[4], warmups_per_user=8, **SHORT)


def test_the_cli_states_the_warmups_in_its_line_and_table():
    from typer.testing import CliRunner

    from inferchip.interfaces.cli import app

    args = ["serve", "--chip", H100, "--model", L8, "--concurrency", "16", "--input-tokens", "512",
            "--output-tokens", "128", "--tp", "1"]
    res = CliRunner().invoke(app, [*args, "--requests", "200", "--slo-ttft-ms", "200", "--warmups", "16"],
                             env={"COLUMNS": "200"})
    flat = " ".join(res.output.replace("│", " ").split())
    assert res.exit_code == 0, res.output
    assert "over the 184 finished requests after the first 16 sent (run as warm-up, not read)" in flat
    assert "run first as warm-up, not read (--warmups) 16" in flat
    mtp = CliRunner().invoke(app, [*args, "--warmups", "16", "--mtp", "3"], env={"COLUMNS": "200"})
    assert isinstance(mtp.exception, InvalidSettingError) and "--warmups with --mtp" in str(mtp.exception)


def test_find_count_bounds_its_warmups_by_the_default_run_of_1000_requests():
    """ic.find_count without num_requests checked its warm-ups against the simulator's bound of 1,000,000 before its
    first run and said 'from 0 to 999,999 (fewer than the run's 1,000,000 requests' (review52c): it runs 1,000, as
    ic.serve does, and is refused as ic.serve is, before any run."""
    for call in (ic.serve, lambda *a, **k: ic.find_count(*a, slo_ttft_s=10.0, tp=1, **k)):
        for bad in (-1, 1000):
            with pytest.raises(InvalidSettingError, match=rf"^warmups: value {bad}; allowed: a whole number from 0 to "
                                                          r"999 \(fewer than the run's 1,000 requests"):
                call(H100, L8, rate_per_s=5.0, warmups=bad, **SHORT)
