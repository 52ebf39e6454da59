"""tools/ttft/ttft_classes.py: the class of a case id, the per-class summary computed by hand, a bad id refused."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools" / "ttft"))
import ttft_classes  # noqa: E402


def test_row_class_reads_weights_layout_lengths_clients():
    c = ttft_classes.row_class("imax-dsr1-0528-b200-sglang-fp8-tp8ep1-1024-8192-c32-r20613446912-ttft")
    assert c == {"weights": "fp8", "layout": "tp8ep1", "lengths": "1024/8192", "clients": "32"}


def test_a_case_id_without_the_fields_is_refused_by_name():
    with pytest.raises(SystemExit, match="no-fields-here"):
        ttft_classes.row_class("no-fields-here")


def test_summary_by_hand():
    # |e| = 10, 30, 50, 5: median 20; p90 (numpy linear) 44; signed median of (-30, -5, 10, 50) = 2.5
    line = ttft_classes.summary([10.0, -30.0, 50.0, -5.0], 20.0)
    assert line.startswith("   4 rows   20.0 /  44.0 /   +2.5  over   1, under   1 beyond 20 %")


def test_classes_count_the_rows_beyond_the_p90():
    rows = [(f"x-fp8-tp8ep1-1024-1024-c{c}-r1-ttft", e) for c, e in ((4, 40.0), (8, 1.0), (16, 2.0))]
    rows += [(f"x-fp4-tp4ep4-8192-1024-c{c}-r1-ttft", e) for c, e in ((4, -3.0), (8, 4.0))]
    out = ttft_classes.classes(rows, 20.0)
    # |e| = 40, 1, 2, 3, 4: p90 = 4 + 0.6 x 36 = 25.6: one row beyond it, the fp8 one
    assert out[0].endswith("p90 |e| = 25.6 %")
    fp8 = next(line for line in out if line.strip().startswith("fp8 "))
    assert fp8.endswith("beyond p90 1") and " 3 rows" in fp8
    fp4 = next(line for line in out if line.strip().startswith("fp4 "))
    assert fp4.endswith("beyond p90 0")
