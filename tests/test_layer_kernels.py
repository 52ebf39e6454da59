"""Kernels per decode layer, counted from the architecture (mapping/sharding.layer_small_kernels).

Hand counts from the engines' decode paths (sources in the function's docstring): every layer
two fused add+norms, rotary and the KV-cache write; MLA two latent norms and a second absorbed
up-projection; MoE top-k, token sort by expert and the combine of the k outputs.
"""

from __future__ import annotations

import pytest

from inferchip.catalog.models import load_model
from inferchip.mapping.layout import Layout
from inferchip.mapping.sharding import layer_small_kernels, shard


def _kernels_per_layer(name: str) -> list[int]:
    """Every kernel of each layer kind with a fixed launch cost in decode: weight GEMMs, attention, small kernels."""
    sm = shard(load_model(name), Layout(tp=8, ep=8))
    return [len(layer.gemms) + 1 + layer.elementwise.kernels for layer in sm.layers]


@pytest.mark.parametrize("name, small", [
    ("meta-llama/Llama-3.1-70B", [4]),                      # dense GQA
    ("openai/gpt-oss-120b", [7]),                           # GQA + MoE: 4 + 3
    ("deepseek-ai/DeepSeek-R1", [7, 10]),                   # MLA dense layers 4 + 3, MLA + MoE layers + 3
    ("deepseek-ai/DeepSeek-V2-Lite", [6, 9]),               # MLA without a query LoRA: one latent norm fewer
])
def test_small_kernels_by_architecture(name: str, small: list[int]) -> None:
    m = load_model(name)
    assert sorted({layer_small_kernels(m, g) for g in m.layer_groups}) == small


def test_deepseek_decode_layer_total() -> None:
    # DeepSeek-R1 MoE layer: q_a, q_b, kv_a, kv_b, o, router, experts up/down, shared up/down (10 GEMMs),
    # one attention kernel, 10 small kernels: 21; gpt-oss: qkv, o, router, experts up/down, attention, 7 small: 13.
    assert max(_kernels_per_layer("deepseek-ai/DeepSeek-R1")) == 21
    assert set(_kernels_per_layer("openai/gpt-oss-120b")) == {13}  # sliding and full layers alike
