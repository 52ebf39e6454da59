"""Typed reading of a Hugging Face ``config.json`` mapping, and the shapes every family shares.

:class:`ConfigReader` gives typed access to one mapping with errors that name the file, the
field, the value and what is expected (:class:`SpecError`); the functions below read the
attention shape, sliding windows and MoE fields the per-family builders of
:mod:`inferchip.catalog.hf_families` have in common.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from inferchip.errors import SpecError
from inferchip.spec.model import CONTEXT, HEAD_DIM, HEADS, LAYERS, VOCAB, WIDTH

CONFIG_INT_MAX = 10**9
"""Largest integer any size in a config may hold unless a tighter bound applies (spec/model.py)."""


class Layer(NamedTuple):
    """Per-layer attention/FFN kind: the window in tokens (None: full attention), whether the FFN is a MoE block,
    and whether the window is an attention chunk (``chunked_attention``: positions floor(p / window) * window to p)
    rather than a sliding window (the ``window`` tokens before p)."""

    window: int | None
    moe: bool
    chunked: bool = False



def _as_written(value: Any) -> Any:
    """A config value for an error: as the file gives it (``1e+30`` stays a float), an integer of 31 or more digits
    by its length (``str()`` of one past 4,300 digits fails)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**30:
        if abs(value) < 10**4000:
            return f"an integer of {len(str(abs(value)))} digits"
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
    return value


class ConfigReader:
    """Typed access to one mapping of a config with errors that name file and field."""

    def __init__(self, data: dict[str, Any], where: str, prefix: str = ""):
        self.data, self.where, self.prefix = data, where, prefix

    def _fail(self, key: str, value: Any, expected: str) -> SpecError:
        shown = value if isinstance(value, str) and value.startswith("an integer of") else repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        return SpecError(f"{self.where}: {self.prefix}{key} = {shown}: expected {expected}")

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def opt_int(self, key: str, what: str, minimum: int = 1, maximum: int = CONFIG_INT_MAX) -> int | None:
        """An integer in [``minimum``, ``maximum``] or None when absent/null; ``what`` says what it is."""
        given = value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
            raise self._fail(key, _as_written(given), f"an integer between {minimum:,} and {maximum:,} ({what})")
        return value

    def int_(self, key: str, what: str, default: int | None = None, minimum: int = 1,
             maximum: int = CONFIG_INT_MAX) -> int:
        """A required integer (or ``default`` when given and the key is absent)."""
        value = self.opt_int(key, what, minimum, maximum)
        if value is not None:
            return value
        if default is None:
            raise SpecError(
                f"{self.where}: {self.prefix}{key} is missing: expected an integer between {minimum:,} and "
                f"{maximum:,} ({what})"
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

    def sub(self, key: str) -> ConfigReader:
        value = self.data.get(key)
        if value is None:
            raise SpecError(f"{self.where}: {self.prefix}{key} is missing: expected a mapping of fields")
        if not isinstance(value, dict):
            raise self._fail(key, value, "a mapping of fields")
        return ConfigReader(value, self.where, f"{self.prefix}{key}.")


HF_KEYS = ("num_hidden_layers", "hidden_size", "num_attention_heads", "num_key_value_heads", "max_position_embeddings")


def attention_shape(
    r: ConfigReader, head_dim_key: str | None = "head_dim", *, keys: tuple[str, str, str, str, str] = HF_KEYS,
    rope_scaled: bool = True, kv_heads_read: bool = True,
) -> dict[str, Any]:
    """Layers, width, vocab, heads, KV heads and head width of a decoder config.

    ``keys`` names (layers, width, heads, KV heads, context) for GPT-2-style key names;
    absent KV heads mean multi-head attention; absent head_dim means width / heads. The context window is scaled
    by the config's ``rope_scaling`` (:func:`rope_context`) unless ``rope_scaled`` is False (Gemma 3, whose
    ``max_position_embeddings`` is already the scaled window). ``kv_heads_read`` False (MLA, which caches one latent
    per token and never reads the KV-head count) reads the KV heads as the query heads, as transformers'
    DeepseekV3Config fills them in, whatever whole number the config states (still checked as one; the caller notes a
    stated value that differs).
    """
    layers_key, hidden_key, heads_key, kv_key, context_key = keys
    hidden = r.int_(hidden_key, "model width", maximum=int(WIDTH.high))
    heads = r.int_(heads_key, "query heads per layer", maximum=int(HEADS.high))
    kv_heads = r.int_(kv_key, "key/value heads per layer", default=heads, maximum=int(HEADS.high))
    kv_heads = kv_heads if kv_heads_read else heads
    if heads % kv_heads:
        raise r._fail(kv_key, kv_heads, f"a divisor of {heads_key} {heads} (each KV head serves a group of heads)")
    head_dim = (r.opt_int(head_dim_key, "width of one attention head", maximum=int(HEAD_DIM.high))
                if head_dim_key else None)
    if head_dim is None:
        if hidden % heads:
            raise r._fail(heads_key, heads, f"a divisor of {hidden_key} {hidden} when head_dim is absent")
        head_dim = hidden // heads
    context = r.opt_int(context_key, "longest supported context in tokens", maximum=int(CONTEXT.high))
    source = None
    if rope_scaled:
        context, source = rope_context(r, context_key, context)
    return {
        "num_layers": r.int_(layers_key, "decoder layers", maximum=int(LAYERS.high)),
        "hidden_size": hidden,
        "vocab_size": r.int_("vocab_size", "embedding rows", maximum=int(VOCAB.high)),
        "num_heads": heads,
        "num_kv_heads": kv_heads,
        "head_dim": head_dim,
        "max_position_embeddings": context,
        "context_source": source,
    }


ROPE_UNSCALED = ("su", "longrope", "llama3", "default")
"""RoPE types whose ``max_position_embeddings`` is already the scaled window (vLLM leaves them as they are)."""


def rope_context(r: ConfigReader, context_key: str, context: int | None) -> tuple[int | None, str | None]:
    """The context window as vLLM derives ``max_model_len`` from a config's ``rope_scaling`` (vllm/config.py
    ``_get_and_verify_max_len``, vllm-project/vllm): a RoPE type other than su, longrope and llama3 multiplies the
    window by its ``factor``; YaRN multiplies its ``original_max_position_embeddings`` instead (transformers'
    ``_compute_yarn_parameters`` takes ``max_position_embeddings`` where that is absent). This is how Qwen's model
    cards extend Qwen2.5 and Qwen3 to 131,072 tokens (``{"rope_type": "yarn", "factor": 4.0,
    "original_max_position_embeddings": 32768}``). Returns the window and how it was derived (None: unscaled)."""
    key = "rope_scaling" if r.has("rope_scaling") else "rope_parameters"
    rs = r.data.get(key)
    if rs is None:
        return context, None
    expected = "a mapping with rope_type (or type) and a factor above 0, or null"
    if not isinstance(rs, dict):
        raise r._fail(key, rs, expected)
    kind = rs.get("rope_type", rs.get("type"))
    if not isinstance(kind, str):
        raise r._fail(f"{key}.rope_type", kind, "the RoPE type's name (linear, dynamic, yarn, llama3, ...)")
    factor = rs.get("factor", 1.0)
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not 0 < factor < float("inf"):
        raise r._fail(f"{key}.factor", _as_written(factor), "a finite number above 0 (the RoPE scaling factor)")
    if kind in ROPE_UNSCALED or factor == 1:
        return context, None
    base, base_key = context, context_key
    if kind == "yarn" and rs.get("original_max_position_embeddings") is not None:
        base_key = "original_max_position_embeddings"
        base = ConfigReader(rs, r.where, f"{r.prefix}{key}.").opt_int(
            base_key, "the window the model was trained on", maximum=int(CONTEXT.high))
    if base is None:
        return context, None
    window = base * factor  # a finite factor can still overflow the product (1e308 x 40,960 is inf)
    if not math.isfinite(window) or not 1 <= int(window) <= CONTEXT.high:
        raise r._fail(f"{key}.factor", _as_written(factor), f"a factor that keeps {base_key} {base:,} x factor "
                      f"within 1 to {int(CONTEXT.high):,} tokens")
    scaled = int(window)
    if scaled == context:
        return context, None
    return scaled, (f"{base_key} {base:,} x {key}.factor {factor:g} ({kind}), as vLLM derives max_model_len; "
                    f"{context_key} = {context if context is None else format(context, ',')}")


def sliding_window(r: ConfigReader, key: str = "sliding_window") -> int | None:
    """The window in tokens (a whole number >= 1; no larger than the context, checked by ModelSpec)."""
    return r.opt_int(key, "sliding-window length in tokens", maximum=int(CONTEXT.high))


def from_layer_types(r: ConfigReader, n: int, window: int | None, moe: list[bool],
                     chunk: int | None = None) -> list[Layer] | None:
    """Per-layer windows from a ``layer_types`` list (newer transformers), when the config has one.
    ``chunk``: the attention chunk of ``chunked_attention`` layers (None: they run as full attention, as
    transformers' chunked mask does without ``attention_chunk_size``)."""
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
            layers.append(Layer(window, moe[i]))
        elif kind == "chunked_attention" and chunk is not None:
            layers.append(Layer(chunk, moe[i], chunked=True))
        elif kind in ("full_attention", "chunked_attention"):
            layers.append(Layer(None, moe[i]))
        else:
            raise r._fail(f"layer_types[{i}]", kind, "sliding_attention, full_attention or chunked_attention")
    return layers


def uniform_layers(n: int, window: int | None, moe: bool) -> list[Layer]:
    return [Layer(window, moe)] * n


def expert_fields(
    r: ConfigReader, experts: int, width: int, shared: int = 0, top_k: str = "num_experts_per_tok"
) -> dict[str, int]:
    """MoE fields: routed experts, top-k, width of one expert, total shared-expert width."""
    return {
        "num_experts": experts,
        # at most the routed experts, said with the config's own key (the spec would name its experts_per_token)
        "experts_per_token": r.int_(top_k, f"experts chosen per token, of the {experts:,} routed experts",
                                    maximum=experts),
        "expert_intermediate_size": width,
        "shared_intermediate_size": shared,
    }


# Each family builder returns (ModelSpec fields, per-layer list, notes on implied conventions).
Built = tuple[dict[str, Any], list[Layer], list[str]]
