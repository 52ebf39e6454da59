"""vLLM's native top-p sort below 128 rows (issue 12, energy, stop 36) and 16-bit split-K as a fact of the engine and
the chip family: the small-batch term by hand, its fit to vLLM PR #40376's 64/128/512-row points, and how a row's
calibration gets both (split-K from the engine its software names and its chip's family, not from its notes)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from inferchip.catalog.calibration_file import load_calibration
from inferchip.cost.constants import (
    VLLM_NATIVE_TOP_P_SEGMENTED_SORT_ROWS,
    VLLM_NATIVE_TOP_P_SMALL_BATCH_S_PER_VOCAB_ENTRY,
)
from inferchip.errors import InvalidSettingError
from inferchip.validation.moe_kernels import (
    native_top_p_sequence_s,
    native_top_p_small_batch_s,
    run_calibration,
)

HOPPER = "nvidia-hopper"  # the chip family the rows' H100 belongs to (catalog/families.yaml)

CATALOG = Path(__file__).resolve().parents[1] / "src" / "inferchip" / "catalog"
TOP_P = "sampling: vLLM native top-p"


def _rows(name: str) -> list[dict[str, str]]:
    with (CATALOG / name).open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def _llama(concurrency: str = "8") -> dict[str, str]:
    row = next(r for r in _rows("mlenergy_cases.csv")
               if r["case_id"] == "mle3-lm-arena-chat-llama-31-8b-instruct-h100x1-bs8-power")
    return {**row, "concurrency": concurrency}


def test_small_batch_term_by_hand() -> None:
    # 59 ps x 8 rows x 128,256 entries = 60.54 us; 512 rows are capped at 128: 0.9686 ms
    assert native_top_p_small_batch_s(8, 128_256) == pytest.approx(59e-12 * 8 * 128_256, rel=1e-12)
    assert native_top_p_small_batch_s(512, 128_256) == pytest.approx(59e-12 * 128 * 128_256, rel=1e-12)
    assert native_top_p_small_batch_s(0, 128_256) == 0.0
    assert VLLM_NATIVE_TOP_P_SEGMENTED_SORT_ROWS == 128


def test_small_batch_term_errors() -> None:
    with pytest.raises(ValueError, match="running"):
        native_top_p_small_batch_s(-1.0, 10)
    with pytest.raises(ValueError, match="vocab_size"):
        native_top_p_small_batch_s(8, 0)


def test_the_shape_meets_pr_40376_within_thirteen_percent() -> None:
    # topp_whole, PyTorch column, vocabulary 131,072: 64 rows 1.005 ms, 128 rows 2.272 / 2.318 ms, 512 rows 6.150 ms;
    # the line through zero alone gives 0.64 / 1.28 / 5.11 ms (36 %, 45 % and 17 % short)
    v = 131_072
    for rows, ms in ((64, 1.005), (128, 2.272), (128, 2.318), (512, 6.150)):
        model = rows * native_top_p_sequence_s(v) + native_top_p_small_batch_s(rows, v)
        assert model == pytest.approx(ms * 1e-3, rel=0.13)
        assert abs(rows * native_top_p_sequence_s(v) / (ms * 1e-3) - 1.0) > 0.15
    # 59 ps: the 128-row point of the second table (2.272 ms / 128 / 131,072 = 135.4 ps) less the 76.1 ps slope
    assert 2.272e-3 / 128 / v - native_top_p_sequence_s(1) == pytest.approx(
        VLLM_NATIVE_TOP_P_SMALL_BATCH_S_PER_VOCAB_ENTRY, rel=0.01)


def test_a_stated_sampler_adds_the_term_at_the_rows_concurrency() -> None:
    cal = load_calibration(None)
    bare = {**_llama(), "notes": _llama()["notes"].replace(TOP_P, "sampling: greedy")}
    base = run_calibration(cal, bare, closed_loop=True, family=HOPPER).step_overhead_s
    for conc, rows in (("8", 8), ("512", 128)):
        got = run_calibration(cal, _llama(conc), closed_loop=True, family=HOPPER).step_overhead_s
        assert got - base == pytest.approx(59e-12 * rows * 128_256, rel=1e-9)


def test_a_bad_concurrency_is_an_error_naming_the_column() -> None:
    with pytest.raises(InvalidSettingError, match="column concurrency: 'many'"):
        run_calibration(load_calibration(None), _llama("many"), closed_loop=True, family=HOPPER)


def test_split_k_follows_the_engine_and_the_chip_family_not_the_notes() -> None:
    cal = load_calibration(None)
    row = _llama()
    assert "cuBLASLt" not in row["notes"]  # no row states the library: the engine record does
    assert run_calibration(cal, row, closed_loop=True, family=HOPPER).gemm_split_k_16bit is True
    # the same vLLM run on an Ampere chip: the record lists Hopper, Blackwell and CDNA only
    assert run_calibration(cal, row, closed_loop=True, family="nvidia-ampere").gemm_split_k_16bit is False
    # software that names another engine (TensorRT-LLM lists no family), closed loop or not
    trt = {**row, "notes": "", "software": "TensorRT-LLM 0.14"}
    assert run_calibration(cal, trt, closed_loop=True, family=HOPPER).gemm_split_k_16bit is False
    assert run_calibration(cal, trt, closed_loop=False, family=HOPPER).gemm_split_k_16bit is False
    # a fixed-batch (not closed-loop) vLLM row on Hopper splits too: the library is the software's, whatever the
    # question; software naming no engine (blank or not) leaves the flag as fitted
    assert run_calibration(cal, row, closed_loop=False, family=HOPPER).gemm_split_k_16bit is True
    for software in ("TensorRT 10.8, CUDA 12.9", ""):
        other = {**row, "notes": "", "software": software}
        assert run_calibration(cal, other, closed_loop=False, family=HOPPER).gemm_split_k_16bit is False
        on = cal.model_copy(update={"gemm_split_k_16bit": True})
        assert run_calibration(on, other, closed_loop=False, family=HOPPER).gemm_split_k_16bit is True
    assert cal.gemm_split_k_16bit is False


def test_no_catalogue_row_states_the_library() -> None:
    for name in ("mlenergy_cases.csv", "energy_cases.csv", "inferencemax_cases.csv", "validation_cases.csv"):
        assert not any("unquantised GEMMs: cuBLASLt" in (r.get("notes") or "") for r in _rows(name)), name
