"""The GEMM tiles a row's stack picks from (``catalog/gemm_tiles.yaml``): load, and give a row's chip the
candidate tiles of the first entry whose ``match`` fragment occurs in its ``software`` cell on a chip of one of
its ``families`` (:func:`stack_chip`). The pick itself is :func:`inferchip.cost.gemm.chosen_tile_flop`."""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from inferchip.catalog.yaml_io import read_mapping, validate
from inferchip.spec.params import ChipParams

GEMM_TILES_FILE = Path(__file__).resolve().parent / "gemm_tiles.yaml"


class GemmTileStack(BaseModel):
    """One stack's candidate output tiles for its dense weight GEMMs, and where they come from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1)
    match: tuple[str, ...] = Field(min_length=1, description="Lower-case fragments of a row's software cell.")
    families: tuple[str, ...] = Field(min_length=1, description="Chip families (catalog/families.yaml keys).")
    tiles: tuple[tuple[int, int], ...] = Field(min_length=1, description="(M, N) candidate tiles.")
    kind: Literal["source", "estimate"]
    source: str = Field(min_length=1)


class GemmTileCatalog(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    stacks: tuple[GemmTileStack, ...]


@lru_cache(maxsize=2)
def load_gemm_tiles(path: str = str(GEMM_TILES_FILE)) -> GemmTileCatalog:
    data: dict[str, Any] = read_mapping(Path(path))
    cat = validate(GemmTileCatalog, data, path)
    for s in cat.stacks:
        if any(m != m.lower() for m in s.match) or any(a <= 0 or b <= 0 for a, b in s.tiles):
            raise ValueError(f"{path}: stack {s.id}: match fragments must be lower case and tiles positive")
    return cat


def stack_tiles(software: str, family: str) -> tuple[tuple[int, int], ...]:
    """Candidate tiles of the first stack matching ``software`` on a ``family`` chip; () where none does."""
    low = software.lower()
    for s in load_gemm_tiles().stacks:
        if family in s.families and any(m in low for m in s.match):
            return s.tiles
    return ()


def stack_chip(chip: ChipParams, software: str) -> ChipParams:
    """``chip`` with the candidate tiles of the row's stack (:func:`stack_tiles`); itself where none match."""
    tiles = stack_tiles(software, chip.family)
    return replace(chip, gemm_tile_choices=tiles) if tiles != chip.gemm_tile_choices else chip
