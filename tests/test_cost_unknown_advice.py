"""`inferchip cost --chip mine.yaml` for a chip the silicon model cannot cost (stop 38, newuser38).

Before: a chip with its die area and a node of 1,000 nm (no defect density above 90 nm) read "...add one to the
assumptions file and no reported price: its cost is unknown (add silicon.die_area_mm2 and silicon.node_nm, or
price.usd, to the chip YAML)": advice to add two fields the file already has. Now the advice names what is missing.
"""

from __future__ import annotations

import yaml

from inferchip.catalog.assumptions import load_assumptions
from inferchip.catalog.chips import _CHIPS_DIR, load_chip
from inferchip.cost.chip_cost import chip_cost


def _chip(tmp_path, edit):
    raw = yaml.safe_load((_CHIPS_DIR / "nvidia-l4.yaml").read_text())
    raw["id"] = "mine"
    edit(raw)
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(raw))
    return load_chip(str(path))


def test_a_node_the_model_does_not_cover_gets_no_advice_to_add_what_is_there(tmp_path):
    # An L4's 121 TFLOP/s bf16 at 1,000 nm draws 121e12 x 0.75e-12 x 1000/45 = 2,020 W of bare arithmetic (the TDP
    # floor covers nodes above 45 nm since quality42), so its TDP is raised past that for the chip to load.
    spec = _chip(tmp_path, lambda r: (r["silicon"].update(node_nm=1000), r["power"].update(tdp_w=3000)))
    msg = chip_cost(spec, load_assumptions()).message
    assert "no defect density for nodes above 90 nm" in msg and "or give price.usd in the chip YAML" in msg, msg
    assert "add silicon.die_area_mm2" not in msg, msg


def test_a_chip_without_silicon_is_told_to_add_it(tmp_path):
    spec = _chip(tmp_path, lambda r: r.pop("silicon"))
    msg = chip_cost(spec, load_assumptions()).message
    assert msg.endswith("(add silicon.die_area_mm2 and silicon.node_nm, or price.usd, to the chip YAML)"), msg
