"""Energy and power of a step: events (FLOP, bytes per memory level, link bytes) times energy per event.

Model (METHODS.md 2.10, 3.6):

* ``E = FLOP * e_flop(format, node) + bytes_DRAM * e_byte(level) + bytes_SRAM * e_sram(node)
  + bytes_link * e_link``, plus static power times time.
* ``e_flop`` is an all-in matrix-unit energy per FLOP (operand delivery inside the core
  included) at a reference node, scaled by the node table ``node_energy_factor``
  (E ~ C V^2: planar C ~ L above 28 nm, TSMC iso-speed power reductions below; log-log
  interpolation between nodes). Sources and derivations are in ``catalog/assumptions.yaml``.
* DRAM energy is DRAM-side pJ/bit per level plus, for HBM, the processor-side PHY.
* Board power = dynamic energy / time + static power; when that exceeds TDP the step is
  stretched (:func:`throttle`).

Board power of a busy chip (:func:`busy_static_power_w`, :func:`rated_energy_per_flop_j`):
``P = P_idle + beta (P_limit - P_idle) + e_flop FLOP / t + e_byte bytes / t + e_link link bytes / t``,
capped at ``P_limit`` (:func:`throttle`). ``beta`` (``energy.busy_power_fraction``) is the share of
the idle-to-limit range a chip draws whenever kernels run, whatever their work (clocks at the top
voltage/frequency point, every SM issuing or stalled, leakage when hot). ``e_flop`` comes from the
chip's own rating point: a GEMM at ``energy.gemm_peak_fraction_at_limit`` of the dense peak draws
the TDP, so ``e_flop = (1 - beta)(TDP - P_idle) / (fraction x peak)``; a chip without a TDP or a
rated peak takes the node-scaled figure (rated at the datasheet peak) times ``1 - beta``. Memory and link energies
are per byte from their own sources (plus ``energy.onchip_pj_per_dram_bit`` per DRAM bit where set).

All functions broadcast with numpy; scalars in give floats out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import ArrayLike

from inferchip.errors import InvalidSettingError
from inferchip.spec.assumptions import Assumptions
from inferchip.spec.formats import check_format
from inferchip.spec.memory import MEMORY_TYPES, parse_memory_type
from inferchip.units import PICO

BITS_PER_BYTE = 8

Number = float | np.ndarray


def scalar_if_0d(x: np.ndarray) -> Number:
    """A float for a 0-d result (scalar inputs), the array otherwise."""
    return float(x) if np.ndim(x) == 0 else x


def nonnegative_array(x: ArrayLike, name: str) -> np.ndarray:
    """``x`` as a float array; NaN or negative entries raise InvalidSettingError naming ``name``."""
    a = np.asarray(x, dtype=float)
    if np.any(np.isnan(a)):
        raise InvalidSettingError(f"{name}: value is not known (NaN)")
    if np.any(a < 0):
        raise InvalidSettingError(f"{name}: must not be negative, got {a[a < 0].ravel()[0]:g}")
    return a



# --- process node scaling -------------------------------------------------------------


def node_energy_factor(node_nm: ArrayLike, assumptions: Assumptions) -> Number:
    """Dynamic energy per operation at ``node_nm`` relative to 45 nm (dimensionless).

    log(factor) is linear in log(node) between tabulated nodes (a local power law
    E ~ node^k); outside the table the nearest segment's exponent is extended
    (:meth:`inferchip.spec.assumptions.EnergyAssumptions.node_factor`).
    """
    node = nonnegative_array(node_nm, "node_nm")
    if np.any(node <= 0):
        raise InvalidSettingError("node_nm: must be a positive process node in nm")
    return scalar_if_0d(assumptions.energy.node_factor(node))


def energy_per_flop_j(fmt: str, node_nm: ArrayLike, assumptions: Assumptions) -> Number:
    """All-in matrix-unit energy of one FLOP in compute format ``fmt`` at ``node_nm``, J/FLOP."""
    a = assumptions
    check_format(fmt, "compute format")
    ref_pj = a.table("energy.flop_pj_at_reference_node")[fmt]
    ref_node = a.number("energy.reference_node_nm")
    scale = np.asarray(node_energy_factor(node_nm, a)) / float(node_energy_factor(ref_node, a))
    return scalar_if_0d(ref_pj * PICO * scale)


def flop_energy_j(flop: ArrayLike, fmt: str, node_nm: ArrayLike, assumptions: Assumptions) -> Number:
    """Energy of ``flop`` FLOP computed in ``fmt`` at ``node_nm``, J."""
    f = nonnegative_array(flop, "flop")
    return scalar_if_0d(f * np.asarray(energy_per_flop_j(fmt, node_nm, assumptions)))


def sram_energy_j(bytes_: ArrayLike, node_nm: ArrayLike, assumptions: Assumptions) -> Number:
    """Energy of ``bytes_`` read or written in a large (MB-class) on-chip SRAM at ``node_nm``, J.

    Horowitz's 45 nm 1 MB-array figure scaled by :func:`node_energy_factor`. Operand traffic
    of a tiled GEMM is already inside ``e_flop``: count here only traffic the caller models
    on its own (weights/KV staged through L2 and shared memory in decode, SRAM-resident weights).
    """
    a = assumptions
    b = nonnegative_array(bytes_, "bytes")
    per_byte = a.number("energy.sram_pj_per_byte_at_45nm") * PICO * np.asarray(node_energy_factor(node_nm, a))
    return scalar_if_0d(b * per_byte / float(node_energy_factor(45.0, a)))


# --- memory levels ----------------------------------------------------------------------

# Energy/cost level of each memory type: the type itself, except where two types share one
# sourced figure (HBM2 and HBM2e share the interface class: the HBM2e figure; LPDDR4 and
# LPDDR4X differ only in I/O voltage: the LPDDR4X estimate, an upper bound for LPDDR4).
_LEVEL_OF_TYPE = {t: t for t in MEMORY_TYPES} | {"hbm2": "hbm2e", "lpddr4": "lpddr4x"}
MEMORY_LEVELS = tuple(sorted(set(_LEVEL_OF_TYPE.values())))


def memory_level(memory_type: str) -> str:
    """Energy/cost level of a memory type (``spec.memory.MEMORY_TYPES``) or of a datasheet's text.

    "hbm3e" or "HBM3e" -> hbm3e, "HBM2e (8 stacks)" -> hbm2e, "LPDDR5X (unified)" -> lpddr5x,
    "SRAM-only (no HBM/DRAM)" -> sram; text is read by :func:`inferchip.spec.memory.parse_memory_type`.
    A text naming no known type ("not disclosed") raises InvalidSettingError.
    """
    if not memory_type.strip():
        raise InvalidSettingError("memory type: empty; allowed: a string naming one of " + ", ".join(MEMORY_TYPES))
    named = parse_memory_type(memory_type)
    if named is None:
        raise InvalidSettingError(
            f"memory type '{memory_type}': not recognised; it must name one of {', '.join(MEMORY_TYPES)} "
            "(set memory.memory_type in the chip file)"
        )
    return _LEVEL_OF_TYPE[named]


def memory_energy_per_byte_j(
    memory_type: str, assumptions: Assumptions, *, node_nm: ArrayLike | None = None
) -> Number:
    """Energy per byte moved between the memory and the chip, J/B (DRAM side + HBM PHY).

    For SRAM-only parts the level is on-chip SRAM at ``node_nm`` (the reference node if None).
    """
    a = assumptions
    level = memory_level(memory_type)
    if level == "sram":
        node = a.number("energy.reference_node_nm") if node_nm is None else node_nm
        return sram_energy_j(1.0, node, a)
    table = a.table("energy.memory_device_pj_per_bit")
    if level not in table:
        raise InvalidSettingError(
            f"memory level '{level}' (from '{memory_type}') has no energy in the assumptions; known: {', '.join(table)}"
        )
    pj_per_bit = table[level] + (a.number("energy.hbm_phy_pj_per_bit") if level.startswith("hbm") else 0.0)
    return pj_per_bit * BITS_PER_BYTE * PICO


def memory_energy_j(
    bytes_: ArrayLike, memory_type: str, assumptions: Assumptions, *, node_nm: ArrayLike | None = None
) -> Number:
    """Energy of moving ``bytes_`` to or from off-chip memory of type ``memory_type``, J."""
    b = nonnegative_array(bytes_, "bytes")
    return scalar_if_0d(b * np.asarray(memory_energy_per_byte_j(memory_type, assumptions, node_nm=node_nm)))


def link_energy_j(bytes_: ArrayLike, assumptions: Assumptions) -> Number:
    """Energy of sending ``bytes_`` over one chip-to-chip link traversal, J."""
    b = nonnegative_array(bytes_, "bytes")
    return scalar_if_0d(b * BITS_PER_BYTE * assumptions.number("energy.link_pj_per_bit") * PICO)


# --- power ------------------------------------------------------------------------------


def static_power_w(tdp_w: ArrayLike, assumptions: Assumptions) -> Number:
    """Static (idle-floor) power from TDP when no measured idle power is known, W."""
    return scalar_if_0d(
        nonnegative_array(tdp_w, "tdp_w") * assumptions.number("energy.static_power_fraction_of_tdp")
    )


def busy_static_power_w(idle_w: ArrayLike, limit_w: ArrayLike, busy_fraction: float) -> Number:
    """Power of a chip while its kernels run, before their work is counted, W:
    ``idle + busy_fraction x (limit - idle)`` (``limit``: the enforced power limit, TDP or a cap)."""
    idle, limit = nonnegative_array(idle_w, "idle_w"), nonnegative_array(limit_w, "limit_w")
    if not 0.0 <= busy_fraction < 1.0:
        raise InvalidSettingError(f"busy_power_fraction: must lie in [0, 1), got {busy_fraction:g}")
    return scalar_if_0d(idle + busy_fraction * np.maximum(limit - idle, 0.0))


def rated_flop_energy_factor(busy_fraction: float) -> float:
    """Share of the all-in per-FLOP energy left to the FLOPs once a busy floor of ``busy_fraction``
    of the idle-to-TDP range is counted apart: ``1 - busy_fraction`` (a dense GEMM at datasheet
    peak still draws the TDP, the rating point ``flop_pj_at_reference_node`` was derived at)."""
    if not 0.0 <= busy_fraction < 1.0:
        raise InvalidSettingError(f"busy_power_fraction: must lie in [0, 1), got {busy_fraction:g}")
    return 1.0 - busy_fraction


def rated_energy_per_flop_j(limit_w: ArrayLike, idle_w: ArrayLike, peak_flop_per_s: ArrayLike,
                            busy_fraction: float, gemm_fraction: float) -> Number:
    """Energy of one FLOP beyond the busy floor, from the chip's own rating point, J/FLOP:
    ``(1 - busy_fraction) (limit - idle) / (gemm_fraction x peak)``.

    A vendor sets the TDP as the power of its densest sustained work, a GEMM; such a GEMM runs
    at ``gemm_fraction`` of the datasheet dense peak once the clocks settle at the power limit.
    With a busy floor of ``busy_fraction`` of the idle-to-limit range counted apart, the FLOPs of
    that GEMM carry the rest of the range. ``peak_flop_per_s``: dense peak in the FLOP's format."""
    limit, idle = nonnegative_array(limit_w, "limit_w"), nonnegative_array(idle_w, "idle_w")
    peak = nonnegative_array(peak_flop_per_s, "peak_flop_per_s")
    if np.any(peak <= 0):
        raise InvalidSettingError("peak_flop_per_s: a rating point needs a positive dense peak")
    if not 0.0 <= busy_fraction < 1.0:
        raise InvalidSettingError(f"busy_power_fraction: must lie in [0, 1), got {busy_fraction:g}")
    if not 0.0 < gemm_fraction <= 1.0:
        raise InvalidSettingError(f"gemm_peak_fraction_at_limit: must lie in (0, 1], got {gemm_fraction:g}")
    return scalar_if_0d((1.0 - busy_fraction) * np.maximum(limit - idle, 0.0) / (gemm_fraction * peak))


def vector_work_energy_per_flop_j(limit_w: ArrayLike, idle_w: ArrayLike, vector_flop_per_s: ArrayLike,
                                  busy_fraction: float) -> Number:
    """Energy beyond the busy floor of one FLOP-equivalent of work whose measured time was converted to
    FLOP at the chip's datasheet FP32 vector rate (vLLM's Triton MoE kernels' per-token work,
    ``cost.gemm.moe_token_vector_flop``), J: ``(1 - busy_fraction) (limit - idle) / vector peak``.

    Upper bound of that work's power: it was timed at the datasheet rate, so it ran at full clock, which
    a chip holds only within its power limit; at that rate these FLOP draw the whole idle-to-limit range
    (the rating point of :func:`rated_energy_per_flop_j` with ``gemm_fraction`` 1). Rating it at the GEMM
    rate at the limit instead (below 1) would put the work above the limit at the rate it was measured
    at. The busy floor (no energy of its own) is the lower bound."""
    return rated_energy_per_flop_j(limit_w, idle_w, vector_flop_per_s, busy_fraction, 1.0)


def onchip_energy_per_dram_byte_j(assumptions: Assumptions) -> float:
    """On-chip energy of each byte a step moves to or from DRAM, J/B: the byte's way through the
    last-level cache, the on-chip network, shared memory and the register files to the cores
    (``energy.onchip_pj_per_dram_bit``; 0 where the assumptions do not set it)."""
    return assumptions.energy.onchip_pj_per_bit * BITS_PER_BYTE * PICO


def host_sequence_power_w(sequences_per_s: ArrayLike, j_per_sequence: float) -> Number:
    """Host power spent on the requests themselves (tokenising, scheduling, detokenising, the
    benchmark client), W: ``j_per_sequence x sequences completed per second``."""
    return scalar_if_0d(nonnegative_array(sequences_per_s, "sequences_per_s") * j_per_sequence)


def step_power_w(energy_j: ArrayLike, time_s: ArrayLike, static_w: ArrayLike) -> Number:
    """Average board power of a step: dynamic energy / time + static power, W."""
    e, t, s = (
        nonnegative_array(energy_j, "energy_j"),
        nonnegative_array(time_s, "time_s"),
        nonnegative_array(static_w, "static_w"),
    )
    if np.any(t <= 0):
        raise InvalidSettingError("time_s: a step must take a positive time")
    return scalar_if_0d(e / t + s)


def throttle(
    time_s: ArrayLike, energy_dynamic_j: ArrayLike, static_w: ArrayLike, tdp_w: ArrayLike
) -> tuple[Number, Number, np.ndarray]:
    """Stretch steps whose power would exceed TDP; returns (time_s, power_w, throttled).

    Where ``E_dyn / t + P_static > TDP`` the clock is lowered until the average power equals
    TDP: ``t' = E_dyn / (TDP - P_static)``. First-order choice: the dynamic energy per
    operation is kept constant (frequency scales, voltage does not). With DVFS the voltage
    would also fall and energy per op with it (~V^2), so this over-states both the slowdown
    and the energy of a throttled step; it needs no voltage-frequency curve, which no
    datasheet publishes. A step is never shortened.
    """
    t, e = nonnegative_array(time_s, "time_s"), nonnegative_array(energy_dynamic_j, "energy_dynamic_j")
    s, tdp = nonnegative_array(static_w, "static_w"), nonnegative_array(tdp_w, "tdp_w")
    if np.any(tdp <= s):
        raise InvalidSettingError("tdp_w: must exceed the static power, or no work can be done within it")
    t, e, s, tdp = np.broadcast_arrays(t, e, s, tdp)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        p_dyn = np.where(t > 0, e / np.where(t > 0, t, 1.0), np.where(e > 0, np.inf, 0.0))
    throttled = p_dyn + s > tdp
    t_new = np.where(throttled, np.maximum(t, e / (tdp - s)), t)
    power = np.where(throttled, tdp, p_dyn + s)
    return scalar_if_0d(t_new), scalar_if_0d(power), throttled


def tokens_per_j(tokens: ArrayLike, energy_j: ArrayLike) -> Number:
    """Tokens produced per joule (inf for zero energy)."""
    n, e = nonnegative_array(tokens, "tokens"), nonnegative_array(energy_j, "energy_j")
    with np.errstate(divide="ignore"):
        return scalar_if_0d(np.where(e > 0, n / np.where(e > 0, e, 1.0), math.inf))


def j_per_token(energy_j: ArrayLike, tokens: ArrayLike) -> Number:
    """Joules per token (inf for zero tokens)."""
    e, n = nonnegative_array(energy_j, "energy_j"), nonnegative_array(tokens, "tokens")
    return scalar_if_0d(np.where(n > 0, e / np.where(n > 0, n, 1.0), math.inf))


ACCELERATORS_PER_SERVER = 8  # an HGX/OAM server holds 8: a smaller system is charged its share of one host


@dataclass(frozen=True)
class HostSystem:
    """What surrounds the accelerators at the wall (a chip YAML's ``system``, :func:`host_system`): the host's
    fixed power and power per accelerator, the fans' share, the supply's efficiency, and the fewest accelerators
    its fixed power is shared by (a server: 8, whatever fewer the system uses; an embedded module: itself)."""

    system: str
    idle_w: float
    per_accelerator_w: float
    fan_power_fraction: float
    psu_efficiency: float
    min_accelerators: int

    def per_device(self, devices_per_package: int) -> HostSystem:
        """This host seen by the runtime devices of a package that is several (an MI250X: two GCDs): a host slot is a
        package (an OAM module: its board power sensor and power cap, and the NIC beside it, are one a package; ROCm's
        rocm-smi reports an MI250's power on one GCD of each OAM, Frontier's nodes hold one Slingshot NIC per
        MI250X), so a device carries 1/n of the per-accelerator watts and a server of ``min_accelerators`` packages
        holds n times as many devices. Unchanged where a package is one device."""
        n = devices_per_package
        if n == 1:
            return self
        return replace(self, per_accelerator_w=self.per_accelerator_w / n, min_accelerators=self.min_accelerators * n)

    def wall_w(self, board_w_total: float, n: float) -> float:
        """AC power at the wall of ``n`` accelerators drawing ``board_w_total``, W (no per-request host energy)."""
        return float(host_wall_power_w(board_w_total, n, self.idle_w, self.per_accelerator_w,
                                       self.fan_power_fraction, self.psu_efficiency))


def host_wall_power_w(board_w_total: ArrayLike, num_accelerators: ArrayLike, idle_w: ArrayLike,
                      per_accelerator_w: ArrayLike, fan_power_fraction: ArrayLike, psu_efficiency: ArrayLike,
                      sequence_w: ArrayLike | None = None) -> np.ndarray:
    """AC power at the wall of ``num_accelerators`` boards drawing ``board_w_total`` in one host, W: the one wall-power
    formula (:func:`wall_power_w`, :meth:`HostSystem.wall_w` and the claim review's per-chip arrays, each chip with
    its own host, all call it), on arrays that broadcast:
    ``(boards + host_idle + host_per_accelerator x n [+ sequence_w]) x (1 + fan_fraction) / psu_efficiency``.
    ``sequence_w``: the host's power spent on the requests (:func:`host_sequence_power_w`); None: none."""
    it_w = np.asarray(board_w_total, float) + np.asarray(idle_w, float) + (
        np.asarray(per_accelerator_w, float) * np.asarray(num_accelerators, float))
    if sequence_w is not None:
        it_w = it_w + np.asarray(sequence_w, float)
    out: np.ndarray = it_w * (1.0 + np.asarray(fan_power_fraction, float)) / np.asarray(psu_efficiency, float)
    return out


def host_system(system: str, assumptions: Assumptions) -> HostSystem:
    """The host of a chip's ``system`` (``spec.chip.ChipSpec.system``): ``server``, the ``host.*`` assumptions;
    ``embedded_soc``, ``host.embedded_soc`` (its carrier board; the server's host where the assumptions give none)."""
    a = assumptions
    emb = a.host.embedded_soc
    if system == "embedded_soc" and emb is not None:
        # each module on its own carrier board: the carrier's power is per accelerator, none is shared
        return HostSystem(system, 0.0, emb.carrier_w.value, emb.fan_power_fraction.value, emb.psu_efficiency.value, 1)
    if system not in ("server", "embedded_soc"):
        raise InvalidSettingError(f"chip system {system!r}: unknown; allowed: server, embedded_soc")
    return HostSystem("server", a.number("host.host_idle_w"), a.number("host.host_per_accelerator_w"),
                      a.number("host.fan_power_fraction"), a.number("host.psu_efficiency"), ACCELERATORS_PER_SERVER)


def wall_power_w(
    board_power_w_total: ArrayLike, num_accelerators: ArrayLike, assumptions: Assumptions,
    *, sequences_per_s: ArrayLike = 0.0, system: str = "server",
) -> Number:
    """AC power at the wall of a system holding ``num_accelerators`` boards, W.

    ``(boards + host_idle + host_per_accelerator * n + host_j_per_sequence * sequences/s)
    * (1 + fan_fraction) / psu_efficiency`` (MLPerf Power measures at the wall; board power is
    NVML scope). ``sequences_per_s``: requests the system completes per second (0: host idle only).
    ``system``: the chips' (:func:`host_system`): a server's host, or an embedded module's carrier board.
    """
    a = assumptions
    board, n = (
        nonnegative_array(board_power_w_total, "board_power_w_total"),
        nonnegative_array(num_accelerators, "num_accelerators"),
    )
    h = host_system(system, a)
    return scalar_if_0d(host_wall_power_w(board, n, h.idle_w, h.per_accelerator_w, h.fan_power_fraction,
                                          h.psu_efficiency,
                                          host_sequence_power_w(sequences_per_s, a.host.j_per_sequence)))
