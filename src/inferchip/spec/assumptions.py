"""Schema of the assumptions file: every constant of the energy, silicon and money models.

Each constant is ``{value, unit, source}``; a table maps a key (a number format, a
memory level, a node in nm, a package kind) to such constants. The models are frozen
and reject unknown fields. :class:`Assumptions` exposes plain numbers through
:meth:`Assumptions.number` and :meth:`Assumptions.table` so the cost functions never
touch the provenance, and :meth:`Assumptions.describe` lists every constant with its
citation for reports.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from inferchip.sources import Source
from inferchip.spec.bounds import Bound
from inferchip.spec.formats import ALL_FORMATS


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Constant(_Frozen):
    """One number with its unit and where it came from."""

    value: float = Field(description="The number, in `unit`; never negative.")
    unit: str
    source: Source

    @field_validator("value", mode="before")
    @classmethod
    def _numeric(cls, v: Any) -> float:
        if v is None:
            raise ValueError("missing value: a number is required")
        return float(CONSTANT_VALUE.check(v))


CONSTANT_VALUE = Bound(0, 1e9, "in its unit", low_inclusive=True)  # largest today: a 3e4 USD wafer
"""Envelope of every assumption constant: finite, never negative, at most 1e9."""


Table = dict[str, Constant]


def _str_keys(v: Any) -> Any:
    """YAML reads ``7:`` as an int; tables are keyed by strings."""
    if isinstance(v, dict):
        return {str(k): item for k, item in v.items()}
    return v


def _node_keys(table: Table, field: str) -> Table:
    for key in table:
        try:
            nm = float(key)
        except ValueError:
            raise ValueError(f"{field}: key '{key}' must be a node size in nm (a number)") from None
        if not nm > 0:
            raise ValueError(f"{field}: key '{key}' must be a positive node size in nm")
    if len(table) < 2:
        raise ValueError(f"{field}: needs at least two nodes to interpolate between")
    return table


def _positive(c: Constant, field: str) -> None:
    if not c.value > 0:
        raise ValueError(f"{field}: must be greater than 0, got {c.value}")


# Plausible ranges of the money and rate assumptions: an input check, not a model. Each sits several times beyond
# any real figure on either side, so a real value never hits one; a percent typed as a fraction (or back), a price
# in cents or in thousands, a month typed as a year always does. All are estimates (inferchip, stop 36); the
# bundled value of each is in catalog/assumptions.yaml with its source. Keys: section.field, or section.table for
# every entry of a table. Value: (low, high, unit, reason and the usual slip).
PLAUSIBLE: dict[str, tuple[float, float, str, str]] = {
    # A cost of capital is a fraction per year: corporate WACCs run ~0.05-0.15 (the bundled 0.10); 0.5 is above any
    # lending rate for data-centre equipment, so 8 (meant as 8 %) is refused instead of read as 800 %/year.
    "tco.annual_cost_of_capital": (0.0, 0.5, "1/year", "a fraction per year: 8 % is written 0.08"),
    # Industrial electricity: ~0.03-0.30 USD/kWh (the bundled US 2023 average 0.0806); 1 is several times any
    # average industrial tariff (a spot-price spike is not a tariff). 0 is allowed (own generation, or energy left
    # out). 120 (cents) or 80 (USD/MWh) is refused.
    "tco.usd_per_kwh": (0.0, 1.0, "USD/kWh", "US dollars per kWh: 12 cents is written 0.12, 80 USD/MWh 0.08"),
    # Colocation rent per kW of IT capacity and month: ~100-400 in primary markets (the bundled CBRE 184.06); 2,000 is
    # five times the dearest, so a rent per kW-year (~2,200) is refused.
    "tco.colocation_usd_per_kw_month": (0.0, 2_000.0, "USD/(kW month)", "US dollars per kW and month, not per year"),
    # Accelerator servers are depreciated over 3-6 years (the bundled 5); 20 years is beyond any IT equipment, so a
    # lifetime in months (60) is refused.
    "tco.lifetime_years": (0.1, 20.0, "years", "years, not months"),
    # The system around an accelerator (chassis, CPUs, DRAM, NICs, switches) costs a fraction of its price (the
    # bundled 0.5); 10 times the accelerator covers a cheap chip in a full server, 50 (meant as 50 %) is refused.
    "tco.system_overhead_fraction": (0.0, 10.0, "fraction of accelerator price", "a fraction: 50 % is written 0.5"),
    # A board of NPUs per chip (the bundled 1,500 USD): 100,000 USD per chip is beyond any server.
    "tco.npu_board_system_usd_per_chip": (0.0, 100_000.0, "USD per chip", "US dollars per chip"),
    # What a rack's price leaves out (scale-out fabric, storage; the bundled 0.15): 15 (meant as 15 %) is refused.
    "tco.system_price_outside_fraction": (0.0, 1.0, "fraction of a system price", "a fraction: 15 % is written 0.15"),
    # An embedded module's carrier and supply (the bundled 0: the catalogue prices a module as its developer kit)
    "tco.embedded_soc_system_usd_per_module": (0.0, 100_000.0, "USD per module", "US dollars per module"),
    # An embedded module's energy overhead (the bundled 1: no facility) is a ratio at least 1, as a PUE is
    "tco.embedded_soc_energy_overhead": (1.0, 3.0, "ratio", "a ratio: 1.1, not 110"),
    # ... and its space rent per kW and month (the bundled 0: it sits in the car or robot it serves), as colocation's
    "tco.embedded_soc_space_usd_per_kw_month": (0.0, 2_000.0, "USD/(kW month)", "US dollars per kW and month, not "
                                                "per year"),
    # A PUE is at least 1 (checked below) and ~1.1-1.6 today (the bundled Uptime 2024 average 1.56); 3 is above the
    # Uptime survey's 2007 average (about 2.5), so 156 (a percent) is refused.
    "tco.pue": (1.0, 3.0, "ratio", "a ratio: 1.56, not 156"),
    # Fans take several percent of IT power (the bundled 0.08); half of it is beyond any air-cooled server.
    "host.fan_power_fraction": (0.0, 0.5, "fraction of IT power", "a fraction: 8 % is written 0.08"),
    # PSUs convert at 0.80 (80 PLUS base) to 0.96 (Titanium, the bundled value); 0.5 is below any server supply.
    "host.psu_efficiency": (0.5, 1.0, "fraction", "a fraction: 96 % is written 0.96"),
    # A processed 300 mm wafer: ~1,650 USD (90 nm) to ~30,000 USD (N2) in the bundled table; 100 and 200,000 sit
    # far outside, so a price in thousands (17 for 17,000) is refused.
    "silicon.wafer_price_usd": (100.0, 200_000.0, "USD/wafer", "US dollars per wafer, not thousands"),
    # DRAM and HBM: ~2-20 USD/GiB in the bundled table; 0.1 and 200 sit far outside, so a price per TiB or per Gbit
    # is refused.
    "silicon.memory_usd_per_gib": (0.1, 200.0, "USD/GiB", "US dollars per GiB, not per TiB or per Gbit"),
    # Packaging and test: 1-1,100 USD per package in the bundled table; 100,000 is beyond any package.
    "silicon.packaging_usd": (0.0, 100_000.0, "USD/package", "US dollars per package"),
    "silicon.test_assembly_usd": (0.0, 100_000.0, "USD/package", "US dollars per package"),
    # One HBM stack: 8-64 GiB, 0.3-3.3 TB/s bundled; one in GB/s (1,280 for 1.28) or Gbit (288 for 36 GiB) refused.
    "silicon.hbm_stack_gib": (1.0, 256.0, "GiB/stack", "GiB of one stack, not Gbit"),
    "silicon.hbm_stack_tb_per_s": (0.05, 20.0, "TB/s/stack", "TB/s of one stack, not GB/s"),
}


def _plausible(section: str, model: BaseModel) -> None:
    """Refuse a money or rate assumption outside its :data:`PLAUSIBLE` range, naming field, value and range."""
    for key, (low, high, unit, hint) in PLAUSIBLE.items():
        sec, field = key.split(".")
        if sec != section:
            continue
        node = getattr(model, field)
        entries = {"": node} if isinstance(node, Constant) else {f".{k}": c for k, c in (node or {}).items()}
        for suffix, c in entries.items():
            if not low <= c.value <= high:
                raise ValueError(f"{key}{suffix} = {c.value:g} ({unit}): outside the plausible range; allowed: "
                                 f"{low:g} to {high:,g} ({hint})")


class EnergyAssumptions(_Frozen):
    reference_node_nm: Constant = Field(description="Node at which flop_pj_at_reference_node holds.")
    flop_pj_at_reference_node: Table = Field(description="All-in matrix-unit energy per FLOP by number format.")
    node_energy_factor: Table = Field(description="Dynamic energy per operation relative to 45 nm, by node (nm).")
    memory_device_pj_per_bit: Table = Field(description="DRAM-side energy per bit moved, by memory level.")
    hbm_phy_pj_per_bit: Constant = Field(description="Processor-side HBM PHY energy per bit, added for HBM levels.")
    sram_pj_per_byte_at_45nm: Constant
    link_pj_per_bit: Constant = Field(description="Chip-to-chip link energy per bit, per link traversal.")
    static_power_fraction_of_tdp: Constant
    busy_power_fraction: Constant | None = Field(
        None, description="Share of the idle-to-power-limit range a chip draws whenever its kernels run, whatever "
        "their work (top clocks, every SM issuing or stalled, hot leakage); the per-FLOP energy keeps the rest of "
        "the TDP rating point (cost.energy.rated_flop_energy_factor). None = 0: idle floor plus event energies."
    )

    gemm_peak_fraction_at_limit: Constant | None = Field(
        None, description="Fraction of the datasheet dense peak a GEMM sustains at the power limit: the rating "
        "point of a chip's per-FLOP energy (cost.energy.rated_energy_per_flop_j). None = 1."
    )
    onchip_pj_per_dram_bit: Constant | None = Field(
        None, description="On-chip energy of each bit moved to or from DRAM (cache, on-chip network, shared memory, "
        "register files), pJ/bit, added to the DRAM energy in step power. None = 0."
    )

    @property
    def busy_fraction(self) -> float:
        return 0.0 if self.busy_power_fraction is None else self.busy_power_fraction.value

    @property
    def gemm_fraction(self) -> float:
        return 1.0 if self.gemm_peak_fraction_at_limit is None else self.gemm_peak_fraction_at_limit.value

    @property
    def onchip_pj_per_bit(self) -> float:
        return 0.0 if self.onchip_pj_per_dram_bit is None else self.onchip_pj_per_dram_bit.value

    def node_factor(self, node_nm: ArrayLike) -> np.ndarray:
        """Dynamic energy per operation at ``node_nm`` (> 0) relative to 45 nm, from :attr:`node_energy_factor`:
        log(factor) linear in log(node) between tabulated nodes (a local power law E ~ node^k), the nearest
        segment's exponent extended outside the table (above 45 nm the 28-45 nm one, exactly 1: C ~ L). The one
        reading of the table: the energy model (cost.energy) and the catalogue's TDP floor (catalog.chips) use it."""
        nodes = sorted(self.node_energy_factor, key=float)
        x = np.log([float(n) for n in nodes])
        y = np.log([self.node_energy_factor[n].value for n in nodes])
        lq = np.log(np.asarray(node_nm, dtype=float))
        out = np.interp(lq, x, y)
        slope_lo = (y[1] - y[0]) / (x[1] - x[0])
        slope_hi = (y[-1] - y[-2]) / (x[-1] - x[-2])
        out = np.where(lq < x[0], y[0] + slope_lo * (lq - x[0]), out)
        out = np.where(lq > x[-1], y[-1] + slope_hi * (lq - x[-1]), out)
        return np.asarray(np.exp(out), dtype=float)

    @field_validator("flop_pj_at_reference_node", "node_energy_factor", "memory_device_pj_per_bit", mode="before")
    @classmethod
    def _keys(cls, v: Any) -> Any:
        return _str_keys(v)

    @model_validator(mode="after")
    def _check(self) -> EnergyAssumptions:
        missing = [f for f in ALL_FORMATS if f not in self.flop_pj_at_reference_node]
        unknown = [f for f in self.flop_pj_at_reference_node if f not in ALL_FORMATS]
        if missing or unknown:
            raise ValueError(
                f"flop_pj_at_reference_node: needs exactly the formats {', '.join(ALL_FORMATS)}"
                f"{'; missing ' + ', '.join(missing) if missing else ''}"
                f"{'; unknown ' + ', '.join(unknown) if unknown else ''}"
            )
        _node_keys(self.node_energy_factor, "node_energy_factor")
        nodes = sorted(self.node_energy_factor, key=float)
        factors = [self.node_energy_factor[n].value for n in nodes]
        if any(f <= 0 for f in factors) or any(a > b for a, b in zip(factors, factors[1:], strict=False)):
            raise ValueError("node_energy_factor: factors must be positive and never fall as the node grows")
        _positive(self.reference_node_nm, "reference_node_nm")
        if self.static_power_fraction_of_tdp.value >= 1:
            raise ValueError("static_power_fraction_of_tdp: must be below 1")
        if self.busy_power_fraction is not None and not 0 <= self.busy_power_fraction.value < 1:
            raise ValueError(f"busy_power_fraction: must lie in [0, 1), got {self.busy_power_fraction.value}")
        if self.gemm_peak_fraction_at_limit is not None and not 0 < self.gemm_peak_fraction_at_limit.value <= 1:
            raise ValueError("gemm_peak_fraction_at_limit: must lie in (0, 1], got "
                             f"{self.gemm_peak_fraction_at_limit.value}")
        return self


class EmbeddedHostAssumptions(_Frozen):
    """The host of an embedded SoC (a chip YAML's ``system: embedded_soc``): its CPU cores and DRAM sit inside the
    module's power, so only the carrier board and its supply remain (no x86 server host, no server shared by 8)."""

    carrier_w: Constant = Field(description="Carrier board around one module (PHYs, regulators, fan), W.")
    psu_efficiency: Constant = Field(description="The board's (external) supply, AC to DC.")
    fan_power_fraction: Constant = Field(description="Fans beyond the carrier's, share of its power.")

    @model_validator(mode="after")
    def _check(self) -> EmbeddedHostAssumptions:
        _plausible("host", self)  # the server's psu and fan ranges hold for a carrier board's too
        if not self.carrier_w.value >= 0:
            raise ValueError(f"embedded_soc.carrier_w: must be >= 0, got {self.carrier_w.value}")
        return self


class HostAssumptions(_Frozen):
    host_idle_w: Constant
    host_per_accelerator_w: Constant
    psu_efficiency: Constant
    fan_power_fraction: Constant
    npu_board_host_idle_w: Constant | None = Field(
        None, description="host_idle_w of a board of NPUs with a light host (competitors.yaml npu_board_chips)."
    )
    npu_board_host_per_accelerator_w: Constant | None = Field(
        None, description="host_per_accelerator_w for such a board."
    )

    embedded_soc: EmbeddedHostAssumptions | None = Field(
        None, description="Host of an embedded SoC (chip YAML system: embedded_soc); None: the server's host.")
    host_j_per_sequence: Constant | None = Field(
        None, description="Host energy per completed request (tokenising, scheduling, detokenising, the benchmark "
        "client), J; None = 0."
    )

    @property
    def j_per_sequence(self) -> float:
        return 0.0 if self.host_j_per_sequence is None else self.host_j_per_sequence.value

    @model_validator(mode="after")
    def _check(self) -> HostAssumptions:
        _plausible("host", self)  # its psu_efficiency range (0.5 to 1) is the whole check of that field
        if self.host_j_per_sequence is not None and not self.host_j_per_sequence.value >= 0:
            raise ValueError(f"host_j_per_sequence: must be >= 0, got {self.host_j_per_sequence.value}")
        if (self.npu_board_host_idle_w is None) != (self.npu_board_host_per_accelerator_w is None):
            raise ValueError("npu_board_host_idle_w and npu_board_host_per_accelerator_w: set both or neither "
                             "(an NPU board's host is priced by the pair)")
        return self


class SiliconAssumptions(_Frozen):
    wafer_diameter_mm: Constant
    edge_exclusion_mm: Constant
    scribe_width_mm: Constant
    yield_cluster_alpha: Constant
    wafer_price_usd: Table = Field(description="Price of one processed 300 mm wafer by node (nm).")
    defect_density_per_cm2: Table = Field(description="D0 by node (nm).")
    memory_usd_per_gib: Table = Field(description="Memory price by memory level.")
    packaging_usd: Table = Field(description="Package (interposer/substrate + assembly) by package kind.")
    test_assembly_usd: Table = Field(description="Final test, burn-in and assembly by package kind.")
    hbm_stack_gib: Table = Field(description="Capacity of one HBM stack, the largest announced, by memory level.")
    hbm_stack_tb_per_s: Table = Field(description="Bandwidth of one HBM stack, the fastest announced, by level.")

    @field_validator("wafer_price_usd", "defect_density_per_cm2", "memory_usd_per_gib", "packaging_usd",
                     "test_assembly_usd", "hbm_stack_gib", "hbm_stack_tb_per_s", mode="before")
    @classmethod
    def _keys(cls, v: Any) -> Any:
        return _str_keys(v)

    @model_validator(mode="after")
    def _check(self) -> SiliconAssumptions:
        _node_keys(self.wafer_price_usd, "wafer_price_usd")
        _node_keys(self.defect_density_per_cm2, "defect_density_per_cm2")
        _positive(self.wafer_diameter_mm, "wafer_diameter_mm")
        _positive(self.yield_cluster_alpha, "yield_cluster_alpha")
        _plausible("silicon", self)
        if set(self.packaging_usd) != set(self.test_assembly_usd):
            raise ValueError("packaging_usd and test_assembly_usd must name the same package kinds")
        return self


class TcoAssumptions(_Frozen):
    system_overhead_fraction: Constant
    npu_board_system_usd_per_chip: Constant | None = Field(
        None, description="System cost per chip of a board of NPUs (board, host, chassis, network share), USD: an "
        "absolute figure, as a fraction of a cheap chip's price would under-count the board around it."
    )
    system_price_outside_fraction: Constant | None = Field(
        None, description="What a price holding its system (price.covers: system_share) leaves out (scale-out fabric, "
        "storage, installation) as a fraction of it, instead of system_overhead_fraction; None: such prices refused.")
    embedded_soc_system_usd_per_module: Constant | None = Field(
        None, description="System cost of one embedded module (a chip YAML's system: embedded_soc) beyond its price, "
        "USD: its carrier board and supply, no server rack or network (an absolute figure used instead of "
        "system_overhead_fraction x its price; None: the fraction)."
    )
    embedded_soc_energy_overhead: Constant | None = Field(
        None, description="Energy bought per unit of an embedded module's wall energy (its pue: no data-centre "
        "facility around it); None: pue.")
    embedded_soc_space_usd_per_kw_month: Constant | None = Field(
        None, description="Rent for an embedded module's space per kW and month (its colocation_usd_per_kw_month: "
        "it sits in the device it serves); None: colocation_usd_per_kw_month.")
    lifetime_years: Constant
    annual_cost_of_capital: Constant
    usd_per_kwh: Constant
    pue: Constant
    colocation_usd_per_kw_month: Constant

    @model_validator(mode="after")
    def _check(self) -> TcoAssumptions:
        _positive(self.lifetime_years, "lifetime_years")
        if self.pue.value < 1:
            raise ValueError(f"pue: a power usage effectiveness is at least 1, got {self.pue.value}")
        _plausible("tco", self)  # after the physical floor of the PUE: its range and the usual slip
        return self


class Assumptions(_Frozen):
    """Every constant the energy, silicon and money models use, each with its source."""

    energy: EnergyAssumptions
    host: HostAssumptions
    silicon: SiliconAssumptions
    tco: TcoAssumptions

    def _node(self, path: str) -> Any:
        obj: Any = self
        for part in path.split("."):
            if isinstance(obj, dict):
                if part not in obj:
                    raise KeyError(f"assumption '{path}': no entry '{part}'; known: {', '.join(obj)}")
                obj = obj[part]
            else:
                if part not in type(obj).model_fields:
                    raise KeyError(f"assumption '{path}': no field '{part}'")
                obj = getattr(obj, part)
        return obj

    def number(self, path: str) -> float:
        """Plain value of one constant by dotted path, e.g. ``"tco.pue"`` or ``"silicon.packaging_usd.cowos-s"``."""
        node = self._node(path)
        if not isinstance(node, Constant):
            raise KeyError(f"assumption '{path}' is a table, not a constant")
        return node.value

    def table(self, path: str) -> dict[str, float]:
        """Plain values of one table by dotted path, e.g. ``"energy.memory_device_pj_per_bit"``."""
        node = self._node(path)
        if not isinstance(node, dict):
            raise KeyError(f"assumption '{path}' is a constant, not a table")
        return {k: c.value for k, c in node.items()}

    def constant(self, path: str) -> Constant:
        """The constant with its unit and source, for reports."""
        node = self._node(path)
        if not isinstance(node, Constant):
            raise KeyError(f"assumption '{path}' is a table, not a constant")
        return node

    def describe(self) -> list[tuple[str, float, str, str]]:
        """Every constant as (dotted name, value, unit, citation), in file order."""
        out: list[tuple[str, float, str, str]] = []

        def walk(prefix: str, obj: Any) -> None:
            if isinstance(obj, Constant):
                out.append((prefix, obj.value, obj.unit, obj.source.citation))
            elif isinstance(obj, dict):
                for k, v in obj.items():
                    walk(f"{prefix}.{k}", v)
            elif isinstance(obj, BaseModel):
                for k in type(obj).model_fields:
                    walk(f"{prefix}.{k}" if prefix else k, getattr(obj, k))

        walk("", self)
        return out
