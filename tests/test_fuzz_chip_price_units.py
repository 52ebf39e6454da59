"""A user's chip YAML whose price is below what its own memory costs (newuser41).

Before: ``price.usd: 27.5`` (an H100's $27,500 typed in thousands) loaded, and every $ figure (TCO, $ per million
tokens, tokens/s per $ of capex) came out a thousand times too favourable, without a word. Now a price below the
chip's off-chip memory at the shipped price per GiB (catalog/assumptions.yaml ``silicon.memory_usd_per_gib``) is
refused naming the file, the field, the value and the memory's cost: 80 GiB of HBM3 at 17.5 USD/GiB = 1,400 USD.
The catalogue's lowest price against its memory is 3.5 times it (Tesla AI5's and MI455X's low prices).
"""

from __future__ import annotations

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chip_yaml import catalogue_raw
from inferchip.catalog.assumptions import load_assumptions
from inferchip.catalog.chips import chip_ids, load_chip
from inferchip.errors import SpecError
from inferchip.spec.bounds import pick

PER_GIB = load_assumptions(None).table("silicon.memory_usd_per_gib")
PRICED = [c for c in chip_ids() if pick(load_chip(c).price.usd, "low") and load_chip(c).memory.off_chip_gib("low") > 0
          and load_chip(c).memory.technology() in PER_GIB]


def test_every_priced_catalogue_chip_is_above_three_times_its_memory():
    assert len(PRICED) >= 20
    for c in PRICED:
        s = load_chip(c)
        mem = s.memory.off_chip_gib("low") * PER_GIB[s.memory.technology()]
        assert pick(s.price.usd, "low") > 3 * mem, c


def test_the_h100_in_thousands_by_hand(tmp_path):
    raw = catalogue_raw("nvidia-h100-sxm-80gb")
    raw["id"], raw["price"]["usd"] = "mine", 27.5
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(SpecError, match=r"mine\.yaml: price\.usd = 27\.5: below the chip's own memory, "
                       r"memory\.capacity 80 GiB of hbm3 at 17\.5 USD/GiB = 1,400 USD .* is the price in thousands "
                       r"of dollars, or memory\.capacity in the wrong unit\?"):
        load_chip(str(path))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(chip=st.sampled_from(PRICED), unit=st.sampled_from([1e3, 1024.0, 1e4]))
def test_a_price_in_thousands_is_refused(tmp_path, chip, unit):
    raw = catalogue_raw(chip)
    usd = raw["price"]["usd"]
    if isinstance(usd, dict):
        for k in ("low", "central", "high"):
            usd[k] = usd[k] / unit
    else:
        raw["price"]["usd"] = usd / unit
    raw["id"] = "mine-k"
    path = tmp_path / "k.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(SpecError) as err:
        load_chip(str(path))
    assert str(err.value).startswith(f"{path}: price.usd = "), err.value
    assert "is the price in thousands of dollars" in str(err.value)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(chip=st.sampled_from(PRICED))
def test_a_price_at_the_memory_cost_loads(tmp_path, chip):
    raw = catalogue_raw(chip)
    s = load_chip(chip)
    raw["price"]["usd"] = s.memory.off_chip_gib("low") * PER_GIB[s.memory.technology()] * 1.0001
    raw["id"] = "mine-at"
    path = tmp_path / "at.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert load_chip(str(path)).price.usd == raw["price"]["usd"]


def test_a_cpu_priced_without_its_system_dram_loads(tmp_path):
    """A CPU's list price does not include its DIMMs: a Xeon w7-2495X at Intel's $2,189 recommended price with its
    4 channels filled to 2,048 GiB of DDR5 (2,048 x 2.4 = 4,915 USD of system DRAM) is a legitimate chip (review41)."""
    raw = catalogue_raw("cpu:intel-xeon-w7-2495x")
    raw["id"], raw["price"] = "my-w7", {"usd": 2189}
    raw["memory"]["capacity"] = 2048
    path = tmp_path / "w7.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert load_chip(str(path)).price.usd == 2189


@pytest.mark.parametrize(("field", "value"), [("usd", 0), ("usd", {"low": 0, "central": 20000, "high": 30000}),
                                              ("cloud_usd_per_hour", 0)])
def test_a_price_of_zero_is_refused(tmp_path, field, value):
    """quality42: a price of 0 is not a price. Before, price.usd: 0 loaded and skipped the memory check above; the
    money model read it as no price (cost.economics.chip_money: 'if price') and took the silicon cost, while
    `inferchip cost` listed a 'reported price' of 0 USD beside it. The schema's word for unknown is leaving the field
    out (no catalogue chip gives 0; catalog/prices.csv asks price_usd > 0)."""
    raw = catalogue_raw("nvidia-h100-sxm-80gb")
    raw["id"], raw["price"][field] = "free", value
    path = tmp_path / "free.yaml"
    path.write_text(yaml.safe_dump(raw))
    where = f"price.{field}" + (".low" if isinstance(value, dict) else "")
    with pytest.raises(SpecError, match=rf"free\.yaml: {where} = 0: must be a finite number between 0 \(exclusive\) "
                       rf"and .*; a price of 0 is not a price: leave price\.{field} out where none is known"):
        load_chip(str(path))
