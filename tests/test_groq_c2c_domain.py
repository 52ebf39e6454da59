"""GroqChip's tensor-parallel domain is its chip-to-chip network, not one GroqNode (groq51).

Groq's ISCA 2022 paper (Abts et al., doi 10.1145/3470496.3527405) describes the C2C network as a software-scheduled
Dragonfly whose every TSP is both endpoint and switch, up to 10,440 TSPs; Groq served Llama-2 70B on "over 500"
of them (Arsovski, SC23). With the domain at 8, Llama-3.1-70B's vocab-parallel LM head alone took
128,256 x 8,192 x 2 B / 8 = 262.7 MB a chip, above the 211.6 MB usable (230 MB x 0.92), and nothing fitted.

Hand calculation, Llama-3.1-70B fp8 at tp 64 pp 9 (80 layers, hidden 8,192, 64 query heads and 8 KV heads of 128,
MLP 28,672 gated, vocab 128,256 untied; the embedding and LM head in bf16), one chip:
* q: 8,192 x (64 x 128 / 64) = 1,048,576 B; k and v: 8 KV heads over 64 chips, so each chip keeps one whole KV
  head (vLLM's QKVParallelLinear replicates KV heads where tp exceeds them): 8,192 x 128 = 1,048,576 B each;
  o: 1,048,576 B; MLP: 3 x 8,192 x 28,672 / 64 = 11,010,048 B; a layer 15,204,352 B;
* vLLM's split of 80 layers over 9 stages: 80 // 9 = 8 a stage, the 8 extra on stages 7..0: (9 x 8, 8);
* the embedding: 128,256 x 8,192 x 2 B / 64 = 32,833,536 B on stage 0; the LM head as much on stage 8;
* stage 0: 9 x 15,204,352 + 32,833,536 = 169,672,704 B; stages 1-7: 136,839,168 B; stage 8: 8 x 15,204,352 +
  32,833,536 = 154,468,352 B. The largest, 169.7 MB, is below 211.6 MB.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from inferchip.catalog.chips import get_chip_params
from inferchip.catalog.models import load_model
from inferchip.errors import DoesNotFitError
from inferchip.mapping.layout import candidate_layouts
from inferchip.mapping.memory_fit import stage_weight_bytes
from inferchip.performance.predict import predict
from inferchip.performance.setting import resolve_setting

GROQ_ID = "groq-lpu-v1"
LLAMA8 = "meta-llama/Llama-3.1-8B-Instruct"
LLAMA70 = "meta-llama/Llama-3.1-70B-Instruct"
LAYER_FP8_TP64_B = 1_048_576 * 4 + 11_010_048
VOCAB_TP64_B = 128_256 * 8_192 * 2 // 64


def test_the_domain_is_the_c2c_network():
    """The catalogue states the network's size, and the search takes a tp of 64 on 576 chips."""
    chip = get_chip_params(GROQ_ID)
    assert chip.max_scaleup_domain == 10_440
    tps = {lay.tp for lay in candidate_layouts(load_model(LLAMA70), 576, chip.max_scaleup_domain, True)}
    assert 64 in tps and 128 not in tps  # 128 does not split 64 heads


def test_stage_bytes_at_tp_64_pp_9_by_hand():
    assert LAYER_FP8_TP64_B == 15_204_352 and VOCAB_TP64_B == 32_833_536
    s = resolve_setting(GROQ_ID, LLAMA70, count=576, tp=64, pp=9, weights="fp8")
    m = s.mapped(s.layout)
    stages = stage_weight_bytes(m.model, m.sm, m.formats)
    assert stages == (9 * LAYER_FP8_TP64_B + VOCAB_TP64_B,) + (9 * LAYER_FP8_TP64_B,) * 7 + (
        8 * LAYER_FP8_TP64_B + VOCAB_TP64_B,)
    assert m.weights_bytes == 169_672_704 < m.budget_bytes == 211_600_000


def test_llama_70b_fits_on_576_groq_chips():
    """Before: refused at every count (tp 8). Now the search's layout is tp 64 pp 9 and one token takes a few ms;
    the rate is reported in the journal, not asserted against Groq's published figure (nothing is fitted to it)."""
    p = predict(GROQ_ID, LLAMA70, count=576, weights="fp8", batch=1, input_tokens=128, output_tokens=128)
    assert (p.tp, p.pp) == (64, 9)
    d = p.to_dict()
    assert 0 < d["tpot_s"] < 0.05 and d["output_tokens_per_s_per_user"] > 20


def test_a_node_wide_tp_is_still_refused_with_the_wider_tp_named():
    """At tp 8 the end stage's vocab share alone is 262.7 MB a chip: no depth fits it, and the advice names the
    next tp that splits the heads (16), which 10,440's divisors alone would not (they stop at 8 for 64 heads)."""
    try:
        predict(GROQ_ID, LLAMA70, count=576, tp=8, pp=72, weights="fp8", batch=1, input_tokens=128,
                output_tokens=128)
    except DoesNotFitError as err:
        assert "262.7 MB a chip at tp=8" in str(err) and "a wider tp splits them further (tp=16)" in str(err), err
    else:
        raise AssertionError("tp 8 pp 72 fitted")


def _fits(count: int, model: str) -> bool:
    try:
        predict(GROQ_ID, model, count=count, weights="fp8", batch=1, input_tokens=128, output_tokens=128)
    except DoesNotFitError:
        return False
    return True


@settings(max_examples=6, deadline=None)
@given(model=st.sampled_from([LLAMA8, LLAMA70]), nodes=st.integers(1, 96), k=st.integers(2, 3))
def test_more_chips_never_make_a_model_stop_fitting(model: str, nodes: int, k: int):
    """Whole GroqNodes of 8: where n chips fit the model, k x n do (the n-chip layout, replicated, is a candidate)."""
    n = 8 * nodes
    if _fits(n, model):
        assert _fits(k * n, model)


@settings(max_examples=20, deadline=None)
@given(tp_exp=st.integers(0, 5), pp=st.integers(1, 79))
def test_wider_or_deeper_never_needs_more_weight_per_chip(tp_exp: int, pp: int):
    """Per-chip weights never grow with tp (a power of two up to 64, splitting 64 heads) or pp (up to 80)."""
    tp = 2**tp_exp

    def worst(t: int, p: int) -> float:
        s = resolve_setting(GROQ_ID, LLAMA70, count=t * p, tp=t, pp=p, weights="fp8")
        return float(s.mapped(s.layout).weights_bytes)

    here = worst(tp, pp)
    assert worst(tp, pp + 1) <= here
    assert worst(2 * tp, pp) <= here
