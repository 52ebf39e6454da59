"""Which chips a design review compares, by year (``competitors.yaml``).

:func:`competitors_for_year` gives the chip ids a review made for a year compares the claimed
chip against; an unknown year raises :class:`~inferchip.errors.InvalidSettingError` listing
the allowed years. :data:`DEFAULT_REVIEW_YEAR` is the year a review uses unless told.
:func:`npu_board_chips` lists the chips deployed as NPU boards with a light host (their wall
power and system cost use the ``npu_board`` assumptions). :func:`deployment_unit` gives, for a layer-pipelined chip
the review sizes per case (``review.deploy``), the unit its vendor deploys it in and the deployment the vendor states.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from inferchip.catalog.yaml_io import read_mapping, validate
from inferchip.errors import InvalidSettingError

COMPETITORS_YAML = Path(__file__).with_name("competitors.yaml")

# The default year is 2025, the year of the claim (Musk on X, 2025-09-06): the review first judges the claim
# against the parts it was made about, the ones shipping when it was made. AI5 ships in volume in 2027, so
# `--year 2027` adds the parts it will actually meet (B300/GB300, Rubin, MI455X, Trainium3); both years are
# reported as choices in the review's ledger.
DEFAULT_REVIEW_YEAR: int = 2025


class YearSet(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    note: str = Field(min_length=1)
    chips: tuple[str, ...] = Field(min_length=1)

    @field_validator("chips")
    @classmethod
    def _unique(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        dup = sorted({c for c in v if v.count(c) > 1})
        if dup:
            raise ValueError(f"chip id(s) listed twice: {', '.join(dup)}")
        return v


class DeploymentUnit(BaseModel):
    """How a vendor deploys a layer-pipelined chip: the chips of the unit it is installed in (a review sizes such a
    chip's system in whole units), with the unit's source; and a deployment the vendor states (chips, model,
    source), shown beside the review's sized one (not used to size it)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    chips: int = Field(ge=1, le=1_000_000)
    source: str = Field(min_length=1)
    stated_chips: int | None = Field(default=None, ge=1)
    stated_model: str = ""
    stated_source: str = ""


class Competitors(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    years: dict[int, YearSet] = Field(min_length=1)
    npu_board_chips: tuple[str, ...] = ()
    deployment_units: dict[str, DeploymentUnit] = Field(default_factory=dict)


def read_competitors(path: Path) -> Competitors:
    """Competitor sets of a YAML file; malformed -> SpecError naming file, field and value."""
    return validate(Competitors, read_mapping(path), str(path))


@lru_cache(maxsize=1)
def _bundled() -> Competitors:
    return read_competitors(COMPETITORS_YAML)


def review_years() -> tuple[int, ...]:
    """Years a review can be made for, ascending."""
    return tuple(sorted(_bundled().years))


def competitors_for_year(year: int) -> tuple[str, ...]:
    """Chip ids a review made for ``year`` compares; unknown year -> InvalidSettingError listing the allowed ones."""
    sets = _bundled().years
    if isinstance(year, bool) or not isinstance(year, int) or year not in sets:
        allowed = ", ".join(str(y) for y in review_years())
        raise InvalidSettingError(f"--year: no competitor set for year {year!r}; allowed: {allowed} "
                                  f"(default {DEFAULT_REVIEW_YEAR}; sets in {COMPETITORS_YAML.name})")
    return sets[year].chips


def year_note(year: int) -> str:
    """What a year's set is (for the report's ledger)."""
    competitors_for_year(year)
    return _bundled().years[year].note


def npu_board_chips() -> tuple[str, ...]:
    """Chips deployed as NPU boards with a light host (``npu_board`` host and system-cost assumptions)."""
    return _bundled().npu_board_chips


def deployment_unit(chip_id: str) -> DeploymentUnit | None:
    """The unit a layer-pipelined chip is deployed in (``deployment_units``), None where the file names none."""
    return _bundled().deployment_units.get(chip_id)
