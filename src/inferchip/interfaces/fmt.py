"""Human-readable quantities: decimal rates, capacities with explicit GB or GiB."""

from __future__ import annotations

import json
import math
from typing import Any

from inferchip.units import percent


def ms(seconds: float) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "-"
    v = seconds * 1e3
    return f"{v:,.1f} ms" if v >= 10 else f"{v:,.2f} ms"


def gb(nbytes: float) -> str:
    return f"{nbytes / 1e9:,.1f} GB"


def rate(x: float, unit: str = "tok/s") -> str:
    if x is None or not math.isfinite(x):
        return "-"
    return f"{x:,.0f} {unit}" if x >= 100 else f"{x:,.2f} {unit}"


def sig(x: float, digits: int = 3) -> str:
    """``x`` to at least ``digits`` significant figures (whole numbers kept whole), thousands separated,
    never in exponent form: 0.0146, 8.23, 3,768."""
    if x == 0 or not math.isfinite(x):
        return f"{x:g}"
    rounded = float(f"{x:.{digits}g}")  # 9.996 -> 10.0, whose exponent sets the decimals
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(rounded))))
    return f"{x:,.{decimals}f}"


def pct(x: float) -> str:
    return f"{percent(x):.0f}%"


def _default(o: Any) -> Any:
    import numpy as np  # only a value from numpy gets here (numpy is not imported for the others)

    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, float) and not math.isfinite(o):
        return None
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def to_json(obj: Any) -> str:
    return json.dumps(obj, indent=2, default=_default, allow_nan=False) if not _has_nan(obj) else json.dumps(
        _clean(obj), indent=2, default=_default)


def _has_nan(obj: Any) -> bool:
    if isinstance(obj, float):
        return not math.isfinite(obj)
    if isinstance(obj, dict):
        return any(_has_nan(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return any(_has_nan(v) for v in obj)
    return False


def _clean(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj
