"""spec/engine: the extra request time of the launch recipes on ``recipe_request_paths`` (SGLang's aiter MLA
persist path on ROCm, ATOM's gpt-oss recipe), by hand, and the catalogue's SGLang and ATOM entries read against
the recipes' facts and the runs' records."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from inferchip.catalog.engines import get_engine
from inferchip.spec.engine import EngineSpec, RecipeRequestPath
from inferchip.validation.case_notes import stated_ttft_spread_s
from inferchip.validation.cases import read_cases

CASES = Path(__file__).resolve().parents[1] / "src" / "inferchip" / "catalog" / "inferencemax_cases.csv"


def engine(**kw: object) -> EngineSpec:
    return EngineSpec(id="x", name="x", match=("x",), step_overhead_s=0.0, request_overhead_s=0.1, max_num_seqs=8,
                      chunk_tokens=512, **kw)


def test_request_time_by_hand():
    e = engine(recipe_request_overhead_s=0.25, recipe_request_paths=(
        RecipeRequestPath(accelerator="mi355x", weights="mxfp4"),
        RecipeRequestPath(accelerator="mi355x", software="pd-disaggregated")))
    assert e.request_overhead_on("amd-mi355x", "mxfp4", "SGLang; img") == pytest.approx(0.35)
    assert e.request_overhead_on("amd-mi355x", "fp8", "SGLang; img") == pytest.approx(0.1)  # other weights
    assert e.request_overhead_on("amd-mi355x", "fp8", "SGLang PD-disaggregated (AMD); img") == pytest.approx(0.35)
    assert e.request_overhead_on("nvidia-b200-180gb", "mxfp4", "SGLang; img") == pytest.approx(0.1)  # other chip
    assert not e.on_request_path("amd-mi300x", "fp8", "")


def test_no_paths_no_extra_time():
    e = engine(recipe_request_overhead_s=0.5)
    assert e.request_overhead_on("amd-mi355x", "mxfp4", "anything") == pytest.approx(0.1)


@given(r=st.floats(0.0, 2.0), x=st.floats(0.0, 2.0))
def test_the_path_never_shortens_the_wait(r, x):
    e = engine(recipe_request_overhead_s=x, recipe_request_paths=(RecipeRequestPath(accelerator="mi300x"),))
    e = e.model_copy(update={"request_overhead_s": r})
    assert e.request_overhead_on("amd-mi300x") >= e.request_overhead_on("nvidia-h200") == r


def test_fields_are_validated():
    with pytest.raises(ValidationError):
        engine(recipe_request_overhead_s=-0.1)
    with pytest.raises(ValidationError):
        RecipeRequestPath(accelerator="")


def test_sglang_paths_follow_the_recipes():
    """aiter kernels exist on ROCm only: no NVIDIA SGLang row is on the path; the MI355X FP8 aggregated recipe
    (no --kv-cache-dtype, 16-bit KV) is off it; the MI355X FP4 aggregated recipe is off it too since its wait is
    its first wave's (first_use_waits); MI300X keeps an own time; the MI355X PD recipe is off it too."""
    g = get_engine("sglang")
    for chip in ("nvidia-b200-180gb", "nvidia-h200-sxm-141gb", "nvidia-gb200-186gb"):
        for w in ("fp8", "fp4"):
            assert g.request_path(chip, w, "SGLang; lmsysorg/sglang:v0.5.6-cu129-amd64") is None
    assert g.request_path("amd-mi355x", "fp8", "SGLang; lmsysorg/sglang:v0.5.5.post3-rocm700-mi35x") is None
    fp4 = "SGLang; lmsysorg/sglang:v0.5.7-rocm700-mi35x"
    assert g.request_path("amd-mi355x", "mxfp4", fp4) is None
    assert g.request_overhead_on("amd-mi355x", "mxfp4", fp4) == g.request_overhead_s
    mi300x = g.request_path("amd-mi300x", "fp8", "SGLang; lmsysorg/sglang:v0.5.5.post3-rocm700-mi30x")
    assert mi300x is not None and mi300x.overhead_s is not None
    assert not g.on_request_path("amd-mi300x", "fp8", "SGLang; lmsysorg/sglang:v0.5.5.post3-rocm700-mi30x")
    # the MI355X PD recipe left the path at stop 33 (aiter-pd): its wait is its jobs' first run's (first_use_waits)
    assert g.request_path("amd-mi355x", "fp8", "SGLang PD-disaggregated (AMD); rocm/sgl-dev:sglang-0.5.6.post1") is None


def test_an_own_path_time_by_hand():
    """An entry with its own overhead_s waits that, not the engine's shared time, and is not on the shared path
    (the host-time fit leaves it as run)."""
    e = engine(recipe_request_overhead_s=0.25, recipe_request_paths=(
        RecipeRequestPath(accelerator="mi300x", overhead_s=0.4), RecipeRequestPath(accelerator="mi355x")))
    assert e.request_overhead_on("amd-mi300x", "fp8", "SGLang") == pytest.approx(0.5)
    assert e.request_overhead_on("amd-mi355x", "fp8", "SGLang") == pytest.approx(0.35)
    assert not e.on_request_path("amd-mi300x") and e.on_request_path("amd-mi355x")
    assert e.request_path("amd-mi300x").overhead_s == 0.4 and e.request_path("nvidia-h200") is None
    with pytest.raises(ValidationError):
        RecipeRequestPath(accelerator="mi300x", overhead_s=-0.1)


def test_model_selector_by_hand():
    """An entry with a model fragment applies only to rows whose model id contains it (case-insensitive)."""
    e = engine(recipe_request_overhead_s=0.05, recipe_request_paths=(
        RecipeRequestPath(accelerator="mi355x", model="gpt-oss"),))
    assert e.request_overhead_on("amd-mi355x", "mxfp4", "ATOM; img", "openai/gpt-oss-120b") == pytest.approx(0.15)
    assert e.request_overhead_on("amd-mi355x", "mxfp4", "ATOM; img", "OpenAI/GPT-OSS-20b") == pytest.approx(0.15)
    assert e.request_overhead_on("amd-mi355x", "mxfp4", "ATOM; img", "deepseek-ai/DeepSeek-R1-0528") == \
        pytest.approx(0.1)
    assert e.request_overhead_on("amd-mi355x", "mxfp4", "ATOM; img") == pytest.approx(0.1)  # model not given
    assert not e.on_request_path("nvidia-b200-180gb", "mxfp4", "", "openai/gpt-oss-120b")  # other chip
    with pytest.raises(ValidationError):
        RecipeRequestPath(accelerator="mi355x", model="GPT-OSS")  # entries are lower case


def _first_wave_share(case) -> float:
    """(mean - median) / (p99 - median) TTFT of a row's run: 0.1 where the first C of its 10 C requests waited
    once (and only they), lower where the excess is the start wave's queue."""
    med_s, p99_s = stated_ttft_spread_s(case)
    return (case.value / 1e3 - med_s) / (p99_s - med_s)


def test_atom_gpt_oss_path_follows_the_records():
    """ATOM's recipe path is the gpt-oss recipe's (ATOM_GPT_OSS_MODEL=1): on the shipped rows every gpt-oss ATOM
    run's record shows its first wave waiting once (share near 0.1), every DeepSeek-R1 ATOM run's far less, and
    only the former are on the path."""
    a = get_engine("atom")
    ttft = [c for c in read_cases(CASES) if "-atom-" in c.case_id and c.metric == "ttft_ms"]
    on = [c for c in ttft if a.on_request_path(c.accelerator, c.weight_dtype or "", c.software, c.model)]
    off = [c for c in ttft if c not in on]
    assert on and off and all("gpt-oss" in c.model for c in on) and not any("gpt-oss" in c.model for c in off)
    assert min(_first_wave_share(c) for c in on) > max(_first_wave_share(c) for c in off)
    assert a.request_overhead_on("amd-mi355x", "mxfp4", on[0].software, on[0].model) > a.request_overhead_s
