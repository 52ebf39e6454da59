"""The resolved setting: built once, checked once, passed down."""

from __future__ import annotations

import dataclasses

import pytest

from conftest import make_chip, tiny_dense, tiny_moe
from inferchip.errors import InvalidSettingError
from inferchip.performance.operating import LengthDist, Question, max_concurrency, operating_point
from inferchip.performance.predict import ask, predict_setting
from inferchip.performance.serving import serving_model
from inferchip.performance.setting import Setting, resolve_setting


def test_a_setting_is_frozen_and_resolved_once_per_distinct_arguments():
    a = resolve_setting("nvidia-h100-sxm-80gb", "meta-llama/Llama-3.1-8B", tp=1, weights="fp8")
    assert isinstance(a, Setting)
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.count = 2  # type: ignore[misc]
    assert resolve_setting("nvidia-h100-sxm-80gb", "meta-llama/Llama-3.1-8B", tp=1, weights="fp8") is a
    assert resolve_setting("nvidia-h100-sxm-80gb", "meta-llama/Llama-3.1-8B", tp=1, weights="bf16") is not a
    assert a.mapped(a.layout) is a.mapped(a.layout)  # the mapped model is built once per layout


def test_defaults_and_fallbacks_are_filled_in_once():
    a100_like = make_chip(peak_flop_per_s={"bf16": 312e12, "fp16": 312e12, "int8": 624e12, "fp32": 19.5e12})
    s = resolve_setting(a100_like, tiny_dense(), weights="fp8")
    assert (s.formats.weights, s.formats.activations, s.formats.kv) == ("fp8", "fp8", "fp8")
    assert s.compute_format == "int8" and any("no fp8 units" in n for n in s.notes)
    s = resolve_setting(make_chip(), tiny_dense(), weights="fp4")  # no fp4 units: W4A16 by default
    assert s.formats.activations == "bf16"
    fp4_chip = make_chip(peak_flop_per_s={"bf16": 2250e12, "fp8": 4500e12, "fp4": 9000e12, "fp32": 80e12})
    assert resolve_setting(fp4_chip, tiny_dense(), weights="fp4").formats.activations == "fp8"  # W4A8


@pytest.mark.parametrize("kwargs, words", [
    (dict(count=0), "count= must be positive, got 0"),
    (dict(tp=-1), "tp= must be positive, got -1"),
    (dict(estimate="median"), "estimate= must be low, central or high, got 'median'"),
    (dict(weights="fp9"), "unknown number format 'fp9'"),
    (dict(weights="bf16", activations="fp4"), "4-bit activations need 4-bit float weights"),
    (dict(tp=3, count=4), "does not divide the 8 attention heads"),
    (dict(attn_dp=True, tp=2, count=2), "dense"),
])
def test_every_argument_is_checked_in_one_place_with_the_option_and_the_value(kwargs, words):
    with pytest.raises(InvalidSettingError, match=words):
        resolve_setting(make_chip(), tiny_dense(), **kwargs)


def test_a_searched_setting_lists_the_candidates_and_attn_dp_filters_them():
    s = resolve_setting(make_chip(), tiny_moe(), count=4)
    assert not s.layout_given and len(s.layouts) > 1
    assert all(lay.num_chips == 4 for lay in s.layouts)
    off = resolve_setting(make_chip(), tiny_moe(), count=4, attn_dp=False)
    assert all(not lay.attn_dp for lay in off.layouts)


def test_serving_model_and_predict_share_the_setting():
    s = resolve_setting(make_chip(), tiny_dense(), count=2, tp=1)
    step, replicas = serving_model(s)
    assert replicas == 2 and step.mm is s.mapped(s.layout)
    with pytest.raises(InvalidSettingError, match="one layout"):
        serving_model(resolve_setting(make_chip(), tiny_dense(), count=2))
    p = predict_setting(s, ask(512, 64, batch=4))
    assert (p.tp, p.replicas, p.batch) == (1, 2, 4)


def test_a_length_spread_question_on_a_setting():
    """The one solver takes length distributions: a spread of outputs with the same mean holds
    longer sequences in flight (E[o^2]/E[o] > E[o]), so fewer fit than with fixed lengths."""
    s = resolve_setting(make_chip(), tiny_dense(), tp=1)
    mm = s.mapped(s.layout)
    fixed = Question("max_throughput", LengthDist.fixed(1000), LengthDist.fixed(500))
    spread = Question("max_throughput", LengthDist.fixed(1000), LengthDist.lognormal(500, 4000))
    assert spread.outputs.mean == pytest.approx(500)
    assert max_concurrency(mm, spread) < max_concurrency(mm, fixed)
    a, b = operating_point(mm, fixed, 1), operating_point(mm, spread, 1)
    assert b.batch <= max_concurrency(mm, spread) and a.batch <= max_concurrency(mm, fixed)
    assert a.limits_met and b.limits_met


def test_predict_answers_static_and_max_throughput_questions_only():
    s = resolve_setting(make_chip(), tiny_dense(), tp=1)
    loop = Question("open_loop", LengthDist.fixed(100), LengthDist.fixed(10), rate_per_s=5.0)
    with pytest.raises(InvalidSettingError, match="not question mode 'open_loop'"):
        predict_setting(s, loop)
    spread = Question("max_throughput", LengthDist.lognormal(1000, 4000), LengthDist.lognormal(200, 1000))
    p = predict_setting(s, spread)
    assert p.input_tokens == 1000 and p.output_tokens == 200 and p.mode == "continuous"


def test_four_bit_float_weights_run_weight_only_on_a_chip_without_four_bit_units():
    """W4A16 where the chip has no 4-bit float units (bf16 activations and KV, GEMMs at the bf16
    rate, said in the notes); W4A8 where it has them; a format given is kept."""
    hopper = make_chip(peak_flop_per_s={"bf16": 989e12, "fp8": 1979e12, "fp32": 67e12})
    blackwell = make_chip(peak_flop_per_s={"bf16": 2250e12, "fp8": 4500e12, "fp4": 9000e12, "fp32": 80e12})
    s = resolve_setting(hopper, tiny_moe(), weights="mxfp4")
    assert (s.formats.activations, s.formats.kv, s.compute_format) == ("bf16", "bf16", "bf16")
    assert any("W4A16" in n for n in s.notes)
    b = resolve_setting(blackwell, tiny_moe(), weights="mxfp4")
    assert (b.formats.activations, b.formats.kv) == ("fp8", "fp8") and not any("W4A16" in n for n in b.notes)
    given = resolve_setting(hopper, tiny_moe(), weights="mxfp4", activations="fp8")
    assert (given.formats.activations, given.compute_format) == ("fp8", "fp8")
    assert not any("W4A16" in n for n in given.notes)


def test_a_closed_loop_holds_each_sequence_at_its_mean_context():
    """Paged KV: a closed loop's running sequences are spread over their answers, each holding
    E[i] + E[o^2] / (2 E[o]) tokens, so more fit than when each reserves its whole length."""
    s = resolve_setting(make_chip(), tiny_dense(), tp=1)
    mm = s.mapped(s.layout)
    i, o = LengthDist.fixed(1000), LengthDist.fixed(3000)
    whole = max_concurrency(mm, Question("max_throughput", i, o))
    loop = max_concurrency(mm, Question("closed_loop", i, o, batch=1.0))
    assert whole == pytest.approx(mm.max_batch(4000.0, 0.0))
    assert loop == pytest.approx(mm.max_batch(2500.0, 0.0))
    assert loop > whole


def test_the_checkpoints_per_layer_formats_are_resolved_once_for_predict_as_for_validate():
    """gpt-oss ships MXFP4 experts with bf16 attention (its quantization_config leaves attention out):
    a setting resolved without attention_weights reads that map, as validate's rows pass it explicitly,
    so predict and validate price the same layers; a checkpoint that says nothing keeps one format."""
    chip, model = "nvidia-b200-180gb", "openai/gpt-oss-120b"
    default = resolve_setting(chip, model, count=1, weights="mxfp4")
    explicit = resolve_setting(chip, model, count=1, weights="mxfp4", attention_weights="bf16")
    uniform = resolve_setting(chip, model, count=1, weights="mxfp4", attention_weights="mxfp4")
    assert default.formats.attention_weights == "bf16"
    assert any("quantization_config" in n for n in default.format_notes)
    q = ask(batch=8, input_tokens=1024, output_tokens=256)
    assert predict_setting(default, q).tpot_s == pytest.approx(predict_setting(explicit, q).tpot_s, rel=1e-12)
    assert predict_setting(default, q).tpot_s > predict_setting(uniform, q).tpot_s  # bf16 attention reads more
    assert resolve_setting(chip, "meta-llama/Llama-3.1-8B-Instruct", weights="fp8").formats.attention_weights is None
