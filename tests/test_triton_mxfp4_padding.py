"""vLLM's Triton (matmul_ogs) MXFP4 MoE path pads each expert's per-rank intermediate width, by hand.

vLLM ``Mxfp4MoEMethod.create_weights`` (vllm/model_executor/layers/quantization/mxfp4.py), the branch a CUDA chip
takes when the backend is neither Marlin nor FlashInfer: ``round_up(intermediate_size_per_partition, 64)``,
``hidden_size`` kept. gpt-oss-120b: hidden 2,880, expert width 2,880 (gated). TP1: 2,880 = 45 x 64, no pad. TP2:
1,440 = 22.5 x 64 -> 1,472; experts_up k 2,880, n 2 x 1,472 = 2,944; experts_down k 1,472, n 2,880; each expert
GEMM does 1,472 / 1,440 = 1.0222 x the checkpoint's MACs and reads as many weight elements.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from inferchip.catalog.calibration_file import load_calibration
from inferchip.catalog.engines import load_engines
from inferchip.errors import InvalidSettingError
from inferchip.mapping.operators import GroupedGemm
from inferchip.performance.setting import resolve_setting
from inferchip.validation.moe_kernels import run_calibration

HOPPER = "nvidia-hopper"
MLENERGY = Path(__file__).resolve().parents[1] / "src" / "inferchip" / "catalog" / "mlenergy_cases.csv"


def _row(case_id: str) -> dict[str, str]:
    with MLENERGY.open(encoding="utf-8-sig", newline="") as fh:
        return next(r for r in csv.DictReader(fh) if r["case_id"] == case_id)


def _experts(cal: object, tp: int) -> tuple[dict[str, GroupedGemm], float]:
    s = resolve_setting("nvidia-h100-sxm-80gb", "openai/gpt-oss-120b", calibration=cal, count=tp, tp=tp,
                        weights="mxfp4", activations="bf16")
    mm = s.mapped(s.layout)
    return {g.name: g for g in mm.sm.layers[0].gemms if isinstance(g, GroupedGemm)}, mm.weights_bytes


def test_the_multiple_is_64() -> None:
    """The one record of the padding (catalog/engines.yaml moe_kernels, vLLM's Triton MXFP4 kernel on CUDA)."""
    cuda = [k for k in load_engines().moe_kernels if (k.engine, k.weights, k.kernel) == ("vllm", "mxfp4", "triton")
            and HOPPER in k.families]
    assert len(cuda) == 1 and (cuda[0].pad_hidden_to, cuda[0].pad_intermediate_to) == (1, 64)


def test_stated_triton_mxfp4_row_pads_the_intermediate_width_only() -> None:
    cal = load_calibration(None)
    row = _row("mle3-gpqa-gpt-oss-120b-h100x2-bs512-power")
    got = run_calibration(cal, row, closed_loop=True, family=HOPPER)
    assert (got.moe_pad_hidden_to, got.moe_pad_intermediate_to) == (1, 64)
    # the same statement with bf16 experts is Triton fused_moe: no padding
    bf16 = run_calibration(cal, {**row, "weight_dtype": "bf16"}, closed_loop=True, family=HOPPER)
    assert (bf16.moe_pad_hidden_to, bf16.moe_pad_intermediate_to) == (1, 1)
    # without the statement: no padding
    bare = {**row, "notes": row["notes"].replace("MoE kernels: vLLM Triton", "MoE kernels: Marlin")}
    plain = run_calibration(cal, bare, closed_loop=True, family=HOPPER)
    assert plain.moe_pad_intermediate_to == 1
    # the CUDA branch only: another family is refused, naming the case and the statement
    with pytest.raises(InvalidSettingError, match="h100x2-bs512-power.*vLLM Triton.*amd-cdna3"):
        run_calibration(cal, row, closed_loop=True, family="amd-cdna3")
    # an NVIDIA family the moe_kernels table lists no Triton MXFP4 kernel on (vLLM runs Marlin below SM90)
    with pytest.raises(InvalidSettingError, match="h100x2-bs512-power.*lists no vllm mxfp4 triton kernel on chip "
                                                  "family 'nvidia-ampere'; allowed: amd-cdna3, amd-cdna4, "
                                                  "nvidia-hopper"):
        run_calibration(cal, row, closed_loop=True, family="nvidia-ampere")


def test_gpt_oss_120b_tp2_widths_by_hand() -> None:
    cal = load_calibration(None)
    padded_cal = run_calibration(cal, _row("mle3-gpqa-gpt-oss-120b-h100x2-bs512-power"), True, HOPPER)
    before, w_before = _experts(padded_cal.model_copy(update={"moe_pad_intermediate_to": 1}), 2)
    after, w_after = _experts(padded_cal, 2)
    assert (before["experts_up"].k, before["experts_up"].n) == (2880, 2 * 1440)
    assert (after["experts_up"].k, after["experts_up"].n) == (2880, 2 * 1472)
    assert (after["experts_down"].k, after["experts_down"].n) == (1472, 2880)
    ratio = after["experts_up"].weight_elements / before["experts_up"].weight_elements
    assert ratio == pytest.approx(1472 / 1440)
    assert ratio == pytest.approx(1.0222, abs=1e-4)
    # the padded zeros are weights the chip holds: more bytes per chip, by at most the experts' share
    assert w_before < w_after < w_before * 1472 / 1440


def test_gpt_oss_120b_tp1_needs_no_pad() -> None:
    cal = load_calibration(None)
    padded_cal = run_calibration(cal, _row("mle3-gpqa-gpt-oss-120b-h100x1-bs8-power"), True, HOPPER)
    assert padded_cal.moe_pad_intermediate_to == 64
    before, w_before = _experts(cal, 1)
    after, w_after = _experts(padded_cal, 1)
    assert before == after and w_before == w_after  # 2,880 = 45 x 64
