"""tools/ttft/pd_step_scale.py: the multiplier parser by hand, a scaled step by hand, the splice, and on a
real MI355X PD row: a decode step at 2x doubles the simulated TPOT, and ``simulate_closed_loop`` is restored."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from conftest import load_tool
from inferchip.sim import LinearStepModel

CASES = Path(__file__).resolve().parents[1] / "src/inferchip/catalog/inferencemax_cases.csv"
ROW = r"mi355x-amd_0-sglang-disagg-fp8-disagg-p8x8e8-d16x8e8-1024-1024-c32-r20832485469-"


@pytest.fixture(scope="module")
def pss():
    return load_tool("pd_step_scale")


def test_parse_rank_scales(pss):
    assert pss.parse_rank_scales("8=1.6, 16=2.5") == {8: 1.6, 16: 2.5}
    assert pss.parse_rank_scales("") == {}
    for bad in ("8", "8=x", "0=1.5", "8=0", "8=-1"):
        with pytest.raises(ValueError, match="RANKS=MULTIPLIER|positive"):
            pss.parse_rank_scales(bad)


def test_scaled_step_by_hand(pss):
    # 10 ms fixed + 1 us a token: 100 tokens take 10.1 ms; at 1.6x, 16.16 ms
    m = LinearStepModel(fixed_s=0.010, per_token_s=1e-6, per_kv_token_s=0.0, kv_capacity_tokens=1000)
    s = pss.ScaledStep(m, 1.6)
    assert float(s.step_time_s([100], [0], [0], [0])[0]) == pytest.approx(0.01616)
    assert s.kv_capacity_tokens == 1000  # everything else is the model's
    with pytest.raises(ValueError, match="positive"):
        pss.ScaledStep(m, 0.0)


def test_splice_replaces_by_id_only(pss):
    base = {"summary": 1, "cases": [{"case_id": "a", "predicted": 1.0}, {"case_id": "b", "predicted": 2.0}]}
    out = pss.splice(base, [{"case_id": "b", "predicted": 5.0}, {"case_id": "z", "predicted": 9.0}])
    assert out["summary"] == 1 and [c["predicted"] for c in out["cases"]] == [1.0, 5.0]
    assert base["cases"][1]["predicted"] == 2.0  # the input is not changed


def _validate(csv_path: Path) -> dict[str, dict]:
    from inferchip.interfaces.cli import main as cli

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        try:
            cli(["validate", str(csv_path), "--format", "json"])
        except SystemExit as e:
            assert e.code in (0, None)
    return {c["case_id"].rsplit("-", 1)[1]: c for c in json.loads(buf.getvalue())["cases"]}


def test_a_doubled_decode_step_doubles_the_tpot_and_is_undone(pss, tmp_path):
    from inferchip.validation import closed_loop_rows

    sub = tmp_path / "rows.csv"
    assert pss.filtered_cases(str(CASES), ROW, sub) == 3  # throughput, TTFT, TPOT of one run
    orig = closed_loop_rows.simulate_closed_loop
    base = _validate(sub)
    with pss.scaled_workers(ROW, {1: 2.0}):  # the TP8 decode worker: one rank
        twice = _validate(sub)
    assert closed_loop_rows.simulate_closed_loop is orig
    assert twice["tpot"]["predicted"] / base["tpot"]["predicted"] == pytest.approx(2.0, rel=0.05)
    assert _validate(sub)["tpot"]["predicted"] == pytest.approx(base["tpot"]["predicted"])  # the caches untouched
