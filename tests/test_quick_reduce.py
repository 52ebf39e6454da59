"""AMD QuickReduce as a launch recipe selects it (cost/network.py, spec/engine.RecipeAllReduce) and the
recipe prefill chunk by benchmark lengths and concurrency (spec/engine.RecipeChunk): the equations by hand,
the scalar twin equal to the array form, the message sizes the codec applies to, and the shipped SGLang
record (docs/serving_journal.md, "SGLang TTFT round")."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import make_chip, tiny_dense
from inferchip.catalog.engines import get_engine
from inferchip.cost.network import (
    MIB,
    QUICK_REDUCE_CODECS,
    all_reduce_scalar_s,
    all_reduce_time_s,
    quick_reduce_eligible,
)
from inferchip.cost.step import compile_step
from inferchip.mapping.layout import Layout
from inferchip.mapping.memory_fit import Formats
from inferchip.mapping.sharding import shard
from inferchip.spec.calibration import Calibration
from inferchip.spec.engine import EngineSpec, RecipeAllReduce, RecipeChunk

BW, LAT, EFF = 448e9, 3e-6, 0.5
BETA = 1 / (BW * EFF)


def test_int4_quick_reduce_by_hand():
    """TP8, 7,400 prompt tokens of a 7,168-wide 16-bit hidden state (106 MB): two-shot over the INT4 codec's
    wire bytes, 4 alpha + 2 x 7/8 x S x 1152/4096 x beta: 0.245 ms against 0.841 ms for the 16-bit two-shot."""
    s = 7400 * 7168 * 2.0
    plain = 4 * LAT + 2 * 7 / 8 * s * BETA
    int4 = 4 * LAT + 2 * 7 / 8 * s * (1152 / 4096) * BETA
    # 1.75 x 106,086,400 B x 0.28125 = 52.2 MB over 224 GB/s = 0.2331 ms, plus 4 x 3 us
    assert int4 == pytest.approx(12e-6 + 1.75 * 106_086_400 * 0.28125 / 224e9)
    assert int4 == pytest.approx(2.451e-4, rel=1e-3)
    assert all_reduce_time_s(s, 8, BW, LAT, EFF, 1.0) == pytest.approx(plain)
    assert all_reduce_time_s(s, 8, BW, LAT, EFF, 1.0, "int4") == pytest.approx(int4)
    assert all_reduce_scalar_s(s, 8.0, BW, LAT, EFF, 1.0, "int4") == pytest.approx(int4)
    # INT8: 2,176 B per 4,096 B.
    assert all_reduce_time_s(s, 8, BW, LAT, EFF, 1.0, "int8") == pytest.approx(
        4 * LAT + 1.75 * s * (2176 / 4096) * BETA)


def test_quick_reduce_only_for_its_message_sizes_and_groups():
    """Below the codec's smallest message (INT4: 2 MiB at TP8 and TP4, 1 MiB at TP2), in a group of 3 or 16, or
    without direct peer links, the all-reduce is the 16-bit one; a decode batch of 64 (0.92 MB) keeps it."""
    decode = 64 * 7168 * 2.0
    assert decode < 2 * MIB
    for g in (2, 4, 8):
        low = QUICK_REDUCE_CODECS["int4"][1][g]
        assert quick_reduce_eligible(low, g, "int4") == 1.0
        assert quick_reduce_eligible(low * 0.99, g, "int4") == 0.0
    assert quick_reduce_eligible(2 * MIB, 2, "int4") == 1.0
    assert quick_reduce_eligible(64 * MIB, 3, "int4") == 0.0
    assert quick_reduce_eligible(64 * MIB, 16, "int4") == 0.0
    assert quick_reduce_eligible(3 * 1024 * MIB, 8, "int4") == 0.0  # above the 2 GiB buffer
    assert quick_reduce_eligible(64 * MIB, 8, "") == 0.0
    for s, g, direct in ((decode, 8, 1.0), (64 * MIB, 3, 1.0), (64 * MIB, 16, 1.0), (64 * MIB, 8, 0.0)):
        assert all_reduce_time_s(s, g, BW, LAT, EFF, direct, "int4") == pytest.approx(
            all_reduce_time_s(s, g, BW, LAT, EFF, direct))


@settings(max_examples=200, deadline=None)
@given(s=st.floats(0.0, 4e9), g=st.sampled_from([1, 2, 3, 4, 8, 16]), bw=st.floats(1e9, 2e12),
       lat=st.floats(0.0, 1e-4), eff=st.floats(0.05, 1.0), direct=st.sampled_from([0.0, 1.0]),
       codec=st.sampled_from(["", "fp", "int8", "int6", "int4"]))
def test_scalar_twin_equals_array_form_with_codecs(s, g, bw, lat, eff, direct, codec):
    a = float(all_reduce_time_s(s, g, bw, lat, eff, direct, codec))
    assert all_reduce_scalar_s(s, float(g), bw, lat, eff, direct, codec) == pytest.approx(a, rel=1e-12, abs=1e-18)


@settings(max_examples=100, deadline=None)
@given(s=st.floats(2 * MIB, 2e9), g=st.sampled_from([2, 4, 8]), lat=st.floats(0.0, 1e-4))
def test_a_compressing_codec_never_moves_more(s, g, lat):
    """INT4/INT6/INT8 carry fewer bytes than the 16-bit two-shot of the same message, so they are never slower
    than it (the FP codec may be: it trades one-shot for two-shot at its smallest sizes)."""
    two_shot = 4 * lat + 2 * (g - 1) / g * s * BETA
    for codec in ("int4", "int6", "int8"):
        assert all_reduce_time_s(s, g, BW, lat, EFF, 1.0, codec) <= two_shot * (1 + 1e-12)


def test_step_uses_the_codec_for_prefill_not_decode():
    """A TP8 step of a 2-layer dense model (hidden 7,168): 4,096 prompt tokens (58.7 MB per all-reduce) pay the
    INT4 two-shot per all-reduce, 4 of them; a decode step of 8 tokens (115 kB) is unchanged."""
    model = tiny_dense(layers=2, hidden=7168)
    sm = shard(model, Layout(tp=8))
    cal = Calibration(link_bandwidth_fraction=0.5)
    chip = make_chip(link_direct_all_reduce=1.0)

    def comm_s(codec: str, tokens: float, seqs: float) -> float:
        fmt = Formats("bf16", "bf16", "bf16", all_reduce=codec)
        c = compile_step(sm, chip, fmt, cal).cost(tokens, seqs, seqs * 100, tokens * (tokens + 1) / 2 if seqs == 0
                                                  else 0.0)
        return float(c.classes["communication"].network_s)

    beta = 1 / (450e9 * 0.5)
    s = 4096 * 7168 * 2.0
    saved = 4 * 1.75 * s * (1 - 1152 / 4096) * beta
    assert comm_s("", 4096.0, 0.0) - comm_s("int4", 4096.0, 0.0) == pytest.approx(saved, rel=1e-9)
    assert comm_s("int4", 8.0, 8.0) == pytest.approx(comm_s("", 8.0, 8.0))


def test_recipe_all_reduce_on_the_sglang_record():
    """The SGLang record: the MI355X recipes (FP4 and FP8) reduce with INT4; MI300X and NVIDIA chips do not; other
    engines carry no recipe codec."""
    sgl = get_engine("sglang")
    assert sgl.all_reduce_codec_on("amd-mi355x", "mxfp4") == "int4"
    assert sgl.all_reduce_codec_on("amd-mi355x", "fp8") == "int4"
    assert sgl.all_reduce_codec_on("amd-mi300x", "fp8") == ""
    assert sgl.all_reduce_codec_on("nvidia-b200-180gb", "fp8") == ""
    for other in ("vllm", "trtllm", "atom", "dynamo"):
        assert get_engine(other).all_reduce_codec_on("amd-mi355x", "mxfp4") == ""
    eng = EngineSpec(id="x", name="x", match=("x",), step_overhead_s=0.0, request_overhead_s=0.0, max_num_seqs=8,
                     chunk_tokens=512, recipe_all_reduce=(RecipeAllReduce(accelerator="mi355x", weights="fp8",
                                                                          codec="int8"),))
    assert eng.all_reduce_codec_on("amd-mi355x", "fp8") == "int8"
    assert eng.all_reduce_codec_on("amd-mi355x", "mxfp4") == ""
    with pytest.raises(ValueError):
        RecipeAllReduce(accelerator="mi355x", codec="int3")


def test_recipe_chunk_by_lengths_and_concurrency():
    """dsr1_fp4_mi355x.sh: PREFILL_SIZE 32,768 for ISL 8192 / OSL 1024 above 32 clients, else 196,608; the entry
    naming lengths and a concurrency applies only to rows that have them."""
    sgl = get_engine("sglang")
    mi355x = "amd-mi355x"
    assert sgl.chunk_tokens_on(mi355x, "mxfp4", 8, 64, 8192, 1024) == 32768
    assert sgl.chunk_tokens_on(mi355x, "mxfp4", 8, 33, 8192, 1024) == 32768
    assert sgl.chunk_tokens_on(mi355x, "mxfp4", 8, 32, 8192, 1024) == 196608
    assert sgl.chunk_tokens_on(mi355x, "mxfp4", 8, 64, 1024, 1024) == 196608
    assert sgl.chunk_tokens_on(mi355x, "fp8", 8, 64, 8192, 1024) == 196608
    assert sgl.chunk_tokens_on(mi355x, "mxfp4", 8) == 196608  # lengths unknown: the general entry
    r = RecipeChunk(accelerator="b200", input_tokens=1024, min_concurrency=16, tokens=4096)
    assert r.matches("nvidia-b200-180gb", "fp8", 8, 16, 1024, 8192)
    assert not r.matches("nvidia-b200-180gb", "fp8", 8, 15, 1024, 8192)
    assert not r.matches("nvidia-b200-180gb", "fp8", 8, 16, 8192, 1024)
