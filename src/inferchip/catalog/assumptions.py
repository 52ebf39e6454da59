"""Load the assumptions file: the bundled constants, optionally overridden by a user file.

``load_assumptions()`` returns the bundled ``catalog/assumptions.yaml``.
``load_assumptions(path)`` deep-merges the user file over the bundled one, so a user
file may set any subset. An override keeps the unit of the bundled entry (one written in another
unit is refused: the value would be read as if in the bundled one); when it
carries no source (a bare number such as ``pue: 1.2``, or ``{value: 1.2}``) its source
becomes "user override in <file>". A missing, negative or non-numeric value raises
:class:`~inferchip.errors.SpecError` naming the file, the field and the value.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path
from typing import Any

from inferchip.catalog.yaml_io import read_mapping, validate
from inferchip.errors import SpecError
from inferchip.input_files import path_argument
from inferchip.spec.assumptions import Assumptions

BUNDLED_PATH = Path(__file__).with_name("assumptions.yaml")


def _is_constant(node: Any) -> bool:
    return isinstance(node, dict) and "value" in node


def _override_source(path: Path) -> dict[str, str]:
    return {"citation": f"user override in {path}", "kind": "assumption"}


def _check_unit(over: Any, unit: Any, path: Path, where: str) -> None:
    """Refuse an override written in another unit than the one the model reads the constant in (its value would
    be read as if in that unit: ``pue: {value: 1.2, unit: W}``, a price in cents/kWh)."""
    if isinstance(over, dict) and "unit" in over and unit is not None and str(over["unit"]).strip() != unit:
        raise SpecError(f"{path}: {where}.unit = {over['unit']!r}: this constant is read in {unit!r}; allowed: "
                        f"{unit!r} (convert the value) or no unit")


def _merge(base: Any, over: Any, path: Path, where: str = "") -> Any:
    """Deep-merge ``over`` onto ``base``; constants overridden without a source get a user-override source."""
    if _is_constant(base):
        if not isinstance(over, dict):  # bare value: keep the bundled unit
            return {"value": over, "unit": base.get("unit", ""), "source": _override_source(path)}
        _check_unit(over, base.get("unit"), path, where)
        merged = {**base, **over}
        if "value" in over and "source" not in over:
            merged["source"] = _override_source(path)
        return merged
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for key, value in over.items():
            # YAML reads numeric keys (nodes) as int/float; the bundled file may spell them
            # differently (7 vs 7.0): match on the numeric value when both are numbers.
            match = _matching_key(out, key)
            at = f"{where}.{key}" if where else str(key)
            if match not in out:  # a new table entry: in the unit of the table's other entries
                _check_unit(value, next((v.get("unit") for v in out.values() if _is_constant(v)), None), path, at)
            out[match] = _merge(out[match], value, path, at) if match in out else _new_entry(value, path)
        return out
    return over


def _matching_key(table: dict[Any, Any], key: Any) -> Any:
    if key in table:
        return key
    for existing in table:
        try:
            if float(existing) == float(key):
                return existing
        except (TypeError, ValueError):
            continue
    return key


def _new_entry(value: Any, path: Path) -> Any:
    """A table entry the bundled file does not have: sourced as a user override unless it names one."""
    if isinstance(value, dict) and "value" in value and "source" not in value:
        return {**value, "source": _override_source(path)}
    return value


@lru_cache(maxsize=1)
def _bundled_raw() -> dict[str, Any]:
    return read_mapping(BUNDLED_PATH)


@lru_cache(maxsize=1)
def _bundled() -> Assumptions:
    return validate(Assumptions, copy.deepcopy(_bundled_raw()), str(BUNDLED_PATH))


def load_assumptions(path: str | Path | None = None) -> Assumptions:
    """The bundled assumptions, or the bundled ones with a user file merged over them."""
    if path is None:
        return _bundled()
    user_path = path_argument(path, "assumptions", "an assumptions YAML path, or None for the bundled file")
    user = read_mapping(user_path)
    merged = _merge(copy.deepcopy(_bundled_raw()), user, user_path)
    return validate(Assumptions, merged, str(user_path))
