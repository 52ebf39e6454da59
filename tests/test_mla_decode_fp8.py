"""FP8 MLA decode attention where the engine's decode kernel quantises Q over an FP8 KV cache
(``EngineSpec.mla_decode_fp8_families``, ``Calibration.mla_decode_attention_fp8_kv``): the format rule by hand, the
catalogue entries, the kernel calibration per engine and family, the MLA operators' decode rate by hand (other
operators keep the activations' rule), and a bad family refused with the file, field and value."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from inferchip.catalog.chips import get_chip_params
from inferchip.catalog.engines import family_kernel_calibration, get_engine, kernel_engine, load_engines
from inferchip.cost.context import cost_context, mla_decode_attention_format
from inferchip.cost.kernels.attention import attention_columns
from inferchip.errors import SpecError
from inferchip.mapping.memory_fit import Formats
from inferchip.mapping.operators import Attention
from inferchip.spec.calibration import Calibration

ENGINES = Path(__file__).resolve().parents[1] / "src" / "inferchip" / "catalog" / "engines.yaml"
W4A4 = Formats("fp4", "fp4", "fp8")  # NVFP4 weights and activations, FP8 KV (the TensorRT-LLM FP4 rows)
# DeepSeek-R1's absorbed MLA: 128 heads, 576 KV elements (512 latent + 64 rope), latent 512
MLA = Attention(q_heads=128, qk_dim=192, v_dim=128, kv_elements_per_token=576, mla=True, latent_dim=512)
GQA = Attention(q_heads=8, qk_dim=128, v_dim=128, kv_elements_per_token=256)


@pytest.mark.parametrize("fmt, flag, expected", [
    (W4A4, False, "bf16"),                          # the activations' rule: 4-bit activations -> 16 bit
    (W4A4, True, "fp8"),                            # the decode kernel quantises Q over the FP8 KV cache
    (Formats("fp4", "fp4", "bf16"), True, "bf16"),  # a 16-bit KV cache: hasFp8KvCache() false
    (Formats("fp8", "fp8", "fp8"), False, "fp8"),   # FP8 activations and KV: FP8 either way
    (Formats("bf16", "bf16", "bf16"), True, "bf16"),
])
def test_the_format_rule(fmt, flag, expected):
    assert mla_decode_attention_format(fmt, Calibration(mla_decode_attention_fp8_kv=flag)) == expected


def test_the_catalogue_entries():
    assert get_engine("trtllm").mla_decode_fp8_families == ("nvidia-hopper", "nvidia-blackwell")
    assert get_engine("sglang").mla_decode_fp8_families == ("nvidia-blackwell",)
    assert all(not e.mla_decode_fp8_families for e in load_engines().engines if e.id not in ("trtllm", "sglang"))


@pytest.mark.parametrize("engine, software, family, expected", [
    ("trtllm", "", "nvidia-blackwell", True),
    ("trtllm", "", "nvidia-hopper", True),
    ("sglang", "", "nvidia-blackwell", True),
    ("sglang", "", "nvidia-hopper", False),        # the Hopper recipes run flashinfer, not trtllm_mla
    ("sglang", "", "amd-cdna4", False),
    ("vllm", "", "nvidia-blackwell", False),
    ("dynamo", "nvidia dynamo + tensorrt-llm", "nvidia-blackwell", True),  # the workers' engine's kernels
])
def test_the_kernel_calibration(engine, software, family, expected):
    e = kernel_engine(get_engine(engine), software)
    assert family_kernel_calibration(Calibration(), e, family).mla_decode_attention_fp8_kv is expected


def test_mla_decode_rate_by_hand():
    # peak 2.25 PFLOP/s (B200 bf16), MLA decode peak 4.5 (its fp8), decode fraction 0.15: the MLA operator decodes
    # at 0.675 PFLOP/s, the GQA one at 0.3375; prefill is untouched (0.5 x 2.25 = 1.125, head rate 1 at 128/192 dims)
    t = attention_columns([MLA, GQA], 2.25e15, 0.15, 0.5, 1.0, 1.0, mla_decode_peak_flop_per_s=4.5e15)
    assert np.allclose(t["decode_attainable_flop_per_s"], [0.675e15, 0.3375e15])
    assert np.allclose(t["prefill_attainable_flop_per_s"], [1.125e15, 1.125e15])
    # FLOP per KV token: 2 x 128 heads x (576 + 512) = 278,528 (dyn43's 278.5 kFLOP a KV token and layer)
    assert t["decode_flop_per_kv_token"][0] == 278_528.0
    base = attention_columns([MLA, GQA], 2.25e15, 0.15, 0.5, 1.0, 1.0)
    assert np.allclose(base["decode_attainable_flop_per_s"], [0.3375e15, 0.3375e15])


def test_cost_context_on_b200():
    chip = get_chip_params("nvidia-b200-180gb")  # dense FP8 4.5 PFLOP/s, BF16 2.25 PFLOP/s
    on = cost_context(chip, W4A4, Calibration(mla_decode_attention_fp8_kv=True))
    assert on.attention_format == "bf16"  # the activations' rule stays for the non-MLA operators
    assert on.peak_mla_decode_attention_flop_per_s is not None
    assert float(np.ravel(on.peak_mla_decode_attention_flop_per_s)[0]) == 4.5e15
    assert float(np.ravel(on.peak_attention_flop_per_s)[0]) == 2.25e15
    assert cost_context(chip, W4A4, Calibration()).peak_mla_decode_attention_flop_per_s is None
    # FP8 activations already decode at FP8: no second peak
    fp8 = cost_context(chip, Formats("fp8", "fp8", "fp8"), Calibration(mla_decode_attention_fp8_kv=True))
    assert fp8.peak_mla_decode_attention_flop_per_s is None


def test_an_unknown_family_is_refused(tmp_path):
    data = yaml.safe_load(ENGINES.read_text(encoding="utf-8"))
    trt = next(e for e in data["engines"] if e["id"] == "trtllm")
    trt["mla_decode_fp8_families"] = ["nvidia-blackwel"]
    bad = tmp_path / "engines.yaml"
    bad.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(SpecError, match=r"engine trtllm: mla_decode_fp8_families entry 'nvidia-blackwel': not a chip "
                                        r"family"):
        load_engines(bad)


def _row(path: Path, case_id: str, metric: str | None = None):
    from inferchip.validation.cases import read_cases

    rows = [c for c in read_cases(path) if c.case_id == case_id and (metric is None or c.metric == metric)]
    assert len(rows) == 1
    return rows[0]


def test_an_analytic_tensorrt_llm_row_takes_its_engines_kernel():
    from inferchip.validation.plan import row_kernel_calibration
    from inferchip.validation.validate import Validator

    cases = ENGINES.parent / "validation_cases.csv"
    row = _row(cases, "trtllmdg-dsr1-b200-dep4-8192-1024")  # TensorRT-LLM 1.0 on B200, W4A4, FP8 KV
    assert row_kernel_calibration(Calibration(), row).mla_decode_attention_fp8_kv is True
    # the same row stated on vLLM keeps the activations' rule: its cache key differs, so both are resolved
    vllm = row.__class__(**{**row.__dict__, "software": "vLLM 0.11"})
    assert row_kernel_calibration(Calibration(mla_decode_attention_fp8_kv=True), vllm).mla_decode_attention_fp8_kv \
        is False
    v = Validator(Calibration())
    fp8, bf16 = v.predict_case(row), v.predict_case(vllm)
    assert fp8.status == "ok" and bf16.status == "ok"
    assert fp8.predicted > bf16.predicted  # the faster decode attention: more output tokens a second


def test_a_dynamo_tensorrt_llm_row_notes_it_on_its_decode_workers_only():
    from inferchip.validation.validate import validate_cases

    cases = ENGINES.parent / "inferencemax_cases.csv"
    row = _row(cases, "imax-dsr1-0528-gb200-dynamo-trt-fp4-disagg-p4x4e4-d32x8e8-1024-1024-c4-r20321908209-ttft")
    r = validate_cases([row], Calibration())[0]
    assert r.status == "ok", r.reason
    hits = [n for n in r.notes if "MLA decode attention in FP8" in n]
    assert len(hits) == 1 and not hits[0].startswith("prefill: ") and "engine trtllm's" in hits[0]
