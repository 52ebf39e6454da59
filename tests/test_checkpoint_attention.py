"""The attention projections as an engine runs the served checkpoint (``EngineSpec.checkpoint_attention``): NVIDIA's
DeepSeek-R1-0528 FP4 v2 under TensorRT-LLM keeps q_a, q_b, kv_a and kv_b in bf16 and runs o in NVFP4; its v1 keeps o
in bf16 too; SGLang runs them as stored as well (its FP8 q_b of PR #11805 is opt-in, SGLANG_NVFP4_CKPT_FP8_GEMM_IN_ATTN,
which the B200 launch script does not set; the GB200 Dynamo + SGLang rows, whose model column is the served name, are
reached by the checkpoint their notes name). By hand: the formats' bytes, the GEMM rules' bytes and peaks, the matching
(model fragment, weights, engine, the checkpoint the row's notes name, whole names only), a bad format or checkpoint
name refused, and a Dynamo TensorRT-LLM row's, an SGLang B200 row's and a deployment-guide row's notes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from conftest import make_chip
from inferchip.catalog.engines import get_engine
from inferchip.cost.context import cost_context
from inferchip.cost.peaks import peak_flop_per_s
from inferchip.cost.rules import gemm_peak_flop_per_s, gemm_weight_bytes
from inferchip.errors import InferchipError
from inferchip.mapping.memory_fit import Formats, layer_weight_bytes
from inferchip.mapping.operators import Gemm
from inferchip.performance.setting import resolve_formats
from inferchip.spec.calibration import Calibration
from inferchip.spec.engine.checkpoints import checkpoint_attention_for, names_checkpoint
from inferchip.validation.cases import read_cases
from inferchip.validation.validate import validate_cases

CASES = Path(__file__).resolve().parents[1] / "src" / "inferchip" / "catalog" / "inferencemax_cases.csv"
GUIDE = CASES.with_name("validation_cases.csv")
V2 = Formats("fp4", "fp4", "fp8", attention_weights="bf16", attention_out_weights="fp4")
Q_B, O_PROJ, EXPERT_LIKE = (Gemm("q_b", 1536, 24576, "attention_proj"), Gemm("o", 16384, 7168, "attention_proj"),
                       Gemm("shared_up", 7168, 4096, "mlp"))


def test_the_formats_bytes_by_hand():
    assert V2.attention_weight_bytes == 2.0            # bf16
    nvfp4 = 0.5 + 1 / 16  # 4 bits, plus one 8-bit scale per 16-element block
    assert V2.attention_out_weight_bytes == nvfp4
    assert layer_weight_bytes(Q_B, V2) == 2.0
    assert layer_weight_bytes(O_PROJ, V2) == nvfp4
    assert layer_weight_bytes(EXPERT_LIKE, V2) == nvfp4
    plain = Formats("fp4", "fp4", "fp8", attention_weights="bf16")  # gpt-oss-like: o as the other projections
    assert plain.attention_out_weight_bytes == 2.0 and layer_weight_bytes(O_PROJ, plain) == 2.0


def test_the_gemm_rules_read_the_output_projection_apart():
    chip = make_chip()
    ctx = cost_context(chip, V2, Calibration())
    assert gemm_weight_bytes(ctx, Q_B) == 2.0 and gemm_weight_bytes(ctx, O_PROJ) == 0.5 + 1 / 16
    assert float(gemm_peak_flop_per_s(ctx, Q_B)[0]) == pytest.approx(float(peak_flop_per_s(chip, "bf16")))
    assert float(gemm_peak_flop_per_s(ctx, O_PROJ)[0]) == pytest.approx(float(peak_flop_per_s(chip, "fp4")))
    assert float(gemm_peak_flop_per_s(ctx, EXPERT_LIKE)[0]) == pytest.approx(float(peak_flop_per_s(chip, "fp4")))


def test_resolve_formats_keeps_only_what_differs_and_refuses_a_bad_format():
    assert resolve_formats("fp4", "fp4", "fp8", "bf16", attention_out_weights="fp4") == V2
    same = resolve_formats("fp4", "fp4", "fp8", "bf16", attention_out_weights="bf16")
    assert same.attention_out_weights is None  # as the other projections: not stored twice
    with pytest.raises(InferchipError, match="attention output weights"):
        resolve_formats("fp4", "fp4", "fp8", "bf16", attention_out_weights="fp5")


V2_NOTES = "checkpoint nvidia/DeepSeek-R1-0528-NVFP4-v2; DEP4"


def _formats(hit):
    assert hit is not None
    return hit[0].attention_weights, hit[0].attention_out_weights, hit[1]


def test_the_entry_matches_deepseek_r1_0528_fp4_under_tensorrt_llm_only():
    trt = get_engine("trtllm").checkpoint_attention
    hit = checkpoint_attention_for(trt, "deepseek-ai/DeepSeek-R1-0528", "fp4", V2_NOTES)
    assert _formats(hit) == ("bf16", "fp4", "nvidia/DeepSeek-R1-0528-NVFP4-v2")
    # the MLPerf rows' model, their notes naming no 0528 checkpoint: no default reaches it
    assert checkpoint_attention_for(trt, "deepseek-ai/DeepSeek-R1", "fp4", "MLPerf Inference v5.1 closed") is None
    assert checkpoint_attention_for(trt, "deepseek-ai/DeepSeek-R1-0528", "fp8", V2_NOTES) is None
    assert checkpoint_attention_for(get_engine("vllm").checkpoint_attention, "deepseek-ai/DeepSeek-R1-0528",
                                    "fp4", V2_NOTES) is None  # no entry read for vLLM


def test_the_format_follows_the_checkpoint_the_row_names():
    trt = get_engine("trtllm").checkpoint_attention
    # both published names of v2 (FP4-v2, NVFP4-v2), any case: o in NVFP4 on top of the bf16 projections
    for notes, name in (("serves nvidia/DeepSeek-R1-0528-FP4-V2 on GB200", "nvidia/DeepSeek-R1-0528-FP4-v2"),
                        ("model nvidia/deepseek-r1-0528-nvfp4-v2.", "nvidia/DeepSeek-R1-0528-NVFP4-v2")):
        assert _formats(checkpoint_attention_for(trt, "deepseek-ai/DeepSeek-R1-0528", "fp4", notes)) == (
            "bf16", "fp4", name), notes
    # v1 leaves wo unquantised too (the v2 card): all five bf16, o as the others
    v1 = checkpoint_attention_for(trt, "deepseek-ai/DeepSeek-R1-0528", "fp4", "checkpoint nvidia/DeepSeek-R1-0528-FP4;")
    assert _formats(v1) == ("bf16", "", "nvidia/DeepSeek-R1-0528-FP4")
    # a row naming none of the listed checkpoints (a CLI row; a longer name that merely starts with v1's) takes the
    # first entry, v2, and no name: its note says it was assumed
    for notes in ("NVFP4 weights, DEP4", "nvidia/DeepSeek-R1-0528-FP4-v3"):
        assert _formats(checkpoint_attention_for(trt, "deepseek-ai/DeepSeek-R1-0528", "fp4", notes)) == (
            "bf16", "fp4", None), notes


def test_names_checkpoint_takes_whole_names_only():
    assert names_checkpoint("checkpoint nvidia/deepseek-r1-0528-fp4-v2 (ok)", "nvidia/DeepSeek-R1-0528-FP4-v2")
    assert names_checkpoint("ends with nvidia/deepseek-r1-0528-fp4.", "nvidia/DeepSeek-R1-0528-FP4")
    assert not names_checkpoint("nvidia/deepseek-r1-0528-fp4-v2", "nvidia/DeepSeek-R1-0528-FP4")
    assert not names_checkpoint("xnvidia/deepseek-r1-0528-fp4", "nvidia/DeepSeek-R1-0528-FP4")
    assert not names_checkpoint("/mnt/nvidia/deepseek-r1-0528-fp4", "nvidia/DeepSeek-R1-0528-FP4")


def test_a_deployment_guide_row_is_priced_as_its_checkpoint_and_a_v1_row_as_v1_and_a_row_naming_none_as_v2():
    rows = [c for c in read_cases(GUIDE) if c.case_id == "trtllmdg-dsr1-b200-dep4-8192-1024"]
    r = validate_cases(rows, Calibration())[0]
    assert r.status == "ok", r.reason
    hits = [n for n in r.notes if "(checkpoint_attention)" in n]
    # the row names both published names of v2; the note gives the entry's first
    assert hits == ["attention projections as engine trtllm runs the served checkpoint "
                    "nvidia/DeepSeek-R1-0528-FP4-v2: q_a, q_b, kv_a, kv_b in bf16, o in fp4 (checkpoint_attention)"]
    v1 = replace(rows[0], case_id="v1-row", notes=rows[0].notes.replace("nvidia/DeepSeek-R1-0528-NVFP4-v2",
                                                                       "nvidia/DeepSeek-R1-0528-FP4").replace(
        "nvidia/DeepSeek-R1-0528-FP4-v2", "nvidia/DeepSeek-R1-0528-FP4"))
    r1 = validate_cases([v1], Calibration())[0]
    assert r1.status == "ok", r1.reason
    assert [n for n in r1.notes if "(checkpoint_attention)" in n] == [
        "attention projections as engine trtllm runs the served checkpoint nvidia/DeepSeek-R1-0528-FP4: q_a, q_b, "
        "kv_a, kv_b in bf16, o in bf16 (checkpoint_attention)"]
    # o read at 2 bytes instead of NVFP4's 0.5 + 1/16: the v1 row can only be slower
    assert r1.predicted < r.predicted
    none = replace(rows[0], case_id="unnamed-row", notes="DEP4, kv fp8")
    r0 = validate_cases([none], Calibration())[0]
    assert [n for n in r0.notes if "(checkpoint_attention)" in n] == [
        "attention projections as engine trtllm runs the served checkpoint nvidia/DeepSeek-R1-0528-FP4-v2 (no listed "
        "checkpoint named: the catalogue's first assumed): q_a, q_b, kv_a, kv_b in bf16, o in fp4 "
        "(checkpoint_attention)"]
    assert r0.predicted == r.predicted


def test_a_dynamo_tensorrt_llm_row_notes_it_once():
    rows = [c for c in read_cases(CASES)
            if c.case_id == "imax-dsr1-0528-gb200-dynamo-trt-fp4-disagg-p4x4e4-d32x8e8-1024-1024-c4-r20321908209-ttft"]
    r = validate_cases(rows, Calibration())[0]
    assert r.status == "ok", r.reason
    hits = [n for n in r.notes if "(checkpoint_attention)" in n]
    assert len(hits) == 1 and "engine trtllm" in hits[0]
    assert "checkpoint nvidia/DeepSeek-R1-0528-FP4-v2: q_a, q_b, kv_a, kv_b in bf16, o in fp4" in hits[0]


def test_a_bad_format_in_the_catalogue_is_refused(tmp_path):
    import yaml

    from inferchip.catalog.engines import load_engines
    from inferchip.errors import SpecError

    engines = Path(__file__).resolve().parents[1] / "src" / "inferchip" / "catalog" / "engines.yaml"
    data = yaml.safe_load(engines.read_text(encoding="utf-8"))
    trt = next(e for e in data["engines"] if e["id"] == "trtllm")
    trt["checkpoint_attention"][0]["attention_weights"] = "bf17"
    bad = tmp_path / "engines.yaml"
    bad.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(SpecError, match=r"checkpoint_attention entry of 'deepseek-r1-0528': format 'bf17'"):
        load_engines(bad)


def test_a_checkpoint_that_is_no_published_name_is_refused(tmp_path):
    import yaml

    from inferchip.catalog.engines import load_engines
    from inferchip.errors import SpecError

    engines = Path(__file__).resolve().parents[1] / "src" / "inferchip" / "catalog" / "engines.yaml"
    data = yaml.safe_load(engines.read_text(encoding="utf-8"))
    trt = next(e for e in data["engines"] if e["id"] == "trtllm")
    trt["checkpoint_attention"][0]["checkpoints"] = ["DeepSeek-R1-0528-FP4-v2"]  # no owner
    bad = tmp_path / "engines.yaml"
    bad.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(SpecError, match=r"checkpoints 'DeepSeek-R1-0528-FP4-v2' is not a published checkpoint name"):
        load_engines(bad)


SGLANG_B200 = "imax-dsr1-0528-b200-sglang-fp4-tp4ep4-1024-1024-c4-r20286929996-tpot"


def test_sglang_runs_the_fp4_checkpoints_attention_as_stored():
    sgl = get_engine("sglang").checkpoint_attention
    # the B200 rows' notes name v2 in upper case: bf16 q_a, q_b, kv_a, kv_b, NVFP4 o; v1: all five bf16
    assert _formats(checkpoint_attention_for(sgl, "deepseek-ai/DeepSeek-R1-0528", "fp4",
                                             "checkpoint nvidia/DeepSeek-R1-0528-FP4-V2 (served as")) == (
        "bf16", "fp4", "nvidia/DeepSeek-R1-0528-FP4-v2")
    assert _formats(checkpoint_attention_for(sgl, "deepseek-ai/DeepSeek-R1-0528", "fp4",
                                             "checkpoint nvidia/DeepSeek-R1-0528-FP4;")) == (
        "bf16", "", "nvidia/DeepSeek-R1-0528-FP4")
    # the FP8 checkpoint is not reached
    assert checkpoint_attention_for(sgl, "deepseek-ai/DeepSeek-R1-0528", "fp8", V2_NOTES) is None


def test_a_served_name_is_reached_by_the_checkpoint_its_notes_name_and_never_by_a_shorter_fragment():
    sgl = get_engine("sglang").checkpoint_attention
    # the GB200 Dynamo + SGLang rows: model column the served name deepseek-ai/DeepSeek-R1, notes naming v2
    assert _formats(checkpoint_attention_for(sgl, "deepseek-ai/DeepSeek-R1", "fp4", V2_NOTES)) == (
        "bf16", "fp4", "nvidia/DeepSeek-R1-0528-NVFP4-v2")
    # the served name naming no checkpoint, or another one (MLPerf's nvidia/DeepSeek-R1-FP4), takes no default:
    # the entries' fragment deepseek-r1-0528 is not in its id
    assert checkpoint_attention_for(sgl, "deepseek-ai/DeepSeek-R1", "fp4", "served as deepseek-ai/DeepSeek-R1") is None
    assert checkpoint_attention_for(sgl, "deepseek-ai/DeepSeek-R1", "fp4", "checkpoint nvidia/DeepSeek-R1-FP4;") is None
    # a row of another model whose notes name the checkpoint in passing is not reached
    assert checkpoint_attention_for(sgl, "moonshotai/Kimi-K2-Instruct", "fp4", V2_NOTES) is None


def test_the_gb200_dynamo_sglang_rows_are_priced_as_the_checkpoint_the_runner_loads():
    from inferchip.validation.plan import case_formats

    rows = [c for c in read_cases(CASES) if c.software.startswith("NVIDIA Dynamo + SGLang") and c.weight_dtype == "fp4"
            and c.model == "deepseek-ai/DeepSeek-R1"]
    assert len(rows) == 276
    for row in rows:
        fmt, notes = case_formats(row)
        assert (fmt.weights, fmt.attention_weights, fmt.attention_out_weights) == ("fp4", "bf16", "fp4"), row.case_id
        assert len([n for n in notes if "(checkpoint_attention)" in n and "DeepSeek-R1-0528-FP4-v2:" in n]) == 1


def test_an_sglang_b200_row_is_priced_with_bf16_projections_and_an_nvfp4_output_projection(monkeypatch):
    from inferchip.spec.engine import checkpoints
    from inferchip.validation.plan import case_formats

    row = next(c for c in read_cases(CASES) if c.case_id == SGLANG_B200)
    fmt, notes = case_formats(row)
    assert (fmt.weights, fmt.attention_weights, fmt.attention_out_weights) == ("fp4", "bf16", "fp4")
    assert [n for n in notes if "(checkpoint_attention)" in n] == [
        "attention projections as engine sglang runs the served checkpoint nvidia/DeepSeek-R1-0528-FP4-v2: q_a, q_b, "
        "kv_a, kv_b in bf16, o in fp4 (checkpoint_attention)"]
    r = validate_cases([row], Calibration())[0]
    assert r.status == "ok", r.reason
    # the same row without the entry (the price before it: the projections at the checkpoint's NVFP4): the bf16
    # projections stream 2 bytes a weight where NVFP4 streams 0.5 + 1/16, so the row's TPOT can only be shorter
    monkeypatch.setattr(checkpoints, "checkpoint_attention_for", lambda *args: None)
    before = replace(row, case_id="without-the-entry")
    assert case_formats(before)[0].attention_weights is None
    r0 = validate_cases([before], Calibration())[0]
    assert r0.status == "ok", r0.reason
    assert r0.predicted < r.predicted
