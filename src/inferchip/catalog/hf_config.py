"""Hugging Face ``config.json`` -> :class:`~inferchip.spec.model.ModelSpec`.

One small builder per ``model_type`` reads the keys that family uses and states the
conventions the config leaves implicit (each one from the family's reference code, as
recorded in ``reference/models/README.md`` of the bundle). A config that lacks a required
key, or holds a value of the wrong kind, raises :class:`SpecError` naming the file, the
field, the value and what is expected.

Keys starting with ``_`` are the catalogue's metadata: ``_total_params_reported``,
``_active_params_reported``, ``_source`` and ``_doubts`` are carried into the spec.
Assumptions this parser adds are appended to ``doubts`` with the prefix ``inferchip:``.

The builders live in :mod:`inferchip.catalog.hf_families`, the typed field reading they
share in :mod:`inferchip.catalog.hf_reader`; this module picks the builder and assembles the spec.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from inferchip.catalog.hf_families import BUILDERS, BY_ARCHITECTURE
from inferchip.catalog.hf_reader import ConfigReader, Layer
from inferchip.catalog.yaml_io import validate
from inferchip.errors import SpecError
from inferchip.spec.model import ModelSpec

SUPPORTED_MODEL_TYPES: tuple[str, ...] = tuple(sorted(BUILDERS))

__all__ = ["SUPPORTED_MODEL_TYPES", "model_spec_from_config"]


def _model_type(config: dict[str, Any], where: str) -> str:
    model_type = config.get("model_type")
    if model_type is None:
        architectures = config.get("architectures")
        for arch in architectures if isinstance(architectures, list) else []:
            if isinstance(arch, str) and arch in BY_ARCHITECTURE:
                return BY_ARCHITECTURE[arch]
        raise SpecError(
            f"{where}: model_type is missing and 'architectures' names no known model: "
            f"expected one of {', '.join(SUPPORTED_MODEL_TYPES)}"
        )
    if not isinstance(model_type, str) or model_type not in BUILDERS:
        raise SpecError(
            f"{where}: model_type = {model_type!r} is not supported: "
            f"expected one of {', '.join(SUPPORTED_MODEL_TYPES)}"
        )
    return model_type


def _layer_groups(layers: list[Layer]) -> list[dict[str, Any]]:
    """Identical layers grouped, in order of first appearance; counts are preserved."""
    counted = Counter(Layer(*layer) for layer in layers)
    return [{"count": c, "window": w, "moe": m} | ({"chunked": True} if chunked else {})
            for (w, m, chunked), c in counted.items()]


def _metadata(config: dict[str, Any], where: str) -> dict[str, Any]:
    def text(key: str) -> str | None:
        value = config.get(key)
        return None if value is None else str(value)

    doubts = config.get("_doubts") or []
    if isinstance(doubts, str):
        doubts = [doubts]
    if not isinstance(doubts, list):
        raise SpecError(f"{where}: _doubts = {doubts!r}: expected a list of strings")
    return {
        "total_params_reported": text("_total_params_reported"),
        "active_params_reported": text("_active_params_reported"),
        "source": text("_source"),
        "doubts": [str(d) for d in doubts],
    }


# Keys that give a MoE model shared (always-on) experts in the Hugging Face families that have them: DeepSeek-V2/V3
# and GLM-4-MoE n_shared_experts; Qwen2-MoE and Qwen3-Next shared_expert_intermediate_size; ERNIE-4.5
# moe_num_shared_experts; Hunyuan num_shared_expert (each family's configuration_*.py in huggingface/transformers).
# Only the builders named here read one; any other family's code builds no shared expert from it.
SHARED_EXPERT_KEYS: tuple[str, ...] = (
    "n_shared_experts", "shared_expert_intermediate_size", "num_shared_experts", "moe_num_shared_experts",
    "num_shared_expert",
)
_READS_SHARED = {"deepseek_v2": "n_shared_experts", "deepseek_v3": "n_shared_experts"}


def _unread_shared_experts(config: dict[str, Any], model_type: str) -> list[str]:
    """A note per shared-expert key the ``model_type``'s code does not read, where it asks for any (a number other
    than 0): the model is built without that shared expert, as transformers' class for the type builds it."""
    notes = []
    for key in SHARED_EXPERT_KEYS:
        value = config.get(key)
        if key == _READS_SHARED.get(model_type) or value is None or value is False or value == 0:
            continue
        notes.append(f"{key} = {value!r} is not read for model_type {model_type!r} (its transformers class builds "
                     "no shared expert from it), so the model has no shared expert; a family that reads shared "
                     "experts: deepseek_v2 or deepseek_v3 (n_shared_experts x moe_intermediate_size)")
    return notes


OWN_KV_RULE = frozenset({"gptj", "falcon"})
"""Families whose builder states its own KV-head rule (GPT-J: no GQA; Falcon: num_kv_heads, multi_query)."""
TEXT_CONFIG_TYPES = frozenset({"gemma3", "llama4"})
"""Families whose builder reads the decoder's keys from ``text_config`` where the config has one."""


def _defaulted_kv_heads(config: dict[str, Any], model_type: str) -> list[str]:
    """A note where the config states no ``num_key_value_heads``: the model is read as multi-head attention (one KV
    head per query head, as transformers' LlamaConfig fills it in), which sizes the KV cache; transformers' config
    classes for other families fill in other numbers, so the user is told to state it."""
    if model_type in OWN_KV_RULE:
        return []
    text = config.get("text_config")
    keys = text if model_type in TEXT_CONFIG_TYPES and isinstance(text, dict) else config
    if keys.get("num_key_value_heads") is not None:
        return []
    heads = keys.get("num_attention_heads")
    return [f"num_key_value_heads is not stated: read as multi-head attention ({heads} KV heads, one per query "
            "head, as transformers' LlamaConfig fills it in), which sets the KV cache's size; other families' "
            "config classes fill in other numbers: state num_key_value_heads in the config if the model uses "
            "grouped-query attention"]


def model_spec_from_config(config: dict[str, Any], model_id: str, where: str) -> ModelSpec:
    """Normalise one Hugging Face ``config.json`` mapping into a :class:`ModelSpec`.

    ``model_id`` becomes :attr:`ModelSpec.id`; ``where`` (a file path or catalogue name)
    prefixes every error message.
    """
    if not isinstance(config, dict):
        raise SpecError(f"{where}: the top level must be a mapping of fields, got {type(config).__name__}")
    model_type = _model_type(config, where)
    fields, layers, notes = BUILDERS[model_type](ConfigReader(config, where))
    notes = [*notes, *_unread_shared_experts(config, model_type), *_defaulted_kv_heads(config, model_type)]
    meta = _metadata(config, where)
    meta["doubts"] += [f"inferchip: {note}" for note in notes]
    data = {"id": model_id, "model_type": model_type, **fields, "layer_groups": _layer_groups(layers), **meta}
    return validate(ModelSpec, data, where)
