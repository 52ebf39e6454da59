"""Typed reading of a Hugging Face ``config.json`` mapping, and the shapes every family shares.

:class:`ConfigReader` gives typed access to one mapping with errors that name the file, the
field, the value and what is expected (:class:`SpecError`); the functions below read the
attention shape, sliding windows and MoE fields the per-family builders of
:mod:`inferchip.catalog.hf_families` have in common.
"""

from __future__ import annotations

from typing import Any

from inferchip.errors import SpecError
from inferchip.spec.model import CONTEXT, HEAD_DIM, HEADS, LAYERS, VOCAB, WIDTH

CONFIG_INT_MAX = 10**9
"""Largest integer any size in a config may hold unless a tighter bound applies (spec/model.py)."""

# Per-layer attention/FFN kind: (sliding window in tokens or None, is the FFN a MoE block).
Layer = tuple[int | None, bool]


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
    r: ConfigReader, head_dim_key: str | None = "head_dim", *, keys: tuple[str, str, str, str, str] = HF_KEYS
) -> dict[str, Any]:
    """Layers, width, vocab, heads, KV heads and head width of a decoder config.

    ``keys`` names (layers, width, heads, KV heads, context) for GPT-2-style key names;
    absent KV heads mean multi-head attention; absent head_dim means width / heads.
    """
    layers_key, hidden_key, heads_key, kv_key, context_key = keys
    hidden = r.int_(hidden_key, "model width", maximum=int(WIDTH.high))
    heads = r.int_(heads_key, "query heads per layer", maximum=int(HEADS.high))
    kv_heads = r.int_(kv_key, "key/value heads per layer", default=heads, maximum=int(HEADS.high))
    if heads % kv_heads:
        raise r._fail(kv_key, kv_heads, f"a divisor of {heads_key} {heads} (each KV head serves a group of heads)")
    head_dim = (r.opt_int(head_dim_key, "width of one attention head", maximum=int(HEAD_DIM.high))
                if head_dim_key else None)
    if head_dim is None:
        if hidden % heads:
            raise r._fail(heads_key, heads, f"a divisor of {hidden_key} {hidden} when head_dim is absent")
        head_dim = hidden // heads
    return {
        "num_layers": r.int_(layers_key, "decoder layers", maximum=int(LAYERS.high)),
        "hidden_size": hidden,
        "vocab_size": r.int_("vocab_size", "embedding rows", maximum=int(VOCAB.high)),
        "num_heads": heads,
        "num_kv_heads": kv_heads,
        "head_dim": head_dim,
        "max_position_embeddings": r.opt_int(context_key, "longest supported context in tokens",
                                             maximum=int(CONTEXT.high)),
    }


def sliding_window(r: ConfigReader, key: str = "sliding_window") -> int | None:
    """The window in tokens (a whole number >= 1; no larger than the context, checked by ModelSpec)."""
    return r.opt_int(key, "sliding-window length in tokens", maximum=int(CONTEXT.high))


def from_layer_types(r: ConfigReader, n: int, window: int | None, moe: list[bool]) -> list[Layer] | None:
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


def uniform_layers(n: int, window: int | None, moe: bool) -> list[Layer]:
    return [(window, moe)] * n


def expert_fields(
    r: ConfigReader, experts: int, width: int, shared: int = 0, top_k: str = "num_experts_per_tok"
) -> dict[str, int]:
    """MoE fields: routed experts, top-k, width of one expert, total shared-expert width."""
    return {
        "num_experts": experts,
        "experts_per_token": r.int_(top_k, "experts chosen per token"),
        "expert_intermediate_size": width,
        "shared_intermediate_size": shared,
    }


# Each family builder returns (ModelSpec fields, per-layer list, notes on implied conventions).
Built = tuple[dict[str, Any], list[Layer], list[str]]
