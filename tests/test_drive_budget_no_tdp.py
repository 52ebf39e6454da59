"""`drive --power-budget-w` on a chip with no TDP: the rig's power there is the networks' dynamic energy alone, a
floor of the chip's, so a budget the floor meets is not shown met in full: the clock fraction is an upper bound,
said in a note and in the table ("clock at at most 100.0%" read "clock at 100.0%" before, the budget silently
judged against the floor)."""

from __future__ import annotations

import inferchip as ic
from cli_in_process import run_main

RIG = dict(cameras=2, fps=10.0, models=["yolov8n-640"], duration_s=0.5)


def _budget_notes(r: dict) -> list[str]:
    return [n for n in r["notes"] if n.startswith("power budget:")]


def test_a_budget_on_a_chip_with_no_tdp_is_said_to_be_judged_on_a_floor():
    r = ic.drive("nvidia-drive-agx-thor", power_budget_w=30.0, **RIG)
    assert r["power_dynamic_only"] is True
    (note,) = _budget_notes(r)
    assert "30 W budget" in note and "upper bound" in note and "power.tdp_w" in note


def test_a_chip_with_a_tdp_gets_no_such_note():
    r = ic.drive("nvidia-jetson-agx-orin-64gb", power_budget_w=60.0, **RIG)
    assert r["power_dynamic_only"] is False and _budget_notes(r) == []


def test_no_budget_no_note():
    assert _budget_notes(ic.drive("nvidia-drive-agx-thor", **RIG)) == []


def test_the_table_marks_the_clock_fraction_as_an_upper_bound():
    code, out = run_main(["drive", "--chip", "nvidia-drive-agx-thor", "--cameras", "2", "--fps", "10",
                          "--model", "yolov8n-640", "--duration", "0.5", "--power-budget-w", "30"])
    assert code == 0, out
    assert "clock at at most 100.0%" in " ".join(out.split())
