"""A catalogue chip's YAML as a user would copy and edit it: read it (:func:`catalogue_raw`), scale a figure that
may be a low/central/high range (:func:`scaled`), write the edited copy where a test can load it (:func:`write_chip`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from inferchip.catalog.chips import _CHIPS_DIR as CHIPS_DIR


def catalogue_raw(chip: str) -> dict[str, Any]:
    """The catalogue's YAML of ``chip``, as read (a fresh copy each call, for a test to edit)."""
    raw: dict[str, Any] = yaml.safe_load((CHIPS_DIR / f"{chip}.yaml").read_text())
    return raw


def scaled(value: Any, factor: float) -> Any:
    """``value`` x ``factor``; a range's low/central/high each scaled, its other keys (source, note) kept."""
    if isinstance(value, dict):
        return {**value, **{k: value[k] * factor for k in ("low", "central", "high") if k in value}}
    return value * factor


def write_chip(tmp_path: Path, raw: dict[str, Any], name: str) -> str:
    """``raw`` written to ``tmp_path/name.yaml`` under the id ``name``; the path, as ``--chip`` takes it."""
    raw["id"] = name
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)
