"""``ChipEconomy`` (predict's per-setting float path) gives the numbers of ``step_power`` and
``money_per_token`` (the array functions the simulator uses): one formula, two speeds, no drift."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inferchip.catalog.assumptions import load_assumptions
from inferchip.catalog.chips import get_chip_params, load_chip
from inferchip.cost.economics import chip_economy, chip_money, money_per_token, step_power
from inferchip.cost.step_types import StepCost

A = load_assumptions()
# Reported prices (H100, MI300X), a modelled manufacturing cost (H200) and no price at all (GB200).
CHIPS = ("nvidia-h100-sxm-80gb", "amd-mi300x", "nvidia-h200-sxm-141gb", "nvidia-gb200-186gb")


def _economy(chip_id: str):
    spec, params = load_chip(chip_id), get_chip_params(chip_id)
    money = chip_money(spec, A, "central")
    eco = chip_economy(spec, spec.memory.type, params.tdp_w, params.idle_w, money, A)
    return spec, params, money, eco


@settings(max_examples=60, deadline=None)
@given(chip=st.sampled_from(CHIPS),
       flop=st.dictionaries(st.sampled_from(["bf16", "fp8", "fp4", "fp32"]), st.floats(0, 1e16), max_size=3),
       dram=st.floats(0, 1e12), link=st.floats(0, 1e11), step_s=st.floats(1e-6, 10.0), pp=st.integers(1, 8))
def test_step_power_matches_the_array_function(chip, flop, dram, link, step_s, pp):
    spec, params, _, eco = _economy(chip)
    cost = StepCost(time_s=np.asarray(step_s), classes={}, flop_by_format={k: np.asarray(v) for k, v in flop.items()},
                    dram_bytes=np.asarray(dram), link_bytes=np.asarray(link))
    want = step_power(cost, np.asarray(step_s), pp, spec, spec.memory.type, params.tdp_w, params.idle_w, A)
    t, p, throttled, e = eco.step_power(flop, dram, link, step_s, pp)
    assert t == pytest.approx(float(want.time_s), rel=1e-12)
    assert p == pytest.approx(float(want.power_w), rel=1e-12)
    assert throttled == bool(want.throttled)
    assert e == pytest.approx(float(want.energy_j), rel=1e-12)


@settings(max_examples=60, deadline=None)
@given(chip=st.sampled_from(CHIPS), tps=st.floats(0.01, 1e6), power=st.floats(1.0, 2000.0),
       n=st.integers(1, 72))
def test_money_per_token_matches_the_array_function(chip, tps, power, n):
    _, _, money, eco = _economy(chip)
    want = money_per_token(tps, power, money, n, A)
    got = eco.money_per_token(tps, power, n)
    assert set(got) == set(want)
    for key, value in want.items():
        assert (got[key] is None) == (value is None), key
        if value is not None:
            assert got[key] == pytest.approx(value, rel=1e-12), key
