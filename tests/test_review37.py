"""Stop 37's review: defects found in the merged branches, each with the command or call that showed it."""

from __future__ import annotations

import pytest

from cli_in_process import run_main

LLAMA = "meta-llama/Llama-3.1-8B-Instruct"


@pytest.mark.parametrize("options,named", [
    (["--engine", "trtllm", "--mtp", "1", "--tp", "1"], "--engine trtllm"),
    (["--engine", "trtllm", "--disagg", "1xtp1ep1:1xtp1ep1"], "--engine trtllm"),
    (["--engine", "dynamo", "--disagg", "1xtp1ep1:1xtp1ep1"], "--engine dynamo"),
    (["--software", "TensorRT-LLM 1.0", "--mtp", "1", "--tp", "1"], "--software trtllm"),
])
def test_serve_mtp_and_disagg_refuse_an_engine_on_a_chip_it_does_not_run_on(options, named):
    """Before: ``serve --mtp/--disagg`` checked the engine's chip families only where it searched the layout (no
    --tp/--pp/--ep, or several concurrencies): TensorRT-LLM on an MI300X with --tp 1 or --disagg was predicted."""
    code, text = run_main(["serve", "--chip", "amd-mi300x", "--model", LLAMA, "--concurrency", "4", *options])
    assert code == 2 and text.startswith(f"error: {named}: "), text
    assert "amd-mi300x (family amd-cdna3)" in text and "allowed on this chip: " in text
    assert len(text.strip().splitlines()) == 1


def test_serve_mtp_on_a_chip_the_engine_runs_on_still_answers():
    code, text = run_main(["serve", "--chip", "amd-mi300x", "--model", LLAMA, "--concurrency", "4", "--engine", "vllm",
                           "--mtp", "1", "--tp", "1"])
    assert code == 0, text
