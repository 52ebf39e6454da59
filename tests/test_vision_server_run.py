"""The Server simulation's run length, search and batch cap (vision-passfail2, stop 22): the queue engine against
queueing theory and a plain reference loop, the hinted search against the plain one, and the tuned batch cap of a
row that states none."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from inferchip.catalog.vision_networks import load_vision_calibration
from inferchip.performance import vision_scenarios as vs
from inferchip.sim.vision.queue import dynamic_batches
from inferchip.validation.vision.cases import VisionCase
from inferchip.validation.vision.rows import build_row
from inferchip.validation.vision.scenario_sim import (
    SERVER_QUERIES,
    SIM_QUERIES,
    loaded_servers,
    server_capacity_per_s,
    server_caps,
)
from inferchip.validation.vision.validate import params_of


def _reference(arrivals: list[float], table: list[float], devices: int, delay: float) -> list[float]:
    """Greedy pooled batching written out event by event: the server that falls free first (lowest index on a
    tie) starts at max(its free time, the oldest waiting arrival [+ the batching window, or the arrival that fills
    the batch]) and takes every arrival up to then, at most len(table) - 1."""
    cap, free, out, i = len(table) - 1, [0.0] * devices, [0.0] * len(arrivals), 0
    while i < len(arrivals):
        d = free.index(min(free))
        start = max(free[d], arrivals[i])
        if delay > 0:
            fill = arrivals[i + cap - 1] if i + cap - 1 < len(arrivals) else float("inf")
            start = max(start, min(arrivals[i] + delay, fill))
        j = i
        while j < len(arrivals) and j - i < cap and arrivals[j] <= start:
            j += 1
        b = max(1, j - i)
        free[d] = start + table[b]
        out[i:i + b] = [free[d]] * b
        i += b
    return out


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 400), st.integers(1, 8), st.integers(1, 12), st.sampled_from([0.0, 0.002, 0.02]),
       st.integers(0, 2 ** 16))
def test_dynamic_batches_matches_the_plain_loop(n, devices, cap, delay, seed):
    rng = np.random.default_rng(seed)
    arrivals = np.cumsum(rng.exponential(size=n)) * rng.uniform(1e-4, 1e-2)
    table = np.concatenate(([0.0], np.sort(rng.uniform(1e-3, 3e-2, cap))))
    finish, sizes, _ = dynamic_batches(arrivals, table, devices=devices, max_queue_delay_s=delay)
    assert np.allclose(finish, _reference(arrivals.tolist(), table.tolist(), devices, delay), rtol=0, atol=1e-12)
    assert sizes.sum() == n


def test_a_long_run_reaches_the_pollaczek_khinchine_wait():
    """M/D/1 at utilisation 0.9 (1 ms per sample, no batching gain): the mean wait in the steady state is
    rho T / (2 (1 - rho)) = 4.5 ms (Pollaczek-Khinchine). A run of SERVER_QUERIES arrivals from an empty queue
    comes within 10 % of it."""
    def service(b):
        return np.asarray(b, dtype=float) * 1e-3

    expected_s = 0.9 * 1e-3 / (2 * (1 - 0.9))
    long = vs.server_at_rate(service, rate_per_s=900.0, latency_bound_s=1.0, max_batch=1, queries=SERVER_QUERIES)
    assert long.latency_s["mean"] - 1e-3 == pytest.approx(expected_s, rel=0.10)
    assert SERVER_QUERIES >= 25 * SIM_QUERIES


@settings(max_examples=15, deadline=None)
@given(st.floats(0.3, 1.5), st.integers(1, 4), st.sampled_from([4, 16, 64]))
# found by Hypothesis: the hinted search (8582/s) ended 6.7 % above the plain one (8042/s), whose bisection had
# stepped over a passing stretch; both rates pass
@example(0.98672, 4, 64)
def test_a_hinted_search_ends_at_a_passing_rate_no_lower_than_a_passing_hint(hint_factor, devices, cap):
    """The hint only moves where the bisection starts. p99 is not strictly monotone in the rate on one seeded run
    (a bisection can step over a passing stretch), so the plain and hinted searches may stop at different passing
    rates; what holds by construction: the rate the hinted search returns passes at the same seeded arrivals, and
    when the hint (below the capacity) itself passes the search never ends below it."""
    def service(b):
        return 2e-3 + np.asarray(b, dtype=float) * 0.3e-3

    kw = {"latency_bound_s": 0.015, "max_batch": cap, "devices": devices, "queries": 3000}
    plain = vs.server(service, **kw)
    hint = plain.samples_per_s * hint_factor
    hinted = vs.server(service, rate_hint_per_s=hint, **kw)
    assert vs.server_at_rate(service, rate_per_s=hinted.samples_per_s, **kw).passed
    assert vs.server_at_rate(service, rate_per_s=plain.samples_per_s, **kw).passed
    capacity = vs.server_capacity_per_s(vs.service_table(service, cap), devices)
    if hint < capacity and vs.server_at_rate(service, rate_per_s=hint, **kw).passed:  # a hint the search uses
        assert hinted.samples_per_s >= hint


def _server_row(batch: int | None):
    case = VisionCase(case_id="s", source_kind="mlperf-inference", accelerator="nvidia-l4", num_accelerators=2,
                      model="retinanet-resnext50-fpn-800", precision_text="int8", scenario="server", batch=batch,
                      metric="samples_per_s", value=400.0, unit="samples/s", notes="target latency 100 ms at p99",
                      line=2)
    cal = load_vision_calibration()
    return build_row(case, cal), params_of(cal)


def test_a_stated_batch_is_the_only_cap_and_an_unstated_one_is_tuned():
    stated, p = _server_row(2)
    assert server_caps(stated) == (2,)
    free, _ = _server_row(None)
    caps = server_caps(free)
    assert len(caps) > 4 and caps[0] == 1 and max(caps) <= 512
    # the tuned cap is at least as good as the largest one, and no better than the queue's capacity allows
    service, servers = loaded_servers(free, p)
    tuned = server_capacity_per_s(free, p)
    largest = vs.server(service, latency_bound_s=0.1, max_batch=max(caps), devices=servers, queries=SIM_QUERIES)
    assert tuned <= vs.server_capacity_per_s(vs.service_table(service, max(caps)), servers)
    assert tuned >= 0.97 * largest.samples_per_s  # long run against short: the short one errs high


def test_fork_map_keeps_order_and_runs_closures():
    """Jobs are inherited by the forked workers (a closure over local data, which pickling would refuse) and the
    results come back in job order, as the serial loop gives them."""
    from inferchip.validation.vision.forked import fork_map

    data = [3.0, 1.0, 4.0, 1.0, 5.0]
    assert fork_map(lambda k: data[k] * k, len(data), 2) == [x * k for k, x in enumerate(data)]
    assert fork_map(lambda k: data[k], len(data), 1) == data
