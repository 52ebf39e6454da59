"""tools/closed_loop_runs/chip_rows_compare.py: the band table by hand and the splice of one run's chips into
another."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.conftest import load_tool

cr = load_tool("chip_rows_compare")


def _case(cid: str, chip: str, signed: float, clients: float, status: str = "ok") -> dict:
    return {"case_id": cid, "accelerator": chip, "metric": "tpot_ms", "status": status, "signed_error_pct": signed,
            "concurrency_per_replica": clients, "predicted": 1.0 + signed}


def test_bands_by_hand() -> None:
    h100 = "nvidia-h100-sxm-80gb"
    base = {c["case_id"]: c for c in (_case("a-vllm-x", h100, 6.0, 64), _case("b-vllm-x", h100, -4.0, 4),
                                      _case("c-vllm-x", h100, 2.0, 32), _case("d-trt-x", "nvidia-b200-180gb", 9.0, 4),
                                      _case("e-vllm-x", h100, 1.0, 8, status="error"))}
    new = {**base, "a-vllm-x": _case("a-vllm-x", h100, 1.0, 64), "c-vllm-x": _case("c-vllm-x", h100, -1.0, 32)}
    rows = cr.bands(base, new, (h100,))
    # 9-128: base +6, +2 -> median +4.0; new +1, -1 -> 0.0; APE 4.0 -> 1.0; <= 8: one row, -4 both; the error row and
    # the B200 row are left out; all: base -4, +2, +6 -> +2.0, new -4, -1, +1 -> -1.0, APE 4.0 -> 1.0
    assert "| nvidia-h100-sxm-80gb | vllm | tpot_ms | 9-128 | 2 | +4.0 -> +0.0 | 4.0 -> 1.0 |" in rows
    assert "| nvidia-h100-sxm-80gb | vllm | tpot_ms | <=8 | 1 | -4.0 -> -4.0 | 4.0 -> 4.0 |" in rows
    assert "| nvidia-h100-sxm-80gb | vllm | tpot_ms | all | 3 | +2.0 -> -1.0 | 4.0 -> 1.0 |" in rows
    assert not any("b200" in r for r in rows)


def test_engine_of_reads_the_front_end_first() -> None:
    assert cr.engine_of("imax-dsr1-gb200-dynamo-sglang-fp4-x") == "dynamo"
    assert cr.engine_of("imax-gptoss120b-h100-vllm-fp4-x") == "vllm"
    assert cr.engine_of("other") == "?"


def test_splice_takes_the_chips_rows_from_the_base(tmp_path: Path) -> None:
    h100, b200 = "nvidia-h100-sxm-80gb", "nvidia-b200-180gb"
    new = {"summary": "kept", "cases": [_case("a", h100, 1.0, 8), _case("b", b200, 2.0, 8)]}
    base = {"a": _case("a", h100, 5.0, 8), "b": _case("b", b200, 7.0, 8)}
    out = cr.splice(new, base, (h100,))
    assert out["summary"] == "kept"
    assert [c["signed_error_pct"] for c in out["cases"]] == [5.0, 2.0]
    with pytest.raises(SystemExit, match="case a .* not in the base run"):
        cr.splice(new, {"b": base["b"]}, (h100,))
    paths = [tmp_path / n for n in ("new.json", "base.json", "out.json")]
    paths[0].write_text(json.dumps(new))
    paths[1].write_text(json.dumps({"cases": list(base.values())}))
    cr.main(["splice", *map(str, paths), "--chips", h100])
    assert json.loads(paths[2].read_text())["cases"][0]["signed_error_pct"] == 5.0
