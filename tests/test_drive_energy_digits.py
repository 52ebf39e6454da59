"""The drive table's energies never go to exponent form: a cycle of 12.7 J read "1.268e+04 mJ" (8 cameras of the
8 MP detector, BEVFormer and a VLA on AI5; 12 cameras here); they keep four significant figures, thousands separated."""

from __future__ import annotations

import re

from cli_in_process import run_main


def test_a_cycle_over_ten_joules_reads_in_plain_digits():
    code, out = run_main(["drive", "--chip", "tesla-ai5", "--cameras", "12", "--fps", "36", "--duration", "0.5",
                          "--model", "bevformer-tiny", "--model", "ssd-resnet50-cognata-8mp@camera",
                          "--model", "vla-vitb16-qwen2.5-0.5b@rig"])
    assert code == 0, out
    flat = " ".join(out.split())
    assert "e+" not in flat
    cycle = re.search(r"energy per cycle \(12 frames\) │ ([\d,.]+) mJ", flat)
    assert cycle is not None and float(cycle.group(1).replace(",", "")) > 1e4, flat
