"""``predict --max-throughput`` says its TTFT is the service time without queueing (newuser43b, stop 43).

On main the table's row read "TTFT" and the JSON ``ttft_s`` alone: the steady state's prefill of one prompt within the
running batch, which leaves out the wait for admission a vLLM ``benchmark_serving`` client or MLPerf's Server scenario
counts (serve --concurrency 214 --range-ratio 1 for Llama-3.1-8B on one H100: 0.53 s mean TTFT, 0.30 s of it queue,
against predict's 59 ms). Now the row is labelled, the JSON has ``ttft_includes_queueing: false`` and a note names the
concurrency and the serve command that simulates the queue; a static batch (no queue) keeps its plain label."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from inferchip.interfaces.cli import app

BASE = ["predict", "--chip", "nvidia-h100-sxm-80gb", "--model", "meta-llama/Llama-3.1-8B", "--input-tokens", "512",
        "--output-tokens", "64"]


def _run(*args: str) -> str:
    res = CliRunner().invoke(app, [*BASE, *args])
    assert res.exit_code == 0, res.output
    return res.stdout


def test_max_throughput_labels_its_ttft_in_text_and_json() -> None:
    d = json.loads(_run("--max-throughput", "--format", "json"))
    assert d["ttft_includes_queueing"] is False
    conc = d["batch"] * d["replicas"]
    note = [n for n in d["notes"] if n.startswith("TTFT is the service time")]
    assert len(note) == 1, d["notes"]
    assert f"concurrency {conc:g}" in note[0] and f"inferchip serve --concurrency {conc:g} --range-ratio 1" in note[0]
    text = " ".join(_run("--max-throughput").split())
    assert "TTFT (service time, no queueing)" in text
    assert " ".join(f"note: {note[0]}".split()) in text


def test_a_static_batch_keeps_the_plain_label_and_no_note() -> None:
    d = json.loads(_run("--batch", "4", "--format", "json"))
    assert d["ttft_includes_queueing"] is False
    assert not any(n.startswith("TTFT is the service time") for n in d["notes"])
    text = _run("--batch", "4")
    assert "no queueing" not in text and "│ TTFT " in text
