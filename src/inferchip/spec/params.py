"""A chip in SI units for the cost models: :class:`ChipParams`, and many of them stacked for sweeps.

:func:`inferchip.spec.chip.chip_params` builds one from a datasheet-level spec plus family defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DEFAULT_VECTOR_WIDTH_BITS = 256.0
"""SIMD width taken for a CPU whose spec states no ``compute.vector_width_bits``: AVX2's 256-bit YMM registers, the
widest every x86-64 CPU of the last decade executes (estimate, inferchip: AVX-512 is absent on most client parts)."""


@dataclass(frozen=True)
class ChipParams:
    """A chip in SI units, ready for the cost models. Fields may be numpy arrays (a sweep of chips)."""

    id: str
    peak_flop_per_s: dict[str, float]
    memory_bytes_per_s: float
    memory_capacity_bytes: float
    usable_memory_bytes: float
    sram_bytes: float  # the on-chip pool kept between kernels (ChipSpec sram.capacity_mb, chip_sections.SramSpec)
    link_bytes_per_s: float
    link_latency_s: float
    scaleout_bytes_per_s: float
    scaleout_latency_s: float
    max_scaleup_domain: int
    gemm_tile_m: int
    gemm_tile_n: int
    gemm_tiles_in_flight: float
    kernel_overhead_s: float
    tdp_w: float
    idle_w: float
    vector_flop_per_s: float
    # 1.0 where every scale-up peer is one hop away and the serving engines all-reduce with direct
    # peer-to-peer (one-shot / two-shot) kernels; 0.0: the library's ring / tree (cost/network.py)
    link_direct_all_reduce: float = 0.0
    # Rate of the one-sided expert all-to-all kernels in their prefill (normal) mode, all dispatched or combined
    # bytes, own rows included; 0: none for this family (the link prices it: cost/network.py)
    expert_a2a_kernel_bytes_per_s: float = 0.0
    # one call of the one-sided low-latency (decode) expert kernels: floor + (ranks - 1) x per peer; 0: the link's
    # (ranks - 1) alpha (cost/network.py all_to_all_latency_s)
    expert_a2a_decode_floor_s: float = 0.0
    expert_a2a_decode_per_peer_s: float = 0.0
    # measured sustained / datasheet DRAM bandwidth (spec.stream); chip_params sets it from the chip file (the
    # measured chips' median where none); 1.0 here: a hand-built chip streams its stated memory_bytes_per_s
    memory_stream_share: float = 1.0
    # host time per iteration of a statically scheduled family's runtime (FamilyDefaults.host_step_us); NaN: the
    # calibration's step and sequence host times (a GPU serving engine's)
    host_step_s: float = float("nan")
    # the family pipelines layers over as many chips as a model needs, weights in SRAM (FamilyDefaults.layer_pipeline)
    layer_pipeline: bool = False
    sm_count: float = 0.0  # streaming multiprocessors (NVIDIA; the chip file's compute.sm_count); 0: not stated
    vector_width_bits: float = DEFAULT_VECTOR_WIDTH_BITS  # widest fp32 SIMD register of a CPU core (bits)
    # devices the runtime enumerates for one package, the memory shared evenly (ChipSpec memory.runtime_devices: an
    # MI250X's two GCDs); a serving engine's per-device defaults read one of them (EngineSpec.caps_on)
    runtime_devices: int = 1
    # chips one node's local links join in a scale-up network that spans nodes (GroqChip's 8); 0: one tier
    scaleup_node_chips: int = 0
    # the in-package link between those devices, bytes/s per direction (memory.runtime_devices.link_gb_per_s_per_
    # direction: an MI250X's four Infinity Fabric links between its GCDs); 0: none stated
    package_link_bytes_per_s: float = 0.0
    # one runtime device of a package of this many (runtime_device_view): the user's --count counts packages
    devices_per_package: int = 1
    family: str = "generic"
    architecture: str = ""  # the chip file's architecture (ChipSpec.architecture); "": not stated
    notes: tuple[str, ...] = field(default_factory=tuple)


PCIE5_X16_GB_PER_S_PER_DIRECTION = 63.0  # 32 GT/s x 16 lanes, 128b/130b encoding (PCI-SIG PCIe 5.0 spec)

def stack_chips(chips: list[ChipParams], axis_shape: tuple[int, ...] | None = None) -> ChipParams:
    """Many chips as one ``ChipParams`` whose numeric fields are arrays (for vectorised sweeps).

    A format a chip has no units for is 0 in its array (the cost model then falls back to a
    wider format chip by chip). ``axis_shape`` reshapes the chip axis, e.g. ``(-1, 1, 1)`` to
    broadcast against (batch, length) grids. The family facts are arrays too, so chips of different kinds
    share a sweep: ``host_step_s`` (NaN where the calibration's host times apply: ``cost.context.host_times_s``)
    and ``layer_pipeline`` (booleans: ``performance.mapped.map_model`` takes each chip's weight split).
    """
    import numpy as np

    shape = axis_shape or (-1,)

    def arr(name: str) -> Any:
        return np.array([getattr(c, name) for c in chips], dtype=float).reshape(shape)

    formats = sorted({f for c in chips for f in c.peak_flop_per_s})
    peaks: dict[str, Any] = {f: np.array([c.peak_flop_per_s.get(f, 0.0) for c in chips], dtype=float).reshape(shape)
                             for f in formats}
    numeric = [f for f in ChipParams.__dataclass_fields__
               if f not in ("id", "peak_flop_per_s", "family", "architecture", "notes", "layer_pipeline")]
    kw: dict[str, Any] = {f: arr(f) for f in numeric}
    kw["layer_pipeline"] = np.array([c.layer_pipeline for c in chips], dtype=bool).reshape(shape)
    return ChipParams(id=",".join(c.id for c in chips), peak_flop_per_s=peaks, family="mixed", notes=(), **kw)


def across_nodes(chip: ChipParams, group: int) -> ChipParams:
    """``chip`` as a collective group of ``group`` chips sees its links: where the scale-up network spans nodes
    (``scaleup_node_chips`` > 0, GroqChip's 8-chip GroqNodes joined by global links) and the group is wider than a
    node, its ring or hops cross nodes and run at the slower of the scale-up link and the node's global links per
    chip (``scaleout_bytes_per_s``); else ``chip`` itself. Latency per hop is unchanged (the family's)."""
    from dataclasses import replace

    node = chip.scaleup_node_chips
    if not isinstance(node, int) or node <= 0 or group <= node:
        return chip
    return replace(chip, link_bytes_per_s=min(chip.link_bytes_per_s, chip.scaleout_bytes_per_s))


def runtime_device_view(chip: ChipParams, packages: int) -> tuple[ChipParams, int, str]:
    """``packages`` of a chip its runtime enumerates as several devices, as the runtime sees them: (one device's
    parameters, how many devices, a note saying so). Unchanged where the runtime sees one device per package.

    A serving engine places a model on devices, not packages: each of an MI250X's two GCDs is one 64 GiB GPU to ROCm
    (the chip file's ``memory.runtime_devices``), so a model that fits in 128 GiB but not 64 needs tp 2 across the
    GCDs. A device has its even share of what the package's dies hold each for themselves: the peaks, the memory
    bandwidth, the capacity, the on-chip SRAM, the matrix units' tiles in flight, the TDP and idle power, the share
    of the package's scale-out NIC. The runtime keeps its reserve on every device: a device's usable memory is its
    share of the physical memory less the package's reserve (physical - usable). The scale-up domain counts devices;
    a tp group all-reduces over the slowest link it crosses: the in-package link where the system is one package,
    else the slower of that link and the chip's scale-up link.
    """
    from dataclasses import replace

    n = chip.runtime_devices
    if n <= 1:
        return chip, packages, ""
    inside = chip.package_link_bytes_per_s or chip.link_bytes_per_s
    link = inside if packages == 1 else min(inside, chip.link_bytes_per_s)
    reserve = chip.memory_capacity_bytes - chip.usable_memory_bytes
    device = replace(
        chip,
        peak_flop_per_s={f: v / n for f, v in chip.peak_flop_per_s.items()},
        memory_bytes_per_s=chip.memory_bytes_per_s / n,
        memory_capacity_bytes=chip.memory_capacity_bytes / n,
        usable_memory_bytes=max(chip.memory_capacity_bytes / n - reserve, 0.0),
        sram_bytes=chip.sram_bytes / n,
        gemm_tiles_in_flight=max(1.0, chip.gemm_tiles_in_flight / n),
        tdp_w=chip.tdp_w / n,
        idle_w=chip.idle_w / n,
        vector_flop_per_s=chip.vector_flop_per_s / n,
        sm_count=chip.sm_count / n,
        scaleout_bytes_per_s=chip.scaleout_bytes_per_s / n,
        max_scaleup_domain=chip.max_scaleup_domain * n,
        scaleup_node_chips=chip.scaleup_node_chips * n,
        link_bytes_per_s=link,
        runtime_devices=1,
        devices_per_package=n,
    )
    over = ("the in-package link" if packages == 1
            else "the slower of the in-package link and the chip's scale-up link (a group may span packages)")
    note = (f"{chip.id}: its runtime sees each package as {n} devices (the chip file's memory.runtime_devices), so "
            f"{packages} package(s) are {packages * n} devices of {device.memory_capacity_bytes / 2**30:g} GiB "
            f"({device.usable_memory_bytes / 2**30:g} GiB usable), {device.memory_bytes_per_s / 1e12:g} TB/s and 1/{n} "
            f"of the package's peaks each; the layout, memory fit, roofline, power and price are per device, and a tp "
            f"group all-reduces over {over} at {link / 1e9:g} GB/s per direction")
    return device, packages * n, note


def device_params(chip: ChipParams, devices: int) -> ChipParams:
    """One runtime device of a system of ``devices`` devices (a closed-loop row counts GPUs as its engine does: an
    MI250X's GCDs), the view of :func:`runtime_device_view` over the packages that hold them (the in-package link
    where they fit in one); ``chip`` unchanged where the runtime sees one device a package."""
    n = chip.runtime_devices
    return chip if n <= 1 else runtime_device_view(chip, -(-devices // n))[0]
