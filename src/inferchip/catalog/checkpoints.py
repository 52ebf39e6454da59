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
from pathlib import Path

from inferchip.errors import SpecError

UNQUANTIZED_FORMAT = "bf16"  # what a module left out of the quantisation is stored in (the checkpoints' dtype)
_ATTENTION_MARKS = ("self_attn", "attention", "attn")
_SKIP_KEYS = ("modules_to_not_convert", "ignore", "exclude_modules")  # the lists checkpoints leave unquantised


def attention_weight_format(model_id: str, weight_format: str) -> str | None:
    """The attention projections' weight format of ``model_id``'s checkpoint when it is served in
    ``weight_format``: ``UNQUANTIZED_FORMAT`` where the checkpoint's quantisation (of method
    ``weight_format``) leaves attention out; None where it says nothing (every layer in
    ``weight_format``) or the model is neither bundled nor a config file. A user's ``config.json`` (or
    its folder) is read the same way as a bundled one, so a checkpoint gets one format map however it
    is named; a ``quantization_config`` of the wrong shape there is a :class:`SpecError` naming the file,
    the field, the value and what is allowed."""
    from inferchip.catalog.models import _canonical, resolve_alias

    canonical = _canonical(model_id)
    if canonical is not None:
        return _bundled_attention_format(resolve_alias(canonical), weight_format)
    path = Path(model_id.strip()).expanduser()
    if path.is_dir():
        path = path / "config.json"
    if not path.is_file():
        return None
    try:
        cfg = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # unreadable: loading the model itself reports it
    return _from_config(cfg, weight_format, str(path))


@lru_cache(maxsize=64)
def _bundled_attention_format(model_id: str, weight_format: str) -> str | None:
    from inferchip.catalog.models import _file_for

    try:
        cfg = json.loads(_file_for(model_id).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return _from_config(cfg, weight_format, model_id)


def _from_config(cfg: object, weight_format: str, where: str) -> str | None:
    """The attention projections' format a Hugging Face config's ``quantization_config`` states (module doc)."""
    q = cfg.get("quantization_config") if isinstance(cfg, dict) else None
    if q is None:
        return None
    if not isinstance(q, dict):
        raise SpecError(f"{where}: quantization_config: value {_short(q)} is not allowed; expected a mapping "
                        "(quant_method, modules_to_not_convert, ...)")
    if str(q.get("quant_method", "")).lower() != weight_format:
        return None
    for key in _SKIP_KEYS:
        skipped = q.get(key)
        if skipped is None:
            continue
        if not isinstance(skipped, list) or not all(isinstance(m, str) for m in skipped):
            raise SpecError(f"{where}: quantization_config.{key}: value {_short(skipped)} is not allowed; expected "
                            "a list of module names")
        if any(mark in m for m in skipped for mark in _ATTENTION_MARKS):
            return UNQUANTIZED_FORMAT
    return None


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
