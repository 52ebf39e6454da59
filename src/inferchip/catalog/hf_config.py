"""Hugging Face ``config.json`` -> :class:`~inferchip.spec.model.ModelSpec`.

One small builder per ``model_type`` reads the keys that family uses and states the
conventions the config leaves implicit (each one from the family's reference code, as
recorded in ``reference/models/README.md`` of the bundle). A config that lacks a required
key, or holds a value of the wrong kind, raises :class:`SpecError` naming the file, the
field, the value and what is expected.

Keys starting with ``_`` are the catalogue's metadata: ``_total_params_reported``,
``_active_params_reported``, ``_source`` and ``_doubts`` are carried into the spec.
Assumptions this parser adds are appended to ``doubts`` with the prefix ``inferchip:``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from inferchip.catalog.yaml_io import validate
from inferchip.errors import SpecError
from inferchip.spec.model import ModelSpec

# Per-layer attention/FFN kind: (sliding window in tokens or None, is the FFN a MoE block).
Layer = tuple[int | None, bool]


class _Reader:
    """Typed access to one mapping of a config with errors that name file and field."""

    def __init__(self, data: dict[str, Any], where: str, prefix: str = ""):
        self.data, self.where, self.prefix = data, where, prefix

    def _fail(self, key: str, value: Any, expected: str) -> SpecError:
        return SpecError(f"{self.where}: field '{self.prefix}{key}': value {value!r}: expected {expected}")

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def opt_int(self, key: str, what: str, minimum: int = 1) -> int | None:
        """An integer >= ``minimum`` or None when absent/null; ``what`` says what it is."""
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self._fail(key, value, f"an integer >= {minimum} ({what})")
        return value

    def int_(self, key: str, what: str, default: int | None = None, minimum: int = 1) -> int:
        """A required integer (or ``default`` when given and the key is absent)."""
        value = self.opt_int(key, what, minimum)
        if value is not None:
            return value
        if default is None:
            raise SpecError(
                f"{self.where}: field '{self.prefix}{key}' is missing: expected an integer >= {minimum} ({what})"
            )
        return default

    def bool_(self, key: str, default: bool) -> bool:
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self._fail(key, value, "true or false")
        return value

    def int_list(self, key: str, what: str) -> list[int]:
        value = self.data.get(key)
        if value is None:
            return []
        if not isinstance(value, list) or any(isinstance(v, bool) or not isinstance(v, int) for v in value):
            raise self._fail(key, value, f"a list of integers ({what})")
        return list(value)

    def sub(self, key: str) -> _Reader:
        value = self.data.get(key)
        if value is None:
            raise SpecError(f"{self.where}: field '{self.prefix}{key}' is missing: expected a mapping of fields")
        if not isinstance(value, dict):
            raise self._fail(key, value, "a mapping of fields")
        return _Reader(value, self.where, f"{self.prefix}{key}.")


_HF_KEYS = ("num_hidden_layers", "hidden_size", "num_attention_heads", "num_key_value_heads", "max_position_embeddings")


def _attention_shape(
    r: _Reader, head_dim_key: str | None = "head_dim", *, keys: tuple[str, str, str, str, str] = _HF_KEYS
) -> dict[str, Any]:
    """Layers, width, vocab, heads, KV heads and head width of a decoder config.

    ``keys`` names (layers, width, heads, KV heads, context) for GPT-2-style key names;
    absent KV heads mean multi-head attention; absent head_dim means width / heads.
    """
    layers_key, hidden_key, heads_key, kv_key, context_key = keys
    hidden = r.int_(hidden_key, "model width")
    heads = r.int_(heads_key, "query heads per layer")
    kv_heads = r.int_(kv_key, "key/value heads per layer", default=heads)
    if heads % kv_heads:
        raise r._fail(kv_key, kv_heads, f"a divisor of {heads_key} {heads} (each KV head serves a group of heads)")
    head_dim = r.opt_int(head_dim_key, "width of one attention head") if head_dim_key else None
    if head_dim is None:
        if hidden % heads:
            raise r._fail(heads_key, heads, f"a divisor of {hidden_key} {hidden} when head_dim is absent")
        head_dim = hidden // heads
    return {
        "num_layers": r.int_(layers_key, "decoder layers"),
        "hidden_size": hidden,
        "vocab_size": r.int_("vocab_size", "embedding rows"),
        "num_heads": heads,
        "num_kv_heads": kv_heads,
        "head_dim": head_dim,
        "max_position_embeddings": r.opt_int(context_key, "longest supported context in tokens"),
    }


def _window(r: _Reader, key: str = "sliding_window") -> int | None:
    return r.opt_int(key, "sliding-window length in tokens")


def _from_layer_types(r: _Reader, n: int, window: int | None, moe: list[bool]) -> list[Layer] | None:
    """Per-layer windows from a ``layer_types`` list (newer transformers), when the config has one."""
    types = r.data.get("layer_types")
    if types is None:
        return None
    if not isinstance(types, list) or len(types) != n:
        raise r._fail("layer_types", types, f"a list of {n} entries, one per layer")
    layers: list[Layer] = []
    for i, kind in enumerate(types):
        if kind == "sliding_attention":
            if window is None:
                raise r._fail("sliding_window", None, "a window length: layer_types lists sliding_attention layers")
            layers.append((window, moe[i]))
        elif kind in ("full_attention", "chunked_attention"):
            layers.append((None, moe[i]))
        else:
            raise r._fail(f"layer_types[{i}]", kind, "sliding_attention, full_attention or chunked_attention")
    return layers


def _uniform(n: int, window: int | None, moe: bool) -> list[Layer]:
    return [(window, moe)] * n


def _experts(
    r: _Reader, experts: int, width: int, shared: int = 0, top_k: str = "num_experts_per_tok"
) -> dict[str, int]:
    """MoE fields: routed experts, top-k, width of one expert, total shared-expert width."""
    return {
        "num_experts": experts,
        "experts_per_token": r.int_(top_k, "experts chosen per token"),
        "expert_intermediate_size": width,
        "shared_intermediate_size": shared,
    }


# ----------------------------------------------------------------------------- families
# Each builder returns (ModelSpec fields, per-layer list, notes on implied conventions).
Built = tuple[dict[str, Any], list[Layer], list[str]]


def _llama(r: _Reader) -> Built:
    f = _attention_shape(r)
    bias = r.bool_("attention_bias", False)
    f |= {
        "intermediate_size": r.int_("intermediate_size", "FFN width"),
        "tie_word_embeddings": r.bool_("tie_word_embeddings", False),
        "qkv_bias": bias,
        "o_bias": bias,
        "mlp_bias": r.bool_("mlp_bias", False),
    }
    return f, _uniform(f["num_layers"], None, False), []


def _mistral(r: _Reader) -> Built:
    f, _, notes = _llama(r)
    return f, _uniform(f["num_layers"], _window(r), False), notes


def _mixtral(r: _Reader) -> Built:
    f, _, notes = _llama(r)
    f |= _experts(r, r.int_("num_local_experts", "routed experts per layer"), f["intermediate_size"])
    return f, _uniform(f["num_layers"], _window(r), True), notes


def _qwen_windows(r: _Reader, n: int, moe: list[bool]) -> list[Layer]:
    """Qwen2/3: ``sliding_window`` is used only when ``use_sliding_window`` is true, and then on
    layers at index >= ``max_window_layers`` (transformers Qwen2 attention)."""
    window = _window(r) if r.bool_("use_sliding_window", False) else None
    typed = _from_layer_types(r, n, window, moe)
    if typed is not None:
        return typed
    first = r.int_("max_window_layers", "first layer index with a sliding window", default=n, minimum=0)
    return [(window if i >= first else None, moe[i]) for i in range(n)]


def _qwen2(r: _Reader) -> Built:
    f, _, _ = _llama(r)
    # transformers Qwen2Attention: q/k/v projections carry biases, o_proj does not; no config key says so.
    f |= {"qkv_bias": True, "o_bias": False}
    notes = ["Qwen2 q/k/v projections carry biases and o_proj none (transformers Qwen2Attention), not a config key."]
    return f, _qwen_windows(r, f["num_layers"], [False] * f["num_layers"]), notes


def _qwen3(r: _Reader) -> Built:
    f, _, notes = _llama(r)
    f["qk_norm"] = True
    return f, _qwen_windows(r, f["num_layers"], [False] * f["num_layers"]), notes


def _qwen3_moe(r: _Reader) -> Built:
    f, _, notes = _qwen3(r)
    n = f["num_layers"]
    experts = r.int_("num_experts", "routed experts per MoE layer", minimum=0)
    step = r.int_("decoder_sparse_step", "MoE on every step-th layer", default=1)
    dense_only = set(r.int_list("mlp_only_layers", "layer indices with a dense FFN"))
    moe = [experts > 0 and i not in dense_only and (i + 1) % step == 0 for i in range(n)]
    if any(moe):
        f |= _experts(r, experts, r.int_("moe_intermediate_size", "width of one expert FFN"))
    return f, _qwen_windows(r, n, moe), notes


def _deepseek(r: _Reader) -> Built:
    f = _attention_shape(r, head_dim_key="qk_nope_head_dim")  # head_dim set to nope + rope below
    nope = r.int_("qk_nope_head_dim", "per-head query/key width without RoPE")
    rope = r.int_("qk_rope_head_dim", "per-head query/key RoPE width")
    if "q_lora_rank" not in r.data:
        # DeepseekV2Config defaults q_lora_rank to 1536, but V2-Lite has none: too easy to get wrong silently.
        raise SpecError(
            f"{r.where}: field '{r.prefix}q_lora_rank' is missing: expected an integer >= 1 "
            "or null (null = direct query projection, as in DeepSeek-V2-Lite)"
        )
    n = f["num_layers"]
    experts = r.int_("n_routed_experts", "routed experts per MoE layer", default=0, minimum=0)
    first_dense = r.int_("first_k_dense_replace", "leading dense layers", default=0, minimum=0)
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
        "intermediate_size": r.int_("intermediate_size", "FFN width of the dense layers"),
        "tie_word_embeddings": r.bool_("tie_word_embeddings", False),
        "qkv_bias": bias,
        "o_bias": bias,
    }
    if any(moe):
        width = r.int_("moe_intermediate_size", "width of one expert FFN")
        shared = r.int_("n_shared_experts", "shared experts", default=0, minimum=0)
        f |= _experts(r, experts, width, shared * width)  # shared experts act as one MLP of shared * width
    return f, [(None, m) for m in moe], []


def _gemma_text(r: _Reader) -> dict[str, Any]:
    f = _attention_shape(r)
    bias = r.bool_("attention_bias", False)
    return f | {
        "intermediate_size": r.int_("intermediate_size", "FFN width"),
        # Google's reference code computes the logits with the embedding matrix (README of the bundle).
        "tie_word_embeddings": r.bool_("tie_word_embeddings", True),
        "qkv_bias": bias,
        "o_bias": bias,
        "norms_per_layer": 4,  # pre- and post-norm around both attention and MLP
    }


_GEMMA_TIED = "Gemma ties the LM head to the embedding (Google reference code) when the config does not say."


def _gemma2(r: _Reader) -> Built:
    f = _gemma_text(r)
    n, window = f["num_layers"], _window(r)
    # Local sliding-window layers alternate with global ones, starting with local (layer 0).
    layers = _from_layer_types(r, n, window, [False] * n) or [(window if i % 2 == 0 else None, False) for i in range(n)]
    return f, layers, [_GEMMA_TIED]


def _gemma3(r: _Reader) -> Built:
    if "text_config" in r.data:
        r = r.sub("text_config")
    f = _gemma_text(r) | {"qk_norm": True}
    n, window = f["num_layers"], _window(r)
    # Every pattern-th layer (1-based) is global, the others local: 5 local : 1 global for pattern 6.
    pattern = r.int_("sliding_window_pattern", "one global layer every N layers", default=6)
    layers = _from_layer_types(r, n, window, [False] * n) or [
        (None if (i + 1) % pattern == 0 else window, False) for i in range(n)
    ]
    return f, layers, [_GEMMA_TIED]


def _llama4(r: _Reader) -> Built:
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
    f["intermediate_size"] = r.int_("intermediate_size_mlp", "FFN width of the dense layers", default=width)
    if any(moe):
        f |= _experts(r, experts, width, shared=width)  # one always-on shared expert (Meta llama4/moe.py)
        notes.append("Llama 4 MoE layers add one shared expert of width intermediate_size (Meta moe.py).")
    if r.bool_("use_qk_norm", False):
        notes.append("Llama 4 qk norm is a weightless L2 norm (no parameters): recorded as qk_norm=False.")
    if r.has("attention_chunk_size"):
        notes.append(
            f"attention_chunk_size {r.data['attention_chunk_size']}: Llama 4 RoPE layers attend within fixed "
            "chunks; which layers is not in this config, so every layer is modelled as full attention."
        )
    return f, [(None, m) for m in moe], notes


def _phi3(r: _Reader) -> Built:
    f, _, notes = _llama(r)
    window = _window(r)
    if window is not None:
        notes.append(f"Phi-3 sliding_window {window} applied to every layer (transformers Phi3 attention).")
    return f, _uniform(f["num_layers"], window, False), notes


def _gpt_oss(r: _Reader) -> Built:
    f, _, notes = _llama(r)
    n, window = f["num_layers"], _window(r)
    top_k_key = "num_experts_per_tok" if r.has("num_experts_per_tok") else "experts_per_token"
    f |= _experts(r, r.int_("num_local_experts", "routed experts per layer"), f["intermediate_size"], top_k=top_k_key)
    f["mlp_bias"] = True  # OpenAI gpt_oss/torch/model.py: expert matrices carry biases
    layers = _from_layer_types(r, n, window, [True] * n) or [(window if i % 2 == 0 else None, True) for i in range(n)]
    notes.append(
        "gpt-oss experts and router carry biases and each head a learned attention-sink logit (OpenAI model.py)."
    )
    return f, layers, notes


def _gptj(r: _Reader) -> Built:
    keys = ("n_layer", "n_embd", "n_head", "n_head", "n_positions")  # no GQA: KV heads = n_head
    f = _attention_shape(r, None, keys=keys)
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
    return f, _uniform(f["num_layers"], None, False), notes


def _falcon(r: _Reader) -> Built:
    new_arch = r.bool_("new_decoder_architecture", False)
    parallel = r.bool_("parallel_attn", True)
    # transformers FalconAttention: num_kv_heads (default all heads), except 1 for the old multi-query layout.
    f = _attention_shape(r, None, keys=(*_HF_KEYS[:3], "num_kv_heads", _HF_KEYS[4]))
    if not new_arch and r.bool_("multi_query", True):
        f["num_kv_heads"] = 1
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
    return f, _uniform(f["num_layers"], None, False), notes


def _grok1(r: _Reader) -> Built:
    f, _, notes = _llama(r)
    f |= _experts(r, r.int_("num_experts", "routed experts per layer"), f["intermediate_size"])
    f["tie_word_embeddings"] = r.bool_("tie_word_embeddings", True)  # xAI run.py shares the embedding
    f["norms_per_layer"] = 4  # xAI model.py: RMSNorm before and after both attention and MoE
    return f, _uniform(f["num_layers"], None, True), notes


_BUILDERS: dict[str, Callable[[_Reader], Built]] = {
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
SUPPORTED_MODEL_TYPES: tuple[str, ...] = tuple(sorted(_BUILDERS))
# Configs without model_type, recognised by their architectures entry.
_BY_ARCHITECTURE = {"Grok1ModelForCausalLM": "grok-1"}


def _model_type(config: dict[str, Any], where: str) -> str:
    model_type = config.get("model_type")
    if model_type is None:
        architectures = config.get("architectures")
        for arch in architectures if isinstance(architectures, list) else []:
            if isinstance(arch, str) and arch in _BY_ARCHITECTURE:
                return _BY_ARCHITECTURE[arch]
        raise SpecError(
            f"{where}: field 'model_type' is missing and 'architectures' names no known model: "
            f"expected one of {', '.join(SUPPORTED_MODEL_TYPES)}"
        )
    if not isinstance(model_type, str) or model_type not in _BUILDERS:
        raise SpecError(
            f"{where}: field 'model_type': value {model_type!r} is not supported: "
            f"expected one of {', '.join(SUPPORTED_MODEL_TYPES)}"
        )
    return model_type


def _layer_groups(layers: list[Layer]) -> list[dict[str, Any]]:
    """Identical layers grouped, in order of first appearance; counts are preserved."""
    return [{"count": c, "window": w, "moe": m} for (w, m), c in Counter(layers).items()]


def _metadata(config: dict[str, Any], where: str) -> dict[str, Any]:
    def text(key: str) -> str | None:
        value = config.get(key)
        return None if value is None else str(value)

    doubts = config.get("_doubts") or []
    if isinstance(doubts, str):
        doubts = [doubts]
    if not isinstance(doubts, list):
        raise SpecError(f"{where}: field '_doubts': value {doubts!r}: expected a list of strings")
    return {
        "total_params_reported": text("_total_params_reported"),
        "active_params_reported": text("_active_params_reported"),
        "source": text("_source"),
        "doubts": [str(d) for d in doubts],
    }


def model_spec_from_config(config: dict[str, Any], model_id: str, where: str) -> ModelSpec:
    """Normalise one Hugging Face ``config.json`` mapping into a :class:`ModelSpec`.

    ``model_id`` becomes :attr:`ModelSpec.id`; ``where`` (a file path or catalogue name)
    prefixes every error message.
    """
    if not isinstance(config, dict):
        raise SpecError(f"{where}: the top level must be a mapping of fields, got {type(config).__name__}")
    model_type = _model_type(config, where)
    fields, layers, notes = _BUILDERS[model_type](_Reader(config, where))
    meta = _metadata(config, where)
    meta["doubts"] += [f"inferchip: {note}" for note in notes]
    data = {"id": model_id, "model_type": model_type, **fields, "layer_groups": _layer_groups(layers), **meta}
    return validate(ModelSpec, data, where)
