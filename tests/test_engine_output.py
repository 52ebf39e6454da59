"""``--engine`` on predict, serve and curve: the output says which engine the figures are for (table and
JSON), and without it says none was chosen; an unknown engine lists the allowed ones."""

from __future__ import annotations

import json

import pytest

from cli_in_process import run_main
from inferchip.catalog.engines import engine_ids, get_engine

BASE = ["--chip", "nvidia-h100-sxm-80gb", "--model", "meta-llama/Llama-3.1-8B-Instruct"]
COMMANDS = {"predict": ["predict", *BASE, "--batch", "4"],
            "serve": ["serve", *BASE, "--concurrency", "4", "--requests", "12"],
            "curve": ["curve", *BASE, "--input-tokens", "128", "--output-tokens", "32"]}


@pytest.mark.parametrize("cmd", sorted(COMMANDS))
def test_json_names_the_engine(cmd):
    eng = "sglang"
    code, text = run_main([*COMMANDS[cmd], "--engine", eng, "--format", "json"])
    assert code == 0, text
    got = json.loads(text)["engine"]
    spec = get_engine(eng)
    assert got["id"] == eng and got["step_overhead_s"] == spec.step_overhead_s
    assert ("max_num_seqs" in got) == (cmd != "predict")  # a static batch has no scheduler
    code, text = run_main([*COMMANDS[cmd], "--format", "json"])
    assert code == 0 and json.loads(text)["engine"] is None


@pytest.mark.parametrize("cmd", sorted(COMMANDS))
def test_table_says_which_engine(cmd):
    code, text = run_main([*COMMANDS[cmd], "--engine", "TRTLLM"])
    assert code == 0, text
    assert "engine: trtllm (" in text
    code, text = run_main(COMMANDS[cmd])
    assert code == 0 and "engine: none (" in text


@pytest.mark.parametrize("cmd", sorted(COMMANDS))
def test_unknown_engine_lists_the_engines(cmd):
    code, text = run_main([*COMMANDS[cmd], "--engine", "tgi"])
    assert code == 2 and "unknown engine 'tgi'" in text
    assert all(e in text for e in engine_ids())
