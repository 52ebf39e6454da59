"""The Marlin MXFP4 MoE's padded expert widths (mapping.sharding.pad_experts), by hand.

vLLM ``Mxfp4MoEMethod.create_weights`` (Marlin backend) rounds the per-rank intermediate width up to 128 and the
hidden width up to 256; gpt-oss-120b has hidden 2,880 and expert width 2,880, so on a rank of TP t the expert
GEMMs run at hidden 3,072 and width round_up(2,880 / t, 128).
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from pydantic import ValidationError

from inferchip.catalog.engines import get_engine, moe_kernel_entry
from inferchip.catalog.models import load_model
from inferchip.mapping.layout import Layout
from inferchip.mapping.operators import GroupedGemm
from inferchip.mapping.sharding import pad_experts, shard
from inferchip.spec.engine import RecipeMoeKernel

GPT_OSS = "openai/gpt-oss-120b"


def _experts(sm: object) -> dict[str, GroupedGemm]:
    layer = sm.layers[0]  # type: ignore[attr-defined]
    return {g.name: g for g in layer.gemms if isinstance(g, GroupedGemm)}


@pytest.mark.parametrize(("tp", "width"), [(1, 2944), (2, 1536), (4, 768), (8, 384)])
def test_gpt_oss_marlin_widths_by_hand(tp: int, width: int) -> None:
    m = load_model(GPT_OSS)
    assert m.hidden_size == 2880 and m.expert_intermediate_size == 2880 and m.mlp_gated
    sm = shard(m, Layout(tp=tp))
    before = _experts(sm)
    assert before["experts_up"].k == 2880 and before["experts_up"].n == 2 * 2880 // tp
    padded = _experts(pad_experts(sm, 256, 128, gated=True))
    up, down = padded["experts_up"], padded["experts_down"]
    assert (up.k, up.n) == (3072, 2 * width)  # hidden 2,880 -> 3,072; the gated pair of widths
    assert (down.k, down.n) == (width, 3072)
    # the MACs (and weight elements) per expert grow by 3,072 x width / (2,880 x 2,880 / tp): 1.090 at TP1, 1.138 above
    ratio = up.weight_elements / before["experts_up"].weight_elements
    assert ratio == pytest.approx(3072 * width / (2880 * 2880 / tp))
    assert ratio == pytest.approx(1.0904, abs=1e-4) if tp == 1 else ratio == pytest.approx(1.1378, abs=1e-4)
    assert up.experts == before["experts_up"].experts and up.routed_fraction == before["experts_up"].routed_fraction


def test_other_operators_keep_their_shapes() -> None:
    m = load_model(GPT_OSS)
    sm = shard(m, Layout(tp=2))
    out = pad_experts(sm, 256, 128, gated=True)
    for a, b in zip(sm.layers, out.layers, strict=True):
        for ga, gb in zip(a.gemms, b.gemms, strict=True):
            if not isinstance(ga, GroupedGemm):
                assert ga == gb
        assert a.attention == b.attention and a.collectives == b.collectives and a.count == b.count
    assert out.lm_head == sm.lm_head and out.hidden == sm.hidden


def test_multiples_of_one_and_bad_multiples() -> None:
    sm = shard(load_model(GPT_OSS), Layout(tp=2))
    assert pad_experts(sm, 1, 1, gated=True) is sm
    with pytest.raises(ValueError, match="hidden_to=0"):
        pad_experts(sm, 0, 128, gated=True)
    with pytest.raises(ValidationError, match="pad_hidden_to"):  # the padding is the moe_kernels entry's, not its own
        RecipeMoeKernel(accelerator="h100", kernel="marlin", mma_peak_fraction=0.5, pad_hidden_to=256)


def test_shipped_vllm_hopper_recipe_pads() -> None:
    """The Hopper recipes' Marlin kernel pads as its moe_kernels entry says: hidden to 256, rank width to 128."""
    e = get_engine("vllm")
    for chip in ("nvidia-h100-sxm-80gb", "nvidia-h200-sxm-141gb"):
        k = e.moe_kernel_on(chip, "mxfp4")
        assert k is not None and k.kernel == "marlin"
        entry = moe_kernel_entry("vllm", "mxfp4", k.kernel, "nvidia-hopper", chip)
        assert (entry.pad_hidden_to, entry.pad_intermediate_to) == (256, 128)


def test_the_closed_loop_replica_holds_and_reads_the_padded_experts() -> None:
    """An H100 vLLM gpt-oss-120b TP2 row (its recipe selects Marlin): the replica's sharded model is the padded
    one, its weight bytes are those of the padded shapes (what the KV pool is left after), and the unpadded
    setting would hold the difference as KV cache: the expert bytes grow x1.138 at TP2, nothing else does."""
    from conftest import shipped_case
    from inferchip.catalog.calibration_file import load_calibration
    from inferchip.mapping.memory_fit import weight_bytes_per_chip
    from inferchip.validation.closed_loop_facts import row_facts
    from inferchip.validation.closed_loop_rows import _replica
    from inferchip.validation.plan import case_formats
    from inferchip.validation.validate import Validator

    case = shipped_case("imax-gptoss120b-h100-vllm-fp4-tp2ep1-1024-1024-c4-r20218553330-tpot")
    v = Validator(load_calibration())
    fmt, _ = case_formats(case)
    facts = row_facts(case)
    rep, layout, notes = _replica(v, case, fmt, facts.decode, facts)
    assert layout.tp == 2 and any("widths padded to multiples of 256 (hidden) and 128" in n for n in notes)
    m = load_model(GPT_OSS)
    plain = shard(m, layout)
    padded = rep.mm.sm
    assert _experts(padded)["experts_up"].n == 2 * 1536 and _experts(padded)["experts_down"].n == 3072
    assert rep.mm.weights_bytes == pytest.approx(weight_bytes_per_chip(m, padded, rep.mm.formats))
    # the growth is the routed experts' alone: (x1.138 - 1) of their bytes, per layer, every layer
    per_layer = sum(g.weight_elements for g in _experts(plain).values()) * rep.mm.formats.weight_bytes
    growth = rep.mm.weights_bytes - weight_bytes_per_chip(m, plain, rep.mm.formats)
    assert growth == pytest.approx(m.num_layers * per_layer * (3072 * 1536 / (2880 * 1440) - 1.0), rel=1e-9)
    assert rep.mm.kv_capacity_tokens() < replace(rep.mm, sm=plain, weights_bytes=rep.mm.weights_bytes - growth
                                                 ).kv_capacity_tokens()
