"""A closed-loop row's simulation is cached per configuration; the row's ``software`` is part of that
configuration (it selects the worker engine's request path, the decode workers' polling and page reserve, the
kernel engine's attention format), so two rows that differ only in it must not share a cached run: validating
B after A gives what B gives alone."""

from __future__ import annotations

from inferchip.spec.calibration import Calibration
from inferchip.validation.cases import COLUMNS, parse_cases
from inferchip.validation.validate import validate_cases

CASE_ID = "imax-gptoss120b-gb200-dynamo-x-fp4-disagg-p1x1e1-d8x2e1-1024-1024-c16-r1-ttft"
TRT = "NVIDIA Dynamo + TensorRT-LLM, PD-disaggregated; nvcr.io#nvidia/ai-dynamo/tensorrtllm-runtime:0.7.0.post2"
SGLANG = "NVIDIA Dynamo + SGLang, PD-disaggregated; lmsysorg/sglang:v0.5.5.post2"


def _row(software: str):
    vals = {"case_id": CASE_ID, "source_kind": "x", "source": "x", "accelerator": "nvidia-gb200-186gb",
            "num_accelerators": "9", "software": software, "model": "openai/gpt-oss-120b", "weight_dtype": "mxfp4",
            "act_dtype": "", "kv_dtype": "", "tp": "2", "pp": "1", "ep": "1", "scenario": "server",
            "input_tokens": "1024", "output_tokens": "1024", "concurrency": "16", "metric": "ttft_ms", "value": "64",
            "unit": "ms", "notes": "1 prefill GPUs (1 worker(s), TP1/EP1, DP-attention false) + 8 decode GPUs "
                                                "(4 worker(s), TP2/EP1, DP-attention false)"}
    return parse_cases(",".join(COLUMNS) + "\n" + ",".join(f'"{vals[c]}"' for c in COLUMNS) + "\n")[0]


def test_rows_differing_only_in_software_do_not_share_a_cached_run():
    trt, sgl = _row(TRT), _row(SGLANG)
    (alone,) = validate_cases([sgl], Calibration())
    after_trt = validate_cases([trt, sgl], Calibration())
    assert alone.status == "ok" and after_trt[1].status == "ok", (alone.reason, after_trt[1].reason)
    assert after_trt[1].predicted == alone.predicted
    assert after_trt[0].predicted != alone.predicted  # the worker engines' request paths differ (sanity)
    assert after_trt[1].notes == alone.notes
