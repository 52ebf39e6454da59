"""An assumptions override in another unit than the one the model reads the constant in is refused naming the
file, the field, the unit given and the one allowed (stop 36: ``pue: {value: 1.2, unit: W}`` was accepted and
read as a ratio, silently; the loader's docstring already said an override keeps the bundled unit). Generated:
every constant of the bundled file, and a new entry of each table, with a unit that is not its own."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import yaml

from inferchip.catalog.assumptions import BUNDLED_PATH, load_assumptions
from inferchip.errors import SpecError

BUNDLED = yaml.safe_load(BUNDLED_PATH.read_text(encoding="utf-8"))


def _constants(node, where=()):
    for key, value in node.items():
        if isinstance(value, dict) and "value" in value:
            yield (*where, key), value
        elif isinstance(value, dict):
            yield from _constants(value, (*where, key))


CONSTANTS = list(_constants(BUNDLED))


def _nest(path: tuple, leaf) -> dict:
    for key in reversed(path):
        leaf = {key: leaf}
    return leaf


@pytest.mark.parametrize(("path", "constant"), CONSTANTS, ids=[".".join(map(str, p)) for p, _ in CONSTANTS])
def test_a_constant_overridden_in_another_unit_is_refused(tmp_path: Path, path, constant):
    rng = random.Random(".".join(map(str, path)))
    unit = rng.choice([u for u in ("W", "kW", "cents/kWh", "%", "GB", "ms", "USD/GB", constant["unit"] + "s")
                       if u != constant["unit"]])
    file = tmp_path / "over.yaml"
    file.write_text(yaml.safe_dump(_nest(path, {"value": constant["value"], "unit": unit})), encoding="utf-8")
    with pytest.raises(SpecError) as err:
        load_assumptions(file)
    text = str(err.value)
    assert str(file) in text and ".".join(map(str, path)) + ".unit" in text and repr(constant["unit"]) in text


@pytest.mark.parametrize(("path", "constant"), CONSTANTS[:5] + CONSTANTS[-5:])
def test_the_same_unit_or_none_is_accepted(tmp_path: Path, path, constant):
    for over in ({"value": constant["value"], "unit": constant["unit"]}, {"value": constant["value"]},
                 constant["value"]):
        file = tmp_path / "over.yaml"
        file.write_text(yaml.safe_dump(_nest(path, over)), encoding="utf-8")
        load_assumptions(file)


def test_a_new_table_entry_takes_the_tables_unit(tmp_path: Path):
    table = {float(k): v["value"] for k, v in BUNDLED["energy"]["node_energy_factor"].items()}
    lo, hi = sorted(table)[:2]
    node, value = (lo + hi) / 2, (table[lo] + table[hi]) / 2  # between two nodes: the table stays monotonic
    file = tmp_path / "over.yaml"
    for unit, refused in (("pJ", True), ("relative", False)):
        file.write_text(yaml.safe_dump({"energy": {"node_energy_factor": {node: {"value": value, "unit": unit}}}}),
                        encoding="utf-8")
        if refused:
            with pytest.raises(SpecError, match=f"node_energy_factor.{node:g}.unit = 'pJ'.*'relative'"):
                load_assumptions(file)
        else:
            load_assumptions(file)
