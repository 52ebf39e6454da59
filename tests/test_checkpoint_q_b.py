"""MLA's q_b in its own format (``CheckpointAttention.q_b_weights``, ``Formats.attention_q_b_weights``): SGLang
requantises the stored bf16 q_b of NVIDIA's DeepSeek-R1-0528 FP4 v2 to FP8 (128x128 block scales) where the launch
recipe sets SGLANG_NVFP4_CKPT_FP8_GEMM_IN_ATTN, the GB200 Dynamo recipes of one 32- or 48-GPU decode worker
(``decode_worker_chips``). By hand: one GEMM's bytes and peak, the lookup by the decode worker's chips, the rows of
each recipe, and a bad format refused."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import make_chip
from inferchip.catalog.engines import get_engine
from inferchip.cost.context import cost_context
from inferchip.cost.peaks import peak_flop_per_s
from inferchip.cost.rules import gemm_peak_flop_per_s, gemm_weight_bytes
from inferchip.mapping.memory_fit import Formats, layer_weight_bytes
from inferchip.mapping.operators import Gemm
from inferchip.spec.calibration import Calibration
from inferchip.spec.engine.checkpoints import checkpoint_attention_for
from inferchip.validation.cases import read_cases

CASES = Path(__file__).resolve().parents[1] / "src" / "inferchip" / "catalog" / "inferencemax_cases.csv"
FP8_Q_B = Formats("fp4", "fp4", "fp8", attention_weights="bf16", attention_out_weights="fp4",
                  attention_q_b_weights="fp8")
# DeepSeek-R1's q_b: q_lora_rank 1536 in, 128 heads x (128 + 64) out; kv_b and o beside it
Q_B, KV_B, O_PROJ = (Gemm("q_b", 1536, 24576, "attention_proj"), Gemm("kv_b", 512, 32768, "attention_proj"),
                     Gemm("o", 16384, 7168, "attention_proj"))
V2_NOTES = "checkpoint nvidia/DeepSeek-R1-0528-FP4-v2 by the runner"


def test_one_q_b_gemm_by_hand():
    chip = make_chip()
    ctx = cost_context(chip, FP8_Q_B, Calibration())
    # FP8: one byte a weight (the 128x128 block scales, one FP32 per 16,384 weights, not counted): 1536 x 24576
    # weights stream 37,748,736 bytes a layer where bf16 streams twice that
    assert layer_weight_bytes(Q_B, FP8_Q_B) == 1.0 and gemm_weight_bytes(ctx, Q_B) == 1.0
    assert 1536 * 24576 * gemm_weight_bytes(ctx, Q_B) == 37_748_736
    # its MMA at the chip's FP8 peak (FP8 weights over the rows' 4-bit activations: the wider operand sets the math)
    assert float(gemm_peak_flop_per_s(ctx, Q_B)[0]) == pytest.approx(float(peak_flop_per_s(chip, "fp8")))
    # the others as before: kv_b bf16, o NVFP4
    assert layer_weight_bytes(KV_B, FP8_Q_B) == 2.0 and gemm_weight_bytes(ctx, KV_B) == 2.0
    assert float(gemm_peak_flop_per_s(ctx, KV_B)[0]) == pytest.approx(float(peak_flop_per_s(chip, "bf16")))
    assert gemm_weight_bytes(ctx, O_PROJ) == 0.5 + 1 / 16
    # unset: q_b as the other projections
    plain = Formats("fp4", "fp4", "fp8", attention_weights="bf16", attention_out_weights="fp4")
    assert layer_weight_bytes(Q_B, plain) == 2.0 and plain.attention_q_b_weight_bytes == 2.0


def test_the_entry_follows_the_decode_workers_chips():
    sgl = get_engine("sglang").checkpoint_attention

    def q_b(chips: int) -> str:
        hit = checkpoint_attention_for(sgl, "deepseek-ai/DeepSeek-R1", "fp4", V2_NOTES, chips)
        assert hit is not None
        return hit[0].q_b_weights or hit[0].attention_weights

    assert q_b(48) == q_b(32) == "fp8"  # the max-tpt and mid-curve recipes
    assert q_b(4) == q_b(0) == "bf16"  # the low-latency recipes' 4-GPU decode workers; no decode worker (CLI, B200)


def test_each_recipes_rows_take_its_q_b():
    from inferchip.validation.plan import case_formats

    seen = {}
    for row in read_cases(CASES):
        if "gb200-dynamo-sglang-fp4" not in row.case_id:
            continue
        fmt, notes = case_formats(row)
        chips = int(re.search(r"(\d+) decode GPUs \((\d+) worker", row.notes).group(1)) // int(
            re.search(r"decode GPUs \((\d+) worker", row.notes).group(1))
        seen.setdefault(chips, set()).add((fmt.attention_weights, fmt.attention_q_b_weights, fmt.attention_out_weights))
        if fmt.attention_q_b_weights:
            assert any("q_b in fp8 (the launch recipe of a" in n for n in notes)
    assert seen == {4: {("bf16", None, "fp4")}, 32: {("bf16", "fp8", "fp4")}, 48: {("bf16", "fp8", "fp4")}}


def test_a_bad_q_b_format_or_worker_size_is_refused(tmp_path):
    import yaml

    from inferchip.catalog.engines import load_engines
    from inferchip.errors import SpecError

    engines = Path(__file__).resolve().parents[1] / "src" / "inferchip" / "catalog" / "engines.yaml"
    data = yaml.safe_load(engines.read_text(encoding="utf-8"))
    sgl = next(e for e in data["engines"] if e["id"] == "sglang")
    sgl["checkpoint_attention"][0]["q_b_weights"] = "fp5"
    bad = tmp_path / "engines.yaml"
    bad.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(SpecError, match=r"format 'fp5' is not a number format"):
        load_engines(bad)
    sgl["checkpoint_attention"][0].update(q_b_weights="fp8", decode_worker_chips=[0])
    bad.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(SpecError, match=r"decode_worker_chips"):
        load_engines(bad)
