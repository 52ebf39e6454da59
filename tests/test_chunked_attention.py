"""Chunked local attention (Llama 4 ``attention_chunk_size``): which layers, their attention work and KV bytes.

A token at position p of a chunked layer attends to positions floor(p / chunk) * chunk to p (vLLM
ChunkedLocalAttention); a sliding window of the same length attends to the ``window`` positions before p. The
expectations below are worked by hand from those spans.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from inferchip.catalog.hf_config import model_spec_from_config
from inferchip.catalog.models import load_model
from inferchip.cost.kernels.attention import attention_columns, attention_work, chunked_reads, chunked_reads_scalar
from inferchip.errors import SpecError
from inferchip.mapping.layout import Layout
from inferchip.mapping.memory_fit import Formats, kv_bytes_per_sequence
from inferchip.mapping.operators import Attention
from inferchip.mapping.sharding import shard
from inferchip.spec.model import LayerGroup

SCOUT = "meta-llama/Llama-4-Scout-17B-16E-Instruct"
CATALOG = Path(__file__).resolve().parents[1] / "src/inferchip/catalog/models"
CHUNK = 8192


def _scout_config() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CATALOG / "meta-llama__Llama-4-Scout-17B-16E-Instruct.json").read_text())
    return {k: v for k, v in data.items() if not k.startswith("_")}


def _groups(config: dict[str, Any]) -> list[tuple[int, int | None, bool]]:
    spec = model_spec_from_config(config, "test/llama4", "config.json")
    return [(g.count, g.window, g.chunked) for g in spec.layer_groups]


def test_scout_and_maverick_chunk_three_layers_in_four():
    """transformers Llama4TextConfig: no_rope_layers[i] = int((i + 1) % 4 != 0); RoPE layers are chunked."""
    scout = load_model(SCOUT)
    assert [(g.count, g.window, g.chunked, g.moe) for g in scout.layer_groups] == [
        (36, CHUNK, True, True), (12, None, False, True)]
    maverick = load_model("meta-llama/Llama-4-Maverick-17B-128E-Instruct")
    assert sum(g.count for g in maverick.layer_groups if g.chunked) == 36
    assert all(g.window == CHUNK for g in maverick.layer_groups if g.chunked)
    assert any("36 of 48 layers attend within chunks of 8,192 tokens" in d for d in scout.doubts)
    assert not any("modelled as full attention" in d for d in scout.doubts)


def test_layer_types_and_no_rope_layers_are_read():
    cfg = _scout_config()
    text = cfg["text_config"]
    text["layer_types"] = ["full_attention"] * 47 + ["chunked_attention"]
    assert _groups(cfg) == [(47, None, False), (1, CHUNK, True)]
    del text["layer_types"]
    text["no_rope_layers"] = [0] * 46 + [1, 1]
    assert _groups(cfg) == [(46, None, False), (2, CHUNK, True)]
    text["no_rope_layers"] = []
    text["no_rope_layer_interval"] = 2
    assert _groups(cfg) == [(24, CHUNK, True), (24, None, False)]
    text["attention_chunk_size"] = None  # vLLM: ChunkedLocalAttention only where attention_chunk_size is set
    assert _groups(cfg) == [(48, None, False)]


def test_bad_no_rope_layers_name_the_field():
    cfg = copy.deepcopy(_scout_config())
    cfg["text_config"]["no_rope_layers"] = [1, 0, 2] + [1] * 45
    with pytest.raises(SpecError, match=r"config.json: text_config.no_rope_layers = .*each 1 \(RoPE\) or 0"):
        model_spec_from_config(cfg, "test/llama4", "config.json")


def test_a_chunked_group_needs_its_chunk():
    with pytest.raises(ValueError, match="chunk"):
        LayerGroup(count=1, chunked=True)


def _one(a: Any) -> float:
    return float(np.reshape(a, -1)[0])


def _attention(chunked: bool, window: int | None) -> dict[str, Any]:
    # Scout's attention on one chip: 40 query heads of 128, K and V of 8 heads of 128.
    op = Attention(q_heads=40, qk_dim=128, v_dim=128, kv_elements_per_token=2 * 8 * 128, window=window,
                   chunked=chunked)
    return attention_columns([op], 1e15, 0.5, 0.5, 2.0, 2.0)


def test_three_chunk_prompt_flop_by_hand():
    """One prompt of 3 x 8,192 tokens prefilled from scratch in one step (pairs counted causally).

    FLOP per pair: 2 x 40 heads x (128 + 128) = 20,480.
    Full attention: 24,576 x 24,577 / 2 = 302,002,176 pairs -> 6,185,004,564,480 FLOP.
    Sliding window 8,192: 24,576 x 8,192 = 201,326,592 pairs (the cap) -> 4,123,168,604,160 FLOP.
    Chunked 8,192: 3 chunks x 8,192 x 8,193 / 2 = 100,675,584 pairs -> 2,061,835,960,320 FLOP.
    """
    t = np.array(3.0 * CHUNK)
    pairs = np.array(3.0 * CHUNK * (3 * CHUNK + 1) / 2)
    zero = np.array(0.0)
    full = attention_work(_attention(False, None), zero, t, zero, pairs)
    sliding = attention_work(_attention(False, CHUNK), zero, t, zero, pairs)
    chunked = attention_work(_attention(True, CHUNK), zero, t, zero, pairs)
    assert _one(full.flop) == 6_185_004_564_480.0
    assert _one(sliding.flop) == 4_123_168_604_160.0
    assert _one(chunked.flop) == 2_061_835_960_320.0


def test_decode_reads_the_current_chunk():
    """Two sequences at 9,000 cached tokens read 9,000 - 8,192 = 808 each in a chunked layer; at 5,000 (inside the
    first chunk) all 5,000; a sliding window of 8,192 reads 8,192 of 9,000."""
    cols = _attention(True, CHUNK)
    kv_el_bytes = 2 * 8 * 128 * 2.0
    s, zero = np.array(2.0), np.array(0.0)
    far = attention_work(cols, s, zero, np.array(18_000.0), zero)
    assert _one(far.dram_bytes) == (2 * 808 + 2) * kv_el_bytes  # the chunk read plus the new K and V
    near = attention_work(cols, s, zero, np.array(10_000.0), zero)
    assert _one(near.dram_bytes) == (10_000 + 2) * kv_el_bytes
    sliding = attention_work(_attention(False, CHUNK), s, zero, np.array(18_000.0), zero)
    assert _one(sliding.dram_bytes) == (2 * 8192 + 2) * kv_el_bytes


@pytest.mark.parametrize("s,t,kv,pr", [(2.0, 24.0, 38.0, 300.0), (3.0, 0.0, 29.0, 0.0), (0.0, 5.0, 0.0, 15.0),
                                       (1.0, 7.0, 16.0, 1e6)])
def test_scalar_twin_gives_the_same_floats(s, t, kv, pr):
    kv_a, pr_a = chunked_reads(np.array(s), np.array(t), np.array(kv), np.array(pr), 8.0)
    assert chunked_reads_scalar(s, t, kv, pr, 8.0) == (float(kv_a), float(pr_a))


def test_scout_kv_bytes_per_sequence_at_one_million_tokens():
    """bf16 KV, one chip (tp 1): 2 x 8 KV heads x 128 x 2 bytes = 4,096 bytes per token and layer.
    12 NoPE layers hold all 1,048,576 tokens: 12 x 1,048,576 x 4,096 = 51,539,607,552 bytes;
    36 chunked layers hold one chunk: 36 x 8,192 x 4,096 = 1,207,959,552 bytes; 52,747,567,104 in all
    (every layer full, as before: 48 x 1,048,576 x 4,096 = 206,158,430,208)."""
    sm = shard(load_model(SCOUT), Layout(tp=1))
    held = float(kv_bytes_per_sequence(sm, Formats("bf16", "bf16", "bf16"), 1_048_576.0))
    assert held == 52_747_567_104.0
