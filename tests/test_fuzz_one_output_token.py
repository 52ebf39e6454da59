"""`predict --output-tokens 1` (newuser42): the one output token is the prefill's, so no token follows it and no
request has a time per output token. `serve` and `curve` give `tpot_s_*` and the per-user rate as null; on main
`predict` printed a TPOT (the static batch's decode step at that context, or the continuous batch's iteration time:
11.3 s for Llama-3.1-8B at 1/1 on an H100) and a per-user rate of 1 / that TPOT, and `--max-tpot-ms` chose the
concurrency by that figure. Now the JSON gives null, the table '-', a note says why, and `--max-tpot-ms` is
refused with one output token."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from inferchip.interfaces.cli import app, main

BASE = ["predict", "--chip", "nvidia-h100-sxm-80gb", "--model", "meta-llama/Llama-3.2-1B"]


def _json(args: list[str]) -> dict:
    res = CliRunner().invoke(app, [*BASE, *args, "--format", "json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


@settings(max_examples=6, deadline=None)
@given(prompt=st.integers(1, 4096), mode=st.sampled_from([["--batch", "1"], ["--batch", "7"], ["--max-throughput"]]))
def test_one_output_token_has_no_tpot(prompt: int, mode: list[str]) -> None:
    d = _json(["--input-tokens", str(prompt), "--output-tokens", "1", *mode])
    assert d["tpot_s"] is None and d["output_tokens_per_s_per_user"] is None
    assert d["e2e_latency_s"] == d["ttft_s"] > 0 and d["output_tokens_per_s"] > 0
    assert any("--output-tokens 1" in n for n in d["notes"])


@settings(max_examples=4, deadline=None)
@given(out=st.integers(2, 64))
def test_two_or_more_output_tokens_keep_tpot(out: int) -> None:
    d = _json(["--output-tokens", str(out), "--batch", "1"])
    assert d["tpot_s"] > 0 and abs(d["output_tokens_per_s_per_user"] - 1 / d["tpot_s"]) < 1e-6 / d["tpot_s"]
    assert not any("--output-tokens 1" in n for n in d["notes"])


def test_table_prints_a_dash() -> None:
    res = CliRunner().invoke(app, [*BASE, "--output-tokens", "1", "--batch", "1"])
    assert res.exit_code == 0, res.output
    tpot = next(line for line in res.output.splitlines() if "│ TPOT" in line)
    user = next(line for line in res.output.splitlines() if "tokens/s per user" in line)
    assert tpot.split("│")[2].strip() == "-" and user.split("│")[2].strip() == "-"


def test_max_tpot_with_one_output_token_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*BASE, "--output-tokens", "1", "--max-throughput", "--max-tpot-ms", "50"]) == 2
    err = capsys.readouterr().err
    assert "--max-tpot-ms" in err and "--output-tokens 1" in err
    assert main([*BASE, "--output-tokens", "2", "--max-throughput", "--max-tpot-ms", "50", "--format", "json"]) == 0
