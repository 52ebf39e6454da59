"""The DRAM bytes of vLLM's native top-p masking, where a run states the sampler (issue 12, energy): the time is
``native_top_p_sequence_s`` (vLLM PR #40376's rate), the bytes that time moves carry energy
(``cost.constants.VLLM_NATIVE_TOP_P_BYTES_PER_VOCAB_ENTRY``, counted from vLLM's ``apply_top_k_top_p`` and torch's
CUDA sort), per running sequence and step, with no time of their own.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from inferchip.catalog.calibration_file import load_calibration
from inferchip.cost.constants import VLLM_NATIVE_TOP_P_BYTES_PER_VOCAB_ENTRY, VLLM_NATIVE_TOP_P_S_PER_VOCAB_ENTRY
from inferchip.cost.step import compile_step
from inferchip.performance.setting import resolve_setting
from inferchip.validation.energy.rows import predict_energy_run
from inferchip.validation.moe_kernels import native_top_p_sequence_bytes, run_calibration

HOPPER = "nvidia-hopper"  # the chip family the rows' H100 belongs to (catalog/families.yaml)

MLENERGY = Path(__file__).resolve().parents[1] / "src" / "inferchip" / "catalog" / "mlenergy_cases.csv"
STATEMENT = "sampling: vLLM native top-p"


def _row(case_id: str) -> dict[str, str]:
    with MLENERGY.open(encoding="utf-8-sig", newline="") as fh:
        return next(r for r in csv.DictReader(fh) if r["case_id"] == case_id)


def test_bytes_per_entry_by_hand() -> None:
    """Sort: index fill 8 + 4 radix passes x (4 B key + 8 B index, read and written) 96; softmax 12, cumsum 8,
    comparison 5, masked_fill_ 9, scatter 24: 162, taken as 200 (with the small-batch row sort's 40 more).
    At PR #40376's 76 ps per entry that is 2.6 TB/s, under H100's 3.35 TB/s."""
    assert 8 + 4 * 24 + 12 + 8 + 5 + 9 + 24 == 162
    assert 162 <= VLLM_NATIVE_TOP_P_BYTES_PER_VOCAB_ENTRY <= 162 + 40
    rate = VLLM_NATIVE_TOP_P_BYTES_PER_VOCAB_ENTRY / VLLM_NATIVE_TOP_P_S_PER_VOCAB_ENTRY
    assert rate == pytest.approx(2.63e12, rel=0.01) and rate < 3.35e12


def test_per_sequence_bytes_by_hand() -> None:
    """gpt-oss (201,088 entries): 40.2 MB per sequence and step; Llama 3 (128,256): 25.7 MB; linear."""
    assert native_top_p_sequence_bytes(201_088) == pytest.approx(201_088 * 200.0, rel=1e-12)
    assert native_top_p_sequence_bytes(128_256) == pytest.approx(25.65e6, rel=1e-3)
    for bad in (0, -1):
        with pytest.raises(ValueError, match="vocab_size"):
            native_top_p_sequence_bytes(bad)


def test_the_bytes_need_the_statement() -> None:
    cal = load_calibration(None)
    llama = _row("mle3-lm-arena-chat-llama-31-8b-instruct-h100x1-bs256-power")
    bare = {**llama, "notes": llama["notes"].replace(STATEMENT, "sampling: greedy")}
    base = run_calibration(cal, bare, closed_loop=True, family=HOPPER).sequence_dram_bytes
    assert base == 0.0
    got = run_calibration(cal, llama, closed_loop=True, family=HOPPER).sequence_dram_bytes
    assert got == pytest.approx(128_256 * 200.0)


def _step(seq_bytes: float, seqs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Time, DRAM bytes and dynamic energy of a Llama-3.1-8B decode step on one H100 at ``seqs`` sequences."""
    from inferchip.cost.economics import step_dynamic_energy_j, unit_energies

    cal = load_calibration(None).model_copy(update={"sequence_overhead_s": 9.765e-6,
                                                    "sequence_dram_bytes": seq_bytes})
    s = resolve_setting("nvidia-h100-sxm-80gb", "meta-llama/Llama-3.1-8B-Instruct", calibration=cal)
    mm = s.mapped(s.layout)
    cost = compile_step(mm.sm, mm.chip, mm.formats, mm.cal).cost(seqs, seqs, seqs * 1000.0, np.zeros_like(seqs))
    e = step_dynamic_energy_j(cost, s.chip_spec, s.chip_spec.memory.technology(), s.assumptions)
    j_per_byte = unit_energies(s.chip_spec, s.chip_spec.memory.technology(), s.assumptions).per_byte_dram_j
    return (np.reshape(np.asarray(cost.time_s, dtype=float), -1), np.reshape(np.asarray(cost.dram_bytes), -1),
            np.reshape(e, -1) / j_per_byte)


def test_the_bytes_add_energy_and_no_time_on_both_paths() -> None:
    """25.65 MB per sequence: 256 sequences add 6.57 GB of DRAM traffic and its energy at the chip's J per
    DRAM byte, on the scalar (one point) and array (two points) paths; the step time does not change."""
    seqs = np.array([256.0, 512.0])
    b = native_top_p_sequence_bytes(128_256)
    t1, d1, e1 = _step(b, seqs)
    t0, d0, e0 = _step(0.0, seqs)
    np.testing.assert_array_equal(t1, t0)
    np.testing.assert_allclose(d1 - d0, seqs * b, rtol=1e-9)
    np.testing.assert_allclose(e1 - e0, seqs * b, rtol=1e-9)  # energy in units of J per DRAM byte
    for k, x in enumerate(seqs):
        ts, ds, _ = _step(b, np.array(x))
        ts0, ds0, _ = _step(0.0, np.array(x))
        assert ts[0] == pytest.approx(t0[k], rel=1e-9) and ts0[0] == pytest.approx(t0[k], rel=1e-9)
        assert ds[0] - ds0[0] == pytest.approx(x * b, rel=1e-9)


def test_a_stating_run_draws_more_power_at_the_same_throughput() -> None:
    """gpt-oss-20b at 1,024 sequences on one H100: the sort's bytes raise the predicted board power and leave
    the throughput as it was (their time is the sampler's, already in the step)."""
    from inferchip.validation import moe_kernels

    row = _row("mle3-gpqa-gpt-oss-20b-h100x1-bs1024-power")
    with_bytes, why = predict_energy_run(row)
    saved = moe_kernels.native_top_p_sequence_bytes
    try:
        moe_kernels.native_top_p_sequence_bytes = lambda vocab_size: 0.0  # type: ignore[assignment]
        without, why0 = predict_energy_run(row)
    finally:
        moe_kernels.native_top_p_sequence_bytes = saved  # type: ignore[assignment]
    assert with_bytes is not None and without is not None, (why, why0)
    assert with_bytes.output_tokens_per_s == pytest.approx(without.output_tokens_per_s, rel=1e-9)
    assert with_bytes.board_w > without.board_w
