"""Memory type as a chip field: parsed from the datasheet text when absent, and its own energy per bit used by
the energy model (cost/energy.py through performance/setting/)."""

from __future__ import annotations

import pytest

from inferchip.catalog.assumptions import load_assumptions
from inferchip.catalog.chips import all_chips, get_chip_params, load_chip
from inferchip.cost.energy import MEMORY_LEVELS, memory_energy_per_byte_j, memory_level
from inferchip.errors import InvalidSettingError
from inferchip.performance.setting import resolve_setting
from inferchip.spec.chip_sections import MemorySpec
from inferchip.spec.memory import MEMORY_TYPES, parse_memory_type

A = load_assumptions()
PJ = 1e-12
MODEL = "meta-llama/Llama-3.1-8B-Instruct"


def _with_memory_type(chip_id: str, memory_type: str):
    spec = load_chip(chip_id)
    memory = spec.memory.model_copy(update={"memory_type": memory_type})
    return spec.model_copy(update={"memory": memory})


def _per_byte_j(spec) -> float:
    setting = resolve_setting(get_chip_params(spec.id), MODEL, weights="fp8", chip_spec=spec, assumptions=A)
    return setting.economy.units.per_byte_dram_j


def test_lpddr5x_and_hbm3_energy_per_byte_differ_as_the_constants_say():
    lp, hbm = _with_memory_type("tesla-ai5", "lpddr5x"), _with_memory_type("tesla-ai5", "hbm3")
    table = A.table("energy.memory_device_pj_per_bit")
    want_lp = table["lpddr5x"] * 8 * PJ  # off-package DRAM: no PHY adder
    want_hbm = (table["hbm3"] + A.number("energy.hbm_phy_pj_per_bit")) * 8 * PJ
    assert _per_byte_j(lp) == pytest.approx(want_lp)
    assert _per_byte_j(hbm) == pytest.approx(want_hbm)
    assert _per_byte_j(hbm) / _per_byte_j(lp) == pytest.approx(want_hbm / want_lp)


def test_the_field_not_the_free_text_decides_the_energy():
    # A datasheet text naming GDDR6 with memory_type set to lpddr5x: the field wins (AI5's old text named AI4's GDDR6).
    spec = _with_memory_type("tesla-ai5", "lpddr5x")
    spec = spec.model_copy(update={"memory": spec.memory.model_copy(update={"type": "not disclosed (AI4 uses GDDR6)"})})
    assert _per_byte_j(spec) == pytest.approx(float(memory_energy_per_byte_j("lpddr5x", A)))
    assert _per_byte_j(spec) != pytest.approx(float(memory_energy_per_byte_j("gddr6", A)))


def test_every_memory_type_has_an_energy_and_a_price():
    energy, price = A.table("energy.memory_device_pj_per_bit"), A.table("silicon.memory_usd_per_gib")
    for t in MEMORY_TYPES:
        level = memory_level(t)
        assert level in MEMORY_LEVELS
        if level != "sram":
            assert level in energy and level in price, t


def test_newer_generations_spend_less_energy_per_bit():
    e = A.table("energy.memory_device_pj_per_bit")
    assert e["hbm4"] < e["hbm3e"] < e["hbm3"] < e["hbm2e"]
    assert e["gddr7"] < e["gddr6"]


@pytest.mark.parametrize(
    "text, kind",
    [("HBM3e (8 stacks)", "hbm3e"), ("HBM4 (8 stacks)", "hbm4"), ("LPDDR5X (12 packages)", "lpddr5x"),
     ("GDDR7", "gddr7"), ("HBM3 Gen2", "hbm3e"), ("SRAM-only (no HBM/DRAM)", "sram"), ("not disclosed", None)],
)
def test_datasheet_text_is_read_into_a_type(text, kind):
    assert parse_memory_type(text) == kind
    m = MemorySpec.model_validate({"type": text, "capacity": 1, "capacity_unit": "GiB", "bandwidth_tb_per_s": 1})
    assert m.memory_type == kind


def test_a_text_naming_no_type_is_refused_by_the_energy_model_with_the_field_to_set():
    m = MemorySpec.model_validate({"type": "not disclosed", "capacity": 1, "capacity_unit": "GiB",
                                   "bandwidth_tb_per_s": 1})
    with pytest.raises(InvalidSettingError, match="memory_type"):
        memory_energy_per_byte_j(m.technology(), A)


def test_an_unknown_memory_type_value_is_refused_at_load():
    with pytest.raises(ValueError, match="memory_type"):
        MemorySpec.model_validate({"type": "x", "memory_type": "mram", "capacity": 1, "capacity_unit": "GiB",
                                   "bandwidth_tb_per_s": 1})


def test_every_bundled_chip_states_a_memory_type():
    missing = [c.id for c in all_chips() if c.memory.memory_type is None]
    assert not missing


def test_chips_json_shows_ai5_memory_as_published_and_null_for_missing_figures(capsys):
    import json

    from inferchip.interfaces.cli import main

    assert main(["chips", "--format", "json"]) == 0
    rows = {r["id"]: r for r in json.loads(capsys.readouterr().out)}
    ai5 = rows["tesla-ai5"]
    assert ai5["memory_type"] == "lpddr5x"
    bw = load_chip("tesla-ai5").memory.bandwidth_tb_per_s
    assert ai5["memory_bytes_per_s"] == pytest.approx(bw.central * 1e12)
    assert 0.8e12 <= ai5["memory_bytes_per_s"] <= 1.2e12  # 'about 0.8-1.2 TB/s' reported
    no_tdp = [c.id for c in all_chips() if c.power.tdp_w is None]
    assert no_tdp, "the catalogue keeps chips without a published TDP"
    for cid in no_tdp:
        assert rows[cid]["tdp_w"] is None  # JSON null, not NaN or 0
