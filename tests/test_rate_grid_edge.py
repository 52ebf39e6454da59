"""The rate search's grid (sim.runs.search.grid_edge): a start-independent edge to a stated tolerance."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from inferchip.sim import LinearStepModel, max_rate_under_slo
from inferchip.sim.runs.search import grid_edge, grid_points_per_octave

TOL = 0.01
PER_OCTAVE = grid_points_per_octave(TOL)  # 70: 2**(1/70) - 1 = 0.995 %
STRIDE = round(PER_OCTAVE * math.log2(1.3))  # 26 points: x1.294 a bracket step
STEPS = 12  # 1.294**12 = 22: starts within a factor 15 of the edge are bracketed (the start is rounded to a stride)


def mm1_p99_s(rate_per_s: float, service_per_s: float) -> float:
    """p99 time in an M/M/1 queue: the sojourn time is exponential with rate mu - lambda, so its
    q-quantile is -ln(1 - q) / (mu - lambda) (Kleinrock, Queueing Systems I, section 3.2); inf when saturated."""
    return math.log(100.0) / (service_per_s - rate_per_s) if rate_per_s < service_per_s else math.inf


def edge(limit_rate: float, start: float, max_probes: int | None = None) -> tuple[float | None, float | None, int]:
    """(highest passing, lowest failing, probes) for the threshold 'rate <= limit_rate'."""
    seen: list[float] = []

    def probe(r: float) -> float:
        seen.append(r)
        return r

    lo, hi = grid_edge(probe, lambda r: r <= limit_rate, start, PER_OCTAVE, STRIDE, STEPS, max_probes)
    return lo, hi, len(seen)


def test_grid_spacing_is_within_the_tolerance_and_the_coarsest_such():
    assert PER_OCTAVE == 70 and 2 ** (1 / 70) - 1 <= TOL < 2 ** (1 / 69) - 1
    assert grid_points_per_octave(1.0) == 1 and grid_points_per_octave(0.05) == 15  # 2**(1/15) = 1.047


def test_bisection_lands_within_tolerance_of_the_analytic_mm1_edge():
    # mu = 50 requests/s, p99 limit 0.5 s: the analytic edge is 50 - ln(100) / 0.5 = 40.79 requests/s
    mu, limit_s = 50.0, 0.5
    analytic = mu - math.log(100.0) / limit_s
    assert math.isclose(mm1_p99_s(analytic, mu), limit_s)
    for start in (3.0, 10.0, 39.0, 41.0, 49.0, 300.0):
        lo, hi = grid_edge(lambda r: (r, mm1_p99_s(r, mu)), lambda t: t[1] <= limit_s, start, PER_OCTAVE, STRIDE,
                           STEPS)
        assert lo is not None and hi is not None
        assert lo[0] <= analytic < hi[0] and hi[0] / lo[0] - 1 <= TOL * (1 + 1e-12)
        assert analytic / lo[0] - 1 <= TOL and lo[1] <= limit_s < hi[1]
        assert math.isclose(lo[0], 2 ** (math.floor(math.log2(analytic) * 70) / 70))  # the grid point below 40.79


@settings(max_examples=300, deadline=None)
@given(limit=st.floats(0.01, 1e4), a=st.floats(1 / 15, 15), b=st.floats(1 / 15, 15))
def test_the_edge_is_start_independent_meets_the_limit_and_is_within_tolerance(limit, a, b):
    lo_a, hi_a, _ = edge(limit, limit * a)
    lo_b, hi_b, _ = edge(limit, limit * b)
    assert lo_a == lo_b and hi_a == hi_b  # exactly the same grid rates from either start
    assert lo_a is not None and hi_a is not None
    assert lo_a <= limit < hi_a and hi_a / lo_a - 1 <= TOL * (1 + 1e-12)


@settings(max_examples=300, deadline=None)
@given(limit=st.floats(0.01, 1e4), more=st.floats(1.0, 3.0), start=st.floats(1 / 15, 5))
def test_more_capacity_never_lowers_the_edge(limit, more, start):
    lo, _, _ = edge(limit, limit * start)
    lo_more, _, _ = edge(limit * more, limit * start)  # the same start: only the capacity moved
    assert lo is not None and lo_more is not None and lo_more >= lo


def test_no_passing_rate_and_no_failing_rate_are_reported_as_such():
    lo, hi, n = edge(1e-9, 1.0)  # nothing passes: the bracket walks down STEPS times and gives up
    assert lo is None and hi is not None and n == STEPS + 1
    lo, hi, n = edge(1e9, 1.0)  # everything passes: the highest tried is reported, no failing rate
    assert hi is None and lo is not None and n == STEPS + 1 and math.isclose(lo, 2 ** (STEPS * STRIDE / 70))


def test_the_probe_cap_stops_the_bisection_early():
    lo, hi, n = edge(40.0, 10.0, max_probes=8)
    assert n == 8 and lo is not None and hi is not None and lo <= 40.0 < hi and hi / lo - 1 > TOL
    full = edge(40.0, 10.0)
    assert full[2] > 8 and full[1] is not None and full[1] / full[0] - 1 <= TOL * (1 + 1e-12)


def test_the_simulated_edge_does_not_move_with_the_search_start():
    model = LinearStepModel(fixed_s=0.01, per_token_s=2e-5, per_kv_token_s=5e-8, kv_capacity_tokens=100_000)
    kw = dict(slo_ttft_s=0.5, slo_tpot_s=0.03, num_requests=400, rate_factor=1.3, rel_tol=TOL, max_simulations=None)
    found = {start: max_rate_under_slo(model, 400, 100, start_rate_per_s=start, **kw) for start in (3.0, 9.0, 30.0)}
    rates = {r.rate_per_s for r in found.values()}
    assert len(rates) == 1 and all(r.feasible and r.bracketed for r in found.values())
    best = next(iter(found.values()))
    assert best.ttft_s <= 0.5 and best.tpot_s <= 0.03
    above = min(t.rate_per_s for t in best.trials if not t.meets_slo)
    assert above / best.rate_per_s - 1 <= TOL * (1 + 1e-12)


def test_grid_edge_by_hand_on_a_coarse_grid():
    """4 points an octave, stride 2, pass at grid index k <= 9 (rate <= 2**(9/4) = 4.757): the start 3 requests/s
    rounds to index 6 (log2 3 x 4 / 2 = 3.17 -> 3 strides); 6 and 8 pass, 10 misses, the bisection probes 9 (a pass):
    the edge is 2**(9/4), the miss 2**(10/4); a start on a grid point, or below 1 request/s (negative indices), too."""
    def run(ok, start, max_probes=None, steps=5):
        seen: list[int] = []

        def probe(r: float) -> int:
            seen.append(round(math.log2(r) * 4))
            return seen[-1]
        return (*grid_edge(probe, ok, start, 4, 2, steps, max_probes), seen)

    assert run(lambda k: k <= 9, 3.0) == (9, 10, [6, 8, 10, 9])
    assert run(lambda k: k <= 9, 2 ** (8 / 4)) == (9, 10, [8, 10, 9])  # on a grid point: starts there
    assert run(lambda k: k <= -5, 0.3) == (-5, -4, [-6, -4, -5])  # log2 0.3 x 4 = -6.9 -> index -6
    for cap in (0, -3, 3):  # the cap stops the halving, never the bracket: a pass below a miss, not neighbours
        assert run(lambda k: k <= 9, 3.0, cap) == (8, 10, [6, 8, 10])
    assert run(lambda k: True, 3.0, steps=0) == (6, None, [6])  # no bracket steps: one probe
    assert run(lambda k: True, 3.0, steps=-1) == (None, None, [])


@settings(max_examples=300, deadline=None)
@given(bits=st.integers(0, 2**64 - 1), start=st.floats(1e-3, 1e3), stride=st.integers(1, 30),
       steps=st.integers(0, 25), cap=st.none() | st.integers(-2, 40))
def test_any_pass_fail_pattern_ends_with_the_highest_pass_below_the_lowest_miss(bits, start, stride, steps, cap):
    """Pass/fail need not be monotone (a run length that grows with the rate): whatever the pattern, the search ends,
    the pass it reports is the highest it saw, the miss the lowest, the pass below the miss, and it probes at most
    ``steps + 1`` bracket points plus ``ceil(log2 stride)`` halvings, none twice."""
    seen: list[int] = []

    def probe(r: float) -> int:
        seen.append(round(math.log2(r) * PER_OCTAVE))
        return seen[-1]

    def ok(k: int) -> bool:
        return bool(bits >> (k % 64) & 1)

    lo, hi = grid_edge(probe, ok, start, PER_OCTAVE, stride, steps, cap)
    passes, misses = [k for k in seen if ok(k)], [k for k in seen if not ok(k)]
    assert lo == (max(passes) if passes else None) and hi == (min(misses) if misses else None)
    assert lo is None or hi is None or lo < hi
    assert len(seen) == len(set(seen)) and len(seen) <= steps + 1 + math.ceil(math.log2(stride))
