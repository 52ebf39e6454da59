"""Weights per pipeline stage on a layer-pipelined SRAM chip (sram40b): the decoder layers split as vLLM splits
them (``get_pp_indices``, vllm/distributed/utils.py: ``L // pp`` a stage, the ``L % pp`` extra layers one each on
the stages just before the last), the vocab-parallel input embedding on the first stage only and the LM head on the
last only. Before (and still for every other chip, as TensorRT-LLM splits: the extra layers on the first ranks, the
first holding the embedding), the largest stage held ``ceil(L / pp)`` layers and, on top of them, the larger of the
embedding and the LM head.

Hand calculation, Llama-3.1-8B bf16 (32 layers, hidden 4,096, 8 KV heads of 128, MLP 14,336 gated, vocab 128,256,
untied), tp 1:
* a layer: attention q 4,096 x 4,096 + k, v 4,096 x 1,024 each + o 4,096 x 4,096 = 41,943,040 elements; MLP
  3 x 4,096 x 14,336 = 176,160,768; 218,103,808 elements x 2 B = 436,207,616 B;
* the embedding and the LM head: 128,256 x 4,096 x 2 B = 1,050,673,152 B each.
pp 5: 32 // 5 = 6 a stage, 2 left over, on stages 3 and 2: layers (6, 6, 7, 7, 6).
* stage 0: 6 x 436,207,616 + 1,050,673,152 = 3,667,918,848 B;
* stage 1: 2,617,245,696 B; stages 2 and 3: 7 x 436,207,616 = 3,053,453,312 B;
* stage 4: 6 x 436,207,616 + 1,050,673,152 = 3,667,918,848 B.
The largest, 3,667,918,848 B; the old rule gave 7 x 436,207,616 + 1,050,673,152 = 4,104,126,464 B.
tp 2 halves every figure: the LM head's 128,256 / 2 = 64,128 columns and the embedding's rows alike.
"""

from __future__ import annotations

import numpy as np
import pytest

from inferchip.catalog.chips import get_chip_params as load_chip_params
from inferchip.errors import DoesNotFitError
from inferchip.mapping.layout import Layout, candidate_layouts
from inferchip.mapping.memory_fit import stage_layer_counts, stage_weight_bytes, weight_bytes_per_chip
from inferchip.mapping.sharding import shard
from inferchip.performance.predict import predict
from inferchip.performance.setting import resolve_setting

LLAMA8 = "meta-llama/Llama-3.1-8B-Instruct"
LLAMA70 = "meta-llama/Llama-3.1-70B-Instruct"
LAYER_B = 436_207_616
HEAD_B = 1_050_673_152


@pytest.mark.parametrize(("layers", "pp", "counts"), [
    (32, 5, (6, 6, 7, 7, 6)),
    (32, 3, (11, 11, 10)),
    (10, 4, (2, 3, 3, 2)),
    (32, 4, (8, 8, 8, 8)),
    (7, 7, (1,) * 7),
    (5, 1, (5,)),
])
def test_stage_layer_counts_as_vllm_splits(layers, pp, counts):
    assert stage_layer_counts(layers, pp) == counts


def test_stage_layer_counts_of_a_deep_pipeline():
    """80 layers on 72 stages: 1 each, 8 extra on stages 63..70 (the last stage, with the LM head, keeps 1)."""
    counts = stage_layer_counts(80, 72)
    assert sum(counts) == 80
    assert [s for s, n in enumerate(counts) if n == 2] == list(range(63, 71))


def test_stage_layer_counts_refuses_more_stages_than_layers():
    with pytest.raises(ValueError, match="pp must be 1..num_layers"):
        stage_layer_counts(4, 5)


def _bytes(tp: int, pp: int) -> tuple[float, ...]:
    s = resolve_setting("nvidia-h100-sxm-80gb", LLAMA8, tp=1, weights="bf16")
    sm = shard(s.model, Layout(tp=tp, pp=pp))
    return stage_weight_bytes(s.model, sm, s.formats)


def test_stage_bytes_by_hand():
    got = _bytes(1, 5)
    assert got == (6 * LAYER_B + HEAD_B, 6 * LAYER_B, 7 * LAYER_B, 7 * LAYER_B, 6 * LAYER_B + HEAD_B)
    assert got[0] == 3_667_918_848 and got[2] == 3_053_453_312
    assert max(got) == 3_667_918_848 < 7 * LAYER_B + HEAD_B == 4_104_126_464


def test_balanced_only_where_the_family_pipelines_layers():
    """The same shards: the balanced split gives 3,667,918,848 B; the GPU rule (TensorRT-LLM's split) keeps
    7 layers + the embedding, 4,104,126,464 B, byte for byte what it gave before."""
    s = resolve_setting("nvidia-h100-sxm-80gb", LLAMA8, tp=1, weights="bf16")
    sm = shard(s.model, Layout(tp=1, pp=5))
    assert weight_bytes_per_chip(s.model, sm, s.formats, balanced=True) == 3_667_918_848
    assert weight_bytes_per_chip(s.model, sm, s.formats) == 4_104_126_464


def test_stage_bytes_vocab_parallel_over_tp():
    assert _bytes(2, 5) == tuple(b / 2 for b in _bytes(1, 5))


def test_even_split_is_the_old_largest_stage():
    """pp dividing the layers: the largest stage is L / pp layers plus the embedding (or the head), as before."""
    s = resolve_setting("nvidia-h100-sxm-80gb", LLAMA8, tp=1, weights="bf16")
    sm = shard(s.model, Layout(tp=1, pp=4))
    for balanced in (False, True):
        assert weight_bytes_per_chip(s.model, sm, s.formats, balanced) == 8 * LAYER_B + HEAD_B
        sm1 = shard(s.model, Layout(tp=1, pp=1))
        assert weight_bytes_per_chip(s.model, sm1, s.formats, balanced) == 32 * LAYER_B + 2 * HEAD_B


def test_layer_pipeline_is_family_data():
    assert load_chip_params("groq-lpu-v1").layer_pipeline
    assert load_chip_params("cerebras-wse-3").layer_pipeline
    assert not load_chip_params("nvidia-h100-sxm-80gb").layer_pipeline


def test_pp_ceiling_follows_the_layers_on_a_layer_pipeline_chip():
    s = resolve_setting("nvidia-h100-sxm-80gb", LLAMA70, tp=1, weights="bf16")
    gpu = {lay.pp for lay in candidate_layouts(s.model, 640, 8)}
    sram = {lay.pp for lay in candidate_layouts(s.model, 640, 8, layer_pipeline=True)}
    assert max(gpu) == 16
    assert max(sram) == 80  # 640 / tp 8 = 80 stages, one layer each
    assert {20, 40, 80} <= sram and not {20, 40, 80} & gpu


def test_groq_serves_llama_8b_on_576_chips():
    """Before: refused (the search stopped at pp 12 at tp 8 on 576 chips: 0.3 GB a chip). Now pp runs past 16;
    the search's choice at tp 8 is pp 18 (2 layers a stage, 144 chips a replica, 4 replicas). Since groq51 the tp
    domain is the C2C network (10,440 chips) and the search's choice is wider (tp 32 pp 3); tp 8 still fits past
    pp 16."""
    p = predict(GROQ_ID, LLAMA8, count=576, tp=8, pp=18, batch=1, input_tokens=128, output_tokens=128)
    assert (p.tp, p.pp, p.replicas) == (8, 18, 4)


def test_groq_mapped_weights_are_the_balanced_split():
    """Groq x40 at tp 8 pp 5: the mapped model's weights are the largest stage of vLLM's split: Llama-3.1-8B bf16
    at tp 8 pp 5, (6 x 436,207,616 + 1,050,673,152) / 8 = 458,489,856 B (it does not fit; only the bytes are read)."""
    s = resolve_setting(GROQ_ID, LLAMA8, count=40, tp=8, pp=5, weights="bf16")
    assert s.mapped(s.layout).weights_bytes == (6 * LAYER_B + HEAD_B) / 8 == 458_489_856


def test_groq_70b_still_refused_at_tp_8():
    """The first stage's vocab-parallel embedding alone is 128,256 x 8,192 x 2 B / 8 = 262,668,288 B, above the
    211.6 MB a chip keeps: no pipeline depth at tp 8 (the scale-up domain until groq51; now asked for) fits it."""
    with pytest.raises(DoesNotFitError, match="tp=8 pp=72") as err:
        predict(GROQ_ID, LLAMA70, count=576, tp=8, pp=72, weights="fp8", batch=1, input_tokens=128,
                output_tokens=128)
    assert "embedding or LM head alone take 262.7 MB a chip at tp=8" in str(err.value)
    assert "no pipeline depth at this tp fits them" in str(err.value)
    assert "more chips" not in str(err.value)  # more stages of 8 chips cannot shrink the first stage


GROQ_ID = "groq-lpu-v1"


def test_stacked_chips_keep_each_chips_layer_pipeline():
    """A sweep of mixed kinds was refused until stop 41; now the flag is per chip (tests/test_mixed_chip_sweep.py)."""
    from inferchip.spec.params import stack_chips

    stacked = stack_chips([load_chip_params(GROQ_ID), load_chip_params("nvidia-h100-sxm-80gb")])
    assert np.asarray(stacked.layer_pipeline).tolist() == [True, False]
