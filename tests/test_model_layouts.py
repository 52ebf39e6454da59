"""Layer layouts of the bundled models (sliding windows, MoE placement, family conventions), ids and aliases."""

from __future__ import annotations

import pytest

from inferchip.catalog.models import load_model, resolve_alias
from inferchip.errors import UnknownIdError
from inferchip.workload.params import total_params


def windows(spec) -> dict[int | None, int]:
    out: dict[int | None, int] = {}
    for g in spec.layer_groups:
        out[g.window] = out.get(g.window, 0) + g.count
    return out


# ----------------------------------------------------------- windows and MoE placement
def test_gemma2_alternates_local_and_global():
    spec = load_model("google/gemma-2-9b")
    assert windows(spec) == {4096: 21, None: 21}
    assert spec.tie_word_embeddings and spec.norms_per_layer == 4


def test_gemma3_five_local_to_one_global():
    spec = load_model("google/gemma-3-27b-it")
    # layers 5, 11, ..., 59 (1-based multiples of 6) are global: 10 of 62
    assert windows(spec) == {1024: 52, None: 10}
    assert spec.qk_norm and spec.hidden_size == 5376


def test_llama4_interleaved_moe_and_shared_expert():
    maverick = load_model("meta-llama/Llama-4-Maverick-17B-128E-Instruct")
    assert maverick.num_moe_layers == 24 and maverick.num_layers == 48
    assert (maverick.intermediate_size, maverick.expert_intermediate_size) == (16384, 8192)
    assert maverick.shared_intermediate_size == 8192
    assert load_model("meta-llama/Llama-4-Scout-17B-16E-Instruct").num_moe_layers == 48


def test_sliding_windows_per_family():
    assert windows(load_model("mistralai/Mistral-7B-v0.1")) == {4096: 32}
    assert windows(load_model("mistralai/Mistral-7B-v0.3")) == {None: 32}
    assert windows(load_model("microsoft/Phi-3-mini-4k-instruct")) == {2047: 32}
    assert windows(load_model("Qwen/Qwen2.5-7B")) == {None: 28}  # sliding_window inert: use_sliding_window false
    assert windows(load_model("openai/gpt-oss-20b")) == {128: 12, None: 12}
    assert load_model("Qwen/Qwen3-30B-A3B").num_moe_layers == 48


def test_falcon_and_gptj_conventions():
    falcon = load_model("tiiuae/falcon-40b")
    assert (falcon.num_kv_heads, falcon.intermediate_size, falcon.norms_per_layer) == (8, 4 * 8192, 2)
    assert falcon.tie_word_embeddings and falcon.norm_bias and not falcon.mlp_gated and falcon.parallel_attn_mlp
    gptj = load_model("EleutherAI/gpt-j-6b")
    assert (gptj.norms_per_layer, gptj.intermediate_size, gptj.head_dim) == (1, 16384, 256)
    assert gptj.lm_head_bias and gptj.mlp_bias and not gptj.qkv_bias


def test_grok1_without_model_type():
    spec = load_model("xai-org/grok-1")
    assert spec.model_type == "grok-1" and spec.tie_word_embeddings
    assert (spec.num_experts, spec.experts_per_token, spec.num_moe_layers) == (8, 2, 64)


def test_metadata_carried():
    spec = load_model("deepseek-ai/DeepSeek-V3")
    assert spec.source and spec.source.startswith("https://")
    assert any("num_nextn_predict_layers" in d for d in spec.doubts)


# ------------------------------------------------------------------------- ids, aliases
def test_alias_resolves_to_base_shapes_and_keeps_id():
    assert resolve_alias("meta-llama/Llama-2-70b-chat-hf") == "meta-llama/Llama-2-70b-hf"
    assert resolve_alias("meta-llama/Llama-2-70b-hf") == "meta-llama/Llama-2-70b-hf"
    chat, base = load_model("meta-llama/Llama-2-70b-chat-hf"), load_model("meta-llama/Llama-2-70b-hf")
    assert chat.id == "meta-llama/Llama-2-70b-chat-hf"
    assert chat.model_dump(exclude={"id", "doubts"}) == base.model_dump(exclude={"id", "doubts"})
    assert total_params(chat) == total_params(base)


def test_unknown_id_suggests_close_ids():
    with pytest.raises(UnknownIdError) as err:
        load_model("meta-llama/Llama-2-7b")
    assert "meta-llama/Llama-2-7b-hf" in err.value.closest
    assert "meta-llama/Llama-2-7b-hf" in str(err.value)


def test_ids_are_matched_case_insensitively_and_without_organisation():
    assert load_model("META-LLAMA/llama-2-7b-HF").id == "meta-llama/Llama-2-7b-hf"
    assert load_model("qwen3-8b").id == "Qwen/Qwen3-8B"
