"""The published dies the design model is fitted and measured on (``catalog/design_dies.csv``): one :class:`Die` a
row, read with a clear error for a bad value, each with its role under the declared split (:func:`declared_roles`:
every third die by first disclosure held out). The fit itself is :mod:`inferchip.cost.design.fit`.

The SRAM macros of catalogue chips whose compute silicon is no single row (``catalog/design_packages.csv``,
:func:`load_packages`): a chip on a die of the file under another chip's id (H200's GH100), a package of several
compute dies (MI355X's 8 XCDs, with the Infinity Cache of its I/O dies), or a die whose area is not published
(B200's, an estimate): the package's SRAM as the area model counts it, not a row of the fit."""

from __future__ import annotations

import csv
from dataclasses import dataclass, replace
from importlib import resources

from inferchip.cost.design import model as dm
from inferchip.cost.energy import MEMORY_LEVELS
from inferchip.errors import InvalidSettingError

DIES_FILE = "design_dies.csv"
HOLDOUT_EVERY = 3  # the declared split: every third die in order of first disclosure is held out


@dataclass(frozen=True)
class Die:
    name: str
    role: str  # 'fit' or 'holdout', from :func:`declared_roles`, never from the file
    announced: str  # YYYY-MM of the die's first public disclosure (sourced per die)
    chip_id: str
    area_mm2: float
    node_nm: float
    matrix_format: str
    matrix_tflops: float
    clock_ghz: float
    matrix_units_on_die: float
    macs_per_unit: float
    sram_mb: float
    memory_type: str
    memory_units: float
    link_bytes_per_s: float
    cpu_cores: float
    soc_other_mm2: float
    vector_lanes: float
    graphics_sms: float
    fp64_lanes: float
    host_io: float
    tdp_w: float | None
    board_cap_w: float  # the board's form-factor power limit (inf: none declared)
    source: str
    memory_bytes_per_s: float = 0.0  # rated DRAM bandwidth of the product whose TDP is used
    dram_level: str = "none"  # energy level of that DRAM (inferchip.cost.energy.MEMORY_LEVELS) or 'none'
    tdp_scope: str = "package"  # what the rated power encloses: 'board' (card/module) or 'package' (chip)
    tdp_clock_ghz: float = 0.0  # the clock the TDP is rated at (0: clock_ghz)

    @property
    def rating_scale(self) -> float:
        """Rated-power clock over the clock of ``matrix_tflops`` (1 unless the file says otherwise)."""
        return self.tdp_clock_ghz / self.clock_ghz if self.tdp_clock_ghz else 1.0

    @property
    def enabled_fraction(self) -> float:
        """Share of the die's units the rated product enables: its matrix peak over the full die's at
        that clock, at most 1 (fused-off SMs draw no dynamic power; the file counts lanes on the die)."""
        full = 2.0 * self.matrix_units_on_die * self.macs_per_unit * self.clock_ghz * 1e9
        return min(1.0, self.matrix_tflops * 1e12 / full)


def declared_roles(dies: list[Die]) -> list[str]:
    """Role of each die under the declared split: ordered by (``announced``, name), the 3rd, 6th,
    9th, ... die is ``holdout``, the rest ``fit`` (a rule on disclosure dates, blind to errors)."""
    order = sorted(range(len(dies)), key=lambda i: (dies[i].announced, dies[i].name))
    roles = ["fit"] * len(dies)
    for rank, i in enumerate(order, start=1):
        if rank % HOLDOUT_EVERY == 0:
            roles[i] = "holdout"
    return roles


def _checked(r: dict[str, str]) -> dict[str, str]:
    """The row, or a clear error naming the die, the field, the value and what is allowed."""
    allowed = {"tdp_scope": dm.TDP_SCOPES, "dram_level": ("none", *MEMORY_LEVELS)}
    for field, ok in allowed.items():
        if r[field] not in ok:
            raise InvalidSettingError(f"{DIES_FILE}, die '{r['die']}': {field} '{r[field]}' is not one of "
                                      f"{', '.join(ok)}")
    return r


def load_dies() -> list[Die]:
    text = resources.files("inferchip.catalog").joinpath(DIES_FILE).read_text(encoding="utf-8")
    out = []
    for r in map(_checked, csv.DictReader(text.splitlines())):
        out.append(Die(r["die"], "", r["announced"], r["chip_id"], float(r["area_mm2"]), float(r["node_nm"]),
                       r["matrix_format"], float(r["matrix_tflops"]), float(r["clock_ghz"]),
                       float(r["matrix_units_on_die"]), float(r["macs_per_unit"]), float(r["sram_mb"]),
                       r["memory_type"], float(r["memory_units"]), float(r["link_gb_per_s_total"]) * 1e9,
                       float(r["cpu_cores"]), float(r["soc_other_mm2"]), float(r["vector_lanes"]),
                       float(r["graphics_sms"]), float(r["fp64_lanes"]), float(r["host_io"]),
                       float(r["tdp_w"]) if r["tdp_w"] else None,
                       float(r["board_cap_w"]) if r["board_cap_w"] else float("inf"), r["source"],
                       float(r["memory_gb_per_s"]) * 1e9, r["dram_level"], r["tdp_scope"],
                       float(r["tdp_clock_ghz"] or 0.0)))
    return [replace(d, role=role) for d, role in zip(out, declared_roles(out), strict=True)]


PACKAGES_FILE = "design_packages.csv"


@dataclass(frozen=True)
class PackageSram:
    """A catalogue chip's SRAM macros as the area model counts them (every macro on the full die, MB as published),
    where design_dies.csv has no row of its own for it: ``die`` names the row its compute dies are ('' where none),
    else ``sram_mb_per_die`` gives them; ``off_die_sram_mb`` is SRAM on the package's other dies (I/O dies)."""

    chip_id: str
    die: str
    sram_mb_per_die: float | None
    off_die_sram_mb: float
    estimate: bool
    source: str

    def package_sram_mb(self, compute_dies: int, dies: list[Die]) -> float:
        """The package's SRAM macros, MB: its compute dies' times their count, plus the other dies'."""
        per = self.sram_mb_per_die if self.sram_mb_per_die is not None else next(
            d.sram_mb for d in dies if d.name == self.die)
        return compute_dies * per + self.off_die_sram_mb


def load_packages(text: str | None = None) -> dict[str, PackageSram]:
    """``catalog/design_packages.csv`` (or ``text`` in its columns) by chip id; a bad row is an error naming the file,
    the chip, the field, the value and what is allowed."""
    if text is None:
        text = resources.files("inferchip.catalog").joinpath(PACKAGES_FILE).read_text(encoding="utf-8")
    names = {d.name for d in load_dies()}
    out: dict[str, PackageSram] = {}
    for r in csv.DictReader(text.splitlines()):
        where = f"{PACKAGES_FILE}, chip '{r['chip_id']}'"
        if r["chip_id"] in out:
            raise InvalidSettingError(f"{where}: chip_id given twice; allowed: one row a chip")
        if bool(r["die"]) == bool(r["sram_mb_per_die"]):
            raise InvalidSettingError(f"{where}: die '{r['die']}', sram_mb_per_die '{r['sram_mb_per_die']}'; allowed: "
                                      "exactly one of them (a design_dies.csv row, or the SRAM of one die)")
        if r["die"] and r["die"] not in names:
            raise InvalidSettingError(f"{where}: die '{r['die']}' is no row of {DIES_FILE}; allowed: "
                                      f"{', '.join(sorted(names))}")
        if r["estimate"] not in ("yes", "no"):
            raise InvalidSettingError(f"{where}: estimate '{r['estimate']}'; allowed: yes, no")
        per = float(r["sram_mb_per_die"]) if r["sram_mb_per_die"] else None
        off = float(r["off_die_sram_mb"] or 0.0)
        for field, v in (("sram_mb_per_die", per), ("off_die_sram_mb", off)):
            if v is not None and not 0.0 <= v < 1e6:
                raise InvalidSettingError(f"{where}: {field} {v}; allowed: 0 to 1,000,000 MB")
        out[r["chip_id"]] = PackageSram(r["chip_id"], r["die"], per, off, r["estimate"] == "yes", r["source"])
    return out
