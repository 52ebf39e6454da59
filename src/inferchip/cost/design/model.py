"""Die area, TDP and manufacturing cost of chip designs, vectorised over designs.

Area (mm2) of the compute silicon of one package, before any split into chiplets::

    A = (k_mac * units * macs_per_unit * F_fmt      matrix MACs (r: logic density at 7 nm / at node)
         + k_unit * units                            each unit's control around its array
         + k_lane * vector_lanes                     FP32 vector (SIMD) FMA lanes
         + k_gfx * graphics_sms                      graphics blocks (RT core, texture, raster share)
         + k_fp64 * fp64_lanes) * r(node)^eta        FP64 FMA lanes of compute GPUs
      + k_sram * sram_mb * 8e6 * bitcell(node) * 1e-6   SRAM macros (k_sram: array overhead over bitcells)
      + phy(memory type) * memory_units              memory PHYs (analog: not scaled with node)
      + serdes * link bandwidth / 100 GB/s           scale-up links
      + cpu_core * cpu_cores * r16(node)^eta         SoC CPU cores (Cortex-A72-class, die-shot area at 16 nm)
      + soc_other_mm2                                other SoC blocks (GPU, ISP, video) given at their node
      + a_fixed * host_io                            host interface, management, clocking, pads: a die with a
                                                     host interface (not scaled with the node, as the PHYs)

``units`` counts every matrix unit on the die (enabled or not); ``F_fmt`` the format support
(:data:`~inferchip.cost.design.constants.FORMAT_AREA_FACTOR`). ``vector_lanes`` counts the FP32
FMA lanes of the vector/SIMD units (a per-die fact; a design has the lanes its vector rate needs,
:data:`~inferchip.cost.design.constants.VECTOR_FRACTION_OF_BF16` of its bf16 MACs).
``graphics_sms`` is a per-die fact (the SMs carrying an RT core, texture units and their share
of raster/display: Turing/Ampere GA10x/Ada GPUs; 0 for compute GPUs and accelerators; designs
have none); so is ``fp64_lanes``. SRAM scales with the node's published bitcell area, logic
with the published logic density to the power ``eta``. The coefficients fitted are those of
:data:`inferchip.cost.design.fit.AREA_TERMS` (chosen in an earlier revision among the variants
there, kept fixed since); ``k_fp64`` stays 0 in the scored model (tried, not better on the fit
dies) and ``k_sram`` is :data:`~inferchip.cost.design.constants.SRAM_ARRAY_OVERHEAD`.
``host_io`` (0 or 1) is a floorplan
fact of the die (see :data:`~inferchip.cost.design.constants.CPU_CORE_MM2`'s neighbours); a design
that names no value has one where it has memory PHYs or links. A design whose area exceeds the
reticle (858 mm2) is split into the fewest equal chiplets that fit, each grown by the die-to-die
fraction; more dies than ``max_dies`` make the design infeasible.

Power at full rate (W): dynamic energy at the rated clock, times an activity factor at rated load,
plus the FP32 vector lanes at full rate, the DRAM at its rated bandwidth where the rated power
encloses it, static leakage per mm2 of silicon and an uncore::

    P_full = k_act * (E_flop(fmt, node) * P_peak + E_link * link)
             + k_vec * E_FMA32(node) * lanes * clock
             + k_mem * E_mem(type) * BW * dram_in_tdp + p_leak * A + p_uncore * host_io

with the per-FLOP, per-byte and per-bit energies of the assumptions file
(:mod:`inferchip.cost.energy`; ``E_mem`` the DRAM device energy per bit plus, for HBM, the
processor-side PHY) and Horowitz's FP32 FMA energy scaled by the node. ``k_mem`` is 1: the DRAM
draws its sourced energy per bit at its rated bandwidth, not a fitted share of it. ``dram_in_tdp``
says whether the rated power encloses the DRAM (:func:`dram_in_rated_power`: a board or module
power does; a chip or package TDP does for on-package HBM, not for DRAM beside the package on
the board); a design's TDP encloses its memory. The other coefficients are fitted
(:mod:`inferchip.cost.design.power_fit`). A board's rated TDP is a
power-limit choice: at most ``P_full`` (a board may cap below it, as PCIe cards do); the fit
(:func:`inferchip.cost.design.fit.die_power_w`) compares ``min(P_full, cap)`` with a die's rated
TDP where its board declares a form-factor cap (a slot-powered PCIe card: 75 W). Cost: good
dies (:func:`inferchip.cost.silicon.good_die_cost_usd`, negative-binomial yield at the node's D0
and wafer price) times the die count, plus memory, packaging and test
(:mod:`inferchip.cost.silicon`'s tables).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from inferchip.cost import energy as en
from inferchip.cost import silicon as si
from inferchip.cost.design import constants as c
from inferchip.cost.design.power_fit import vector_basis_w
from inferchip.spec.assumptions import Assumptions

F64 = npt.NDArray[np.float64]
MB_BITS = 8e6
REFERENCE_NODE_NM = 7.0


@dataclass(frozen=True)
class AreaCoefficients:
    """The fitted coefficients of the area and TDP models."""

    k_mac_mm2: float  # mm2 per bf16 MAC at 7 nm
    k_unit_mm2: float  # mm2 per matrix unit at 7 nm (the control around the MACs)
    eta: float  # how much of the node's logic density ratio dies realise (1 = all)
    a_fixed_mm2: float  # host interface, management, clocking, pads, mm2 at any node (a die with a host interface)
    k_lane_mm2: float = 0.0  # mm2 per vector lane (one per array column) at 7 nm
    k_gfx_mm2: float = 0.0  # mm2 per graphics SM (RT core, texture, raster share) at 7 nm
    k_fp64_mm2: float = 0.0  # mm2 per FP64 FMA lane at 7 nm
    k_sram: float = c.SRAM_ARRAY_OVERHEAD.value  # SRAM macro area over its bitcells (banks, periphery, tags, ECC)
    uncore_scaled: bool = False  # True: the uncore shrinks with the logic density (the previous revision's model)
    k_act: float = 1.0  # activity at rated load: dynamic power over the energy model's full-rate figure
    leak_w_per_mm2: float = 0.0  # static leakage per mm2 of silicon, W
    k_vec: float = 0.0  # all-in energy of an FP32 vector-lane FLOP over its bare FMA arithmetic (Horowitz 45 nm)
    uncore_w: float = 0.0  # host interface, management, clocking and board overhead, W (a die with a host interface)
    k_mem: float = 1.0  # DRAM power over its sourced device + PHY energy at the rated bandwidth (1: as sourced)


def logic_scale(node_nm: npt.ArrayLike, eta: float) -> F64:
    """Area of a logic block at ``node_nm`` over its area at 7 nm: (density 7 nm / density node)^eta."""
    d7 = c.LOGIC_DENSITY_MTR_PER_MM2[REFERENCE_NODE_NM].value
    out: F64 = (d7 / c.by_node(c.LOGIC_DENSITY_MTR_PER_MM2, node_nm)) ** eta
    return out


def format_factor(formats: npt.ArrayLike) -> F64:
    f = np.asarray(formats)
    uniq, inv = np.unique(f, return_inverse=True)
    vals = np.array([c.FORMAT_AREA_FACTOR[str(x)].value for x in uniq])
    out: F64 = vals[inv.reshape(-1)].reshape(f.shape)
    return out


def area_parts_mm2(coef: AreaCoefficients, units: npt.ArrayLike, macs_per_unit: npt.ArrayLike,
                   formats: npt.ArrayLike, node_nm: npt.ArrayLike, sram_mb: npt.ArrayLike,
                   memory_type: npt.ArrayLike, memory_units: npt.ArrayLike,
                   link_bytes_per_s: npt.ArrayLike, cpu_cores: npt.ArrayLike = 0.0,
                   soc_other_mm2: npt.ArrayLike = 0.0, host_io: npt.ArrayLike | None = None,
                   graphics_sms: npt.ArrayLike = 0.0, fp64_lanes: npt.ArrayLike = 0.0,
                   vector_lanes: npt.ArrayLike | None = None) -> dict[str, F64]:
    """Area of each part of the compute silicon, mm2 (see the module docstring)."""
    scale = logic_scale(node_nm, coef.eta)
    u = np.asarray(units, float)
    if host_io is None:  # a design: its uncore serves its off-chip interfaces
        host_io = (np.asarray(memory_units, float) > 0) | (np.asarray(link_bytes_per_s, float) > 0)
    if vector_lanes is None:  # a design: the lanes of its vector rate (a fraction of the bf16 MAC rate)
        vector_lanes = u * np.asarray(macs_per_unit, float) * c.VECTOR_FRACTION_OF_BF16.value
    ref = c.CPU_CORE_REFERENCE_NODE_NM.value
    density = c.LOGIC_DENSITY_MTR_PER_MM2
    cpu_scale = (c.by_node(density, ref) / c.by_node(density, node_nm)) ** coef.eta
    uncore_scale = scale if coef.uncore_scaled else np.ones_like(scale)
    return {
        "matrix_mm2": coef.k_mac_mm2 * u * np.asarray(macs_per_unit, float) * format_factor(formats) * scale,
        "unit_mm2": coef.k_unit_mm2 * u * scale,
        "vector_mm2": coef.k_lane_mm2 * np.asarray(vector_lanes, float) * scale,
        "graphics_mm2": coef.k_gfx_mm2 * np.asarray(graphics_sms, float) * scale,
        "fp64_mm2": coef.k_fp64_mm2 * np.asarray(fp64_lanes, float) * scale,
        "sram_mm2": coef.k_sram * np.asarray(sram_mb, float) * MB_BITS
        * c.by_node(c.SRAM_BITCELL_UM2, node_nm) * 1e-6,
        "phy_mm2": c.memory_unit(memory_type, "phy_mm2") * np.asarray(memory_units, float),
        "io_mm2": c.SERDES_MM2_PER_100GB_S.value * np.asarray(link_bytes_per_s, float) / 100e9,
        "cpu_mm2": c.CPU_CORE_MM2.value * np.asarray(cpu_cores, float) * cpu_scale,
        "soc_other_mm2": np.asarray(soc_other_mm2, float) + 0.0 * scale,
        "fixed_mm2": coef.a_fixed_mm2 * np.asarray(host_io, float) * uncore_scale,
    }


def silicon_area_mm2(coef: AreaCoefficients, *args: npt.ArrayLike) -> F64:
    """Total compute-silicon area (sum of :func:`area_parts_mm2`), mm2."""
    parts = area_parts_mm2(coef, *args)
    out: F64 = np.sum(np.stack(np.broadcast_arrays(*parts.values())), axis=0)
    return out


def split_dies(area_mm2: npt.ArrayLike, max_dies: int) -> tuple[F64, F64, npt.NDArray[np.bool_]]:
    """(dies, area per die, fits): the fewest equal chiplets of at most the reticle each, every
    chiplet grown by the die-to-die fraction; ``fits`` False where more than ``max_dies`` are needed."""
    a = np.asarray(area_mm2, float)
    reticle, grow = c.RETICLE_MM2.value, 1.0 + c.D2D_AREA_FRACTION.value
    n = np.where(a <= reticle, 1.0, np.ceil(a * grow / reticle))
    per = np.where(n > 1, a * grow / n, a)
    return n, per, n <= max_dies


def dynamic_w(peak_flop_per_s: npt.ArrayLike, node_nm: npt.ArrayLike, memory_type: npt.ArrayLike,
              memory_bytes_per_s: npt.ArrayLike, link_bytes_per_s: npt.ArrayLike, a: Assumptions,
              matrix_format: str = "bf16") -> F64:
    """Energy model's dynamic power at full rate, W: E_flop x peak + E_mem x BW + E_link x link
    (:mod:`inferchip.cost.energy`); ``memory_type`` 'none' draws no DRAM power. ``matrix_format``
    'int8' is an int8-only array: the bf16 energy x :data:`~inferchip.cost.design.constants.INT8_ONLY_ENERGY_FACTOR`."""
    if matrix_format == "int8":  # an int8-only array: the arithmetic ratio to bf16, not the tensor core's 1/2
        e_flop = np.asarray(en.energy_per_flop_j("bf16", np.asarray(node_nm, float), a), float) \
            * c.INT8_ONLY_ENERGY_FACTOR.value
    else:
        e_flop = np.asarray(en.energy_per_flop_j(matrix_format, np.asarray(node_nm, float), a), float)
    e_link = float(en.link_energy_j(1.0, a))
    out: F64 = (e_flop * np.asarray(peak_flop_per_s, float) + memory_power_w(memory_type, memory_bytes_per_s, a)
                + e_link * np.asarray(link_bytes_per_s, float))
    return out


def memory_power_w(memory_type: npt.ArrayLike, memory_bytes_per_s: npt.ArrayLike, a: Assumptions) -> F64:
    """DRAM power at ``memory_bytes_per_s``, W: bandwidth x the energy per byte of the memory type
    (:func:`inferchip.cost.energy.memory_energy_per_byte_j`: DRAM device pJ/bit, plus the processor-side
    PHY for HBM); type 'none' draws nothing."""
    types = np.asarray(memory_type)
    e_mem = np.zeros(types.shape)
    for t in np.unique(types):
        if str(t) != "none":
            e_mem = np.where(types == t, float(en.memory_energy_per_byte_j(str(t), a)), e_mem)
    out: F64 = e_mem * np.asarray(memory_bytes_per_s, float)
    return out


TDP_SCOPES = ("board", "package")


def dram_in_rated_power(tdp_scope: npt.ArrayLike, memory_type: npt.ArrayLike) -> F64:
    """1 where the rated power encloses the DRAM, else 0: a ``board`` power (a card or module: its
    DRAM is on it) always; a ``package`` (chip) TDP only for HBM, whose stacks sit in the package
    under the same cooling, not for DRAM packages beside it on the board (LPDDR, DDR)."""
    scope, types = np.asarray(tdp_scope).astype(str), np.asarray(memory_type).astype(str)
    out: F64 = ((scope == "board") | ((scope == "package") & np.char.startswith(types, "hbm"))).astype(float)
    return out


def tdp_w(coef: AreaCoefficients, peak_flop_per_s: npt.ArrayLike, node_nm: npt.ArrayLike,
          memory_type: npt.ArrayLike, memory_bytes_per_s: npt.ArrayLike, link_bytes_per_s: npt.ArrayLike,
          area_mm2: npt.ArrayLike, a: Assumptions, matrix_format: str = "bf16",
          vector_flop_per_s: npt.ArrayLike = 0.0, host_io: npt.ArrayLike = 0.0,
          dram_in_tdp: npt.ArrayLike = 1.0) -> F64:
    """Power at full rate, W: ``k_act x dynamic + k_vec x vector + k_mem x DRAM x dram_in_tdp + p_leak x area
    + p_uncore x host_io`` (:mod:`inferchip.cost.design.power_fit`); ``vector_flop_per_s`` the FP32 vector
    (SIMD) rate; the DRAM at ``memory_bytes_per_s`` (:func:`memory_power_w`) where the rated power encloses
    it (:func:`dram_in_rated_power`; a design: 1). A design's TDP (a board rated below this caps its clocks,
    which the model does not do)."""
    dyn = dynamic_w(peak_flop_per_s, node_nm, "none", 0.0, link_bytes_per_s, a, matrix_format)
    vec = vector_basis_w(np.asarray(vector_flop_per_s, float) / 2.0, node_nm, a)  # an FMA is 2 FLOP
    mem = memory_power_w(memory_type, memory_bytes_per_s, a) * np.asarray(dram_in_tdp, float)
    out: F64 = (coef.k_act * dyn + coef.k_vec * vec + coef.k_mem * mem
                + coef.leak_w_per_mm2 * np.asarray(area_mm2, float) + coef.uncore_w * np.asarray(host_io, float))
    return out


def cost_parts_usd(dies: npt.ArrayLike, die_area_mm2: npt.ArrayLike, node_nm: npt.ArrayLike,
                   memory_type: npt.ArrayLike, memory_gib: npt.ArrayLike, a: Assumptions) -> dict[str, F64]:
    """Manufacturing cost of one package by part, USD: good dies, memory, packaging, test."""
    area = np.asarray(die_area_mm2, float)
    node = np.broadcast_to(np.asarray(node_nm, float), area.shape)
    die_usd = np.zeros(area.shape)
    for n in np.unique(node):
        sel = node == n
        die_usd[sel] = np.asarray(si.good_die_cost_usd(area[sel], float(n), a), float)
    types = np.broadcast_to(np.asarray(memory_type), area.shape)
    prices = a.table("silicon.memory_usd_per_gib")
    uniq, inv = np.unique(types, return_inverse=True)
    per_gib = np.array([prices.get(str(t), 0.0) for t in uniq])[inv.reshape(-1)].reshape(area.shape)
    hbm = np.char.startswith(types.astype(str), "hbm")
    n_dies = np.asarray(dies, float)
    pack, test = a.table("silicon.packaging_usd"), a.table("silicon.test_assembly_usd")
    kind_pack = np.where(hbm, np.where(n_dies > 1, pack["cowos-l"], pack["cowos-s"]), pack["organic"])
    kind_test = np.where(hbm, np.where(n_dies > 1, test["cowos-l"], test["cowos-s"]), test["organic"])
    return {"dies_usd": die_usd * n_dies, "memory_usd": per_gib * np.asarray(memory_gib, float),
            "packaging_usd": kind_pack.astype(float), "test_usd": kind_test.astype(float)}
