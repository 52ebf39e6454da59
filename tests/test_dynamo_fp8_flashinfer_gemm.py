"""The GB200 FP8 8k/1k one-prefill-worker Dynamo + SGLang layout runs its dense block-FP8 linears on FlashInfer's
groupwise GEMM (8k1k-low-latency.sh: SGLANG_ENABLE_JIT_DEEPGEMM=false, SGLANG_ENABLE_FLASHINFER_GEMM=1): the
``recipe_kernel_efficiency`` entry matched by chip, weights, nominal input length and prefill workers, its lookup
by hand, the catalogue's never-reached check with the layout fields, and the calibration it gives."""

from __future__ import annotations

import pytest

from inferchip.catalog.engines import engine_calibration, get_engine
from inferchip.spec.calibration import Calibration
from inferchip.spec.engine import EngineSpec, RecipeKernelEfficiency, chip_entry_covers

GB200 = "nvidia-gb200-186gb"


def test_shipped_entry_reaches_the_low_latency_8k_layout_only() -> None:
    e = get_engine("dynamo")
    k = e.kernel_efficiency_on(GB200, "fp8", 8192, 1)  # p4x1e1dpa-d4x1e1dpa 8k/1k: one prefill worker
    assert k is not None and k.dense_gemm_flop_per_s == pytest.approx(4.42e14)  # PR #13528: 442 TFLOP/s
    assert (k.gemm, k.attention, k.memory, k.expert_gemm_flop_per_s) == (1.0, 1.0, 1.0, None)
    assert e.kernel_efficiency_on(GB200, "fp8", 1024, 1) is None    # 1p_4d.sh (1k/1k, one prefill worker): DeepGEMM
    assert e.kernel_efficiency_on(GB200, "fp8", 8192, 5) is None    # 8k1k-max-tpt.sh (5 DEP8 workers): DeepGEMM
    assert e.kernel_efficiency_on(GB200, "fp8", 1024, 3) is None    # default.sh: DeepGEMM
    assert e.kernel_efficiency_on(GB200, "fp4", 8192, 1) is None    # FP4 8k/1k low latency, TensorRT-LLM p4x4e4 8k
    assert e.kernel_efficiency_on(GB200, "fp8", 8192, 0) is None    # an aggregated row (no prefill workers)
    assert e.kernel_efficiency_on("nvidia-b200-180gb", "fp8", 8192, 1) is None  # not a GB200 part
    # the SGLang record's B200 entry names no layout: it still reaches every B200 FP8 row, aggregated or not
    s = get_engine("sglang")
    for isl, pw in ((0, 0), (8192, 0), (1024, 2)):
        hit = s.kernel_efficiency_on("nvidia-b200-180gb", "fp8", isl, pw)
        assert hit is not None and hit.dense_gemm_flop_per_s == pytest.approx(4.42e14)


def test_lookup_by_hand_first_match_wins() -> None:
    base = get_engine("dynamo").model_dump()
    narrow = {"accelerator": "gb200", "weights": "fp8", "input_tokens": 8192, "prefill_workers": 1,
              "dense_gemm_flop_per_s": 1e14}
    broad = {"accelerator": "gb200", "dense_gemm_flop_per_s": 2e14}
    e = EngineSpec.model_validate({**base, "recipe_kernel_efficiency": [narrow, broad]})
    assert e.kernel_efficiency_on(GB200, "fp8", 8192, 1).dense_gemm_flop_per_s == 1e14  # type: ignore[union-attr]
    assert e.kernel_efficiency_on(GB200, "fp8", 8192, 2).dense_gemm_flop_per_s == 2e14  # type: ignore[union-attr]
    assert e.kernel_efficiency_on(GB200, "fp4", 1024, 0).dense_gemm_flop_per_s == 2e14  # type: ignore[union-attr]
    assert e.kernel_efficiency_on("amd-mi355x", "fp8", 8192, 1) is None


def test_a_broad_entry_covers_a_narrow_one_and_not_the_reverse() -> None:
    broad = RecipeKernelEfficiency(accelerator="gb200", weights="fp8", dense_gemm_flop_per_s=2e14)
    narrow = RecipeKernelEfficiency(accelerator="gb200", weights="fp8", input_tokens=8192, prefill_workers=1,
                                    dense_gemm_flop_per_s=1e14)
    other_len = narrow.model_copy(update={"input_tokens": 1024})
    assert chip_entry_covers(broad, narrow)          # narrow after broad: never reached
    assert not chip_entry_covers(narrow, broad)      # broad after narrow: reached by every other layout
    assert not chip_entry_covers(narrow, other_len)  # two lengths: each reaches its own rows
    assert chip_entry_covers(narrow, narrow)


def test_the_catalogue_refuses_a_narrow_entry_after_a_broad_one(tmp_path) -> None:
    import yaml

    from inferchip.catalog.engines import load_engines
    from inferchip.errors import SpecError

    cat = yaml.safe_load(open(_shipped(), encoding="utf-8"))
    dyn = next(x for x in cat["engines"] if x["id"] == "dynamo")
    dyn["recipe_kernel_efficiency"] = [{"accelerator": "gb200", "dense_gemm_flop_per_s": 2e14},
                                       dict(dyn["recipe_kernel_efficiency"][0])]
    p = tmp_path / "engines.yaml"
    p.write_text(yaml.safe_dump(cat))
    with pytest.raises(SpecError, match="recipe_kernel_efficiency entry 1 .* never reached"):
        load_engines(p)


def _shipped() -> str:
    from pathlib import Path

    import inferchip.catalog as c

    return str(Path(c.__file__).resolve().parent / "engines.yaml")


def test_the_entry_caps_the_dense_gemm_in_the_calibration() -> None:
    cal, e = Calibration(), get_engine("dynamo")
    k = e.kernel_efficiency_on(GB200, "fp8", 8192, 1)
    assert engine_calibration(cal, e, k).dense_gemm_cap_flop_per_s == pytest.approx(4.42e14)
    assert engine_calibration(cal, e, None).dense_gemm_cap_flop_per_s == cal.dense_gemm_cap_flop_per_s
    # the multipliers stay the engine's own: the entry states a plateau, no fraction
    assert engine_calibration(cal, e, k).gemm_compute_fraction == engine_calibration(cal, e).gemm_compute_fraction
