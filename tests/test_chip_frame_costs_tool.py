"""tools/vision/chip_frame_costs.py: one chip's frame cost end to end, and the comparison's figures by hand."""

from __future__ import annotations

from tests.conftest import load_tool

fc = load_tool("chip_frame_costs")


def test_run_one_chip_and_a_network_it_does_not_know() -> None:
    got = fc.run(["nvidia-b200-180gb"], ["yolov8n-640", "no-such-net"], [1])
    row = got["nvidia-b200-180gb|yolov8n-640|1"]
    assert row["dram_bytes_per_frame"] == 1_228_800  # 640 x 640 x 3 int8: the input frame; the rest stays in L2
    assert row["all_dram_note"] == 0.0 and row["latency_s"] > 0
    assert "error" in got["nvidia-b200-180gb|no-such-net|1"]


def test_compare_by_hand() -> None:
    before = {"c|n|1": {"latency_s": 2e-3, "dram_bytes_per_frame": 5e6}, "c|m|1": {"error": "x"}}
    after = {"c|n|1": {"latency_s": 1.5e-3, "dram_bytes_per_frame": 1e6}, "c|m|1": {"error": "x"}}
    lines = fc.compare(before, after)
    assert "2.000 ->     1.500" in lines[1] and "5.00 ->      1.00" in lines[1]
    assert lines[2].endswith("x -> x")
