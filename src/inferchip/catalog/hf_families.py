"""Per-``model_type`` builders of Hugging Face configs: the keys each family uses and the
conventions its config leaves implicit (each one from the family's reference code, as
recorded in ``reference/models/README.md`` of the bundle).

Each builder takes a :class:`~inferchip.catalog.hf_reader.ConfigReader` and returns
:data:`~inferchip.catalog.hf_reader.Built`: the ModelSpec fields, the per-layer list of
(sliding window in tokens or None, is the FFN a MoE block), and notes on implied conventions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from inferchip.catalog.hf_reader import (
    HF_KEYS,
    Built,
    ConfigReader,
    Layer,
    attention_shape,
    expert_fields,
    from_layer_types,
    sliding_window,
    uniform_layers,
)
from inferchip.errors import SpecError
from inferchip.spec.model import CONTEXT, FFN_WIDTH

FFN_MAX = int(FFN_WIDTH.high)  # an FFN width read from a config: the spec's bound, said with the config's key


def _llama(r: ConfigReader) -> Built:
    f = attention_shape(r)
    bias = r.bool_("attention_bias", False)
    f |= {
        "intermediate_size": r.int_("intermediate_size", "FFN width", maximum=FFN_MAX),
        "tie_word_embeddings": r.bool_("tie_word_embeddings", False),
        "qkv_bias": bias,
        "o_bias": bias,
        "mlp_bias": r.bool_("mlp_bias", False),
    }
    return f, uniform_layers(f["num_layers"], None, False), []


def _mistral(r: ConfigReader) -> Built:
    f, _, notes = _llama(r)
    return f, uniform_layers(f["num_layers"], sliding_window(r), False), notes


def _mixtral(r: ConfigReader) -> Built:
    f, _, notes = _llama(r)
    f |= expert_fields(r, r.int_("num_local_experts", "routed experts per layer"), f["intermediate_size"])
    return f, uniform_layers(f["num_layers"], sliding_window(r), True), notes


def _qwen_windows(r: ConfigReader, n: int, moe: list[bool]) -> list[Layer]:
    """Qwen2/3: ``sliding_window`` is used only when ``use_sliding_window`` is true, and then on
    layers at index >= ``max_window_layers`` (transformers Qwen2 attention)."""
    window = sliding_window(r) if r.bool_("use_sliding_window", False) else None
    typed = from_layer_types(r, n, window, moe)
    if typed is not None:
        return typed
    first = r.int_("max_window_layers", "first layer index with a sliding window", default=n, minimum=0)
    return [Layer(window if i >= first else None, moe[i]) for i in range(n)]


def _qwen2(r: ConfigReader) -> Built:
    f, _, _ = _llama(r)
    # transformers Qwen2Attention: q/k/v projections carry biases, o_proj does not; no config key says so.
    f |= {"qkv_bias": True, "o_bias": False}
    notes = ["Qwen2 q/k/v projections carry biases and o_proj none (transformers Qwen2Attention), not a config key."]
    return f, _qwen_windows(r, f["num_layers"], [False] * f["num_layers"]), notes


def _qwen3(r: ConfigReader) -> Built:
    f, _, notes = _llama(r)
    f["qk_norm"] = True
    return f, _qwen_windows(r, f["num_layers"], [False] * f["num_layers"]), notes


def _qwen3_moe(r: ConfigReader) -> Built:
    f, _, notes = _qwen3(r)
    n = f["num_layers"]
    experts = r.int_("num_experts", "routed experts per MoE layer", minimum=0)
    step = r.int_("decoder_sparse_step", "MoE on every step-th layer", default=1)
    dense_only = set(r.int_list("mlp_only_layers", "layer indices with a dense FFN"))
    outside = sorted(i for i in dense_only if not 0 <= i < n)
    if outside:  # transformers skips such an index silently: a layer counted from 1, or another model's list
        raise r._fail("mlp_only_layers", sorted(dense_only), f"layer indices from 0 to {n - 1} ({n} layers); "
                      f"{outside[0]} is outside them")
    moe = [experts > 0 and i not in dense_only and (i + 1) % step == 0 for i in range(n)]
    if any(moe):
        f |= expert_fields(r, experts, r.int_("moe_intermediate_size", "width of one expert FFN", maximum=FFN_MAX))
    return f, _qwen_windows(r, n, moe), notes


def _deepseek(r: ConfigReader) -> Built:
    # MLA caches one latent per token: num_key_value_heads is never read (DeepseekV3Config fills it from the heads)
    f = attention_shape(r, head_dim_key="qk_nope_head_dim", kv_heads_read=False)  # head_dim set to nope + rope below
    nope = r.int_("qk_nope_head_dim", "per-head query/key width without RoPE")
    rope = r.int_("qk_rope_head_dim", "per-head query/key RoPE width")
    if "q_lora_rank" not in r.data:
        # DeepseekV2Config defaults q_lora_rank to 1536, but V2-Lite has none: too easy to get wrong silently.
        raise SpecError(
            f"{r.where}: {r.prefix}q_lora_rank is missing: expected an integer >= 1 "
            "or null (null = direct query projection, as in DeepSeek-V2-Lite)"
        )
    n = f["num_layers"]
    # transformers DeepseekV2/V3: a layer is MoE when n_routed_experts is not None, so 0 experts is no model (a dense
    # model leaves the key out or null); first_k_dense_replace beyond the layers would leave every layer dense
    experts = r.opt_int("n_routed_experts", "routed experts per MoE layer; null for a dense model") or 0
    first_dense = r.int_("first_k_dense_replace", f"leading dense layers, 0 to the {n} layers", default=0, minimum=0,
                         maximum=n)
    freq = r.int_("moe_layer_freq", "MoE on every freq-th layer after the dense ones", default=1)
    moe = [experts > 0 and i >= first_dense and i % freq == 0 for i in range(n)]
    bias = r.bool_("attention_bias", False)
    f |= {
        "head_dim": nope + rope,
        "attention": "mla",
        "q_lora_rank": r.opt_int("q_lora_rank", "query low-rank width (null = direct projection)"),
        "kv_lora_rank": r.int_("kv_lora_rank", "compressed key/value latent width"),
        "qk_nope_head_dim": nope,
        "qk_rope_head_dim": rope,
        "v_head_dim": r.int_("v_head_dim", "per-head value width"),
        "intermediate_size": r.int_("intermediate_size", "FFN width of the dense layers", maximum=FFN_MAX),
        "tie_word_embeddings": r.bool_("tie_word_embeddings", False),
        "qkv_bias": bias,
        "o_bias": bias,
    }
    if any(moe):
        width = r.int_("moe_intermediate_size", "width of one expert FFN", maximum=FFN_MAX)
        shared = r.int_("n_shared_experts", "shared experts", default=0, minimum=0)
        f |= expert_fields(r, experts, width, shared * width)  # shared experts act as one MLP of shared * width
    stated_kv = r.data.get("num_key_value_heads")
    notes = [] if stated_kv in (None, f["num_heads"]) else [
        f"num_key_value_heads = {stated_kv!r} is not read: multi-head latent attention caches one compressed latent "
        f"(kv_lora_rank + qk_rope_head_dim) per token and layer, so the KV-head count sizes nothing; read as the "
        f"{f['num_heads']} query heads, as transformers' DeepseekV3Config fills it in"]
    return f, [Layer(None, m) for m in moe], notes


def _gemma_text(r: ConfigReader, rope_scaled: bool = True) -> dict[str, Any]:
    f = attention_shape(r, rope_scaled=rope_scaled)
    bias = r.bool_("attention_bias", False)
    return f | {
        "intermediate_size": r.int_("intermediate_size", "FFN width", maximum=FFN_MAX),
        # Google's reference code computes the logits with the embedding matrix (README of the bundle).
        "tie_word_embeddings": r.bool_("tie_word_embeddings", True),
        "qkv_bias": bias,
        "o_bias": bias,
        "norms_per_layer": 4,  # pre- and post-norm around both attention and MLP
    }


_GEMMA_TIED = "Gemma ties the LM head to the embedding (Google reference code) when the config does not say."


def _gemma2(r: ConfigReader) -> Built:
    f = _gemma_text(r)
    n, window = f["num_layers"], sliding_window(r)
    # Local sliding-window layers alternate with global ones, starting with local (layer 0).
    layers = from_layer_types(r, n, window, [False] * n) or [
        Layer(window if i % 2 == 0 else None, False) for i in range(n)]
    return f, layers, [_GEMMA_TIED]


def _gemma3(r: ConfigReader) -> Built:
    if "text_config" in r.data:
        r = r.sub("text_config")
    # vLLM does not scale Gemma 3's window by its rope_scaling: max_position_embeddings is already the scaled one
    f = _gemma_text(r, rope_scaled=False) | {"qk_norm": True}
    n, window = f["num_layers"], sliding_window(r)
    # Every pattern-th layer (1-based) is global, the others local: 5 local : 1 global for pattern 6.
    pattern = r.int_("sliding_window_pattern", "one global layer every N layers", default=6)
    layers = from_layer_types(r, n, window, [False] * n) or [
        Layer(None if (i + 1) % pattern == 0 else window, False) for i in range(n)
    ]
    return f, layers, [_GEMMA_TIED]


def _llama4(r: ConfigReader) -> Built:
    if "text_config" in r.data:
        r = r.sub("text_config")
    f, _, notes = _llama(r)
    n = f["num_layers"]
    experts = r.int_("num_local_experts", "routed experts per MoE layer", default=0, minimum=0)
    step = r.int_("interleave_moe_layer_step", "MoE on every step-th layer", default=1)
    # Newer HF configs list moe_layers; else Meta models/llama4/model.py: layer i is MoE when (i + 1) % step == 0.
    listed = set(r.int_list("moe_layers", "indices of the MoE layers")) if r.has("moe_layers") else None
    moe = [experts > 0 and (i in listed if listed is not None else (i + 1) % step == 0) for i in range(n)]
    width = f["intermediate_size"]  # routed and shared experts use intermediate_size ...
    f["intermediate_size"] = r.int_("intermediate_size_mlp", "FFN width of the dense layers", default=width,
                                    maximum=FFN_MAX)
    if any(moe):
        f |= expert_fields(r, experts, width, shared=width)  # one always-on shared expert (Meta llama4/moe.py)
        notes.append("Llama 4 MoE layers add one shared expert of width intermediate_size (Meta moe.py).")
    if r.bool_("use_qk_norm", False):
        notes.append("Llama 4 qk norm is a weightless L2 norm (no parameters): recorded as qk_norm=False.")
    layers, chunk_note = _llama4_attention(r, n, moe)
    return f, layers, notes + chunk_note


LLAMA4_CHUNK_TOKENS = 8192
"""transformers ``Llama4TextConfig.attention_chunk_size`` default (huggingface/transformers @b17cfe48
src/transformers/models/llama4/configuration_llama4.py), the value Scout's and Maverick's configs write."""
LLAMA4_NOPE_INTERVAL = 4
"""transformers ``Llama4TextConfig.no_rope_layer_interval`` default (same file): every 4th layer is NoPE."""


def _llama4_attention(r: ConfigReader, n: int, moe: list[bool]) -> tuple[list[Layer], list[str]]:
    """Which Llama 4 layers attend within chunks, as transformers' ``Llama4TextConfig.__post_init__`` derives them
    (huggingface/transformers @b17cfe48 src/transformers/models/llama4/configuration_llama4.py): ``layer_types``
    where the config lists it; else ``no_rope_layers`` (1: a RoPE layer, 0: NoPE), by default
    ``int((i + 1) % no_rope_layer_interval != 0)``; a RoPE layer is ``chunked_attention``, a NoPE layer
    ``full_attention``. vLLM builds the same split (vllm/model_executor/models/llama4.py ``Llama4Attention``:
    ``ChunkedLocalAttention`` where ``not self.nope and config.attention_chunk_size``, else ``Attention``)."""
    chunk = r.opt_int("attention_chunk_size", "attention chunk of the RoPE layers in tokens",
                      maximum=int(CONTEXT.high)) if "attention_chunk_size" in r.data else LLAMA4_CHUNK_TOKENS
    typed = from_layer_types(r, n, None, moe, chunk=chunk)
    if typed is None:
        rope = r.int_list("no_rope_layers", "1 where the layer uses RoPE, 0 where it is NoPE")
        if not rope:
            step = r.int_("no_rope_layer_interval", "one NoPE layer every N layers", default=LLAMA4_NOPE_INTERVAL)
            rope = [int((i + 1) % step != 0) for i in range(n)]
        if len(rope) < n or any(v not in (0, 1) for v in rope):
            raise r._fail("no_rope_layers", rope, f"a list of at least {n} entries, each 1 (RoPE) or 0 (NoPE)")
        typed = [Layer(chunk, moe[i], chunked=True) if rope[i] and chunk else Layer(None, moe[i]) for i in range(n)]
    local = sum(layer.chunked for layer in typed)
    if not local:
        return typed, []
    return typed, [
        f"Llama 4: {local} of {n} layers attend within chunks of {chunk:,} tokens (positions floor(p / {chunk}) x "
        f"{chunk} to p, vLLM ChunkedLocalAttention), the other {n - local} (NoPE) over the whole context "
        "(transformers Llama4TextConfig layer_types). A chunked layer's KV cache is sized at one chunk, as vLLM's "
        "hybrid KV cache manager frees finished chunks (vLLM from 0.10.1 until PR #29627 keeps that manager off for "
        "Llama 4 by default, PR #21761, and holds the whole context in every layer)."
    ]


def _phi3(r: ConfigReader) -> Built:
    f, _, notes = _llama(r)
    window = sliding_window(r)
    if window is not None:
        notes.append(f"Phi-3 sliding_window {window} applied to every layer (transformers Phi3 attention).")
    return f, uniform_layers(f["num_layers"], window, False), notes


def _gpt_oss(r: ConfigReader) -> Built:
    f, _, notes = _llama(r)
    n, window = f["num_layers"], sliding_window(r)
    top_k_key = "num_experts_per_tok" if r.has("num_experts_per_tok") else "experts_per_token"
    f |= expert_fields(r, r.int_("num_local_experts", "routed experts per layer"), f["intermediate_size"],
                       top_k=top_k_key)
    f["mlp_bias"] = True  # OpenAI gpt_oss/torch/model.py: expert matrices carry biases
    layers = from_layer_types(r, n, window, [True] * n) or [
        Layer(window if i % 2 == 0 else None, True) for i in range(n)]
    notes.append(
        "gpt-oss experts and router carry biases and each head a learned attention-sink logit (OpenAI model.py)."
    )
    return f, layers, notes


def _gptj(r: ConfigReader) -> Built:
    keys = ("n_layer", "n_embd", "n_head", "n_head", "n_positions")  # no GQA: KV heads = n_head
    f = attention_shape(r, None, keys=keys)
    f |= {
        # transformers GPTJBlock: inner_dim = n_inner or 4 * n_embd; fc_in/fc_out with biases, GELU.
        "intermediate_size": r.int_("n_inner", "FFN width", default=4 * f["hidden_size"]),
        "mlp_gated": False,
        "mlp_bias": True,
        "lm_head_bias": True,
        "norm_bias": True,
        "parallel_attn_mlp": True,
        "norms_per_layer": 1,  # one ln_1 feeds attention and MLP in parallel
        "tie_word_embeddings": r.bool_("tie_word_embeddings", False),
    }
    notes = [] if r.has("n_inner") else ["GPT-J n_inner null -> FFN width 4 * n_embd (transformers GPTJBlock)."]
    return f, uniform_layers(f["num_layers"], None, False), notes


FALCON_DEFAULT_CONTEXT_TOKENS = 2048  # transformers FalconConfig(max_position_embeddings=2048)


def _falcon(r: ConfigReader) -> Built:
    new_arch = r.bool_("new_decoder_architecture", False)
    parallel = r.bool_("parallel_attn", True)
    # transformers FalconAttention: num_kv_heads (default all heads), except 1 for the old multi-query layout.
    f = attention_shape(r, None, keys=(*HF_KEYS[:3], "num_kv_heads", HF_KEYS[4]))
    if not new_arch and r.bool_("multi_query", True):
        f["num_kv_heads"] = 1
    if f["max_position_embeddings"] is None:  # transformers FalconConfig default (falcon-40b/180B omit the key)
        f["max_position_embeddings"] = FALCON_DEFAULT_CONTEXT_TOKENS
    # transformers FalconDecoderLayer: new architecture has ln_attn + ln_mlp (num_ln_in_parallel_attn,
    # default 2); the old one input_layernorm, plus post_attention_layernorm when not parallel.
    norms = r.int_("num_ln_in_parallel_attn", "layer norms per layer", default=2) if new_arch else 1 + (not parallel)
    bias = r.bool_("bias", False)
    f |= {
        # transformers FalconMLP: ffn_hidden_size, default 4 * hidden; plain GELU, no gate.
        "intermediate_size": r.int_("ffn_hidden_size", "FFN width", default=4 * f["hidden_size"]),
        "mlp_gated": False,
        "qkv_bias": bias,
        "o_bias": bias,
        "mlp_bias": bias,
        "norm_bias": True,
        "norms_per_layer": norms,
        "parallel_attn_mlp": parallel,
        # transformers ties Falcon's lm_head to the word embeddings (PretrainedConfig default True).
        "tie_word_embeddings": r.bool_("tie_word_embeddings", True),
    }
    notes = [] if r.has("ffn_hidden_size") else ["Falcon FFN width 4 * hidden_size (transformers FalconMLP)."]
    return f, uniform_layers(f["num_layers"], None, False), notes


def _grok1(r: ConfigReader) -> Built:
    f, _, notes = _llama(r)
    f |= expert_fields(r, r.int_("num_experts", "routed experts per layer"), f["intermediate_size"])
    f["tie_word_embeddings"] = r.bool_("tie_word_embeddings", True)  # xAI run.py shares the embedding
    f["norms_per_layer"] = 4  # xAI model.py: RMSNorm before and after both attention and MoE
    return f, uniform_layers(f["num_layers"], None, True), notes


BUILDERS: dict[str, Callable[[ConfigReader], Built]] = {
    "llama": _llama,
    "llama4": _llama4,
    "llama4_text": _llama4,
    "mistral": _mistral,
    "mixtral": _mixtral,
    "qwen2": _qwen2,
    "qwen3": _qwen3,
    "qwen3_moe": _qwen3_moe,
    "deepseek_v2": _deepseek,
    "deepseek_v3": _deepseek,
    "gemma2": _gemma2,
    "gemma3": _gemma3,
    "gemma3_text": _gemma3,
    "phi3": _phi3,
    "gptj": _gptj,
    "falcon": _falcon,
    "gpt_oss": _gpt_oss,
    "grok-1": _grok1,
}
# Configs without model_type, recognised by their architectures entry.
BY_ARCHITECTURE = {"Grok1ModelForCausalLM": "grok-1"}
