"""The MoE expert kernels and the sampler a measured run states, and the calibration its row is predicted with.

Which kernels serve a MoE model's experts is a property of the run, not of the chip or the engine
alone: vLLM picks its MoE backend from the chip, the weight format and the launch's environment
(``vllm/model_executor/layers/quantization/mxfp4.py`` ``get_mxfp4_backend``, ``fp8.py``: Triton
``fused_moe`` for bf16 and FP8, Triton ``matmul_ogs`` for MXFP4 on Hopper, unless the launch names
Marlin, FlashInfer or DeepGEMM). The InferenceMAX recipes name Marlin (``VLLM_MXFP4_USE_MARLIN=1``) and
FlashInfer; the ML.ENERGY v3.0 H100 launch configs name none, so those runs serve their experts with
vLLM's Triton kernels at their default tile configs. A row whose notes state ``MoE kernels: vLLM Triton``
is predicted with :data:`~inferchip.cost.constants.TRITON_MOE_TOKEN_VECTOR_FLOP` per token and MoE layer
beyond the MMA (``Calibration.moe_token_vector_flop``); every other row keeps 0 (tuned kernels). With MXFP4
weights that statement is Triton ``matmul_ogs``, whose weights ``create_weights`` allocates with each expert's
per-rank intermediate width rounded up to 64 on CUDA (``Calibration.moe_pad_intermediate_to``).

Sampling is a property of the run too: a request with top-p below 1 makes vLLM's native sampler sort its
whole logit row every step (``vllm/v1/sample/ops/topk_topp_sampler.py`` ``apply_top_k_top_p``; FlashInfer's
sort-free sampler is opt-in in vLLM 0.11.1). The ML.ENERGY v3.0 client sends ``top_p`` 0.95 and
``temperature`` 0.8 with every request (github.com/ml-energy/benchmark ``mlenergy/llm/benchmark.py``, the
module the configs' command templates run: its ``Args`` defaults, merged into the request body over the
payload's own settings; the gpqa and lm-arena-chat ``benchmark.yaml`` templates set neither). A row whose
notes state ``sampling: vLLM native top-p`` is predicted with :func:`native_top_p_sequence_s` per running
sequence and step, serial with the forward (``Calibration.sequence_overhead_s``), and with the DRAM bytes
that time moves (:func:`native_top_p_sequence_bytes`, ``Calibration.sequence_dram_bytes``: their energy at the
chip's energy per DRAM bit, over the busy floor).

The spread of a run's output lengths is stated too where its publisher gives it (``output length CV``:
:func:`stated_output_cv`); ``validation.energy.rows`` draws the run's lengths with that spread.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

from pydantic import ValidationError

from inferchip.cost.constants import (
    TRITON_MOE_TOKEN_VECTOR_FLOP,
    VLLM_NATIVE_TOP_P_BYTES_PER_VOCAB_ENTRY,
    VLLM_NATIVE_TOP_P_S_PER_VOCAB_ENTRY,
    VLLM_NATIVE_TOP_P_SEGMENTED_SORT_ROWS,
    VLLM_NATIVE_TOP_P_SMALL_BATCH_S_PER_VOCAB_ENTRY,
    VLLM_TRITON_MXFP4_INTERMEDIATE_MULTIPLE,
)
from inferchip.errors import InvalidSettingError
from inferchip.spec.calibration import Calibration

_TRITON = re.compile(r"\bMoE kernels:\s*vLLM Triton\b", re.IGNORECASE)
_NATIVE_TOP_P = re.compile(r"\bsampling:\s*vLLM native top-p\b", re.IGNORECASE)
_OUTPUT_CV = re.compile(r"\boutput length CV\s+(\S+?)[\s;(]", re.IGNORECASE)
_OUTPUT_CV_NAMED = re.compile(r"\boutput length CV\b", re.IGNORECASE)


def states_triton_moe(row: dict[str, str]) -> bool:
    """True when the row's notes state that vLLM's Triton kernels serve the run's experts."""
    return bool(_TRITON.search(row.get("notes", "") or ""))


def states_native_top_p(row: dict[str, str]) -> bool:
    """True when the row's notes state that vLLM's native (sorting) top-p sampler served the run's requests."""
    return bool(_NATIVE_TOP_P.search(row.get("notes", "") or ""))


def stated_output_cv(row: dict[str, str]) -> float | None:
    """The coefficient of variation of the run's output lengths that the row's notes state (``output length CV
    0.88 (...)``: the run's own published length histogram), or None. A value that is not a positive finite
    number, a statement without its value, or two statements are refused (ValueError naming the row and the notes)."""
    notes = row.get("notes", "") or ""
    if len(_OUTPUT_CV_NAMED.findall(notes)) > 1:
        raise ValueError(f"row {row.get('case_id', '')!r}, notes: 'output length CV' is stated more than once; "
                         "allowed: one statement (tools/energy/mlenergy_output_cv.py --write replaces an older one)")
    m = _OUTPUT_CV.search(notes + " ")
    if m is None:
        if _OUTPUT_CV_NAMED.search(notes):  # named but not as "output length CV <number>": never read silently
            raise ValueError(f"row {row.get('case_id', '')!r}, notes: 'output length CV' is not followed by a space "
                             "and its value; allowed: 'output length CV 0.66 (source)'")
        return None
    try:
        cv = float(m.group(1))
    except ValueError:
        cv = math.nan
    if not (math.isfinite(cv) and cv > 0.0):
        raise ValueError(f"row {row.get('case_id', '')!r}, notes: 'output length CV {m.group(1)}' is not a "
                         "positive number (the coefficient of variation of the run's output lengths)")
    return cv


def native_top_p_small_batch_s(running: float, vocab_size: int) -> float:
    """Seconds per engine step that vLLM's native top-p sort of ``running`` rows takes beyond
    :func:`native_top_p_sequence_s` per row: :data:`~inferchip.cost.constants.
    VLLM_NATIVE_TOP_P_SMALL_BATCH_S_PER_VOCAB_ENTRY` x ``min(running, 128)`` x ``vocab_size`` (torch's full-sort
    path below 128 rows; PR #40376's 64- and 128-row points). ValueError for a negative batch or a vocabulary below
    one entry."""
    if not running >= 0.0:
        raise ValueError(f"running must be at least 0 sequences, got {running!r}")
    rows = min(float(running), float(VLLM_NATIVE_TOP_P_SEGMENTED_SORT_ROWS))
    return rows * _per_vocab_entry(vocab_size, VLLM_NATIVE_TOP_P_SMALL_BATCH_S_PER_VOCAB_ENTRY)


def native_top_p_sequence_s(vocab_size: int) -> float:
    """Seconds per running sequence and engine step of vLLM's native top-p masking: the row of
    ``vocab_size`` logits sorted, normalised, masked and scattered back, at
    :data:`~inferchip.cost.constants.VLLM_NATIVE_TOP_P_S_PER_VOCAB_ENTRY` per entry (vLLM PR #40376).
    ValueError for a vocabulary below one entry."""
    return _per_vocab_entry(vocab_size, VLLM_NATIVE_TOP_P_S_PER_VOCAB_ENTRY)


def native_top_p_sequence_bytes(vocab_size: int) -> float:
    """DRAM bytes per running sequence and engine step of vLLM's native top-p masking: ``vocab_size`` entries
    at :data:`~inferchip.cost.constants.VLLM_NATIVE_TOP_P_BYTES_PER_VOCAB_ENTRY` (the sort's radix passes and
    the softmax, cumsum, mask and scatter, counted from the code). ValueError for a vocabulary below one entry."""
    return _per_vocab_entry(vocab_size, VLLM_NATIVE_TOP_P_BYTES_PER_VOCAB_ENTRY)


def _per_vocab_entry(vocab_size: int, per_entry: float) -> float:
    """``vocab_size`` entries at ``per_entry`` each; ValueError for a vocabulary below one entry."""
    if not vocab_size >= 1:
        raise ValueError(f"vocab_size must be at least 1 entry, got {vocab_size!r}")
    return float(vocab_size) * per_entry


@lru_cache(maxsize=64)
def _vocab_size(model: str) -> int:
    from inferchip.catalog.models import load_model

    return load_model(model).vocab_size


def check_vllm_statements(row: dict[str, str]) -> None:
    """A row whose notes state vLLM's MoE kernels or sampler must run vLLM: its ``software`` names vLLM (Dynamo's vLLM
    workers too) or is blank (the catalogue's default engine, when that is vLLM); else an
    :class:`~inferchip.errors.InvalidSettingError` naming the case, both columns and what is allowed."""
    from inferchip.catalog.engines import NOT_STATED, get_engine

    said = [m.group(0) for r in (_TRITON, _NATIVE_TOP_P) if (m := r.search(row.get("notes", "") or ""))]
    software = (row.get("software") or "").strip()
    if not said or "vllm" in software.lower() or (software in NOT_STATED and get_engine(None).id == "vllm"):
        return
    raise InvalidSettingError(f"case {(row.get('case_id') or '?').strip()}, column software: {software!r} names no "
                              f"vLLM, but column notes state {' and '.join(repr(s) for s in said)} (vLLM's own "
                              "kernels); allowed: a software naming vLLM, or notes without that statement")


def run_calibration(cal: Calibration, row: dict[str, str], closed_loop: bool, family: str) -> Calibration:
    """The calibration ``row`` is predicted with: for a closed loop, that of the engine its
    ``software`` names (:func:`~inferchip.validation.closed_loop_facts.engine_row_calibration`); with the
    Triton MoE per-token work where the row states those kernels; with the native top-p sampler's time per
    running sequence (:func:`native_top_p_sequence_s` of the row's model), its DRAM bytes
    (:func:`native_top_p_sequence_bytes`) and its small-batch time per step (:func:`native_top_p_small_batch_s` at
    the row's ``concurrency``, the most sequences the run holds: the sort's rows below 128) where the row states that
    sampler; with split-K for the 16-bit GEMMs (``Calibration.gemm_split_k_16bit``) as the engine its ``software``
    names runs them on a chip of ``family`` (:func:`~inferchip.catalog.engines.family_kernel_calibration`; a row
    that is no closed loop takes nothing else of that engine, and a software naming none leaves the flag as fitted);
    a row stating vLLM's kernels or sampler on another engine is refused (:func:`check_vllm_statements`)."""
    from inferchip.catalog.engines import engine_for_software, family_kernel_calibration, kernel_engine, row_engine
    from inferchip.validation.closed_loop_facts import engine_row_calibration

    check_vllm_statements(row)
    software, where = (row.get("software") or "").strip(), (row.get("case_id") or "").strip()
    if closed_loop:
        cal = engine_row_calibration(cal, software, where)
        engine = row_engine(software, f"case {where}")
    else:  # no engine record: the calibration as fitted, but the GEMM library of the engine its software names
        engine = engine_for_software(software)
    if engine is not None:
        cal = family_kernel_calibration(cal, kernel_engine(engine, software), family)
    if states_triton_moe(row):
        cal = _updated(cal, row, moe_token_vector_flop=TRITON_MOE_TOKEN_VECTOR_FLOP)
        if (row.get("weight_dtype") or "").strip().lower() == "mxfp4":  # matmul_ogs pads the per-rank width
            cal = _updated(cal, row, moe_pad_intermediate_to=_triton_mxfp4_multiple(row, family))
    if states_native_top_p(row):
        vocab = _vocab_size((row.get("model") or "").strip())
        cal = _updated(cal, row, sequence_overhead_s=cal.sequence_overhead_s + native_top_p_sequence_s(vocab),
                       sequence_dram_bytes=cal.sequence_dram_bytes + native_top_p_sequence_bytes(vocab),
                       step_overhead_s=cal.step_overhead_s + native_top_p_small_batch_s(_concurrency(row), vocab))
    return cal


def _triton_mxfp4_multiple(row: dict[str, str], family: str) -> int:
    """The multiple vLLM's Triton ``matmul_ogs`` MXFP4 path rounds each expert's per-rank intermediate width up to
    on a CUDA chip (:data:`~inferchip.cost.constants.VLLM_TRITON_MXFP4_INTERMEDIATE_MULTIPLE`; the hidden width is
    kept); an :class:`~inferchip.errors.InvalidSettingError` naming the case where the chip's family is not NVIDIA
    (ROCm takes another branch of ``create_weights``, not modelled)."""
    if not family.startswith("nvidia"):
        raise InvalidSettingError(f"case {(row.get('case_id') or '?').strip()}, column notes: 'MoE kernels: vLLM "
                                  f"Triton' with mxfp4 weights on chip family {family!r}: the padding modelled is "
                                  "vLLM's CUDA branch; allowed: an nvidia-* chip, or notes without that statement")
    return VLLM_TRITON_MXFP4_INTERMEDIATE_MULTIPLE


def _concurrency(row: dict[str, str]) -> float:
    """The row's ``concurrency`` (sequences); an :class:`~inferchip.errors.InvalidSettingError` naming the case, the
    column and the value where it is not a non-negative number."""
    text = (row.get("concurrency") or "").strip()
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0.0:
        raise InvalidSettingError(f"case {(row.get('case_id') or '?').strip()}, column concurrency: {text!r} is not a "
                                  "number of sequences, and the row states vLLM's native top-p sampler, whose sort "
                                  "time depends on its rows; allowed: a number >= 0")
    return value


def _updated(cal: Calibration, row: dict[str, str], **update: float | bool) -> Calibration:
    """``cal`` with the row's stated kernels' terms, validated as a calibration file's values are (``model_copy``
    would skip the fields' bounds): a sum out of its field's range is an error naming the row, the field, the value
    and what is allowed, never a silent value."""
    try:
        return Calibration(**{**dict(cal), **update})
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        raise InvalidSettingError(
            f"case {(row.get('case_id') or '?').strip()}, column notes: the stated kernels make the calibration's "
            f"{field} {update.get(field, err.get('input')):.6g}: {err['msg']} (allowed: the field's range in "
            "spec/calibration.py; the shipped or fitted value plus the stated kernels' term)") from None
