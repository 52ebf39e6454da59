"""Which layers a bundled checkpoint quantises: the per-layer format map's default, read from the
``quantization_config`` of its Hugging Face config (``catalog/models/*.json``).

NVFP4/MXFP4 checkpoints quantise the experts and keep other layers wider: gpt-oss lists
``model.layers.*.self_attn``, the router, the embeddings and the LM head in
``modules_to_not_convert`` (``quant_method: mxfp4``), so its attention projections stay 16-bit
(bf16, the config's ``torch_dtype`` family). Embeddings and the LM head are 16-bit in every
setting already (``mapping.memory_fit.EMBEDDING_FORMAT``).
"""

from __future__ import annotations

import json
from functools import lru_cache

UNQUANTIZED_FORMAT = "bf16"  # what a module left out of the quantisation is stored in (the checkpoints' dtype)
_ATTENTION_MARKS = ("self_attn", "attention", "attn")


@lru_cache(maxsize=64)
def attention_weight_format(model_id: str, weight_format: str) -> str | None:
    """The attention projections' weight format of ``model_id``'s checkpoint when it is served in
    ``weight_format``: ``UNQUANTIZED_FORMAT`` where the checkpoint's quantisation (of method
    ``weight_format``) leaves attention out; None where it says nothing (every layer in
    ``weight_format``) or the model is not bundled."""
    from inferchip.catalog.models import _canonical, _file_for, resolve_alias

    canonical = _canonical(model_id)
    if canonical is None:
        return None
    path = _file_for(resolve_alias(canonical))
    try:
        cfg = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    q = cfg.get("quantization_config") if isinstance(cfg, dict) else None
    if not isinstance(q, dict) or str(q.get("quant_method", "")).lower() != weight_format:
        return None
    skipped = q.get("modules_to_not_convert") or q.get("ignore") or q.get("exclude_modules") or []
    if any(isinstance(m, str) and any(mark in m for mark in _ATTENTION_MARKS) for m in skipped):
        return UNQUANTIZED_FORMAT
    return None
