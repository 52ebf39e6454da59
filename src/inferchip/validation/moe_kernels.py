"""The MoE expert kernels a measured run states, and the calibration its row is predicted with.

Which kernels serve a MoE model's experts is a property of the run, not of the chip or the engine
alone: vLLM picks its MoE backend from the chip, the weight format and the launch's environment
(``vllm/model_executor/layers/quantization/mxfp4.py`` ``get_mxfp4_backend``, ``fp8.py``: Triton
``fused_moe`` for bf16 and FP8, Triton ``matmul_ogs`` for MXFP4 on Hopper, unless the launch names
Marlin, FlashInfer or DeepGEMM). The InferenceMAX recipes name Marlin (``VLLM_MXFP4_USE_MARLIN=1``) and
FlashInfer; the ML.ENERGY v3.0 H100 launch configs name none, so those runs serve their experts with
vLLM's Triton kernels at their default tile configs. A row whose notes state ``MoE kernels: vLLM Triton``
is predicted with :data:`~inferchip.cost.constants.TRITON_MOE_TOKEN_VECTOR_FLOP` per token and MoE layer
beyond the MMA (``Calibration.moe_token_vector_flop``); every other row keeps 0 (tuned kernels).
"""

from __future__ import annotations

import re

from inferchip.cost.constants import TRITON_MOE_TOKEN_VECTOR_FLOP
from inferchip.spec.calibration import Calibration

_TRITON = re.compile(r"\bMoE kernels:\s*vLLM Triton\b", re.IGNORECASE)


def states_triton_moe(row: dict[str, str]) -> bool:
    """True when the row's notes state that vLLM's Triton kernels serve the run's experts."""
    return bool(_TRITON.search(row.get("notes", "") or ""))


def run_calibration(cal: Calibration, row: dict[str, str], closed_loop: bool) -> Calibration:
    """The calibration ``row`` is predicted with: for a closed loop, that of the engine its
    ``software`` names (:func:`~inferchip.validation.closed_loop.engine_row_calibration`); with the
    Triton MoE per-token work where the row states those kernels."""
    from inferchip.validation.closed_loop import engine_row_calibration

    if closed_loop:
        cal = engine_row_calibration(cal, (row.get("software") or "").strip(), (row.get("case_id") or "").strip())
    if states_triton_moe(row):
        cal = cal.model_copy(update={"moe_token_vector_flop": TRITON_MOE_TOKEN_VECTOR_FLOP})
    return cal
