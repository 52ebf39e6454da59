"""Closed-loop energy rows run as the engine their `software` column names (issue 12, point 2)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from inferchip.catalog.engines import get_engine
from inferchip.spec.engine import EngineSpec
from inferchip.validation.energy.rows import predict_energy_run

DATA = Path(__file__).parent / "data" / "mlenergy_subset.csv"
MLPERF = Path(__file__).resolve().parents[1] / "src" / "inferchip" / "catalog" / "energy_cases.csv"


def _row(path: Path, case_id: str) -> dict[str, str]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return next(r for r in csv.DictReader(fh) if r["case_id"] == case_id)


def test_the_engine_host_time_is_the_step_difference_by_hand(monkeypatch: pytest.MonkeyPatch) -> None:
    # A closed loop held at c sequences makes c tokens per step: c / throughput is the step time, so
    # the same row under two engines differs by the difference of their host times per step
    # (catalog/engines.yaml: vLLM's against TensorRT-LLM's), nothing else, once both run their 16-bit GEMMs the
    # same way. The engines' own records differ there too (vLLM splits K on Hopper, TensorRT-LLM lists no family):
    # with them as shipped, TensorRT-LLM's step is longer by more than the host times' difference.
    row = _row(DATA, "mle3-gpqa-qwen3-8b-h100x1-bs8-power")
    assert row["software"] == "vLLM 0.11.1"
    c = float(row["concurrency"])
    host_gap_s = get_engine("vllm").step_overhead_s - get_engine("trtllm").step_overhead_s

    def step_gap_s() -> float:
        vllm, why = predict_energy_run(row)
        trt, why_trt = predict_energy_run({**row, "software": "TensorRT-LLM"})
        assert vllm is not None and trt is not None, (why, why_trt)
        return c / vllm.output_tokens_per_s - c / trt.output_tokens_per_s

    assert step_gap_s() < host_gap_s - 1e-6  # the bf16 Qwen3-8B GEMMs split under vLLM only
    monkeypatch.setattr(EngineSpec, "splits_16bit_k_on", lambda self, family: True)
    assert step_gap_s() == pytest.approx(host_gap_s, rel=1e-6)


def test_an_unknown_engine_names_the_row_and_the_column() -> None:
    row = {**_row(DATA, "mle3-gpqa-qwen3-8b-h100x1-bs8-power"), "software": "FooServe 1.0"}
    run, reason = predict_energy_run(row)
    assert run is None
    assert row["case_id"] in reason and "column software" in reason and "'FooServe 1.0'" in reason
    assert "vllm" in reason  # what is allowed


def test_rows_that_are_not_closed_loops_keep_the_calibration() -> None:
    # MLPerf rows are predicted with the calibration their performance rows are fitted with,
    # whatever their software text says.
    row = _row(MLPERF, "mlp51pw-llama2-70b-offline-b200x8-lenovo-power")
    a, _ = predict_energy_run(row)
    b, _ = predict_energy_run({**row, "software": "FooServe 1.0"})
    assert a is not None and a == b
