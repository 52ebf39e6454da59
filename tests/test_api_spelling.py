"""The Python API speaks Python, the CLI speaks CLI (stop 51): a layer's message names a setting by its field key,
spelled by the interface that called it (``inferchip.errors.Spelling``). Every public call given a bad keyword
value raises a named InferchipError whose message says the keyword the caller wrote and no ``--option``; the
command line keeps its option names; a fuzz of keyword values never lets a raw numpy, pydantic or Python error
through."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import inferchip as ic
from inferchip.errors import (
    KEYWORDS,
    OPTIONS,
    DoesNotFitError,
    InferchipError,
    Spelling,
    named,
    named_as,
    spelled,
)
from inferchip.interfaces.cli import main

CHIP, MODEL, MOE = "nvidia-h100-sxm-80gb", "meta-llama/Llama-3.1-8B", "Qwen/Qwen3-30B-A3B"
HUGE = 10**400  # beyond a float: an OverflowError wherever it met float()
BAD = (0, -1, math.nan, math.inf, "x", HUGE)

SERVE = {"concurrency": 2, "num_requests": 4}
CURVE = {"concurrencies": [1], "requests_per_user": 1}
FIND = {"rate_per_s": 1.0, "slo_ttft_s": 0.5, "num_requests": 4}

CALLS = {
    "predict": (lambda **kw: ic.predict(CHIP, MODEL, **kw), {}),
    "resolve_setting": (lambda **kw: ic.resolve_setting(CHIP, MODEL, **kw), {}),
    "serve": (lambda **kw: ic.serve(CHIP, MODEL, **kw), SERVE),
    "curve": (lambda **kw: ic.curve(CHIP, MODEL, **kw), CURVE),
    "sweep": (lambda **kw: ic.sweep(CHIP, MODEL, **kw), {"batch": [1]}),
    "find_count": (lambda **kw: ic.find_count(CHIP, MODEL, **kw), FIND),
    "chip_cost": (lambda **kw: ic.chip_cost(CHIP, **kw), {}),
}
SETTING_KEYS = ("count", "tp", "pp", "ep", "weights", "activations", "kv", "estimate", "chunk_tokens",
                "calibration", "assumptions")
KEYS = {
    "predict": (*SETTING_KEYS, "input_tokens", "output_tokens", "batch"),
    "resolve_setting": SETTING_KEYS,
    "serve": ("count", "tp", "pp", "ep", "weights", "chunk_tokens", "input_tokens", "output_tokens", "seed",
              "range_ratio", "duration_s", "num_requests", "slo_ttft_s", "slo_tpot_s"),
    "curve": ("count", "tp", "input_tokens", "output_tokens", "requests_per_user", "range_ratio", "seed",
              "slo_ttft_s", "concurrencies"),
    "sweep": ("count", "tp", "weights", "input_tokens", "output_tokens", "batch"),
    "find_count": ("tp", "input_tokens", "slo_ttft_s", "slo_tpot_s", "num_requests"),
    "chip_cost": ("estimate", "assumptions"),
}
# (call, keyword, value) whose value is no error there: a string names a file or a format, 0 a seed
ACCEPTED = {("serve", "seed", 0), ("curve", "seed", 0)}
CASES = [(fn, key, v) for fn, keys in KEYS.items() for key in keys for v in BAD if (fn, key, v) not in ACCEPTED]


@pytest.mark.parametrize(("fn", "key", "value"), CASES, ids=[f"{f}-{k}-{v!r}"[:60] for f, k, v in CASES])
def test_a_bad_keyword_value_is_named_as_the_keyword(fn, key, value):
    call, base = CALLS[fn]
    with pytest.raises(InferchipError) as err:
        call(**(base | {key: value}))
    text = str(err.value)
    assert key in text, text  # the keyword the caller wrote (``tp=3``, ``weights: ...``)
    assert "--" not in text, text  # never the command line's option


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"tp": 3}, "tp=3 does not divide the 32 attention heads"),
    ({"count": 3, "tp": 2}, "count=3 is not a whole number of replicas"),
    ({"batch": 2.5}, "batch= must be a whole number of sequences"),
    ({"activations": "int4"}, "activations=int4: int4 is weight-only here"),
    ({"activations": "fp4", "weights": "fp8"}, "(W4A4: weights=fp4 or mxfp4), got weights=fp8"),
    ({"weights": "fp7"}, "weights: unknown number format 'fp7'"),
])
def test_layer_messages_speak_the_keyword(kwargs, words):
    with pytest.raises(InferchipError) as err:
        ic.predict(CHIP, MODEL, **kwargs)
    assert words in str(err.value)
    assert "--" not in str(err.value)


def test_a_moe_layout_refusal_names_the_keywords():
    with pytest.raises(InferchipError) as err:
        ic.resolve_setting(CHIP, "meta-llama/Llama-3.1-8B", count=2, tp=2, ep=2)
    assert "ep=2 needs a mixture-of-experts model" in str(err.value)


def test_the_fit_advice_speaks_the_keyword():
    with pytest.raises(DoesNotFitError) as err:
        ic.predict("nvidia-l4", "meta-llama/Llama-3.1-70B", batch=1)
    text = str(err.value)
    assert "weights=fp8" in text or "weights=fp4" in text
    assert "--" not in text


@pytest.mark.parametrize(("argv", "words"), [
    (["predict", "--chip", CHIP, "--model", MODEL, "--batch", "1", "--tp", "3"],
     "--tp 3 does not divide the 32 attention heads"),
    (["predict", "--chip", CHIP, "--model", MODEL, "--batch", "1", "--count", "3", "--tp", "2"],
     "--count 3 is not a whole number of replicas"),
    (["predict", "--chip", CHIP, "--model", MODEL, "--batch", "1", "--activations", "int4"],
     "--activations int4: int4 is weight-only"),
])
def test_the_command_line_keeps_its_options(argv, words, capsys):
    assert main(argv) == 2
    err = " ".join(capsys.readouterr().err.split())  # COLUMNS=80 may wrap the line
    assert words in err


def test_the_spelling_is_restored_after_the_command_line_and_after_an_error():
    assert main(["predict", "--chip", CHIP, "--model", MODEL, "--batch", "1", "--tp", "3"]) == 2
    assert named("tp") == "tp="  # the CLI's spelling ended with its command
    with pytest.raises(InferchipError), spelled(OPTIONS):
        assert named("tp") == "--tp"
        ic.predict(CHIP, MODEL, tp=3)
    assert named_as("tp", 3) == "tp=3"


def test_spellings():
    assert (KEYWORDS.name("input_tokens"), KEYWORDS.given("tp", 2), KEYWORDS.label("kv")) == \
        ("input_tokens=", "tp=2", "kv")
    assert (OPTIONS.name("input_tokens"), OPTIONS.given("tp", 2), OPTIONS.label("kv")) == \
        ("--input-tokens", "--tp 2", "--kv")
    assert OPTIONS.given("attn_dp", True) == "--attn-dp" and KEYWORDS.given("attn_dp", True) == "attn_dp=True"
    assert Spelling(options=True, renames=(("rate_per_s", "--rate"),)).name("rate_per_s") == "--rate"


# Values a user may pass by mistake: wrong types, NaN, infinities, negatives, numbers beyond any bound. No "-" in
# the texts, so a "--" in a message is never the value echoed.
WRONG = st.one_of(
    st.sampled_from([math.nan, math.inf, -math.inf, HUGE, -HUGE, 10**30, 1e300, -1, -0.5, 0, 0.0]),
    st.integers(max_value=0), st.floats(max_value=0.0, allow_nan=False), st.floats(min_value=1e15),
    st.text(alphabet="abcxyz fp8 ", max_size=8), st.lists(st.integers(), max_size=2), st.just(object()),
    st.just(b"8"), st.just({"a": 1}),
)
FUZZ = [("predict", k) for k in ("input_tokens", "output_tokens", "batch", "count", "tp", "pp", "ep",
                                 "chunk_tokens", "max_ttft_s", "max_tpot_s", "estimate", "weights", "kv")] + [
    ("serve", k) for k in ("input_tokens", "output_tokens", "range_ratio", "duration_s", "seed", "num_requests",
                           "slo_ttft_s", "slo_tpot_s", "slo_percentile", "count", "tp")] + [
    ("curve", k) for k in ("concurrencies", "requests_per_user", "input_tokens", "range_ratio", "seed")] + [
    ("sweep", k) for k in ("batch", "input_tokens", "output_tokens")] + [
    ("find_count", k) for k in ("slo_ttft_s", "slo_tpot_s", "num_requests")] + [("chip_cost", "estimate")]


@settings(max_examples=60, deadline=None)
@given(case=st.sampled_from(FUZZ), value=WRONG)
def test_fuzzed_keyword_values_raise_a_named_inferchip_error(case, value):
    fn, key = case
    if key in ("seed", "num_requests") and isinstance(value, int) and not isinstance(value, bool) and 0 <= value:
        value = -1  # seed 0 is a seed; a valid count of requests runs
    call, base = CALLS[fn]
    try:
        call(**(base | {key: value}))
    except InferchipError as exc:  # a named refusal, never numpy's, pydantic's or Python's own
        assert "--" not in str(exc), str(exc)
        assert "Traceback" not in str(exc)
    # a wrong value some call takes as a value (a float count of users 1e15 is refused; a text estimate never
    # passes): nothing to check but that no other exception escaped
