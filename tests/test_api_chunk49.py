"""``ic.predict`` (and the review's rows, which call it) take the prefill chunk the default engine runs on the chip,
as ``inferchip predict`` does without ``--chunk-tokens``: on a chip whose engine runs 2,048-token steps (an L4 under
vLLM's memory rule; a Gaudi 3, whose vLLM back end reports no device memory) the API took 8,192 and its TTFT differed
from the CLI's for the same question (stop 49's second reader: Gaudi 3 250.6 ms through the API, 274.9 on the CLI)."""

from __future__ import annotations

import json

import pytest
from tests.cli_in_process import run_main

import inferchip as ic

MODEL = "meta-llama/Llama-3.1-8B-Instruct"


@pytest.mark.parametrize("chip", ["intel-gaudi3", "nvidia-l4", "nvidia-h100-sxm-80gb"])
def test_api_predict_is_the_cli_predict(chip):
    p = ic.predict(chip, MODEL, batch=8, input_tokens=4096, output_tokens=64)
    code, text = run_main(["predict", "--chip", chip, "--model", MODEL, "--batch", "8", "--input-tokens", "4096",
                           "--output-tokens", "64", "--format", "json"])
    assert code == 0, text
    cli = json.loads(text)
    assert p.ttft_s == pytest.approx(cli["ttft_s"], rel=1e-12) and p.tpot_s == pytest.approx(cli["tpot_s"], rel=1e-12)


def test_the_chunk_is_the_engines_on_the_chip_and_a_given_one_wins():
    small = ic.resolve_setting("nvidia-l4", MODEL)  # the chunk resolved once, in the setting (branch chunk49)
    big = ic.resolve_setting("nvidia-h100-sxm-80gb", MODEL)
    assert small.chunk_tokens == 2_048 and big.chunk_tokens == 8_192  # vLLM's device rule
    # a 4k prompt on 2,048-token steps takes two prefill steps: slower than one 8,192-token step on the same chip
    two_steps = ic.predict("nvidia-l4", MODEL, batch=1, input_tokens=4096, output_tokens=8)
    one_step = ic.predict("nvidia-l4", MODEL, batch=1, input_tokens=4096, output_tokens=8, chunk_tokens=8_192)
    assert two_steps.ttft_s > one_step.ttft_s
