"""tools/closed_loop/first_wave_runs.py: the share (mean - median) / (p99 - median) as 1 / P for one waiting wave,
the wave classes, the run's date from the notes, and the shipped MI355X SGLang MXFP4 1k-input runs read as the
records say (one wave of C of 50 C or 20 C requests waiting 20-26 s)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import load_tool

SHIPPED = Path(__file__).resolve().parents[1] / "src" / "inferchip" / "catalog" / "inferencemax_cases.csv"


@pytest.fixture(scope="module")
def fw():
    return load_tool("first_wave_runs")


@given(p=st.integers(2, 99), c=st.integers(1, 64), steady_s=st.floats(0.01, 1.0), wait_s=st.floats(2.0, 60.0))
def test_share_of_one_waiting_wave_is_one_over_p(p, c, steady_s, wait_s):
    """C of P C requests wait W more, the rest none: mean - median = W / P, p99 - median = W (P < 100)."""
    fw = load_tool("first_wave_runs")
    mean_s = steady_s + wait_s / p
    assert fw.share(mean_s, steady_s, steady_s + wait_s) == pytest.approx(1.0 / p)


def test_share_by_hand_and_degenerate(fw):
    # median 86.5 ms, p99 21754.5 ms, mean 519 ms (MI355X FP4 TP4 1k/1k c4): (519 - 86.5) / (21754.5 - 86.5)
    assert fw.share(0.519, 0.0865, 21.7545) == pytest.approx(0.4325 / 21.668)
    assert fw.share(0.3, 0.3, 0.3) is None
    assert fw.share(0.3, 0.4, 0.35) is None


def test_wave_class_thresholds(fw):
    assert fw.wave_class(0.08, 21.7) == "long"
    assert fw.wave_class(0.1, 3.0) == "short"
    assert fw.wave_class(0.1, 0.5) == "none"
    assert fw.wave_class(30.0, 8.0) == "queue"  # median above half the excess: a saturated server


def test_run_date_from_notes(fw):
    assert fw.run_date("run 1; between 2025-12-15 and 2025-12-17 (bracketed ...)") == "2025-12-15..2025-12-17"
    assert fw.run_date("run 2; date 2025-12-19 (InferenceX API date); ...") == "2025-12-19"
    assert fw.run_date("no date here") == "?"


def test_shipped_mi355x_fp4_runs_read_one_long_wave(fw):
    with SHIPPED.open(newline="") as f:
        rows = list(csv.DictReader(f))
    runs = [x for x in fw.run_rows(rows, "sglang", "mi355x")
            if x["weights"] == "mxfp4" and x["len"].startswith("1024/")]
    assert len(runs) >= 60
    for x in runs:
        p = 20 if x["len"] == "1024/8192" else 50
        assert x["share"] == pytest.approx(1.0 / p, rel=0.1), x
        assert 20.0 <= x["wait_s"] <= 26.0 and x["class"] == "long", x
    lines = fw.table(runs)
    assert len(lines) == 2 + len({(x["run"], x["len"]) for x in runs})
