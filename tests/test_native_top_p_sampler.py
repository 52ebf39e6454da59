"""vLLM's native top-p sampler, where a run states it (issue 12, energy): a request with top-p below 1 makes
vLLM 0.11.1 sort its whole logit row every step (``apply_top_k_top_p``; FlashInfer's sampler is opt-in),
priced per running sequence and vocabulary entry (``cost.constants.VLLM_NATIVE_TOP_P_S_PER_VOCAB_ENTRY``,
vLLM PR #40376: 2.318 / 6.150 ms at 128 / 512 rows of 131,072 logits) and scoped to the rows that state it.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from inferchip.catalog.calibration_file import load_calibration
from inferchip.cost.constants import VLLM_NATIVE_TOP_P_S_PER_VOCAB_ENTRY
from inferchip.errors import InvalidSettingError
from inferchip.validation.energy.rows import predict_energy_run
from inferchip.validation.moe_kernels import native_top_p_sequence_s, run_calibration, states_native_top_p

HOPPER = "nvidia-hopper"  # the chip family the rows' H100 belongs to (catalog/families.yaml)

MLENERGY = Path(__file__).resolve().parents[1] / "src" / "inferchip" / "catalog" / "mlenergy_cases.csv"
STATEMENT = "sampling: vLLM native top-p"


def _rows() -> list[dict[str, str]]:
    with MLENERGY.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def _row(case_id: str) -> dict[str, str]:
    return next(r for r in _rows() if r["case_id"] == case_id)


def test_rate_by_hand_from_the_public_table() -> None:
    """(6.150 - 2.318) ms over (512 - 128) rows of 131,072 entries = 76.1 ps per entry."""
    assert VLLM_NATIVE_TOP_P_S_PER_VOCAB_ENTRY == pytest.approx((6.150e-3 - 2.318e-3) / (384 * 131_072), rel=1e-12)
    assert 75e-12 < VLLM_NATIVE_TOP_P_S_PER_VOCAB_ENTRY < 77e-12


def test_per_sequence_time_by_hand() -> None:
    """gpt-oss (201,088 entries): 15.31 us per sequence and step; Llama 3 (128,256): 9.76 us; linear in the vocab."""
    assert native_top_p_sequence_s(201_088) == pytest.approx(201_088 * 3.832e-3 / (384 * 131_072), rel=1e-12)
    assert native_top_p_sequence_s(201_088) == pytest.approx(15.31e-6, rel=1e-3)
    assert native_top_p_sequence_s(128_256) == pytest.approx(9.765e-6, rel=1e-3)
    assert native_top_p_sequence_s(2 * 128_256) == pytest.approx(2 * native_top_p_sequence_s(128_256), rel=1e-12)
    for bad in (0, -5):
        with pytest.raises(ValueError, match="vocab_size"):
            native_top_p_sequence_s(bad)


def test_every_mlenergy_row_states_the_sampler_and_no_other_catalogue_does() -> None:
    rows = _rows()
    assert rows and all(states_native_top_p(r) for r in rows)
    for name in ("inferencemax_cases.csv", "energy_cases.csv", "validation_cases.csv"):
        path = MLENERGY.with_name(name)
        if path.exists():
            with path.open(encoding="utf-8-sig", newline="") as fh:
                assert not any(states_native_top_p(r) for r in csv.DictReader(fh)), name


def test_the_term_needs_the_statement_and_scales_with_the_models_vocab() -> None:
    """The calibration of a stating row carries the per-sequence time of its model's vocabulary on top of
    what the engine's own calibration has; without the statement it carries none."""
    cal = load_calibration(None)
    oss = _row("mle3-gpqa-gpt-oss-20b-h100x1-bs1024-power")
    llama = _row("mle3-lm-arena-chat-llama-31-8b-instruct-h100x1-bs256-power")
    bare = {**oss, "notes": oss["notes"].replace(STATEMENT, "sampling: greedy")}
    assert not states_native_top_p(bare)
    base = run_calibration(cal, bare, closed_loop=True, family=HOPPER).sequence_overhead_s
    assert run_calibration(cal, oss, closed_loop=True, family=HOPPER).sequence_overhead_s - base == pytest.approx(
        native_top_p_sequence_s(201_088), rel=1e-12)
    base_llama = run_calibration(cal, {**llama, "notes": ""}, closed_loop=True, family=HOPPER).sequence_overhead_s
    got = run_calibration(cal, llama, closed_loop=True, family=HOPPER).sequence_overhead_s
    assert got - base_llama == pytest.approx(
        native_top_p_sequence_s(128_256), rel=1e-12)


def test_the_sampler_slows_the_run_more_at_a_larger_batch() -> None:
    """The sort is per running sequence: the run with top-p is slower than without, and the relative loss
    grows with the batch (1,024 against 64 sequences of gpt-oss-20b on one H100)."""
    loss = {}
    for batch in (64, 1024):
        row = _row(f"mle3-gpqa-gpt-oss-20b-h100x1-bs{batch}-power")
        with_top_p, why = predict_energy_run(row)
        greedy, why_g = predict_energy_run({**row, "notes": row["notes"].replace(STATEMENT, "sampling: greedy")})
        assert with_top_p is not None and greedy is not None, (why, why_g)
        assert with_top_p.output_tokens_per_s < greedy.output_tokens_per_s
        loss[batch] = 1.0 - with_top_p.output_tokens_per_s / greedy.output_tokens_per_s
    assert loss[1024] > loss[64] > 0.0


@pytest.mark.parametrize("statement", [STATEMENT, "MoE kernels: vLLM Triton"])
@pytest.mark.parametrize("software", ["SGLang v0.5.5", "TensorRT-LLM 1.2.0"])
def test_a_vllm_statement_on_a_row_of_another_engine_is_refused(statement, software) -> None:
    """The notes' vLLM sampler or MoE kernels on a row whose software names no vLLM contradict each other: the row is
    refused naming its case, the two columns and what is allowed, never priced with vLLM's kernels silently."""
    row = _row("mle3-gpqa-gpt-oss-20b-h100x1-bs64-power")
    notes = row["notes"] if statement == STATEMENT else row["notes"].replace(STATEMENT, "sampling: greedy")
    bad = {**row, "software": software, "notes": notes}
    with pytest.raises(InvalidSettingError, match=rf"{row['case_id']}.*column software.*{statement}.*allowed"):
        run_calibration(load_calibration(None), bad, closed_loop=False, family=HOPPER)
    run, why = predict_energy_run(bad)
    assert run is None and "column software" in (why or "")
    for ok in ("NVIDIA Dynamo + vLLM", "", "-"):  # vLLM workers; blank: the catalogue's default engine, vLLM
        assert run_calibration(load_calibration(None), {**bad, "software": ok}, closed_loop=False, family=HOPPER)
