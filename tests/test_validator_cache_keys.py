"""The Validator's caches (validation/validate.py) are keyed by named frozen records (validation/cache_keys.py), not
tuples read by position: a record of one kind never equals another kind's, nor a tuple of the same values, and a field
is read by its name, so reordering a key's parts cannot make two settings share a cached layout, replica or run."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from inferchip.catalog.calibration_file import load_calibration
from inferchip.mapping.memory_fit import Formats
from inferchip.validation import cache_keys as keys
from inferchip.validation import validate as vmod
from inferchip.validation.cases import read_cases
from inferchip.validation.plan import is_closed_loop, plan_for, uses_simulator

CASES = Path(__file__).resolve().parents[1] / "src" / "inferchip" / "catalog" / "validation_cases.csv"


def test_the_cache_keys_are_named_frozen_records():
    for name in ("SettingKey", "PlanKey", "SimKey", "ReplicaKey"):
        record = getattr(keys, name)
        assert dataclasses.is_dataclass(record) and record.__dataclass_params__.frozen, name
    s = keys.SettingKey("chip", 2, "m", Formats(), 1, 1, None)
    assert s != ("chip", 2, "m", Formats(), 1, 1, None)  # a tuple of the same values is another key
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.tp = 2  # type: ignore[misc]


@pytest.fixture(scope="module")
def simulated():
    """A validator after one simulated MLPerf server row (the smallest shipped one by model size)."""
    v = vmod.Validator(load_calibration(None), server_model="sim", compare=False)
    rows = [c for c in read_cases(str(CASES)) if c.scenario == "server" and not is_closed_loop(c)
            and c.energy_scope is None and uses_simulator(c, plan_for(c, v.lengths)) and "8b" in c.model.lower()]
    assert rows
    res = v.predict_case(rows[0])
    assert res.status == "ok", res.reason
    return v


def test_every_cache_of_a_simulated_row_is_keyed_by_its_record(simulated):
    v = simulated
    kinds = {"_resolved": keys.SettingKey, "_settings": keys.PlanKey, "_outcomes": keys.SimKey,
             "_sims": keys.ReplicaKey}
    for cache, record in kinds.items():
        held = list(getattr(v, cache))
        assert held and all(type(k) is record for k in held), (cache, held[:1])
    (rk,) = v._sims
    assert rk.kv_free_fraction is None and rk.kv_step_tokens is None  # no stated KV pool: read by name
