"""Provenance of numbers: every catalogue constant carries where it came from."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

SourceKind = Literal["datasheet", "paper", "measurement", "price", "press", "estimate", "assumption", "derived"]


class Source(BaseModel):
    """A citation. ``kind`` says whether it is a datasheet, a paper, an estimate (and whose), ..."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    citation: str
    kind: SourceKind = "datasheet"
    url: str | None = None
    retrieved: str | None = None
    note: str | None = None
