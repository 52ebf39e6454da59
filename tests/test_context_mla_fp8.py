"""FP8 context MLA on the Dynamo TensorRT-LLM context workers (``WorkerScheduling.mla_context_fp8_families``,
``Calibration.mla_prefill_attention_fp8_kv``): the format rule by hand, the catalogue entry, a bad family refused
with the file, field and value, and the closed-loop notes of a DeepSeek-R1 Dynamo row (prefill workers only)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from inferchip.catalog.engines import get_engine, load_engines
from inferchip.cost.context import prefill_attention_format_of
from inferchip.errors import SpecError
from inferchip.mapping.memory_fit import Formats
from inferchip.spec.calibration import Calibration
from inferchip.validation.cases import read_cases
from inferchip.validation.validate import validate_cases

CASES = Path(__file__).resolve().parents[1] / "src" / "inferchip" / "catalog" / "inferencemax_cases.csv"
ENGINES = Path(__file__).resolve().parents[1] / "src" / "inferchip" / "catalog" / "engines.yaml"
NOTE = "MLA context attention in FP8"
W4A4 = Formats("fp4", "fp4", "fp8")  # NVFP4 weights and activations, FP8 KV: attention at 16 bit by the activations


@pytest.mark.parametrize("fmt, follows, flag, expected", [
    (W4A4, True, False, "bf16"),                                   # the activations' rule: 4-bit activations
    (W4A4, True, True, "fp8"),                                     # FP8 KV: Q, K, V quantised to FP8
    (Formats("fp4", "fp4", "bf16"), True, True, "bf16"),           # a 16-bit KV cache: hasFp8KvCache() false
    (Formats("fp4", "fp4", "fp8", attention_weights="bf16"), True, True, "fp8"),  # 16-bit projections too
    (Formats("fp8", "fp8", "fp8"), False, True, "fp8"),
])
def test_the_format_rule(fmt, follows, flag, expected):
    cal = Calibration(prefill_attention_follows_projections=follows, mla_prefill_attention_fp8_kv=flag)
    assert prefill_attention_format_of(fmt, cal) == expected


def test_the_catalogue_entry_is_the_tensorrt_llm_workers_on_blackwell():
    dyn = get_engine("dynamo")
    trt = dyn.prefill_worker("nvidia dynamo + tensorrt-llm", "fp4", 1)
    sgl = dyn.prefill_worker("nvidia dynamo + sglang", "fp4", 4)
    assert trt is not None and trt.mla_context_fp8_families == ("nvidia-blackwell",)
    assert sgl is not None and sgl.mla_context_fp8_families == ()
    assert all(not w.mla_context_fp8_families for e in load_engines().engines if e.id != "dynamo"
               for w in e.prefill_worker_scheduling)


def test_an_unknown_family_is_refused(tmp_path):
    data = yaml.safe_load(ENGINES.read_text(encoding="utf-8"))
    dyn = next(e for e in data["engines"] if e["id"] == "dynamo")
    dyn["prefill_worker_scheduling"][-1]["mla_context_fp8_families"] = ["nvidia-blackwel"]
    bad = tmp_path / "engines.yaml"
    bad.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(SpecError, match=r"mla_context_fp8_families entry 'nvidia-blackwel': not a chip family"):
        load_engines(bad)


def test_a_deepseek_dynamo_row_notes_it_on_its_prefill_workers_only():
    rows = [c for c in read_cases(CASES)
            if c.case_id == "imax-dsr1-0528-gb200-dynamo-trt-fp4-disagg-p4x4e4-d32x8e8-1024-1024-c4-r20321908209-ttft"]
    assert len(rows) == 1
    r = validate_cases(rows, Calibration())[0]
    assert r.status == "ok", r.reason
    hits = [n for n in r.notes if NOTE in n]
    assert len(hits) == 1 and hits[0].startswith("prefill: ")
