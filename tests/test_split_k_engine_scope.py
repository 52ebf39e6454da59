"""16-bit split-K as a fact of the engine and the chip family (issue 12, stop 36, branch tpj-scope): which engines
list which families, a family the catalogue does not know refused by name, the calibration helper setting and
clearing the flag, and the closed loop giving it to exactly the rows whose engine lists their chip's family (a
vLLM gpt-oss row on H100, H200 and (stop 47) B200 splits, TensorRT-LLM on B200 does not)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from inferchip.catalog.calibration_file import load_calibration
from inferchip.catalog.chips import get_chip_params
from inferchip.catalog.engines import family_kernel_calibration, get_engine, load_engines
from inferchip.errors import SpecError
from inferchip.spec.calibration import Calibration

SRC = Path(__file__).resolve().parents[1] / "src" / "inferchip" / "catalog"


def test_the_shipped_records() -> None:
    # vLLM and SGLang run unquantised linear layers through F.linear (cuBLASLt on CUDA); the public timings are an
    # H100 (vLLM PR #49363) and B200s (NVIDIA/cutlass issue #2923, vLLM issue #35467), so Hopper and Blackwell;
    # TensorRT-LLM (the MLPerf rows' TensorRT engines) and Dynamo (a front end: its workers' records decide) list
    # none; ATOM (ROCm) lists the CDNA families, vLLM and SGLang Hopper, Blackwell and CDNA (amdtile47)
    got = {e.id: e.split_k_16bit_families for e in load_engines().engines}
    cdna = ("amd-cdna3", "amd-cdna4")
    both = ("nvidia-hopper", "nvidia-blackwell", *cdna)
    assert got == {"vllm": both, "sglang": both, "trtllm": (), "atom": cdna, "dynamo": ()}
    for chip in ("nvidia-h100-sxm-80gb", "nvidia-h200-sxm-141gb", "nvidia-gh200-144gb"):
        assert get_chip_params(chip, "central").family == "nvidia-hopper", chip
    for chip in ("nvidia-b200-180gb", "nvidia-gb200-186gb"):
        assert get_chip_params(chip, "central").family == "nvidia-blackwell", chip
    for chip in ("amd-mi300x", "amd-mi355x"):
        assert get_engine("vllm").splits_16bit_k_on(get_chip_params(chip, "central").family), chip
    assert not get_engine("vllm").splits_16bit_k_on(get_chip_params("nvidia-a100-sxm-80gb", "central").family)


@pytest.mark.parametrize(("engine", "field", "typo", "allowed"), [
    ("vllm", "split_k_16bit_families", "nvidia-hoper", "nvidia-hopper"),
    ("sglang", "mla_prefill_16bit_families", "amd-cdna9", "amd-cdna4"),  # the same check of the family lists
])
def test_an_unknown_family_is_refused_by_name(tmp_path: Path, engine: str, field: str, typo: str,
                                              allowed: str) -> None:
    data = yaml.safe_load((SRC / "engines.yaml").read_text())
    next(e for e in data["engines"] if e["id"] == engine)[field] = [typo]
    bad = tmp_path / "engines.yaml"
    bad.write_text(yaml.safe_dump(data))
    with pytest.raises(SpecError, match=rf"engine {engine}: {field} entry '{typo}': not a chip "
                                        rf"family; allowed: .*{allowed}"):
        load_engines(bad)


def test_family_kernel_calibration_sets_and_clears() -> None:
    cal = load_calibration(None)
    assert cal.gemm_split_k_16bit is False
    assert family_kernel_calibration(cal, get_engine("vllm"), "nvidia-hopper").gemm_split_k_16bit is True
    assert family_kernel_calibration(cal, get_engine("vllm"), "nvidia-ampere").gemm_split_k_16bit is False
    on = Calibration(gemm_split_k_16bit=True)
    assert family_kernel_calibration(on, get_engine("trtllm"), "nvidia-hopper").gemm_split_k_16bit is False


def test_the_closed_loop_splits_exactly_where_the_engine_lists_the_chip_family() -> None:
    from inferchip.validation.cases import read_cases
    from inferchip.validation.validate import Validator

    ids = {"imax-gptoss120b-h100-vllm-fp4-tp2ep1-1024-1024-c64-r20218553330-tput": True,
           "imax-gptoss120b-h200-vllm-fp4-tp2ep1-1024-1024-c64-r20218553330-tput": True,
           "imax-gptoss120b-b200-vllm-fp4-tp1ep1-1024-1024-c64-r20218553330-tput": True,
           "imax-gptoss120b-b200-trt-trt-fp4-tp1ep1-1024-1024-c64-r20286968709-tput": False}
    cases = {c.case_id: c for c in read_cases(str(SRC / "inferencemax_cases.csv")) if c.case_id in ids}
    assert set(cases) == set(ids)
    for cid, splits in ids.items():
        v = Validator(load_calibration(None), server_model="sim")
        assert v.predict_case(cases[cid]).status == "ok", cid
        cals = list(v.closed_loop_cache["cals"].values())
        assert [c.gemm_split_k_16bit for c in cals] == [splits], cid
