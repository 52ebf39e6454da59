"""The second reader of stop 51 (review51): defects where merges of the stop meet, each test failing before its fix.

``ic.drive`` named its settings as the layer's keywords or the command line's options (``precision``,
``chips (--count)``, ``--deadline-ms``) where the caller wrote ``weights=``, ``count=``, ``deadline_ms=``;
``serve --find-count`` with a layout the model refuses listed the same refusal once per count tried (13 times)."""

from __future__ import annotations

import contextlib
import io

import pytest

import inferchip as ic
from inferchip.errors import InvalidSettingError
from inferchip.interfaces.cli import main

L4 = "nvidia-l4"


def _run(args: list[str]) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    return code, out.getvalue() + err.getvalue()


@pytest.mark.parametrize(("kw", "named", "wrong"), [
    ({"weights": "int3"}, "weights", ("precision", "--weights")),
    ({"count": 0}, "count=0", ("chips", "--count")),
    ({"deadline_ms": -1.0}, "deadline_ms=-1", ("--deadline-ms",)),
])
def test_the_api_rig_names_its_own_keywords(kw: dict[str, object], named: str, wrong: tuple[str, ...]) -> None:
    """``ic.drive(weights="int3")`` said "precision: unknown number format", ``count=0`` "chips (--count) 0" and
    ``deadline_ms=-1`` "--deadline-ms -1": names a Python caller never wrote."""
    with pytest.raises(InvalidSettingError) as got:
        ic.drive(L4, 2, 10.0, ["resnet50-v1.5@camera"], duration_s=0.5, **kw)  # type: ignore[arg-type]
    text = str(got.value)
    assert named in text, text
    for w in wrong:
        assert w not in text, text


@pytest.mark.parametrize(("option", "value", "named"), [
    ("--weights", "int3", "--weights"), ("--count", "0", "--count"), ("--deadline-ms", "-1", "--deadline-ms")])
def test_the_rig_command_still_names_its_options(option: str, value: str, named: str) -> None:
    code, text = _run(["drive", "--chip", L4, "--cameras", "2", "--fps", "10", "--duration", "0.5", option, value])
    assert code == 2 and named in text, text


def test_find_count_refuses_a_layout_the_model_refuses_once() -> None:
    """``serve --find-count --tp 3`` on a 32-head model ran the whole doubling and listed "--tp 3 does not divide the
    32 attention heads" once per count (13 times, 1 to 4,096 chips); a refusal no count escapes is the refusal."""
    code, text = _run(["serve", "--chip", "nvidia-h100-sxm-80gb", "--model", "meta-llama/Llama-3.1-8B",
                       "--concurrency", "4", "--requests", "8", "--find-count", "--slo-ttft-ms", "100", "--tp", "3"])
    assert code == 2, text
    assert text.count("does not divide the 32 attention heads") == 1 and "--tp 3" in text, text


def test_a_search_whose_every_count_is_refused_alike_raises_that_refusal() -> None:
    from inferchip.errors import DoesNotFitError
    from inferchip.sim.runs.slo import smallest_count

    def refused(n: int) -> dict[str, object]:
        raise DoesNotFitError("the model holds no layout of these chips")

    with pytest.raises(DoesNotFitError, match="^the model holds no layout of these chips$"):
        smallest_count(refused, 4, lambda out: out)


def test_a_search_whose_counts_are_refused_differently_lists_them() -> None:
    from inferchip.sim.runs.slo import smallest_count

    def refused(n: int) -> dict[str, object]:
        raise InvalidSettingError(f"{n} chips: not a whole number of replicas")

    with pytest.raises(InvalidSettingError, match="none of 1, 2, 4") as got:
        smallest_count(refused, 1, lambda out: out)
    assert "4 chips: not a whole number" in str(got.value)


def test_find_count_refuses_a_given_layout_the_model_does_not_fit_once() -> None:
    """A 70B model in bf16 on one L4 per replica (``--tp 1`` given): every count listed the same does-not-fit reason,
    truncated, 13 times; ``ic.find_count`` raises it once. The advice under it names the count, so the first line is
    what every count shares."""
    code, text = _run(["serve", "--chip", L4, "--model", "meta-llama/Llama-3.1-70B", "--concurrency", "4",
                       "--requests", "8", "--find-count", "--slo-ttft-ms", "1000", "--tp", "1"])
    assert code == 2, text
    assert text.count("does not fit on nvidia-l4") == 1 and "What would make it fit" in text, text


@pytest.mark.parametrize("given", ["resnet50-v1.5@foo", "@camera"])
def test_the_api_rig_names_its_models_keyword(given: str) -> None:
    """``ic.drive(models=["resnet50-v1.5@foo"])`` said "--model 'resnet50-v1.5@foo': unknown role": the command
    line's option, which a Python caller never wrote; ``drive --model`` keeps it."""
    with pytest.raises(InvalidSettingError) as got:
        ic.drive(L4, 2, 10.0, [given], duration_s=0.5)
    assert str(got.value).startswith(f"models {given!r}: "), got.value
    code, text = _run(["drive", "--chip", L4, "--cameras", "2", "--fps", "10", "--duration", "0.5", "--model", given])
    assert code == 2 and "--model" in text and "models" not in text, text  # (its callback refuses an empty id first)


H100 = "nvidia-h100-sxm-80gb"
LOAD = {"concurrency": 4, "num_requests": 8}


def test_find_count_searches_attention_dp_as_the_command_line_does() -> None:
    """``serve --find-count --attn-dp`` (no tp/pp/ep: searched) finds 2 H100s for DeepSeek-V2-Lite, but
    ``ic.find_count(attn_dp=True)`` refused before its search: its check on one chip found no tp of 2 or more."""
    import json

    model = "deepseek-ai/DeepSeek-V2-Lite"
    got = ic.find_count(H100, model, slo_ttft_s=1.0, attn_dp=True, **LOAD)
    code, text = _run(["serve", "--chip", H100, "--model", model, "--concurrency", "4", "--requests", "8",
                       "--find-count", "--slo-ttft-ms", "1000", "--attn-dp", "--format", "json"])
    assert code == 0, text
    run = json.loads(text)
    assert got["sizing"]["count"] == run["sizing"]["count"] >= 2
    assert (got["tp"], got["attn_dp"]) == (run["tp"], run["attn_dp"]) and got["attn_dp"] is True


def test_find_count_takes_a_none_layout_keyword_as_not_given() -> None:
    """``ic.find_count(tp=2, pp=None)`` said "tp x pp = 2 needs more chips than the 1 given (count=)" where
    ``tp=2`` alone (and ``ic.serve(tp=2, pp=None)``) runs: None is "not given" in ``ic.serve``."""
    a = ic.find_count(H100, "meta-llama/Llama-3.1-8B", slo_ttft_s=1.0, tp=2, pp=None, **LOAD)
    b = ic.find_count(H100, "meta-llama/Llama-3.1-8B", slo_ttft_s=1.0, tp=2, **LOAD)
    assert a["sizing"]["count"] == b["sizing"]["count"] == 2


def test_explore_workers_speak_the_spelling_of_the_command_that_started_them() -> None:
    """``explore``'s local pool spawns its workers (fresh interpreters: the command line's spelling, a context
    variable, is not inherited), so a layer's message raised in one named ``tp=`` under ``inferchip explore``."""
    from inferchip.errors import OPTIONS, named, spelled
    from inferchip.explore.executor import LocalExecutor

    ex = LocalExecutor(workers=2)
    try:
        with spelled(OPTIONS):
            got = ex.map(named, ["tp", "batch"])
    finally:
        ex.close()
    assert got == ["--tp", "--batch"]
