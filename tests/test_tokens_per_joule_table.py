"""`benchmarks/tokens_per_joule_table.py`, a command the README shows, runs: a chip's row reads its wall
power from the prediction (`wall_power_w_per_chip`, the host model of `cost.energy.wall_power_w`), so
tokens per joule at the wall sit below those at the board."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from inferchip.catalog.chips import load_chip
from inferchip.performance.predict import predict

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "tokens_per_joule_table.py"


def _script():
    spec = importlib.util.spec_from_file_location("tokens_per_joule_table", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_a_chip_row_has_wall_tokens_per_joule_from_the_prediction():
    mod = _script()
    row, why = mod.row_for(load_chip("nvidia-h100-sxm-80gb"))
    assert why is None and row is not None
    p = predict("nvidia-h100-sxm-80gb", mod.MODEL, count=row["chips"], weights=row["fmt"],
                input_tokens=mod.LENGTH, output_tokens=mod.LENGTH, batch=None, max_tpot_s=mod.MAX_TPOT_S)
    wall = p.extra["wall_power_w_per_chip"]
    assert wall > row["w_chip"]  # the host's share at the wall is added to the board
    assert row["tpj_wall"] == pytest.approx(p.output_tokens_per_s_per_chip / wall, rel=1e-12)
    assert 0 < row["tpj_wall"] < row["tpj_board"]
