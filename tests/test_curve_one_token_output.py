"""`curve --output-tokens 1`: no token follows the first, so no request has a TPOT or a per-user rate (the JSON
gives null, the TPOT column '-'), but the table printed 'nan' in the per-user column (newuser42)."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console
from typer.testing import CliRunner

from inferchip.interfaces.cli import app
from inferchip.interfaces.cli_options.tables import case_rows_table, curve_table


def _text(table: object) -> str:
    con = Console(width=400, record=True)
    con.print(table)
    return con.export_text()


@given(per_user=st.sampled_from([None, math.nan]), per_chip=st.floats(0, 1e6))
def test_a_missing_per_user_rate_prints_a_dash(per_user: float | None, per_chip: float) -> None:
    rec = {"concurrency": 4, "output_tokens_per_s_per_user": per_user, "output_tokens_per_s_per_chip": per_chip,
           "ttft_s_mean": 0.1, "ttft_s_p50": 0.1, "tpot_s_mean": None, "tokens_per_step": 1.0}
    for text in (_text(curve_table([rec], "t")), _text(case_rows_table([rec], "t"))):
        assert "nan" not in text.lower()
        assert f"{per_chip:,.1f}" in text


def test_curve_cli_one_output_token_has_no_nan() -> None:
    res = CliRunner().invoke(app, ["curve", "--chip", "nvidia-h100-sxm-80gb", "--model", "meta-llama/Llama-3.2-1B",
                                   "--output-tokens", "1", "--input-tokens", "64"])
    assert res.exit_code == 0, res.output
    assert "nan" not in res.output.lower()
