"""tools/closed_loop_runs/ttft_tail_audit.py: the tail count the p90 allows, the exact ceiling of a group with its
stalled rows kept, the group table, the cover and the refusals of bad options."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import load_tool


@pytest.fixture(scope="module")
def tta():
    return load_tool("ttft_tail_audit")


def _row(e: float, engine: str = "dynamo", cls: str = "in", flag: str = "-", cid: str = "x") -> dict:
    return dict(case_id=cid, e=e, engine=engine, chip="gb200-186gb", layout="disagg", len="1024/1024", cls=cls,
                band="c9-32", sign="over" if e > 0 else "under", flag=flag, config=cid)


def test_allowed_tail_by_hand(tta):
    # 1,592 rows: q = 0.9 x 1,591 = 1,431.9; the sorted rows 1,431 and 1,432 must be within: 1,592 - 1 - 1,432 = 159
    assert tta.allowed_tail(1592) == 159
    assert tta.allowed_tail(11) == 1  # q = 9 exactly: only row 9 is read, so one row (10) may lie beyond
    assert tta.allowed_tail(1) == 0
    with pytest.raises(ValueError, match="n must be >= 1"):
        tta.allowed_tail(0)


@given(st.lists(st.floats(0.0, 200.0, allow_nan=False), min_size=1, max_size=300), st.floats(1.0, 100.0))
def test_allowed_tail_is_what_numpy_reads(tta, errs, thr):
    """With ``allowed_tail(n)`` rows beyond the threshold, however far, the p90 is within it; with two more (both
    rows the interpolation reads then beyond) it is not. One more depends on the values (the interpolation)."""
    n = len(errs)
    k = tta.allowed_tail(n)
    within = sorted(min(e, thr) for e in errs)[: n - k]
    assert np.percentile(np.array(within + [thr * 1e3] * k), 90) <= thr
    if k + 2 <= n:
        assert np.percentile(np.array([thr * 0.5] * (n - k - 2) + [thr * 1.01] * (k + 2)), 90) > thr


def test_exact_ceiling_keeps_stalled_rows(tta):
    rows = [_row(-50.0, cid="a"), _row(-60.0, flag="stall", cid="b"), _row(10.0, cid="c"), _row(40.0, cid="d")]
    members = np.array([True, True, False, False])
    tail, p90 = tta.exact_ceiling(rows, members, 35.0)
    assert tail == 2  # the stalled row b and the non-member d stay beyond
    assert p90 == pytest.approx(np.percentile([0.0, 60.0, 10.0, 40.0], 90))


def test_group_table_and_cover(tta):
    rows = ([_row(-50.0, cid=f"g{i}", cls="steady-slow") for i in range(2)] + [_row(-55.0, cid="g2")]
            + [_row(-45.0, engine="sglang", cid="s0", cls="wave", flag="stall")]
            + [_row(5.0, engine="vllm", cid=f"v{i}") for i in range(5)]
            + [_row(-30.0, engine="vllm", cid="v5")])
    groups = tta.group_table(rows, ("engine",), 35.0, 15.0, 7.0)
    first = groups[0]
    assert first["key"] == ("dynamo",)
    assert (first["rows"], first["tail"], first["flagged"], first["movable"], first["near"]) == (3, 3, 0, 3, 2)
    sg = next(g for g in groups if g["key"] == ("sglang",))
    assert (sg["tail"], sg["flagged"], sg["movable"]) == (1, 1, 0)
    vl = next(g for g in groups if g["key"] == ("vllm",))
    assert vl["edge"] == 1  # -30 % is within 7 points inside 35
    # 10 rows, 4 beyond; allowed 1 (q = 8.1): the dynamo group made exact leaves the stalled one, p90 then within
    steps = tta.cover(rows, groups, 35.0)
    assert [s[0] for s in steps] == [("dynamo",)]
    assert steps[0][1] == 1 and steps[0][2] <= 35.0


def test_cover_empty_when_already_within(tta):
    rows = [_row(5.0, cid=f"r{i}") for i in range(10)]
    assert tta.cover(rows, tta.group_table(rows, ("engine",), 35.0, 15.0, 7.0), 35.0) == []


def test_config_and_option_refusals(tta):
    assert tta.config_of("imax-dsr1-gb200-dynamo-sglang-fp4-disagg-p4x1e1dpa-d8x1e1dpa-1024-1024-c32-r2032-ttft") == (
        "dsr1-gb200-dynamo-sglang-fp4-disagg-p4x1e1dpa-d8x1e1dpa-1024-1024")
    assert tta.parse_by("engine, chip,cls") == ("engine", "chip", "cls")
    with pytest.raises(ValueError, match="keys must be among"):
        tta.parse_by("engine,colour")
    with pytest.raises(ValueError, match="expected NAME=REGEX"):
        tta.parse_families(["nameonly"])
    with pytest.raises(ValueError, match="bad regular expression"):
        tta.parse_families(["x=("])
    assert tta.parse_families(["gb=gb200-dynamo"])["gb"].search("imax-dsr1-gb200-dynamo-x")


def test_median_gaps_by_hand(tta, tmp_path):
    """A planted run: measured median 120 ms against a simulated 80 ms, TPOT 8 ms: gap +40 ms = +5 TPOTs. A run
    without a stated spread and one without a TPOT row are left out; a run outside the expression too."""
    run = "imax-x-gb200-dynamo-trt-fp4-disagg-p4x4e4-d32x8e8-1024-1024-c4-r1"
    other = "imax-x-gb200-dynamo-trt-fp4-disagg-p4x4e4-d32x8e8-1024-1024-c8-r1"
    lone = "imax-x-gb200-dynamo-trt-fp4-disagg-p4x4e4-d32x8e8-1024-1024-c16-r1"
    cases = [
        dict(case_id=f"{run}-ttft", metric="ttft_ms", status="ok", measured=150.0, signed_error_pct=-40.0,
             sim={"ttft_median_ms": 80.0}),
        dict(case_id=f"{run}-tpot", metric="tpot_ms", status="ok", measured=8.0, signed_error_pct=0.0, sim={}),
        dict(case_id=f"{other}-ttft", metric="ttft_ms", status="ok", measured=150.0, signed_error_pct=-40.0,
             sim={"ttft_median_ms": 80.0}),  # no spread in the notes
        dict(case_id=f"{other}-tpot", metric="tpot_ms", status="ok", measured=8.0, signed_error_pct=0.0, sim={}),
        dict(case_id=f"{lone}-ttft", metric="ttft_ms", status="ok", measured=150.0, signed_error_pct=-40.0,
             sim={"ttft_median_ms": 80.0}),  # no TPOT row
        dict(case_id="imax-y-b200-sglang-c4-r1-ttft", metric="ttft_ms", status="ok", measured=1.0,
             signed_error_pct=0.0, sim={"ttft_median_ms": 1.0}),
    ]
    vj = tmp_path / "v.json"
    vj.write_text(json.dumps({"cases": cases}))
    note = "TTFT spread of the run: median 120.0 ms, p99 300.0 ms (median_ttft, p99_ttft of the same record)"
    csv_path = tmp_path / "cases.csv"
    csv_path.write_text("case_id,notes\n" + f"{run}-ttft,\"{note}\"\n" + f"{lone}-ttft,\"{note}\"\n"
                        + f"imax-y-b200-sglang-c4-r1-ttft,\"{note}\"\n")
    out = tta.median_gaps(str(vj), csv_path, tta.parse_families(["g=gb200-dynamo"])["g"])
    assert len(out) == 1
    g = out[0]
    assert g["clients"] == 4 and g["gap_ms"] == pytest.approx(40.0) and g["gap_tpots"] == pytest.approx(5.0)
    assert g["e"] == pytest.approx(-40.0)
