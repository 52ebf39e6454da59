"""MLPerf TTFT rows read at the simulated edge of their run (validation/server.py, ``reads_at_edge``),
and the time-to-first-token bounds every simulated Poisson run keeps."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conftest import server_case, server_model
from inferchip.mapping.layout import Layout
from inferchip.sim import LinearStepModel, PoissonArrivals, SchedulerConfig, simulate
from inferchip.sim.runs.search import latency_percentiles_s
from inferchip.spec.calibration import DatasetLengths
from inferchip.validation import server as vs
from inferchip.validation.plan import operating_point, plan_for

LAYOUT = Layout(replicas=2)
LIMITS = "TTFT p99<=500 ms, TPOT p99<=30 ms"


def _case(notes: str, **over: str):
    return server_case(notes, "e1", **over)


@pytest.fixture(scope="module")
def mm():
    return server_model()


def _simulate(mm, case, sim):
    plan = plan_for(case, DatasetLengths())
    return vs.simulate_row(case, plan, LAYOUT, operating_point(mm, plan, LAYOUT.replicas), sim)


def test_which_rows_are_read_at_the_edge():
    """TTFT rows of a run with p99 limits measured at a finite load; nothing else."""
    at = f'"measured at 3 completed samples/s; {LIMITS}"'
    assert vs.reads_at_edge(_case(at, metric="ttft_ms", unit="ms", value="100"))
    assert not vs.reads_at_edge(_case(at, metric="tpot_ms", unit="ms", value="20"))  # TPOT stays at the load
    assert not vs.reads_at_edge(_case(at))  # a throughput row has its own search already
    # no limits (an online benchmark at a request rate), or no finite load: read as stated
    assert not vs.reads_at_edge(_case('"request rate (QPS column) 2, 500 requests"', metric="ttft_ms", unit="ms",
                                      value="50"))
    assert not vs.reads_at_edge(_case(f'"request rate (QPS column) INF; {LIMITS}"', metric="ttft_ms", unit="ms",
                                      value="50"))
    assert not vs.reads_at_edge(_case(f'"{LIMITS}"', metric="ttft_ms", unit="ms", value="50"))


def test_a_ttft_row_is_read_at_the_highest_rate_its_limits_allow(mm):
    """The TTFT row of a run measured at 3 requests/s is read where the run's own search ends (the
    throughput row's), not at 3 requests/s; the TPOT row of the same run stays at 1.5 per replica."""
    sim = vs.ReplicaSim(mm)
    run = _simulate(mm, _case(f'"{LIMITS}"'), sim)
    at = f'"measured at 3 completed samples/s; {LIMITS}"'
    ttft = _simulate(mm, _case(at, metric="ttft_ms", unit="ms", value="100"), sim)
    tpot = _simulate(mm, _case(at, metric="tpot_ms", unit="ms", value="20"), sim)
    assert run.kind == ttft.kind == "max_rate" and ttft.rate_per_s == run.rate_per_s
    assert ttft.summary == run.summary and ttft.p99_s == run.p99_s
    assert len(sim.searches) == 1  # one search serves the run's throughput and TTFT rows
    assert "read at the simulated highest rate that meets its p99 limits" in " ".join(ttft.notes)
    assert tpot.kind == "open_loop" and tpot.rate_per_s == 1.5
    assert ttft.p99_s[0] <= 0.5 and ttft.p99_s[1] <= 0.030  # the edge still meets the run's limits
    # well below the edge (1.5 requests/s per replica, under a third of what it carries within the limits),
    # the first token comes sooner than at the edge
    assert run.rate_per_s > 3 * tpot.rate_per_s
    assert ttft.summary["ttft_s_mean"] > tpot.summary["ttft_s_mean"]


# ------------------------------------------------------------------ TTFT bounds of any simulated run
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rate=st.floats(1.0, 400.0), inp=st.integers(8, 3000), out=st.integers(2, 300),
       budget=st.sampled_from([256, 2048, 8192]), seqs=st.integers(1, 256))
# found by Hypothesis: one-at-a-time service where a single request waits longest puts the mean above the p99
@example(rate=1.0, inp=8, out=5, budget=256, seqs=1)
def test_ttft_percentile_mean_and_prefill_roofline(rate, inp, out, budget, seqs):
    """Every request's TTFT is at least its prompt's prefill alone at the step model's cost (one step,
    ``fixed + per_token x prompt``; a chunked prefill or a shared step only adds), and the LoadGen p99
    is at least their median and, with the few requests ranked above it, bounds their mean. Exact step
    times: the step-time cache rounds its inputs by up to 0.2 % (sim/step/steptime.py), which could put a prompt
    alone a hair under its own cost."""
    model = LinearStepModel(fixed_s=2e-3, per_token_s=5e-6, per_decode_seq_s=1e-5, per_kv_token_s=1e-8,
                            kv_capacity_tokens=400_000)
    cfg = SchedulerConfig(max_num_seqs=seqs, max_num_batched_tokens=max(budget, seqs))
    res = simulate(model, PoissonArrivals(rate_per_s=rate, input_tokens=(inp, inp // 3), output_tokens=out),
                   num_requests=150, seed=1, scheduler_config=cfg, exact_step_times=True)
    done = np.isfinite(res.requests["first_token_s"])
    ttft = res.ttft_s[done]
    prompt = res.requests["input_tokens"][done].astype(float)
    assert ttft.size > 0
    assert np.all(ttft >= (model.fixed_s + model.per_token_s * prompt) * (1 - 1e-9))
    p99_ttft = latency_percentiles_s(res, 99.0)[0]
    # The p99 is the sorted TTFT at rank ceil(0.99 n); only the k = n - rank requests above it may exceed it,
    # each by at most the maximum, so the mean is bounded by ((n - k) p99 + k max) / n. (The p99 may fall
    # below the mean itself when one request waits far longer than the rest.)
    n = ttft.size
    k = n - math.ceil(0.99 * n)
    assert p99_ttft >= float(np.median(ttft)) * (1 - 1e-12)
    assert float(ttft.mean()) <= ((n - k) * p99_ttft + k * float(ttft.max())) / n * (1 + 1e-12)
