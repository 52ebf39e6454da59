"""Board power as idle + busy share + activity-driven event energies (cost.energy, cost.economics).

Hand calculations and physical invariants: power between idle and the power limit, more
activity never less power, energy per token never below roofline time x idle power.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inferchip.catalog.assumptions import load_assumptions
from inferchip.cost import energy as en
from inferchip.cost.economics import active_static_power_w, chip_economy, chip_money
from inferchip.errors import InvalidSettingError
from inferchip.validation.energy.power_fit import with_power

A = load_assumptions()


def test_busy_static_power_by_hand():
    # H100: 84 W idle, 700 W limit, busy fraction 0.5: 84 + 0.5 x 616 = 392 W.
    assert en.busy_static_power_w(84.0, 700.0, 0.5) == pytest.approx(392.0)
    assert en.busy_static_power_w(84.0, 450.0, 0.5) == pytest.approx(267.0)  # a 450 W cap: a lower floor
    assert en.busy_static_power_w(84.0, 700.0, 0.0) == pytest.approx(84.0)
    with pytest.raises(InvalidSettingError, match="busy_power_fraction"):
        en.busy_static_power_w(84.0, 700.0, 1.0)


def test_rated_flop_energy_keeps_the_tdp_rating_point():
    # A dense GEMM at datasheet peak: busy floor + (1 - beta) x all-in FLOP power = TDP for any beta,
    # when the all-in per-FLOP energy was derived as (TDP - idle) / peak.
    tdp, idle, peak = 700.0, 84.0, 989e12
    e_all_in = (tdp - idle) / peak
    for beta in (0.0, 0.3, 0.66):
        p = en.busy_static_power_w(idle, tdp, beta) + en.rated_flop_energy_factor(beta) * e_all_in * peak
        assert p == pytest.approx(tdp)


def test_host_power_per_sequence_adds_to_the_wall():
    a = with_power(A, {"host.host_j_per_sequence": 2.0})
    base = en.wall_power_w(4000.0, 8, a)
    busy = en.wall_power_w(4000.0, 8, a, sequences_per_s=100.0)
    # 100 requests/s x 2 J = 200 W of host power, through fans and the PSU
    f = (1 + a.number("host.fan_power_fraction")) / a.number("host.psu_efficiency")
    assert busy - base == pytest.approx(200.0 * f)


def test_active_static_power_is_idle_plus_the_busy_share():
    a = with_power(A, {"energy.busy_power_fraction": 0.6})
    assert active_static_power_w(700.0, 84.0, a) == pytest.approx(84.0 + 0.6 * 616.0)
    # no measured idle: the static fraction of the TDP is the floor
    idle = A.number("energy.static_power_fraction_of_tdp") * 700.0
    assert active_static_power_w(700.0, math.nan, a) == pytest.approx(idle + 0.6 * (700.0 - idle))


def _economy(beta: float, tdp: float = 700.0, idle: float = 84.0):
    a = with_power(A, {"energy.busy_power_fraction": beta})
    return chip_economy(None, "HBM3", tdp, idle, chip_money(None, a), a)


@settings(max_examples=60, deadline=None)
@given(beta=st.floats(0.0, 0.85), flop=st.floats(0.0, 5e12), dram=st.floats(0.0, 5e10),
       link=st.floats(0.0, 1e10), step=st.floats(1e-4, 1.0))
def test_power_lies_between_idle_and_the_power_limit(beta, flop, dram, link, step):
    eco = _economy(beta)
    t, p, _, e = eco.step_power({"bf16": flop}, dram, link, step, 1)
    assert 84.0 * (1 - 1e-12) <= p <= 700.0 * (1 + 1e-12)
    assert t >= step
    assert e == pytest.approx(p * t, rel=1e-9)


@settings(max_examples=60, deadline=None)
@given(beta=st.floats(0.0, 0.85), flop=st.floats(0.0, 1e12), dram=st.floats(0.0, 1e10),
       link=st.floats(0.0, 1e9), step=st.floats(1e-3, 1.0), more=st.floats(1.0, 10.0))
def test_more_activity_never_gives_less_power(beta, flop, dram, link, step, more):
    eco = _economy(beta)
    base = eco.step_power({"bf16": flop}, dram, link, step, 1)[1]
    # more FLOPs, more memory traffic or more link traffic in the same step time: never less power
    assert eco.step_power({"bf16": flop * more}, dram, link, step, 1)[1] >= base * (1 - 1e-12)
    assert eco.step_power({"bf16": flop}, dram * more, link, step, 1)[1] >= base * (1 - 1e-12)
    assert eco.step_power({"bf16": flop}, dram, link * more, step, 1)[1] >= base * (1 - 1e-12)
    # and a busier chip (a larger busy fraction) never draws less
    assert _economy(min(beta * more, 0.9)).step_power({"bf16": flop}, dram, link, step, 1)[1] >= base * (1 - 1e-12)


@settings(max_examples=40, deadline=None)
@given(beta=st.floats(0.0, 0.85), dram=st.floats(1e8, 1e11), tokens=st.integers(1, 4096))
def test_energy_per_token_never_below_roofline_time_times_idle(beta, dram, tokens):
    # A decode step moving `dram` bytes cannot take less than dram / bandwidth (roofline), and
    # the chip draws at least its idle power all that time.
    bandwidth = 3.35e12
    t_roof = dram / bandwidth
    eco = _economy(beta)
    t, _, _, e = eco.step_power({"bf16": 2.0 * 8e9 * tokens}, dram, 0.0, t_roof * 1.3, 1)
    assert e / tokens >= t_roof * 84.0 / tokens * (1 - 1e-12)


def test_array_and_float_paths_agree_by_hand():
    from inferchip.cost.economics import step_power
    from inferchip.cost.step_types import ClassCost, StepCost

    a = with_power(A, {"energy.busy_power_fraction": 0.5, "energy.gemm_peak_fraction_at_limit": 0.8,
                       "energy.onchip_pj_per_dram_bit": 3.0})
    z = np.zeros(())
    cost = StepCost(np.array(0.01), {"host": ClassCost(np.array(0.002), z, z, z, np.array(0.002))},
                    {"bf16": np.array(1e12)}, np.array(2e10), np.array(1e8))
    pr = step_power(cost, np.array(0.01), 1, None, "HBM3", 700.0, 84.0, a)
    eco = chip_economy(None, "HBM3", 700.0, 84.0, chip_money(None, a), a)
    t, p, thr, e = eco.step_power({"bf16": 1e12}, 2e10, 1e8, 0.01, 1)
    assert float(pr.power_w) == pytest.approx(p, rel=1e-12)
    assert float(pr.energy_j) == pytest.approx(e, rel=1e-12)
    # by hand: idle + half the range + (1 - 0.5) x all-in FLOP energy (no chip: no rating point of its own,
    # the catalogue figure rated at the datasheet peak) + bytes x (DRAM + 3 pJ/bit on chip), over 10 ms
    u = eco.units
    assert u.flop_j("bf16") == pytest.approx(0.5 * float(en.energy_per_flop_j("bf16", u.node_nm, a)))
    assert u.per_byte_dram_j == pytest.approx(float(en.memory_energy_per_byte_j("HBM3", a)) + 3.0 * 8e-12)
    dyn = 1e12 * u.flop_j("bf16") + 2e10 * u.per_byte_dram_j + 1e8 * u.per_byte_link_j
    assert p == pytest.approx(84.0 + 0.5 * 616.0 + dyn / 0.01)
