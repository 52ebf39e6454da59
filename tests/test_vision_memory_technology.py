"""Vision and drive read a chip's memory technology as the energy model does: ``memory.memory_type``, else the
free text. AI6's file states ``memory_type: lpddr5x`` with the text "not disclosed"; `vision` and `drive` read the
text alone and refused the chip ("memory type 'not disclosed': not recognised") while `predict` ran it."""

from __future__ import annotations

import math

import pytest

import inferchip as ic
from cli_in_process import run_main
from inferchip.catalog.chips import load_chip


def test_ai6_states_its_technology_only_in_memory_type():
    spec = load_chip("tesla-ai6")
    assert spec.memory.type == "not disclosed" and spec.memory.memory_type == "lpddr5x"


def test_frame_cost_prices_a_chip_whose_memory_text_names_no_technology():
    fc = ic.frame_cost("tesla-ai6", "resnet50-v1.5", [1, 4])
    energy = fc.to_dataframe()["call_energy_per_frame_j"]
    assert all(math.isfinite(e) and e > 0 for e in energy)


@pytest.mark.parametrize("cmd", [["vision", "--chip", "tesla-ai6", "--model", "yolov8n-640"],
                                 ["drive", "--chip", "tesla-ai6", "--cameras", "2", "--fps", "10",
                                  "--model", "yolov8n-640", "--duration", "0.5"]])
def test_vision_and_drive_run_on_ai6(cmd):
    code, out = run_main(cmd)
    assert code == 0, out
    assert "not recognised" not in out
