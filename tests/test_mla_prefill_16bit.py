"""SGLang's aiter MLA extend path runs 16-bit flash attention over an FP8 KV cache on AMD chips
(``EngineSpec.mla_prefill_16bit_families``, stop 37, branch mi355-attn): the shipped records, an unknown family
refused by name, the calibration helper setting and clearing the flag, the MLA operators' prefill peak by hand
(other operators and decode untouched), and the closed loop giving it to an MI355X PD row and not to an H200 one."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from inferchip.catalog.calibration_file import load_calibration
from inferchip.catalog.chips import get_chip_params
from inferchip.catalog.engines import family_kernel_calibration, get_engine, load_engines
from inferchip.cost.kernels.attention import attention_columns
from inferchip.spec.calibration import Calibration

SRC = Path(__file__).resolve().parents[1] / "src" / "inferchip" / "catalog"


def test_the_shipped_records() -> None:
    got = {e.id: e.mla_prefill_16bit_families for e in load_engines().engines}
    assert got == {"sglang": ("amd-cdna3", "amd-cdna4"), "vllm": (), "trtllm": (), "atom": (), "dynamo": ()}
    assert get_chip_params("amd-mi355x", "central").family == "amd-cdna4"
    assert get_chip_params("amd-mi300x", "central").family == "amd-cdna3"


def test_the_calibration_helper_sets_and_clears() -> None:
    cal = load_calibration(None)
    assert cal.mla_prefill_attention_16bit is False
    assert family_kernel_calibration(cal, get_engine("sglang"), "amd-cdna4").mla_prefill_attention_16bit is True
    assert family_kernel_calibration(cal, get_engine("sglang"), "nvidia-hopper").mla_prefill_attention_16bit is False
    on = Calibration(mla_prefill_attention_16bit=True)
    assert family_kernel_calibration(on, get_engine("atom"), "amd-cdna4").mla_prefill_attention_16bit is False


def _op(mla: bool) -> SimpleNamespace:
    return SimpleNamespace(q_heads=128, qk_dim=192, v_dim=128, kv_elements_per_token=576 if mla else 256,
                           latent_dim=512 if mla else 0, mla=mla, window=None)


def test_the_mla_operators_prefill_peak_by_hand() -> None:
    """An MLA and a GQA operator, FP8 peak 5,033.2 TFLOP/s, bf16 2,516.6, prefill fraction 0.55, FP8 activations
    (1 B) and KV (1 B). With the MLA prefill peak given, only the MLA operator's prefill rate and q/k/v read width
    move: 5,033.2 x 0.55 = 2,768.3 -> 2,516.6 x 0.55 = 1,384.1 TFLOP/s; its prefill bytes per token
    128 x 320 x 2 + 2 x 576 x 1 = 83,072 (from 128 x 320 x 1 + 1,152 = 42,112); decode rates untouched."""
    ops = [_op(True), _op(False)]
    base = attention_columns(ops, 5033.2e12, 0.15, 0.55, 1.0, 1.0)
    mla = attention_columns(ops, 5033.2e12, 0.15, 0.55, 1.0, 1.0, mla_prefill_peak_flop_per_s=2516.6e12,
                            mla_prefill_act_bytes=2.0)
    assert base["prefill_attainable_flop_per_s"] == pytest.approx([5033.2e12 * 0.55] * 2)
    assert mla["prefill_attainable_flop_per_s"] == pytest.approx([2516.6e12 * 0.55, 5033.2e12 * 0.55])
    assert base["prefill_bytes_per_token"] == pytest.approx([42_112.0, 128 * 320 + 2 * 256])
    assert mla["prefill_bytes_per_token"] == pytest.approx([83_072.0, 128 * 320 + 2 * 256])
    for k in ("decode_attainable_flop_per_s", "decode_flop_per_kv_token", "prefill_flop_per_pair"):
        assert np.array_equal(base[k], mla[k]), k


def test_the_closed_loop_prices_it_on_the_mi355x_pd_rows_only() -> None:
    from inferchip.validation.cases import read_cases
    from inferchip.validation.validate import Validator

    pd = "imax-dsr1-mi355x-amd_0-sglang-disagg-fp8-disagg-p8x8e8-d16x8e8-8192-1024-c32-r20832485469-ttft"
    h200 = next(c for c in read_cases(str(SRC / "inferencemax_cases.csv"))
                if c.case_id.startswith("imax-dsr1-0528-h200-sglang-fp8-") and c.metric == "ttft_ms")
    cases = {c.case_id: c for c in read_cases(str(SRC / "inferencemax_cases.csv")) if c.case_id == pd}
    for case, on in ((cases[pd], True), (h200, False)):
        v = Validator(load_calibration(None), server_model="sim")
        r = v.predict_case(case)
        assert r.status == "ok", case.case_id
        assert {c.mla_prefill_attention_16bit for c in v.closed_loop_cache["cals"].values()} == {on}, case.case_id
        assert any("MLA prefill attention in bf16" in n for n in r.notes) is on, case.case_id
