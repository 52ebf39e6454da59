"""tools/step_model/decode_residual_fit.py: the TPOT residual as a line in the client count, by hand."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.conftest import load_tool

drf = load_tool("decode_residual_fit")


def _row(chip: str, c: int, run: str, measured: float, predicted: float, lengths: str = "1024-8192") -> dict:
    return {"case_id": f"imax-dsr1-0528-{chip}-sglang-fp8-tp8ep1-{lengths}-c{c}-r{run}-tpot", "metric": "tpot_ms",
            "status": "ok", "measured": measured, "predicted": predicted}


def test_line_fit_by_hand() -> None:
    # points (4, 10), (8, 8), (16, 4): mean x 28/3, mean y 22/3; sxx = (16/3)^2 + (4/3)^2 + (20/3)^2 = 224/3;
    # sxy = (-16/3)(8/3) + (-4/3)(2/3) + (20/3)(-10/3) = -336/9 = -112/3; b = -0.5; a = 22/3 + 0.5 * 28/3 = 12
    a, b = drf.line_fit([4, 8, 16], [10.0, 8.0, 4.0])
    assert b == pytest.approx(-0.5)
    assert a == pytest.approx(12.0)


def test_line_fit_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="two distinct"):
        drf.line_fit([4, 4], [1.0, 2.0])
    with pytest.raises(ValueError, match="as many"):
        drf.line_fit([4, 8], [1.0])


@given(a=st.floats(-50, 50), b=st.floats(-2, 2))
def test_line_fit_recovers_an_exact_line(a: float, b: float) -> None:
    xs = [4, 8, 16, 32, 64]
    fa, fb = drf.line_fit(xs, [a + b * x for x in xs])
    assert fa == pytest.approx(a, abs=1e-9)
    assert fb == pytest.approx(b, abs=1e-9)


def test_table_averages_runs_and_skips_other_rows() -> None:
    cases = [_row("mi300x", 4, "1", 27.0, 17.0), _row("mi300x", 4, "2", 26.0, 17.0),
             _row("mi300x", 64, "1", 47.0, 58.0),
             {**_row("mi300x", 8, "1", 28.0, 21.0), "metric": "ttft_ms"},  # another metric
             {**_row("mi300x", 16, "1", 31.0, 27.0), "status": "skipped"},  # not predicted
             {"case_id": "dynamo-gb200-fp4-p4x4-d32x8-1024-1024-c564-tpot", "metric": "tpot_ms", "status": "ok",
              "measured": 1.0, "predicted": 1.0}]  # no -tpNepM-: not an aggregated row
    t = drf.tpot_table(cases, "sglang")
    assert list(t) == [("mi300x", "sglang", "fp8", "tp8ep1", "1024", "8192")]
    by_c = t[("mi300x", "sglang", "fp8", "tp8ep1", "1024", "8192")]
    assert by_c[4] == pytest.approx((26.5, 17.0))
    assert by_c[64] == pytest.approx((47.0, 58.0))
    assert set(by_c) == {4, 64}


def test_report_and_pair_by_hand() -> None:
    cases = [_row("mi300x", 4, "1", 26.0, 16.0), _row("mi300x", 64, "1", 46.0, 56.0),
             _row("mi355x", 4, "1", 13.0, 11.0), _row("mi355x", 64, "1", 23.0, 27.0)]
    t = drf.tpot_table(cases, "sglang")
    lines = drf.report(t)
    mi300 = next(r for r in lines if r.startswith("| mi300x"))
    # residual +10 at c4, -10 at c64: b = -20 / 60 = -0.333, a = 10 + 0.333 * 4 = 11.33
    assert "c4 +10.0, c64 -10.0" in mi300
    assert "11.3 -0.333 C" in mi300
    # measured: 26 at 4, 46 at 64 -> b = 1/3, a = 24.67
    assert "24.7 +0.333 C" in mi300
    pair = drf.pair_report(t, "mi300x", "mi355x")
    assert any("| 4 | 2.00 | 1.45 |" in r for r in pair)  # 26 / 13, 16 / 11
    assert any("| 64 | 2.00 | 2.07 |" in r for r in pair)  # 46 / 23, 56 / 27


def test_cli_runs_on_a_validate_json(tmp_path: Path) -> None:
    p = tmp_path / "v.json"
    p.write_text(json.dumps({"cases": [_row("mi300x", 4, "1", 26.0, 16.0), _row("mi300x", 64, "1", 46.0, 56.0)]}))
    tool = Path(__file__).resolve().parents[1] / "tools" / "step_model" / "decode_residual_fit.py"
    out = subprocess.run([sys.executable, str(tool), str(p), "--match", "sglang"], capture_output=True, text=True,
                         check=True).stdout
    assert "| mi300x | sglang | fp8 | tp8ep1 | 1024/8192 |" in out
    bad = subprocess.run([sys.executable, str(tool), str(p), "--match", "vllm"], capture_output=True, text=True)
    assert bad.returncode != 0 and "no TPOT row matches" in bad.stderr


def test_geomean_ratio_by_configuration() -> None:
    # two runs of one configuration collapse to one key; ratios 2 and 1/2 -> geometric mean 1; 3 and 1.5 -> sqrt 4.5
    ref = [_row("mi300x", 4, "1", 27.0, 10.0), _row("mi300x", 4, "2", 27.0, 10.0), _row("mi300x", 64, "1", 47.0, 40.0)]
    new = [_row("mi300x", 4, "1", 27.0, 20.0), _row("mi300x", 64, "1", 47.0, 20.0)]
    num, den = drf.config_tpot(new, "sglang"), drf.config_tpot(ref, "sglang")
    assert set(den) == {"imax-dsr1-0528-mi300x-sglang-fp8-tp8ep1-1024-8192-c4",
                        "imax-dsr1-0528-mi300x-sglang-fp8-tp8ep1-1024-8192-c64"}
    g, n = drf.geomean_ratio(num, den)
    assert (g, n) == (pytest.approx(1.0), 2)
    g, _ = drf.geomean_ratio({"a": 30.0, "b": 60.0}, {"a": 10.0, "b": 40.0})
    assert g == pytest.approx(4.5 ** 0.5)
    with pytest.raises(ValueError, match="no configuration"):
        drf.geomean_ratio({"a": 1.0}, {"b": 1.0})
