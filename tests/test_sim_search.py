"""MLPerf-Server rate search and the throughput-interactivity curve."""

from __future__ import annotations

import math

import numpy as np
import pytest

from inferchip.errors import InvalidSettingError
from inferchip.sim import (
    LinearStepModel,
    PoissonArrivals,
    max_rate_under_slo,
    pareto_flags,
    simulate,
    throughput_interactivity_curve,
)
from inferchip.sim.step.steptime import StepTimer

MODEL = LinearStepModel(fixed_s=0.01, per_token_s=2e-5, per_kv_token_s=5e-8, kv_capacity_tokens=100_000)


def test_search_finds_the_boundary_between_passing_and_failing_rates():
    res = max_rate_under_slo(MODEL, 400, 100, slo_ttft_s=0.5, slo_tpot_s=0.03, num_requests=1000, rel_tol=0.02)
    assert res.feasible and res.rate_per_s > 0
    assert res.ttft_s <= 0.5 and res.tpot_s <= 0.03
    failing = [t.rate_per_s for t in res.trials if not t.meets_slo and t.rate_per_s > res.rate_per_s]
    assert failing and min(failing) <= res.rate_per_s * 1.02 * (1 + 1e-9)
    # the reported figures are those of a fresh run at the reported rate (same seed)
    again = simulate(MODEL, PoissonArrivals(rate_per_s=res.rate_per_s, input_tokens=400, output_tokens=100),
                     num_requests=1000)
    assert again.finished.all()
    # LoadGen-style rank percentile: the 990th of 1000 sorted values
    assert np.sort(again.ttft_s)[989] == res.ttft_s
    assert np.sort(again.tpot_s)[989] == res.tpot_s
    df = res.to_dataframe()
    assert len(df) == len(res.trials) and {"rate_per_s", "ttft_s_p99", "tpot_s_p99", "meets_slo"} <= set(df)


def test_a_looser_tpot_limit_allows_a_higher_rate():
    tight = max_rate_under_slo(MODEL, 400, 100, slo_ttft_s=5.0, slo_tpot_s=0.02, num_requests=800)
    loose = max_rate_under_slo(MODEL, 400, 100, slo_ttft_s=5.0, slo_tpot_s=0.04, num_requests=800)
    assert loose.rate_per_s > tight.rate_per_s


def test_an_slo_below_the_unloaded_latency_is_reported_infeasible_with_figures():
    # a lone request's prefill: 0.01 + 400 * 2e-5 = 0.018 s TTFT, above the 0.015 s limit at any rate
    res = max_rate_under_slo(MODEL, 400, 100, slo_ttft_s=0.015, slo_tpot_s=1.0, num_requests=500)
    assert not res.feasible and res.rate_per_s == 0.0
    assert res.ttft_s == pytest.approx(0.018, rel=5e-3)
    assert "single request" in res.reason and res.summary["num_completed"] == 1
    with pytest.raises(InvalidSettingError, match="percentile"):
        max_rate_under_slo(MODEL, 400, 100, 1.0, 1.0, percentile=120)


def test_curve_runs_powers_of_two_up_to_the_memory_limit_with_pareto_flags():
    model = LinearStepModel(fixed_s=0.01, per_token_s=2e-5, per_kv_token_s=5e-8, kv_capacity_tokens=10_000,
                            num_chips=2)
    curve = throughput_interactivity_curve(model, 200, 100, requests_per_user=4)
    df = curve.to_dataframe()
    # memory limit: 10000 // (200 + 100) = 33 concurrent requests
    assert curve.memory_limit_concurrency == 33
    assert df.concurrency.tolist() == [1, 2, 4, 8, 16, 32, 33]
    # one user alone: decode steps of 1 token over 200 .. 298 cached tokens (mean 249)
    tpot_alone = 0.01 + 2e-5 + 5e-8 * 249
    assert df.output_tokens_per_s_per_user[0] == pytest.approx(1 / tpot_alone, rel=5e-3)
    assert np.all(np.diff(df.output_tokens_per_s_per_chip) > 0)  # batching amortises the fixed 10 ms
    x, y = df.output_tokens_per_s_per_chip.to_numpy(), df.output_tokens_per_s_per_user.to_numpy()
    brute = [not any((x[j] >= x[i]) and (y[j] >= y[i]) and ((x[j] > x[i]) or (y[j] > y[i])) for j in range(len(x)))
             for i in range(len(x))]
    assert df.pareto.tolist() == brute
    assert len(curve.pareto_front()) == sum(brute)


def test_pareto_flags_hand_example():
    # (1, 5) and (3, 3) and (4, 1) trade off; (2, 2) is beaten by (3, 3); a duplicate of a front point stays
    x = [1, 2, 3, 4, 3]
    y = [5, 2, 3, 1, 3]
    assert pareto_flags(x, y).tolist() == [True, False, True, True, True]


def test_search_from_a_given_rate_brackets_by_the_given_factor_without_a_lone_probe():
    res = max_rate_under_slo(MODEL, 400, 100, slo_ttft_s=0.5, slo_tpot_s=0.03, num_requests=400,
                             start_rate_per_s=1.0, rate_factor=1.5, rel_tol=0.05, max_simulations=None)
    rates = [t.rate_per_s for t in res.trials]
    assert rates[0] == 1.0 and all(t.num_requests == 400 for t in res.trials)
    first_miss = next(i for i, t in enumerate(res.trials) if not t.meets_slo)
    climb = rates[: first_miss + 1]
    # the grid of 5 % neighbours has 15 points an octave (2**(1/15) - 1 = 4.7 %); the factor 1.5 is 9 of them
    # (log2(1.5) x 15 = 8.8): 1, 2**(9/15) = 1.516, 2**(18/15), ... up to the first miss
    assert climb == [2.0 ** (9 * k / 15) for k in range(len(climb))]
    failing = min(t.rate_per_s for t in res.trials if not t.meets_slo)
    assert res.feasible and res.bracketed and failing / res.rate_per_s - 1 <= 0.05
    assert res.reported is not None and res.reported.rate_per_s == res.rate_per_s


def test_an_end_to_end_limit_alone_is_searched_and_reported():
    res = max_rate_under_slo(MODEL, 400, 100, slo_e2e_s=3.0, num_requests=400, rel_tol=0.05)
    assert res.feasible and res.slo_ttft_s is None and res.slo_tpot_s is None and res.slo_e2e_s == 3.0
    assert res.e2e_s <= 3.0
    above = [t for t in res.trials if t.rate_per_s > res.rate_per_s]
    assert above and all(not t.meets_slo for t in above)
    assert any(t.e2e_s > 3.0 for t in above)  # the miss is the end-to-end limit's
    again = simulate(MODEL, PoissonArrivals(rate_per_s=res.rate_per_s, input_tokens=400, output_tokens=100),
                     num_requests=400, max_drain_s=2 * 3.0)
    assert np.sort(again.e2e_s)[int(np.ceil(0.99 * 400)) - 1] == res.e2e_s


def test_a_shared_step_timer_changes_no_figure_and_saves_model_evaluations():
    kw = dict(slo_ttft_s=0.5, slo_tpot_s=0.03, num_requests=300, rel_tol=0.05)
    fresh = max_rate_under_slo(MODEL, 400, 100, **kw)
    timer = StepTimer(MODEL)
    first = max_rate_under_slo(MODEL, 400, 100, step_timer=timer, **kw)
    used = timer.num_evaluations
    second = max_rate_under_slo(MODEL, 400, 100, step_timer=timer, **kw)

    def figures(res):  # every figure but the count of step-model evaluations, which the cache saves
        return [{k: v for k, v in t.summary.items() if k != "step_model_evaluations"} for t in res.trials]

    assert figures(fresh) == figures(first) == figures(second)
    assert sum(t.summary["step_model_evaluations"] for t in second.trials) == 0
    assert used > 0 and timer.num_evaluations == used  # the second search found every step time cached


def test_run_length_drain_and_acceptance_may_depend_on_the_rate():
    seen = []

    def accept(res, rate, n):
        seen.append((rate, n, res.summary()["num_requests"]))
        return rate < 2.0

    res = max_rate_under_slo(MODEL, 400, 100, num_requests=lambda r: 100 + int(100 * r), start_rate_per_s=1.0,
                             drain_s=lambda r, n: n / r, accept=accept, rel_tol=0.1)
    assert all(n == 100 + int(100 * r) == done for r, n, done in seen)
    assert [t.num_requests for t in res.trials] == [n for _, n, _ in seen]
    assert res.feasible and res.rate_per_s < 2.0 <= min(t.rate_per_s for t in res.trials if not t.meets_slo)
    never = max_rate_under_slo(MODEL, 400, 100, num_requests=50, start_rate_per_s=1.0, accept=lambda *a: False,
                               max_bracket_steps=3)
    assert not never.feasible and never.rate_per_s == 0.0 and len(never.trials) == 4
    assert never.reported is not None and never.reported.rate_per_s == 1.0 / 2.0**3  # the gentlest tried


@pytest.mark.parametrize(("option", "value", "message"), [
    ("rate_factor", 1.0, "rate_factor"), ("rel_tol", -1.0, "rel_tol"), ("start_rate_per_s", math.inf, "start_rate"),
    ("start_rate_per_s", 0.0, "start_rate"), ("slo_e2e_s", math.nan, "slo_e2e_s"), ("max_simulations", 0, "max_sim"),
    ("max_bracket_steps", 2.5, "max_bracket"), ("num_requests", 0, "num_requests"),
])
def test_search_options_out_of_range_are_named(option, value, message):
    with pytest.raises(InvalidSettingError, match=message):
        max_rate_under_slo(MODEL, 400, 100, slo_ttft_s=1.0, **{option: value})


def test_pareto_flags_is_the_one_front_rule_and_a_non_finite_point_beats_nothing():
    # before the shared rule an infinite throughput point hid every finite point behind it
    x = [1.0, 2.0, float("inf"), float("nan")]
    y = [2.0, 1.0, 5.0, 9.0]
    assert pareto_flags(x, y).tolist() == [True, True, False, False]
