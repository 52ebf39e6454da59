"""Two aggregated-engine mechanisms of the closed-loop TTFT rows (issue 12), against hand calculations.

* The InferenceMAX Hopper vLLM recipes serve gpt-oss's MXFP4 experts through Marlin
  (``VLLM_MXFP4_USE_MARLIN=1``), an SM80 kernel issuing ``mma.sync``, which reaches about 2/3 of a Hopper
  chip's tensor-core peak (FlashAttention-3 paper): the grouped GEMMs' compute time grows by 3/2, on the
  array and on the scalar cost path alike, and nothing else moves.
* TensorRT-LLM's attention-DP request assignment (``_schedule_attention_dp_requests``): a new request
  goes only to a rank below ``ceil((active + 1) / ranks)`` active requests, the least loaded first.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inferchip.catalog.calibration_file import load_calibration
from inferchip.catalog.engines import get_engine
from inferchip.cost.step import compile_step
from inferchip.performance.setting import resolve_setting
from inferchip.sim.engines.scheduling import adp_rank
from inferchip.spec.engine import RecipeMoeKernel

H100 = "nvidia-h100-sxm-80gb"


def test_vllm_recipe_names_marlin_on_hopper_only() -> None:
    e = get_engine("vllm")
    for chip in (H100, "nvidia-h200-sxm-141gb"):
        k = e.moe_kernel_on(chip, "mxfp4")
        assert k is not None and k.kernel == "marlin" and k.mma_peak_fraction == pytest.approx(2 / 3, abs=1e-3)
    # FlashInfer MXFP4 x MXFP8, written for Blackwell; its padding priced contradicts the rows (engines.yaml)
    assert e.moe_kernel_on("nvidia-b200-180gb", "mxfp4") is None
    assert e.moe_kernel_on(H100, "fp8") is None
    for other in ("sglang", "trtllm", "atom", "dynamo"):
        assert get_engine(other).moe_kernel_on(H100, "mxfp4") is None
    r = RecipeMoeKernel(accelerator="h100", kernel="marlin", mma_peak_fraction=0.5)
    assert r.on_chip(H100, "anything") and not r.on_chip("nvidia-b200-180gb", "mxfp4")


def _experts(fraction: float, tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    cal = load_calibration(None).model_copy(update={"moe_mma_peak_fraction": fraction})
    s = resolve_setting(H100, "openai/gpt-oss-120b", count=2, tp=2, weights="mxfp4", activations="bf16",
                        calibration=cal)
    mm = s.mapped(s.layout)
    plan = compile_step(mm.sm, mm.chip, mm.formats, mm.cal)
    zeros = np.zeros_like(tokens)
    pairs = tokens * (tokens + 1) / 2
    arr = plan.cost(tokens, zeros, zeros, pairs, None)
    one = [plan.cost(float(t), 0.0, 0.0, float(p), None) for t, p in zip(tokens, pairs, strict=True)]
    assert not np.any(np.asarray(arr.classes["experts"].memory_bound_s) > 0)  # compute-bound prefills
    comp = np.asarray(arr.classes["experts"].compute_bound_s, dtype=float).reshape(-1)
    comp_one = np.array([float(np.asarray(c.classes["experts"].compute_bound_s).sum()) for c in one])
    attn = np.asarray(arr.classes["attention"].time_s, dtype=float).reshape(-1)
    return comp, comp_one, attn


def test_marlin_grouped_gemm_compute_scales_as_one_over_the_fraction() -> None:
    """Prefills of 8,192 and 16,384 tokens on two H100 (compute-bound experts): the grouped GEMMs' time
    is G / f at a fraction f of the peak, the experts' other kernels (router) do not move, so the extra
    time at f = 1/2 (G) is twice that at f = 2/3 (G / 2); the scalar path equals the array path, and
    attention does not move."""
    tokens = np.array([8192.0, 16384.0])
    full, full_one, attn_full = _experts(1.0, tokens)
    marlin, marlin_one, attn_marlin = _experts(2 / 3, tokens)
    half, _, _ = _experts(0.5, tokens)
    assert np.all(marlin > full)
    np.testing.assert_allclose(half - full, 2 * (marlin - full), rtol=1e-9)
    assert np.all(marlin <= 1.5 * full * (1 + 1e-12)) and np.all(marlin > 1.4 * full)  # mostly grouped GEMMs
    np.testing.assert_allclose(marlin_one, marlin, rtol=1e-9)
    np.testing.assert_allclose(full_one, full, rtol=1e-9)
    np.testing.assert_allclose(attn_marlin, attn_full, rtol=0)


def test_adp_rank_by_hand() -> None:
    assert adp_rank([0, 0]) == 0
    assert adp_rank([3, 3]) == 0  # ceil(7 / 2) = 4: both eligible, the lowest index
    assert adp_rank([3, 2]) == 1  # ceil(6 / 2) = 3: only rank 1 is below it
    assert adp_rank([2, 3, 3, 3]) == 0  # the rank a finished request left one below the others
    assert adp_rank([5, 1, 5, 5]) == 1


@settings(max_examples=50, deadline=None)
@given(load=st.lists(st.integers(0, 40), min_size=1, max_size=8))
def test_adp_rank_never_widens_the_spread(load: list[int]) -> None:
    """The chosen rank is never above the least loaded by more than the spread allows: after the
    assignment the busiest rank is no busier than before, unless every rank was equal."""
    r = adp_rank(load)
    after = list(load)
    after[r] += 1
    assert max(after) <= max(load) + (1 if min(load) == max(load) else 0)
    assert load[r] == min(load)
