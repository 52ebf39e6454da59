"""The engine's scheduler setting on a chip is resolved once (``cli_options.engine.engine_choice``, stop 47, branch
capresolve47) and read by predict, serve and curve alike:

* predict's prefill chunk without ``--chunk-tokens`` is the step budget serve runs on the chip (the vllm record's
  device rule: 2,048 below 70 GiB or on an A100, 8,192 above), stated in its notes; it was 8,192 on every chip;
* the chip is looked up once for the engine, its caps and the expert kernel, and the caps are typed;
* the device rule reads one runtime device's memory: an MI250X is two 64 GiB GPUs to ROCm (the chip file's
  ``memory.runtime_devices``, with AMD's source), so vLLM's rule gives 256 / 2,048 there, as data, not by its id."""

from __future__ import annotations

import json
import typing

import pytest

import inferchip.catalog.chips as chips_mod
from cli_in_process import run_main
from inferchip.interfaces.cli_options import engine as eng_opts
from inferchip.performance.setting import engine as setting_engine
from inferchip.spec.engine import SchedulerCaps

L1B = "meta-llama/Llama-3.2-1B"


def _predict(chip: str, *extra: str) -> dict:
    code, out = run_main(["predict", "--chip", chip, "--model", L1B, "--batch", "8", "--input-tokens", "4096",
                          "--output-tokens", "64", *extra, "--format", "json"])
    assert code == 0, out
    return json.loads(out)


@pytest.mark.parametrize(("chip", "chunk"), [("nvidia-l40s", 2048), ("nvidia-a100-sxm-80gb", 2048),
                                             ("amd-mi250x", 2048), ("nvidia-h100-sxm-80gb", 8192)])
def test_predict_takes_serves_chunk_on_the_chip_and_says_so(chip, chunk):
    got = _predict(chip)
    act = got["memory_activations"]
    assert act["chunk_tokens"] == chunk == setting_engine.engine_choice(None, None, chip).caps.chunk_tokens
    assert act["step_tokens"] == chunk  # 8 x 4,096 prompt tokens, at most the chunk
    assert "device_batch" not in act["chunk_source"] and "vllm/engine/arg_utils.py" in act["chunk_source"]
    said = [n for n in got["notes"] if n.startswith(f"prefill chunk {chunk:,} tokens")]
    assert len(said) == 1 and act["chunk_source"] in said[0], got["notes"]


def test_predict_chunk_given_or_by_engine():
    got = _predict("nvidia-l40s", "--chunk-tokens", "4096")
    assert got["memory_activations"]["chunk_tokens"] == 4096
    assert not [n for n in got["notes"] if n.startswith("prefill chunk")]  # the option says it
    got = _predict("nvidia-l40s", "--engine", "vllm")  # the record's own rule, as serve --engine vllm runs it
    assert got["memory_activations"]["chunk_tokens"] == 2048


def test_the_chip_is_looked_up_once(monkeypatch):
    calls: list[str] = []
    real = chips_mod.get_chip_params

    def counted(chip, *a, **k):
        calls.append(str(chip))
        return real(chip, *a, **k)

    monkeypatch.setattr(chips_mod, "get_chip_params", counted)
    choice = setting_engine.engine_choice("vllm", None, "nvidia-l40s")
    eng_opts.chunk_setting(None, choice.caps)
    from inferchip.interfaces.cli_options.options import read_model

    setting_engine.moe_kernel_setting(choice.calibration, choice.spec, choice.chip, None, read_model(L1B), None)
    assert calls == ["nvidia-l40s"]
    assert (choice.caps.max_num_seqs, choice.caps.chunk_tokens) == (256, 2048) and choice.chip.id == "nvidia-l40s"


def test_the_caps_are_typed():
    from inferchip.interfaces.cli_options.options import GivenModel
    from inferchip.spec.engine import EngineSpec
    from inferchip.spec.engine.padding import PaddingLadder, StepPadding
    from inferchip.spec.params import ChipParams

    names = {"EngineSpec": EngineSpec, "SchedulerCaps": SchedulerCaps, "ChipParams": ChipParams,
             "GivenModel": GivenModel,
             "NamedModel": setting_engine.NamedModel, "StepPadding": StepPadding, "PaddingLadder": PaddingLadder}
    hints = typing.get_type_hints(setting_engine.EngineChoice, localns=names)
    assert hints["caps"] is SchedulerCaps and hints["chip"] is ChipParams
    assert typing.get_type_hints(eng_opts.chunk_setting, localns=names)["caps"] is SchedulerCaps
    assert typing.get_type_hints(setting_engine.engine_summary, localns=names)["caps"] == SchedulerCaps | None
    assert not hasattr(eng_opts, "scheduler_caps")  # no second lookup by chip id


def test_predict_and_serve_read_mi250x_as_two_devices():
    caps = setting_engine.engine_choice(None, None, "amd-mi250x").caps
    assert (caps.max_num_seqs, caps.chunk_tokens) == (256, 2048) and "2 devices" in caps.reason
