"""The back end's step padding is resolved once, with the setting (stop 50, branch headroom50).

``ic.predict`` pads TPU and Gaudi steps to the compiled shapes of vLLM's TPU and Gaudi back ends by default; before,
a Setting from ``ic.resolve_setting`` was unpadded until ``with_padding``, so ``ic.predict_setting(ic.resolve_setting(
chip, model), q)`` and ``ic.serve`` of that Setting ran other steps than ``ic.predict(chip, model, ...)``. Now the
frozen Setting carries the padding and where it came from (``Setting.padding_source``), and predict, serve and the
layout search read it; the step budget's padding follows the budget (``Setting.with_chunk``)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import inferchip as ic
from inferchip.errors import DoesNotFitError, InvalidSettingError
from inferchip.performance.setting import PADDING_ENGINE, PADDING_GIVEN, PADDING_NONE, engine_padding

L8B = "meta-llama/Llama-3.1-8B"
TPU, GAUDI, H100 = "google-tpu-v6e-trillium", "intel-gaudi3", "nvidia-h100-sxm-80gb"


def _figures(call):  # a prediction's figures, or the refusal's class
    try:
        d = call().to_dict()
    except DoesNotFitError as exc:
        return type(exc).__name__
    return {k: v for k, v in d.items() if k != "breakdown"}


@pytest.mark.parametrize("chip", [TPU, GAUDI])
@pytest.mark.parametrize("batch", [40, None])
def test_a_resolved_setting_runs_what_predict_runs(chip, batch):
    s = ic.resolve_setting(chip, L8B, tp=1)
    assert s.padding is not None and s.padding_source == PADDING_ENGINE
    assert s.padding == engine_padding(s.chip, s.chunk_tokens)
    assert all(s.mapped(lay).padding is s.padding for lay in s.layouts)  # the steps the layout search prices
    got = _figures(lambda: ic.predict_setting(s, ic.ask(1000, 200, batch)))
    assert got == _figures(lambda: ic.predict(chip, L8B, tp=1, input_tokens=1000, output_tokens=200, batch=batch))
    bare = ic.resolve_setting(chip, L8B, tp=1, padding=None)
    assert bare.padding is None and bare.padding_source == PADDING_NONE
    unpadded = _figures(lambda: ic.predict_setting(bare, ic.ask(1000, 200, batch)))
    assert unpadded == _figures(lambda: ic.predict(chip, L8B, tp=1, input_tokens=1000, output_tokens=200,
                                                   batch=batch, padding=None))
    if batch is not None:  # 40 sequences run a 64-row step on both: the padding moves the figures (the test can fail)
        assert unpadded["tpot_s"] < got["tpot_s"]
    else:  # the most throughput may sit on a compiled size (Gaudi's 256 sequences): padding never adds throughput
        assert got["output_tokens_per_s"] <= unpadded["output_tokens_per_s"]


@pytest.mark.parametrize("chip", [TPU, GAUDI])
def test_serve_of_a_setting_runs_its_padding(chip):
    s = ic.resolve_setting(chip, L8B, tp=1)
    kw = {"concurrency": 4, "input_tokens": 256, "output_tokens": 32, "num_requests": 8}
    of_setting = ic.serve(s, **kw)
    assert of_setting["step_padding"] == s.padding.text
    assert of_setting == ic.serve(chip, L8B, tp=1, **kw)
    bare = ic.serve(ic.resolve_setting(chip, L8B, tp=1, padding=None), **kw)
    assert bare["step_padding"] is None and bare["ttft_s_mean"] != of_setting["ttft_s_mean"]


def test_no_gpu_setting_is_padded():
    s = ic.resolve_setting(H100, L8B, tp=1)
    assert s.padding is None and s.padding_source == PADDING_ENGINE


@settings(max_examples=25, deadline=None)
@given(chip=st.sampled_from([TPU, GAUDI]), chunk=st.integers(1, 20_000))
def test_the_padding_follows_the_step_budget(chip, chunk):
    # with_chunk resolves the default engine's padding at the new budget, as resolve_setting does at a given one
    s = ic.resolve_setting(chip, L8B, tp=1)
    moved = s.with_chunk(chunk)
    assert moved.padding == ic.resolve_setting(chip, L8B, tp=1, chunk_tokens=chunk).padding
    assert moved.padding is not None and moved.padding_source == PADDING_ENGINE
    if moved.padding.pads == "step_tokens":  # tpu-inference: the ladder reaches the step budget
        assert moved.padding.sizes[-1] >= chunk
    # a padding given, or none asked, is kept whatever the budget
    assert ic.resolve_setting(chip, L8B, tp=1, padding=None).with_chunk(chunk).padding is None
    given_ladder = ic.resolve_setting(chip, L8B, tp=1, padding=s.padding)
    assert given_ladder.padding_source == PADDING_GIVEN and given_ladder.with_chunk(chunk).padding == s.padding


@pytest.mark.parametrize("bad", ["engines", 7, "none"])
def test_a_bad_padding_is_named(bad):
    with pytest.raises(InvalidSettingError, match="padding must be 'engine', None or a PaddingLadder"):
        ic.resolve_setting(TPU, L8B, tp=1, padding=bad)


def test_curve_of_a_setting_runs_its_padding():
    # ic.curve runs the Setting as ic.serve does (it re-resolved the default engine's padding before, whatever the
    # Setting said): padded by default, unpadded where the Setting was resolved with padding=None
    kw = {"concurrencies": [3, 12], "input_tokens": 256, "output_tokens": 32, "requests_per_user": 2}  # 4, 16 rows
    padded = ic.curve(ic.resolve_setting(GAUDI, L8B, tp=1), **kw).to_dataframe()
    assert padded.equals(ic.curve(GAUDI, L8B, tp=1, **kw).to_dataframe())
    bare = ic.curve(ic.resolve_setting(GAUDI, L8B, tp=1, padding=None), **kw).to_dataframe()
    assert not bare.equals(padded)
