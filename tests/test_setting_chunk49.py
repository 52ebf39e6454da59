"""One resolution of the prefill chunk (stop 49, branch chunk49): ``ic.resolve_setting`` takes the step budget the
default engine runs on the chip, as ``ic.predict`` and ``inferchip predict`` do, and says where it came from
(``Setting.chunk_source``); the validated rows keep the chunk they state. Before, ``resolve_setting`` took 8,192 on
every chip, so ``ic.predict_setting(ic.resolve_setting(chip, model), ic.ask(...))`` differed from
``ic.predict(chip, model, ...)`` on an L4, an A100, a TPU, a Gaudi or a Groq chip."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import inferchip as ic
from inferchip.errors import DoesNotFitError, InvalidSettingError
from inferchip.performance.mapped import DEFAULT_CHUNK_TOKENS
from inferchip.performance.prediction import CHUNK_GIVEN

L8 = "meta-llama/Llama-3.1-8B-Instruct"
# chips whose default engine runs 2,048-token steps (vLLM's device rule: under 70 GiB or an A100; the TPU / Gaudi
# back ends' own; the vendor stack's on a Groq chip) and two that run 8,192
CHIPS = {"nvidia-l4": {}, "nvidia-a100-sxm-80gb": {}, "intel-gaudi3": {}, "google-tpu-v6e-trillium": {},
         "groq-lpu-v1": {"count": 256, "tp": 8, "pp": 32}, "nvidia-h100-sxm-80gb": {}, "amd-mi300x": {}}


def _answer(call):  # a prediction's figures, or the refusal's class: both ways must agree
    try:
        p = call()
    except DoesNotFitError as exc:
        return type(exc).__name__
    d = p.to_dict()  # every figure but the notes (the same setting's) and the breakdown (the same step's)
    return {k: v for k, v in d.items() if k not in ("notes", "breakdown")}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chip=st.sampled_from(sorted(CHIPS)), inputs=st.integers(1, 12_000), outputs=st.integers(1, 600),
       batch=st.none() | st.integers(1, 16))
def test_predict_setting_of_resolve_setting_is_predict(chip, inputs, outputs, batch):
    kw = CHIPS[chip]
    # both pad the steps to the back end's compiled shapes by default (TPU and Gaudi: padding="engine", resolved
    # once with the setting, headroom50), and neither where padding=None
    s = ic.resolve_setting(chip, L8, **kw)
    got = _answer(lambda: ic.predict_setting(s, ic.ask(inputs, outputs, batch)))
    assert got == _answer(lambda: ic.predict(chip, L8, input_tokens=inputs, output_tokens=outputs, batch=batch, **kw))
    bare = ic.resolve_setting(chip, L8, padding=None, **kw)
    assert _answer(lambda: ic.predict_setting(bare, ic.ask(inputs, outputs, batch))) == _answer(
        lambda: ic.predict(chip, L8, input_tokens=inputs, output_tokens=outputs, batch=batch, padding=None, **kw))


@pytest.mark.parametrize(("chip", "chunk", "says"), [
    ("nvidia-l4", 2_048, "24 GiB < 70 GiB"),  # vLLM's device rule (vllm/engine/arg_utils.py)
    ("nvidia-a100-sxm-80gb", 2_048, "nvidia-ampere"),  # the same rule's A100 exclusion
    ("intel-gaudi3", 2_048, "vllm-gaudi"),  # the HPU back end's own
    ("google-tpu-v6e-trillium", 2_048, "TPU"),
    ("groq-lpu-v1", 2_048, "vendor"),  # no catalogued engine: the vendor stack's record
    ("nvidia-h100-sxm-80gb", 8_192, "80 GiB >= 70 GiB"),
])
def test_the_default_chunk_is_the_engines_on_the_chip_and_says_so(chip, chunk, says):
    s = ic.resolve_setting(chip, L8, **CHIPS[chip])
    assert s.chunk_tokens == chunk and says in s.chunk_source and s.chunk_source != CHUNK_GIVEN
    assert f"prefill chunk {chunk:,} tokens per step and chip: the default engine's on this chip" in repr(s)
    assert all(s.mapped(lay).chunk_tokens == chunk for lay in s.layouts)  # the memory fit runs at it too


def test_a_given_chunk_wins_and_is_said_given():
    s = ic.resolve_setting("nvidia-l4", L8, chunk_tokens=DEFAULT_CHUNK_TOKENS)
    assert (s.chunk_tokens, s.chunk_source) == (DEFAULT_CHUNK_TOKENS, CHUNK_GIVEN)
    assert f"prefill chunk {DEFAULT_CHUNK_TOKENS:,} tokens per step and chip: {CHUNK_GIVEN}" in repr(s)
    # the same chunk as the engine's, given: the same figures, the source said as given
    h = ic.resolve_setting("nvidia-h100-sxm-80gb", L8, chunk_tokens=8_192)
    assert h.chunk_source == CHUNK_GIVEN and ic.resolve_setting("nvidia-h100-sxm-80gb", L8).chunk_source != CHUNK_GIVEN
    # one resolution: predict with a chunk is predict_setting of resolve_setting with it
    q = ic.ask(4096, 64, 2)
    assert ic.predict_setting(s, q).ttft_s == ic.predict("nvidia-l4", L8, input_tokens=4096, output_tokens=64,
                                                         batch=2, chunk_tokens=DEFAULT_CHUNK_TOKENS).ttft_s
    # 4k prompts on 2,048-token steps take two prefill steps: slower than one 8,192-token step on the same chip
    assert ic.predict_setting(ic.resolve_setting("nvidia-l4", L8), q).ttft_s > ic.predict_setting(s, q).ttft_s


@pytest.mark.parametrize("bad", [0, -1, 2.5, 8192.0, True, "8192", 1_048_577])
def test_a_bad_chunk_is_refused_by_name(bad):
    with pytest.raises(InvalidSettingError, match="chunk_tokens= must be a whole number of tokens from 1 to"):
        ic.resolve_setting("nvidia-l4", L8, chunk_tokens=bad)


def test_serve_runs_a_setting_at_its_chunk():
    """``ic.serve`` of a Setting runs it at the Setting's chunk (given or the engine's); before, it replaced a given
    one with the engine's."""
    s = ic.resolve_setting("nvidia-l4", L8, tp=1, chunk_tokens=512)
    run = ic.serve(s, concurrency=2, input_tokens=1500, output_tokens=8, num_requests=4)
    default = ic.serve(ic.resolve_setting("nvidia-l4", L8, tp=1), concurrency=2, input_tokens=1500,
                       output_tokens=8, num_requests=4)
    assert run["ttft_s_p50"] > default["ttft_s_p50"]  # three 512-token steps per 1,500-token prompt, not one
