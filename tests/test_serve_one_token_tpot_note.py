"""``serve --slo-tpot-ms`` with one-token outputs says how it reads their TPOT limit (newuser42's item 3, stop 42).

A request with one output token has no time per output token. ``serve``'s goodput counts it as within any TPOT
limit, as vLLM's benchmark goodput does (benchmarks/benchmark_serving.py: ``tpot = 0`` unless ``output_len > 1``),
while ``predict --max-tpot-ms`` with one output token is refused. On main neither said so; now serve's text and
JSON notes name the reading and its source."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from inferchip.interfaces.cli import app
from inferchip.interfaces.cli_options.serving import one_token_tpot_note

BASE = ["serve", "--chip", "nvidia-h100-sxm-80gb", "--model", "meta-llama/Llama-3.1-8B", "--input-tokens", "64",
        "--rate", "2", "--requests", "6"]


def _json(*args: str) -> dict:
    res = CliRunner().invoke(app, [*BASE, *args, "--format", "json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_one_token_outputs_under_a_tpot_limit_are_noted() -> None:
    d = _json("--output-tokens", "1", "--slo-tpot-ms", "0.001")  # a limit no decode step meets
    tpot = [n for n in d["notes"] if "--slo-tpot-ms" in n]
    assert len(tpot) == 1, d["notes"]
    assert "6 of 6 requests have one output token" in tpot[0]
    assert "benchmark_serving.py goodput" in tpot[0]
    assert d["slo_attainment_fraction"] == 1.0  # met although 1 us is below any step: the reading the note names
    text = CliRunner().invoke(app, [*BASE, "--output-tokens", "1", "--slo-tpot-ms", "0.001"])
    assert "benchmark_serving.py goodput" in " ".join(text.output.split())


def test_no_note_without_a_tpot_limit_or_without_one_token_outputs() -> None:
    assert not [n for n in _json("--output-tokens", "1")["notes"] if "--slo-tpot-ms" in n]
    assert not [n for n in _json("--output-tokens", "4", "--slo-tpot-ms", "50")["notes"] if "--slo-tpot-ms" in n]


def test_the_note_counts_the_one_token_requests() -> None:
    assert one_token_tpot_note(None, 3, 10) is None
    assert one_token_tpot_note(50.0, 0, 10) is None
    note = one_token_tpot_note(50.0, 3, 1200)
    assert note is not None and note.startswith("--slo-tpot-ms 50: 3 of 1,200 requests have one output token")
