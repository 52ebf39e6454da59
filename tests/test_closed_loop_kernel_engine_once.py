"""A closed-loop replica resolves the engine whose kernels run (``catalog.engines.kernel_engine``) once: the
calibration (split-K, prefill attention format) and the replica's graphs come from that one resolution, not from
two look-ups of the same row that could drift apart (review36)."""

from __future__ import annotations

from pathlib import Path

import pytest

import inferchip.validation.closed_loop_rows as rows
from inferchip.catalog.calibration_file import load_calibration

SRC = Path(__file__).resolve().parents[1] / "src" / "inferchip" / "catalog"
CASE = "imax-gptoss120b-h100-vllm-fp4-tp2ep1-1024-1024-c64-r20218553330-tput"


def test_a_replica_resolves_its_kernel_engine_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from inferchip.validation.cases import read_cases
    from inferchip.validation.validate import Validator

    case = next(c for c in read_cases(str(SRC / "inferencemax_cases.csv")) if c.case_id == CASE)
    calls: list[str] = []
    real = rows.kernel_engine

    def counted(engine, software=""):  # type: ignore[no-untyped-def]
        calls.append(software)
        return real(engine, software)

    monkeypatch.setattr(rows, "kernel_engine", counted)
    v = Validator(load_calibration(None), server_model="sim")
    assert v.predict_case(case).status == "ok"
    assert len(v.closed_loop_cache["replicas"]) == 1
    assert len(calls) == 1
