"""Estimated figures: a :class:`Range` (low, central, high, derivation) or a plain number."""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator
from pydantic_core import PydanticCustomError

from inferchip.spec.bounds import Bound

EstimateLevel = Literal["low", "central", "high"]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Range(Frozen):
    """An estimated figure: low, central and high value with the derivation written out.

    The values are finite and >= 0 here; a field's own bound (:mod:`inferchip.spec.bounds`)
    narrows them through :func:`bounded_range`.
    """

    low: float = Field(ge=0, allow_inf_nan=False, strict=True)
    central: float = Field(ge=0, allow_inf_nan=False, strict=True)
    high: float = Field(ge=0, allow_inf_nan=False, strict=True)
    derivation: str = Field(min_length=1)

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if not self.low <= self.central <= self.high:
            raise ValueError(f"need low <= central <= high, got {self.low}, {self.central}, {self.high}")
        return self


Figure = float | Range


@cache
def bounded_range(bound: Bound) -> type[Range]:
    """A :class:`Range` subclass whose three values each lie in ``bound``."""
    value = Annotated[float, bound]
    model: type[Range] = create_model(
        "Range",  # shown as Range(...); pydantic tells the per-bound subclasses apart by identity
        __base__=Range,
        low=(value, ...),
        central=(value, ...),
        high=(value, ...),
    )
    return model


def pick(value: Figure | None, level: EstimateLevel = "central") -> float | None:
    """The number to use for a figure at an estimate level."""
    if value is None:
        return None
    if isinstance(value, Range):
        return float(getattr(value, level))
    return float(value)


def cross_field_error(field_name: str, value: Any, message: str) -> PydanticCustomError:
    """An error about one field found by a model validator; the loader names ``field_name``."""
    return PydanticCustomError("cross_field", "{message}", {"field": field_name, "value": value, "message": message})
