"""A benchmark harness's batcher in front of the engine instances (AMD's MLPerf v4.1 Llama-2-70B Server
harness): its send times, the arrivals one instance sees, TTFT counted from the client's send, the rate
search with it, and the notes that state it."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inferchip.errors import InvalidSettingError
from inferchip.sim import LinearStepModel, PoissonArrivals, SchedulerConfig, simulate
from inferchip.sim.load.arrivals import HarnessBatchedArrivals, harness_send_times_s, make_source
from inferchip.sim.runs.search import max_rate_under_slo
from inferchip.validation.stated_engine import StatedScheduling, arrivals_factory, stated_batch, stated_scheduling

AMD_NOTES = ("one vLLM instance per GPU (-tp 1 -dp 8) behind a harness-side batcher, --enable-batcher with the "
             "harness defaults --batcher-threshold 0.3 s and --gpu-batch-size 96 (mainVllmFp8_SyncServer.py)")


def test_send_times_by_hand():
    # window 0.3 s: the clock starts at the first query; a batch is due 0.3 s after the last send, or
    # at the first waiting query's arrival when none waited then.
    send, batch = harness_send_times_s(np.array([0.0, 0.1, 0.25, 0.35, 0.9]), 0.3, 96)
    np.testing.assert_allclose(send, [0.3, 0.3, 0.3, 0.6, 0.9])
    assert batch.tolist() == [0, 0, 0, 1, 2]
    # max batch 2: a batch goes at the arrival that fills it, the clock restarts there.
    send, batch = harness_send_times_s(np.array([0.0, 0.01, 0.02, 0.03, 2.0]), 1.0, 2)
    np.testing.assert_allclose(send, [0.01, 0.01, 0.03, 0.03, 2.0])
    assert batch.tolist() == [0, 0, 1, 1, 2]


@settings(max_examples=60, deadline=None)
@given(gaps=st.lists(st.floats(1e-4, 1.0), min_size=1, max_size=200), window=st.floats(0.01, 2.0),
       most=st.integers(1, 50))
def test_send_times_never_before_the_query_and_batches_are_bounded(gaps, window, most):
    t = np.cumsum(gaps)
    send, batch = harness_send_times_s(t, window, most)
    assert np.all(send >= t - 1e-12) and np.all(np.diff(send) >= 0) and np.all(np.diff(batch) >= 0)
    assert np.bincount(batch).max() <= most
    assert np.unique(send[batch == batch[0]]).size == 1  # one send time per batch
    if most >= t.size:  # batches never fill: a query waits at most one window
        assert np.all(send - t <= window + 1e-9)


def test_one_instance_sees_every_nth_batch_and_its_requests_start_when_issued():
    spec = HarnessBatchedArrivals(rate_per_s=10.0, instances=4, window_s=0.3, max_batch=96,
                                  input_tokens=100, output_tokens=10)
    src = make_source(spec, None, 3000, seed=0)
    t, issued = [], []
    for _ in range(3000):
        a, _, _ = src.pop()
        t.append(a)
        issued.append(src.issued_s(a))
    t, issued = np.array(t), np.array(issued)
    assert np.all(issued <= t + 1e-12) and np.all(np.diff(t) >= 0)
    # the instance's share of the system's 40 queries/s is 10/s, in bursts about 4 windows apart
    assert 9.0 < t.size / (t[-1] - t[0]) < 11.0
    sends = np.unique(t)
    assert 1.1 < np.median(np.diff(sends)) < 1.3
    # dense arrivals (12 per window): the mean wait is close to half a window
    assert 0.12 < float(np.mean(t - issued)) < 0.18


def test_ttft_counts_the_batcher_wait():
    step = LinearStepModel(fixed_s=0.005, per_token_s=1e-6)
    cfg = SchedulerConfig(max_num_seqs=256, max_num_batched_tokens=8192)
    plain = simulate(step, PoissonArrivals(rate_per_s=10.0, input_tokens=100, output_tokens=10),
                     num_requests=2000, seed=1, scheduler_config=cfg)
    batched = simulate(step, HarnessBatchedArrivals(rate_per_s=10.0, instances=4, window_s=0.3, max_batch=96,
                                                    input_tokens=100, output_tokens=10),
                       num_requests=2000, seed=1, scheduler_config=cfg)
    gap = float(np.nanmean(batched.ttft_s)) - float(np.nanmean(plain.ttft_s))
    assert 0.12 < gap < 0.2  # about half a window on top of an almost idle engine
    # the queue measured from the client's send (queue_s) holds the wait too
    df = batched.to_dataframe()
    assert float(df["queue_s"].mean()) > 0.12


def test_the_rate_search_runs_the_stated_arrivals():
    step = LinearStepModel(fixed_s=0.01, per_token_s=2e-5, per_decode_seq_s=1e-4)
    kw = dict(slo_ttft_s=0.4, slo_tpot_s=0.2, num_requests=800, seed=0, start_rate_per_s=5.0,
              scheduler_config=SchedulerConfig(max_num_seqs=512, max_num_batched_tokens=8192), rel_tol=0.05)
    plain = max_rate_under_slo(step, 200, 50, **kw)
    # a 0.5 s window breaks a 0.4 s p99 TTFT limit unless queries are so sparse that the window has
    # elapsed when most arrive (the batcher then sends a query at once)
    batched = max_rate_under_slo(step, 200, 50, **kw, arrivals=lambda r, i, o: HarnessBatchedArrivals(
        rate_per_s=r, instances=2, window_s=0.5, max_batch=1000, input_tokens=i, output_tokens=o))
    assert plain.feasible and batched.feasible
    assert batched.rate_per_s < plain.rate_per_s / 2
    assert batched.trials[-1].rate_per_s < plain.rate_per_s


def test_the_notes_state_a_harness_batcher():
    s = stated_scheduling("r", AMD_NOTES)
    assert (s.batcher_window_s, s.batcher_max_batch) == (0.3, 96)
    assert s.recv_interval_steps == 1 and not s.adp_balance
    # the harness batch is not the engine's batch size
    assert stated_batch(AMD_NOTES) == (None, None)
    assert stated_scheduling("r", "gpu_batch_size 1024") == StatedScheduling()
    f, note = arrivals_factory(s, 8)
    spec = f(9.0, 300, 200)
    assert isinstance(spec, HarnessBatchedArrivals) and (spec.instances, spec.window_s, spec.max_batch) == (8, 0.3, 96)
    assert "harness batcher" in note and "TTFT" in note
    assert arrivals_factory(StatedScheduling(), 8) == (None, "")


@pytest.mark.parametrize("notes, missing", [
    ("--enable-batcher, --gpu-batch-size 96", "--batcher-threshold"),
    ("--enable-batcher, --batcher-threshold 0.3", "--gpu-batch-size"),
])
def test_a_batcher_without_its_values_is_an_error_naming_the_row(notes, missing):
    with pytest.raises(InvalidSettingError, match=f"case r9, column notes: --enable-batcher .*{missing}"):
        stated_scheduling("r9", notes)


def test_a_batcher_window_out_of_range_is_an_error():
    with pytest.raises(InvalidSettingError, match="case r9.*allowed"):
        stated_scheduling("r9", "--enable-batcher --batcher-threshold 0 --gpu-batch-size 96")


# ------------------------------------------------------------------ the analytic model behind the batcher
def _open_loop_point(rate_per_s: float):
    from conftest import server_model
    from inferchip.performance.operating import LengthDist, Question, operating_point

    mm = server_model()
    q = Question("open_loop", LengthDist.fixed(300), LengthDist.fixed(200), rate_per_s=rate_per_s, queue_wait=True)
    return mm, q, operating_point(mm, q, 1)


def test_analytic_ttft_without_a_batcher_is_unchanged():
    from inferchip.validation.stated_engine import batcher_ttft_point

    mm, q, pt = _open_loop_point(20.0)
    assert batcher_ttft_point(StatedScheduling(), pt, mm, 20.0, q.inputs, q.outputs) is pt
    assert batcher_ttft_point(stated_scheduling("r", AMD_NOTES), pt, mm, None, q.inputs, q.outputs) is pt


def test_analytic_ttft_behind_the_batcher_by_hand():
    from inferchip.validation.stated_engine import batcher_ttft_point

    rate = 20.0
    mm, q, pt = _open_loop_point(rate)
    s = StatedScheduling(batcher_window_s=0.5, batcher_max_batch=96)
    out = batcher_ttft_point(s, pt, mm, rate, q.inputs, q.outputs)
    k = rate * 0.5  # 10 prompts of 300 tokens: 3000 tokens, one step of the 8192-token budget
    wait = (k - 1) / (2 * rate)
    step, _ = mm.replica_step_s(np.array([pt.batch + 3000.0]), np.array([pt.batch]),
                                np.array([pt.batch * (300 + 200 / 2)]), np.array([k * 300 * 301 / 2]),
                                logit_rows=np.array([pt.batch + k]))
    alone = pt.ttft_s - 0.5 * pt.tpot_s
    assert out.ttft_s == pytest.approx(pt.ttft_s + wait + max(0.0, float(step[0]) - alone), rel=1e-9)
    assert out.e2e_s - pt.e2e_s == pytest.approx(out.ttft_s - pt.ttft_s, rel=1e-9)
    assert out.tpot_s == pt.tpot_s and out.tokens_per_s_replica == pt.tokens_per_s_replica
    # a max batch of 1: no query waits for another, and a burst is one prompt
    one = batcher_ttft_point(StatedScheduling(batcher_window_s=0.5, batcher_max_batch=1), pt, mm, rate, q.inputs,
                             q.outputs)
    assert one.ttft_s == pytest.approx(pt.ttft_s, rel=1e-6)


@settings(max_examples=15, deadline=None)
@given(w1=st.floats(0.01, 1.0), w2=st.floats(0.01, 1.0))
def test_analytic_ttft_grows_with_the_window(w1, w2):
    from inferchip.validation.stated_engine import batcher_ttft_point

    mm, q, pt = _open_loop_point(20.0)
    lo, hi = sorted((w1, w2))
    a = batcher_ttft_point(StatedScheduling(batcher_window_s=lo, batcher_max_batch=96), pt, mm, 20.0, q.inputs,
                           q.outputs)
    b = batcher_ttft_point(StatedScheduling(batcher_window_s=hi, batcher_max_batch=96), pt, mm, 20.0, q.inputs,
                           q.outputs)
    assert pt.ttft_s <= a.ttft_s <= b.ttft_s + 1e-12
