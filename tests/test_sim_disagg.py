"""Disaggregated prefill/decode pools with a KV transfer: hand schedule and conservation."""

from __future__ import annotations

import numpy as np
import pytest

from inferchip.sim import BurstArrivals, LinearStepModel, PoissonArrivals, simulate_disaggregated

U = 1 / 1024


def test_single_request_hand_schedule():
    # prefill pool: 1/16 s + 64 tokens / 1024 = 128/1024 s -> first token at 0.125 s
    # KV transfer: 1/64 s latency + 64 tokens * 1024 B / 2**20 B/s = 1/64 + 1/16 s -> lands at 0.203125 s
    # decode pool: 3 decode steps of 1/32 + 1/1024 s each
    pm = LinearStepModel(fixed_s=1 / 16, per_token_s=U, num_chips=2)
    dm = LinearStepModel(fixed_s=1 / 32, per_token_s=U, num_chips=4)
    r = simulate_disaggregated(pm, dm, BurstArrivals(input_tokens=64, output_tokens=4), num_requests=1,
                               kv_bytes_per_token=1024, link_bandwidth_bytes_per_s=2.0**20, link_latency_s=1 / 64,
                               exact_step_times=True)
    df = r.to_dataframe()
    landed = 0.125 + 1 / 64 + 1 / 16
    decode_step = 1 / 32 + U
    assert df.ttft_s[0] == 0.125
    assert df.finish_s[0] == landed + 3 * decode_step
    assert df.tpot_s[0] == pytest.approx((landed + 3 * decode_step - 0.125) / 3)
    assert r.steps["replica"].tolist() == [0, 1, 1, 1]
    assert r.steps["start_s"][1] == landed
    assert r.summary()["num_chips"] == 2 + 4
    # the first decode gap spans the transfer: from the first token to the end of the first decode step
    assert r.itl_extra_s.tolist() == [landed + decode_step - 0.125]


def test_pools_do_only_their_phase_and_every_token_comes_out_once():
    pm = LinearStepModel(fixed_s=0.01, per_token_s=2e-5, kv_capacity_tokens=50_000)
    dm = LinearStepModel(fixed_s=0.005, per_token_s=1e-5, per_kv_token_s=2e-8, kv_capacity_tokens=200_000)
    r = simulate_disaggregated(pm, dm, PoissonArrivals(rate_per_s=30, input_tokens=(400, 300), output_tokens=(80, 70)),
                               num_requests=600, kv_bytes_per_token=2.0**17, link_bandwidth_bytes_per_s=50e9,
                               prefill_replicas=1, decode_replicas=2, seed=2)
    s, req = r.steps, r.requests
    prefill_pool = s["replica"] == 0
    assert np.all(s["num_decode_seqs"][prefill_pool] == 0)
    assert s["preemptions"].sum() == 0  # room enough: the decode pool never recomputes a prompt ...
    assert s["prefill_tokens"][~prefill_pool].sum() == 0  # ... so it never prefills
    assert s["prefill_tokens"][prefill_pool].sum() == req["input_tokens"].sum()
    assert np.isfinite(req["finish_s"]).all()
    assert s["emitted_tokens"].sum() == req["output_tokens"].sum()
    assert set(req["replica"][req["output_tokens"] > 1].tolist()) <= {1, 2}
    assert r.extra["kv_blocks_in_use_at_end"] == [0, 0, 0]


def test_a_slower_link_delays_the_second_token_not_the_first():
    pm = LinearStepModel(fixed_s=0.01, per_token_s=2e-5)
    dm = LinearStepModel(fixed_s=0.005, per_token_s=1e-5)
    runs = [simulate_disaggregated(pm, dm, BurstArrivals(input_tokens=1000, output_tokens=11), num_requests=1,
                                   kv_bytes_per_token=2.0**17, link_bandwidth_bytes_per_s=bw).to_dataframe()
            for bw in (1e11, 1e9)]
    assert runs[0].ttft_s[0] == runs[1].ttft_s[0]
    # 1000 tokens * 2**17 B: 1.31 ms at 100 GB/s, 131 ms at 1 GB/s -> 10 decode intervals absorb the difference
    extra_s = 1000 * 2**17 * (1 / 1e9 - 1 / 1e11)
    assert runs[1].tpot_s[0] - runs[0].tpot_s[0] == pytest.approx(extra_s / 10, rel=1e-3)
