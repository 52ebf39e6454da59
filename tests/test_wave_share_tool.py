"""tools/closed_loop_runs/wave_share.py: the two-point share and wait, the FIFO drain per prompt and the decoder
stall per arriving prompt, by hand and as invariants, on the shipped ATOM records and on bad input."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.conftest import load_tool

ws = load_tool("wave_share")
DATA = Path(__file__).resolve().parents[1] / "docs" / "data" / "imax_atom_dsr1_ttft_itl_std.csv"
CASES = Path(__file__).resolve().parents[1] / "src" / "inferchip" / "catalog" / "inferencemax_cases.csv"


def test_two_point_by_hand():
    # 1,000 requests: 30 wait 10 s more than the other 970 at 0.3 s -> mean 0.6, population std 10 sqrt(0.03 x 0.97)
    x = np.array([0.3] * 970 + [10.3] * 30)
    p, t = ws.two_point(float(x.mean()), 0.3, float(x.std()))
    assert p == pytest.approx(0.03) and t == pytest.approx(10.0)


@given(st.floats(0.001, 0.49), st.floats(0.01, 100.0), st.floats(0.0, 10.0))
def test_two_point_recovers_any_two_point_run(p: float, t: float, median: float):
    mean = median + p * t
    std = t * math.sqrt(p * (1 - p))
    got_p, got_t = ws.two_point(mean, median, std)
    assert got_p == pytest.approx(p, rel=1e-9) and got_t == pytest.approx(t, rel=1e-9)


def test_a_fifo_wave_reads_three_quarters_of_the_wave_waiting():
    # C prompts drained D apart from the start, the other 9 C at the median: p N / C -> 3/4, and the drain is D back
    c, d, m = 128, 0.2, 0.25
    x = np.array([m] * (9 * c) + [m + i * d for i in range(c)])
    p, _ = ws.two_point(float(x.mean()), m, float(x.std()))
    assert p * ws.PROMPTS_PER_CLIENT == pytest.approx(0.75, abs=0.01)
    assert ws.fifo_drain_s(float(x.mean()), m, c) == pytest.approx(d)


def test_itl_stall_by_hand():
    # decode steps 28 ms, mean ITL 57 ms: 1 - 28/57 of a 53 s request goes to other work; 128 clients
    assert ws.itl_stall_s(0.057, 0.028, 53.0, 128) == pytest.approx((1 - 28 / 57) * 53.0 / 128)
    assert ws.itl_stall_s(0.02, 0.021, 10.0, 4) == 0.0  # a median above the mean stalls nothing


@pytest.mark.parametrize("args", [(0.3, 0.3, 1.0), (0.3, 0.4, 1.0), (0.5, 0.3, 0.0)])
def test_two_point_refuses_a_run_without_excess(args):
    with pytest.raises(ValueError, match="mean above the median"):
        ws.two_point(*args)


def test_drain_and_stall_refuse_bad_arguments():
    with pytest.raises(ValueError, match="two or more clients"):
        ws.fifo_drain_s(1.0, 0.5, 1)
    with pytest.raises(ValueError, match="positive ITLs"):
        ws.itl_stall_s(0.0, 0.01, 1.0, 4)


def test_shipped_records_match_their_rows_and_read_a_quarter_of_the_wave():
    recs = ws.read_records(DATA)
    assert len(recs) == 24
    with CASES.open(newline="") as f:
        values = {r["case_id"]: float(r["value"]) for r in csv.DictReader(f) if r["metric"] == "ttft_ms"}
    for r in recs:  # each record's mean is its TTFT row's value (ms, as shipped)
        assert r["mean_ttft"] * 1e3 == pytest.approx(values[r["case_id"]], abs=1e-3)
    rows = ws.report_rows(recs, {}, ws.PROMPTS_PER_CLIENT)
    wave_8k = [r for r in rows if r["isl"] == 8192 and r["conc"] >= 8]
    assert len(wave_8k) == 10 and all(0.2 < r["wave_share"] < 0.3 for r in wave_8k)
    fp8_8k = [r for r in wave_8k if "-fp8-" in r["case_id"] and r["conc"] >= 32]
    assert all(r["stall_s"] > 3 * r["drain_s"] for r in fp8_8k)


def test_simulated_readings_come_from_the_sim_block():
    recs = ws.read_records(DATA)[:1]
    sim = {"ttft_ms": 600.0, "ttft_median_ms": 300.0, "ttft_std_ms": 900.0}
    (row,) = ws.report_rows(recs, {recs[0]["case_id"]: sim}, 10)
    p, t = ws.two_point(0.6, 0.3, 0.9)
    assert row["sim_wave_share"] == pytest.approx(10 * p) and row["sim_wait_s"] == pytest.approx(t)
    assert row["sim_drain_s"] == pytest.approx(2 * 10 * 0.3 / 3)


def test_bad_records_are_named(tmp_path):
    good = DATA.read_text().splitlines()
    header = next(ln for ln in good if not ln.startswith("#"))
    first = good[good.index(header) + 1]
    bad = tmp_path / "bad.csv"
    bad.write_text(header + "\n" + first.replace(",8192,", ",-8192,", 1) + "\n")
    with pytest.raises(ValueError, match=r"bad.csv: data line 2, field isl: '-8192'"):
        ws.read_records(bad)
    short = tmp_path / "short.csv"
    short.write_text("case_id,conc\nx,4\n")
    with pytest.raises(ValueError, match=r"short.csv: missing column"):
        ws.read_records(short)
