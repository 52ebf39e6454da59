"""The second reader of stop 51's landed work (review52): defects a caller meets in the new options and keywords,
each test failing before its fix.

``ic.drive(chip, ..., models="resnet50-v1.5")`` iterated the string letter by letter ("unknown vision network 'r'")
and ``ic.drive(None, ...)`` answered "unknown chip 'None'" (the chip was passed on as ``str(chip)``), where every
other call of the API names a bad chip or a string given for a list. ``ic.curve(concurrency=8)`` was told "did you
mean 'concurrency'?" (it takes ``concurrencies``), ``ic.serve(slo_tpot=...)`` and ``ic.find_count`` got no hint (the
SLO's keywords were in no list); ``ic.serve(setting, count=8)`` ran the Setting's count, the keyword dropped unread.
Stop 51's figures and the README's claims were rerun from a fresh clone and agree (the journal section says which)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import inferchip as ic
from inferchip.errors import InvalidSettingError

L4 = "nvidia-l4"


@pytest.mark.parametrize("models", ["resnet50-v1.5", "resnet50-v1.5@camera"])
def test_drive_refuses_one_string_for_its_list_of_networks(models: str) -> None:
    with pytest.raises(InvalidSettingError) as got:
        ic.drive(L4, 2, 10.0, models, duration_s=0.5)  # type: ignore[arg-type]
    text = str(got.value)
    assert "one string" in text and f"models=[{models!r}]" in text, text


@pytest.mark.parametrize("chip", [None, 5, 2.5])
def test_drive_names_a_chip_that_is_no_chip_as_the_api_does(chip: object) -> None:
    with pytest.raises(InvalidSettingError) as got:
        ic.drive(chip, 2, 10.0, ["resnet50-v1.5@camera"], duration_s=0.5)  # type: ignore[arg-type]
    text = str(got.value)
    assert text.startswith(f"chip: {chip!r} ({type(chip).__name__}) names no chip"), text
    assert "unknown chip" not in text, text


def test_drive_still_takes_a_chip_as_id_spec_or_path() -> None:
    """The check lets every chip the API takes through, with the same record."""
    from pathlib import Path

    import inferchip

    by_id = ic.drive(L4, 2, 10.0, ["resnet50-v1.5@camera"], duration_s=0.5)
    by_spec = ic.drive(ic.load_chip(L4), 2, 10.0, ["resnet50-v1.5@camera"], duration_s=0.5)
    path = Path(inferchip.__file__).parent / "catalog" / "chips" / f"{L4}.yaml"
    by_path = ic.drive(path, 2, 10.0, ["resnet50-v1.5@camera"], duration_s=0.5)
    assert by_id["latency_ms"] == by_spec["latency_ms"] == by_path["latency_ms"]


H100, SMALL = "nvidia-h100-sxm-80gb", "meta-llama/Llama-3.2-1B"


@pytest.mark.parametrize(("call", "kw", "hint"), [
    ("curve", {"concurrency": 8}, "concurrencies"),  # said "(did you mean 'concurrency'?)", the name refused
    ("curve", {"slo_tpot": 0.02}, "slo_tpot_s"),
    ("serve", {"rate_per_s": 5, "slo_tpot": 0.02}, "slo_tpot_s"),  # the SLO's keywords were in no list
    ("serve", {"rate_per_s": 5, "slo_percentil": 90}, "slo_percentile"),
    ("serve", {"rate_per_s": 5, "precision": "fp8"}, "weights"),  # "did you mean 'calibration'?"
    ("serve", {"rate_per_s": 5, "chips": 2}, "count"),
    ("find_count", {"rate_per_s": 5, "slo_ttft_s": 1.0, "slo_tpot": 0.02}, "slo_tpot_s"),
])
def test_an_unknown_keyword_is_told_the_name_this_call_takes(call: str, kw: dict[str, object], hint: str) -> None:
    """The unknown-keyword TypeError of ic.serve, ic.find_count and ic.curve offered the serving load's names
    (``concurrency``) to ic.curve, which takes ``concurrencies``, and never the SLO's keywords."""
    wrong = next(k for k in kw if k not in ("rate_per_s", "slo_ttft_s"))
    with pytest.raises(TypeError) as got:
        getattr(ic, call)(H100, SMALL, **kw)
    text = str(got.value)
    assert f"unexpected keyword argument {wrong!r} (did you mean {hint!r}?)" in text, text
    allowed = text.split("allowed: ", 1)[1]
    assert hint in allowed.replace(",", " ").split(), text
    if call == "curve":
        assert "rate_per_s" not in allowed and " concurrency," not in allowed, text


@pytest.mark.parametrize("call", ["serve", "curve"])
@pytest.mark.parametrize("kw", [{"count": 8}, {"tp": 2}, {"colour": "red"}])
def test_a_setting_with_system_keywords_is_refused_not_run_without_them(call: str, kw: dict[str, object]) -> None:
    """``ic.serve(setting, count=8)`` ran the Setting's one chip, silently: the keywords were dropped unread (an
    unknown one too)."""
    s = ic.resolve_setting(H100, SMALL, tp=1)
    load: dict[str, object] = {"rate_per_s": 5.0, "num_requests": 20} if call == "serve" else {
        "concurrencies": [1], "requests_per_user": 2}
    with pytest.raises((InvalidSettingError, TypeError)) as got:
        getattr(ic, call)(s, **load, **kw)
    name = next(iter(kw))
    assert f"{name}=" in str(got.value) or f"argument {name!r}" in str(got.value), str(got.value)
    assert getattr(ic, call)(s, **load) is not None  # the Setting alone still runs


def test_a_missing_model_is_named_as_the_keyword_the_caller_writes() -> None:
    """It said "serving_model: give the model", a function the caller never called."""
    with pytest.raises(InvalidSettingError) as got:
        ic.serve(H100, rate_per_s=5.0)
    assert str(got.value).startswith("model: none given"), str(got.value)
    assert "serving_model" not in str(got.value)


def _cli(args: list[str]) -> tuple[int, str]:
    import contextlib
    import io

    from inferchip.interfaces.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    return code, out.getvalue() + err.getvalue()


def test_find_count_with_attention_dp_on_a_dense_model_is_refused_once() -> None:
    """``serve --find-count --attn-dp`` on a dense model listed "no system (--attn-dp on N chip(s) ... is dense)"
    for each of 13 counts, each cut at 120 characters: the refusal named its count, so review51's one-refusal rule
    (every count refused for the same first line) never met it. A dense model is refused at any count."""
    code, text = _cli(["serve", "--chip", H100, "--model", SMALL, "--find-count", "--rate", "20", "--requests", "40",
                       "--input-tokens", "256", "--output-tokens", "64", "--slo-ttft-ms", "100", "--attn-dp"])
    flat = " ".join(text.split())
    assert code == 2, text
    assert flat.count("is dense") == 1 and "none of" not in flat, flat
    assert "--attn-dp pairs data-parallel attention with expert-parallel MoE" in flat, flat
    with pytest.raises(InvalidSettingError) as got:
        ic.find_count(H100, SMALL, rate_per_s=20.0, num_requests=40, input_tokens=256, output_tokens=64,
                      slo_ttft_s=0.1, attn_dp=True)
    assert str(got.value).startswith("attn_dp= pairs data-parallel attention"), str(got.value)


def _outcome(call: object, **kw: object) -> str:
    try:
        call(H100, SMALL, **kw)  # type: ignore[operator]
    except InvalidSettingError as exc:
        return f"refused: {exc}"
    return "taken"


def _forget_settings() -> None:
    from inferchip.performance import predict as predict_module
    from inferchip.performance.setting import resolve

    resolve._SETTINGS.clear()
    predict_module._RECENT.clear()


@pytest.mark.parametrize("call", ["predict", "resolve_setting"])
@pytest.mark.parametrize(("kw", "same_key"), [
    ({"count": 2.0}, {"count": 2}), ({"count": True}, {"count": 1}), ({"count": 2, "tp": 2.0}, {"count": 2, "tp": 2}),
    ({"tp": True}, {"tp": 1}), ({"pp": 1.0}, {"pp": 1}), ({"chunk_tokens": 8192.0}, {"chunk_tokens": 8192}),
])
def test_a_refusal_does_not_depend_on_the_calls_before(call: str, kw: dict[str, object],
                                                       same_key: dict[str, object]) -> None:
    """``ic.resolve_setting(chip, model, count=2.0)`` is refused ("a whole number of chips"), but after a call with
    ``count=2`` it was taken: 2.0 == 2 and hash alike, so the settings' caches (resolve_setting's and predict's)
    answered with the int's setting, its checks skipped. True and 1, 8192.0 and 8192 the same."""
    fn = getattr(ic, call)
    _forget_settings()
    fresh = _outcome(fn, **kw)
    assert fresh.startswith("refused"), fresh
    _forget_settings()
    assert _outcome(fn, **same_key) == "taken"
    assert _outcome(fn, **kw) == fresh


def test_predict_table_gives_an_sram_chips_figures_readably() -> None:
    """Llama-3.1-70B fp8 on 576 GroqChips (groq51's deployment) read "memory per chip 0.2 GB of 0.2 GB", a weights
    cell of "0.2 GB" and "output tokens per joule 0.00 tok/J": the table's GB to one decimal and its tok/J to two
    erased the figures. The memory is in MB where the chip holds under 1 GB (as newuser51's fit error), tok/J to
    three significant figures; the weights per chip are groq51's hand count (169,672,704 B, stage 0 at tp 64 pp 9)."""
    code, text = _cli(["predict", "--model", "meta-llama/Llama-3.1-70B-Instruct", "--chip", "groq-lpu-v1",
                       "--count", "576", "--weights", "fp8", "--batch", "1", "--input-tokens", "128",
                       "--output-tokens", "128"])
    flat = " ".join(text.split())
    assert code == 0, text
    assert "169.7 MB" in flat and "0.2 GB" not in flat, flat
    tok_per_j = float(flat.split(" tok/J")[0].rsplit(" ", 1)[1])
    assert 0.001 < tok_per_j < 0.01, flat  # 320 tok/s over 576 chips at ~174 W each: ~0.0032 tok/J
    code, text = _cli(["predict", "--model", "meta-llama/Llama-3.1-8B", "--chip", H100, "--batch", "8"])
    assert code == 0 and " GB of " in " ".join(text.split()), text  # a chip of GBs keeps them


@pytest.mark.parametrize("count", [2, "numpy"])
def test_drive_takes_a_numpy_count_as_frame_cost_does(count: object) -> None:
    """``ic.drive(..., count=np.int64(2))`` was refused "count=2: must be a whole number from 1 to 1,024" (the check
    took a Python int only), where ``ic.frame_cost(count=np.int64(2))`` and every other rig keyword take numpy
    numbers; the same run as ``count=2``."""
    import numpy as np

    n = np.int64(2) if count == "numpy" else count
    got = ic.drive(L4, 2, 10.0, ["resnet50-v1.5@camera"], duration_s=0.5, count=n)  # type: ignore[arg-type]
    assert got["num_chips"] == 2
    assert got["latency_ms"] == ic.drive(L4, 2, 10.0, ["resnet50-v1.5@camera"], duration_s=0.5, count=2)["latency_ms"]
    with pytest.raises(InvalidSettingError, match="count=True"):
        ic.drive(L4, 2, 10.0, ["resnet50-v1.5@camera"], duration_s=0.5, count=np.bool_(True))  # type: ignore[arg-type]


@settings(max_examples=15, deadline=None)
@given(name=st.sampled_from(["count", "tp", "pp"]),
       value=st.one_of(st.booleans(), st.integers(1, 4), st.integers(1, 4).map(float)))
def test_a_settings_verdict_is_the_same_fresh_and_after_its_equal_int(name: str, value: object) -> None:
    """Invariant: ``resolve_setting`` and ``predict`` answer an argument as they would fresh, whatever equal value
    (2 for 2.0, 1 for True) a call before them was given."""
    kw = {name: value, **({"count": 4} if name != "count" else {})}
    for call in ("resolve_setting", "predict"):
        _forget_settings()
        fresh = _outcome(getattr(ic, call), **kw)
        _forget_settings()
        _outcome(getattr(ic, call), **{**kw, name: int(value)})  # type: ignore[call-overload]
        assert _outcome(getattr(ic, call), **kw) == fresh, (call, kw)
