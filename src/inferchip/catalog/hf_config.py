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
    return [{"count": c, "window": w, "moe": m} for (w, m), c in Counter(layers).items()]


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


def model_spec_from_config(config: dict[str, Any], model_id: str, where: str) -> ModelSpec:
    """Normalise one Hugging Face ``config.json`` mapping into a :class:`ModelSpec`.

    ``model_id`` becomes :attr:`ModelSpec.id`; ``where`` (a file path or catalogue name)
    prefixes every error message.
    """
    if not isinstance(config, dict):
        raise SpecError(f"{where}: the top level must be a mapping of fields, got {type(config).__name__}")
    model_type = _model_type(config, where)
    fields, layers, notes = BUILDERS[model_type](ConfigReader(config, where))
    meta = _metadata(config, where)
    meta["doubts"] += [f"inferchip: {note}" for note in notes]
    data = {"id": model_id, "model_type": model_type, **fields, "layer_groups": _layer_groups(layers), **meta}
    return validate(ModelSpec, data, where)
