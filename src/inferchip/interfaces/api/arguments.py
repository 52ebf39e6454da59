"""The public API's checks of its vector and point arguments, shared by ``ic.sweep`` and ``ic.curve``: a
vector is a list of values (one value a list of one), a point a finite positive whole number."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd

from inferchip.errors import InvalidSettingError
from inferchip.spec.chip import ChipParams, ChipSpec
from inferchip.spec.model import ModelSpec

if TYPE_CHECKING:
    pass


def vector(name: str, v: object, *, none_ok: bool = False) -> list[Any]:
    """``v`` as the list of its values: a number (or, for ``chip``, one chip) is a list of one; a sequence, a numpy
    array or a pandas Series its elements. Each element is checked where it is used (``ic.predict``'s checks)."""
    if v is None and none_ok:
        return [None]
    if isinstance(v, str | bytes | ChipSpec | ChipParams | ModelSpec) or not isinstance(v, Iterable):
        return [v]
    out = list(np.asarray(v).ravel().tolist()) if isinstance(v, np.ndarray | pd.Series) else list(v)
    if not out:
        raise InvalidSettingError(f"{name}: an empty sequence; allowed: one value or a non-empty sequence of them")
    return out


def checked_point(name: str, v: object) -> None:
    """One value of a swept length or batch (or a curve's lengths and requests per user): a finite number above 0,
    whole for a batch and requests per user (``ic.predict``'s rule), named here so that a bad one stops the call
    before it starts, not at its row."""
    from numbers import Real

    from inferchip.errors import named, positive

    if v is None or isinstance(v, bool) or not isinstance(v, Real):  # positive() lets None (not given) pass
        raise InvalidSettingError(f"{named(name)} must be a number, got {v!r} ({type(v).__name__}); allowed: a finite "
                                  "number above 0")
    positive(name, cast(float, v))  # (a Real: 10**400 is refused there, not overflowed here)
    if name in ("batch", "requests_per_user") and not v % 1 == 0:
        raise InvalidSettingError(f"{named(name)} must be a whole number, got {v!r}; allowed: 1, 2, 3, ...")
