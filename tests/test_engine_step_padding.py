"""The compiled step shapes of vLLM's TPU and Gaudi back ends (catalog/engine_hardware.yaml hardware ``padding``,
spec/engine/padding.py): each bucket rule against a hand calculation from its source, the step model pricing the
padded batch exactly as the unpadded model prices that many rows, padded work never below the real work and
monotone in the batch, bad data refused naming the field, no padding on any GPU back end, and predict / serve /
curve stating it."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from cli_in_process import run_json
from engine_files import engines_with_hardware_change
from inferchip.catalog.engines import HARDWARE_FILE, load_engines
from inferchip.errors import SpecError
from inferchip.performance.serving import serving_model
from inferchip.performance.setting.engine import engine_choice
from inferchip.spec.engine.padding import PaddingLadder, StepPadding, resolve_padding

L8B = "meta-llama/Llama-3.1-8B"
RAW = yaml.safe_load(HARDWARE_FILE.read_text(encoding="utf-8"))["hardware"]  # the data as written
TPU = StepPadding(pads="step_tokens", rule="power_of_two", min=16, source="s")
GAUDI = StepPadding(pads="decode_batch", rule="exponential", min=1, step=2, source="s")


# ---------------------------------------------------------------------------------------- each rule by hand

def test_tpu_token_ladder_is_tpu_inferences_get_token_paddings():
    # get_token_paddings(16, max_num_batched_tokens, 0): doubling from 16 to the first size at or above the budget;
    # tpu_runner.py's own comment for a 2,048-token budget: [16, 32, 64, 128, 256, 512, 1024, 2048]
    assert TPU.ladder(2048) == (16, 32, 64, 128, 256, 512, 1024, 2048)
    assert TPU.ladder(3000)[-1] == 4096  # a budget between two sizes: the last size covers it
    assert TPU.ladder(8) == (16,)
    ladder = resolve_padding(TPU, "tpu", 256, 2048)
    assert ladder is not None
    # get_padded_token_len: the first size at or above the step's tokens
    assert ladder.padded([1, 15, 16, 17, 100, 1025, 2048]).tolist() == [16, 16, 16, 32, 128, 2048, 2048]


def test_gaudi_decode_ladder_is_vllm_gaudis_exponential_bucketing():
    # bs config (1, 2, max_num_seqs, ceil(log2(max_num_seqs)) + 1); size i = 1 x max^(i / (limit - 1)), rounded up to
    # a multiple of 2. max 256: limit 9, 256^(i/8) = 2^i: 1, 2, 4, ..., 256 -> 2, 2, 4, ..., 256
    assert GAUDI.ladder(256) == (2, 4, 8, 16, 32, 64, 128, 256)
    # max 100: limit ceil(6.64) + 1 = 8; 100^(i/7) = 1, 1.93, 3.73, 7.20, 13.89, 26.83, 51.79, 100
    # -> rounded up to even: 2, 2, 4, 8, 14, 28, 52, 100
    assert GAUDI.ladder(100) == (2, 4, 8, 14, 28, 52, 100)
    ladder = resolve_padding(GAUDI, "hpu", 256, 2048)
    assert ladder is not None
    assert ladder.padded([0, 1, 2, 3, 33, 129, 256]).tolist() == [0, 2, 2, 4, 64, 256, 256]


def test_extra_rows_pad_the_tokens_on_tpu_and_the_decodes_on_gaudi():
    tpu = resolve_padding(TPU, "tpu", 256, 2048)
    gaudi = resolve_padding(GAUDI, "hpu", 256, 2048)
    assert tpu is not None and gaudi is not None
    # a step of 40 decodes and 560 prompt tokens: TPU pads its 600 tokens to 1,024; Gaudi its 40 decodes to 64
    assert int(tpu.extra_rows(600, 40)) == 424
    assert int(gaudi.extra_rows(600, 40)) == 24
    assert int(gaudi.extra_rows(512, 0)) == 0  # a prefill-only step: no decode batch to pad
    # two attention-DP ranks pad their shares: 2 x 10 decodes -> 2 x 16
    assert int(gaudi.extra_rows(20, 20, ranks=2)) == 12


# ----------------------------------------------------------------------------------------------- properties

@given(rule=st.sampled_from(["power_of_two", "exponential"]), lo=st.integers(1, 64), step=st.integers(1, 16),
       top=st.integers(1, 4096), a=st.integers(0, 4096), b=st.integers(0, 4096))
def test_padded_work_is_never_below_the_real_and_monotone_in_the_batch(rule, lo, step, top, a, b):
    pad = StepPadding(pads="decode_batch", rule=rule, min=lo, step=step, source="s")
    sizes = pad.ladder(top)
    assert list(sizes) == sorted(set(sizes)) and sizes[-1] >= top
    ladder = PaddingLadder("decode_batch", sizes, "t")
    n1, n2 = sorted((a, b))
    p1, p2 = (int(x) for x in ladder.padded([n1, n2]))
    assert p1 >= n1 and p2 >= n2 and p1 <= p2  # never below the real batch; monotone
    if 1 <= n2 <= sizes[-1]:
        assert p2 in sizes  # within the ladder a batch runs a compiled size
    assert int(ladder.extra_rows(n2, n2)) == p2 - n2 >= 0


# ------------------------------------------------------------------------------------- the step model prices it

def test_a_padded_step_costs_what_the_unpadded_model_charges_for_the_padded_rows():
    step, _ = serving_model("intel-gaudi3", L8B, tp=1)
    ladder = resolve_padding(GAUDI, "hpu", 256, 2048)
    padded = replace(step, mm=replace(step.mm, padding=ladder))
    n = np.arange(1, 257)
    kv = n * 1500
    t_real = step.step_time_s(n, n, kv, 0)
    t_pad = padded.step_time_s(n, n, kv, 0)
    p = ladder.padded(n)
    # applied once: the padded rows priced as decode rows without KV cache, nothing else
    assert np.allclose(t_pad, step.step_time_s(p, p, kv, 0), rtol=0, atol=0)
    assert np.all(t_pad >= t_real)  # padded work never costs less
    assert np.all(np.diff(step.step_time_s(p, p, 0, 0)) >= 0)  # monotone in the batch
    assert padded.step_power_w(n, n, kv, 0).shape == n.shape  # the energy is priced at the padded step too


# ------------------------------------------------------------------------------------------------- the data

def test_the_padding_is_stated_for_vllms_tpu_and_gaudi_back_ends_only():
    stated = {(r["engine"], r["backend"].split(" (")[0]): r["padding"] for r in RAW if "padding" in r}
    assert set(stated) == {("vllm", "TPU"), ("vllm", "HPU")}
    assert stated["vllm", "TPU"] == {**stated["vllm", "TPU"], "pads": "step_tokens", "rule": "power_of_two", "min": 16}
    assert stated["vllm", "HPU"] == {**stated["vllm", "HPU"], "pads": "decode_batch", "rule": "exponential",
                                     "min": 1, "step": 2}
    for r in RAW:
        if "padding" in r:
            assert "get_token_paddings" in r["padding"]["source"] or "exponential.py" in r["padding"]["source"]


@pytest.mark.parametrize(("chip", "engine", "sizes"), [
    ("intel-gaudi3", None, (2, 4, 8, 16, 32, 64, 128, 256)),
    ("google-tpu-v5p", "vllm", (16, 32, 64, 128, 256, 512, 1024, 2048)),
    ("nvidia-h100-sxm-80gb", None, None), ("amd-mi300x", "vllm", None), ("google-tpu-v6e-trillium", "sglang", None)])
def test_the_choice_pads_on_tpu_and_gaudi_and_nowhere_else(chip, engine, sizes):
    choice = engine_choice(engine, None, chip)
    ladder = choice.padding_at(choice.caps.chunk_tokens)
    assert (None if ladder is None else ladder.sizes) == sizes
    assert any("pads each step" in n for n in choice.notes_at(2048)) == (sizes is not None)


@pytest.mark.parametrize("bad", [{"pads": "prompt"}, {"rule": "linear"}, {"min": 0}, {"source": ""}, {"other": 1}])
def test_bad_padding_data_is_refused_naming_the_field(tmp_path, bad):
    with pytest.raises(SpecError, match=rf"hardware.*padding.*{next(iter(bad))}"):
        load_engines(engines_with_hardware_change(tmp_path, "padding", bad))


# ------------------------------------------------------------------------------------------- the output says it


@pytest.mark.parametrize(("chip", "says"), [("intel-gaudi3", "2, 4, 8, 16"), ("google-tpu-v5p", "16, 32, 64")])
def test_predict_serve_and_curve_state_the_padding(chip, says):
    base = ["--chip", chip, "--model", L8B, "--tp", "1", "--input-tokens", "256"]
    for args in (["serve", "--concurrency", "4", "--requests", "12", "--output-tokens", "32"],
                 ["curve", "--output-tokens", "16"], ["predict", "--batch", "4", "--output-tokens", "16"]):
        notes = " ".join(run_json([*args, *base])["notes"])
        assert "pads each step" in notes and says in notes, args[0]

