"""The driving workload of the suite, vectorised over designs: BEVFormer-tiny over an 8-camera rig
at 36 frames/s (the review's in-car rig, :mod:`inferchip.performance.vision_drive`).

The rig network runs once per tick over all the cameras' views (``@rig``: one sample per tick), so a
design's frame latency is the service time of one call. As in ``drive``, a network taking several views is rebuilt
at the rig's cameras (:func:`~inferchip.workload.vision.network.at_rig_views`: BEVFormer's published configuration
takes 6, the rig has 8); the workload's id names the views it is costed at, so a store written when it was costed
at its own 6 (before stop 52) is refused as one over another workload, never read as this one. Per layer, as
:func:`inferchip.cost.vision.layers.layer_costs` computes it for one chip, here for every design at once:

* work that does not depend on the design's peaks, bandwidth or SRAM (tile-padded matrix FLOP,
  vector ops, per-layer kernel overheads) is read off ``layer_costs`` on a probe chip of each GEMM
  tile side the designs use;
* the share of each layer's activations kept on chip (the design's SRAM against the layer's working
  set), whether the weights stay resident, and so the DRAM and SRAM traffic, are computed per design;
* layer time ``max(matrix FLOP / (peak x matrix fraction), vector ops / vector rate, DRAM bytes /
  (bandwidth x bandwidth fraction)) + overhead``, summed, plus the per-inference overhead; a call
  whose power would exceed the design's TDP is stretched to hold it (as ``call_cost`` does);
* energy: FLOP, vector, DRAM and SRAM events at the design's node (``call_energy_j``'s rates, the FLOP
  energy capped by (TDP - static) / peak), plus static power over the whole tick.

Metrics per design: ``frame_latency_s`` (the p99 of a deterministic service on constant arrivals:
the service time when it fits in the tick, else unbounded: the queue grows and every later frame is
late), ``meets_deadline`` (latency within the deadline, by default the tick ``1 / fps``), and
``frames_per_j`` (camera frames per joule: cameras / energy per tick). The input frame's copy over the
host link is added after the TDP stretch, as ``call_cost`` adds it. Simplifications against
``drive``: one chip, no camera jitter, the probe's one GEMM tile in flight.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from inferchip.explore.designs import Chips
from inferchip.explore.tables import REFERENCE_KERNEL_OVERHEAD_S, REFERENCE_LINK_LATENCY_S

NETWORK = "bevformer-tiny"
CAMERAS = 8
FPS = 36.0
PRECISION = "int8"


def probe_chip(tile: int, sram_bytes: float = 0.0, peak: float = 1.0, bandwidth: float = 1.0, vector: float = 1.0,
               tdp_w: float = float("nan"), fp8: bool = True) -> object:
    """A chip with the explore tables' generic figures (one GEMM tile in flight, the generic kernel overhead)."""
    from inferchip.spec.chip import ChipParams
    from inferchip.spec.stream import MEDIAN_MEASURED_SHARE

    peaks = {"bf16": peak, "fp8": 2.0 * peak} if fp8 else {"bf16": peak}
    return ChipParams(id="probe", peak_flop_per_s=peaks, memory_bytes_per_s=bandwidth, memory_capacity_bytes=1e12,
                      usable_memory_bytes=1e12, sram_bytes=sram_bytes, link_bytes_per_s=1e12,
                      link_latency_s=REFERENCE_LINK_LATENCY_S, scaleout_bytes_per_s=50e9, scaleout_latency_s=5e-6,
                      max_scaleup_domain=72, gemm_tile_m=tile, gemm_tile_n=tile, gemm_tiles_in_flight=1.0,
                      kernel_overhead_s=REFERENCE_KERNEL_OVERHEAD_S, tdp_w=tdp_w, idle_w=float("nan"),
                      vector_flop_per_s=vector, memory_stream_share=MEDIAN_MEASURED_SHARE)  # a design (spec.stream)


@dataclass
class DrivingWorkload:
    """The rig and the network's layer arrays; per-tile probe figures are built on first use."""

    cameras: int = CAMERAS
    fps: float = FPS
    deadline_s: float | None = None  # None: the tick, 1 / fps
    network: str = NETWORK
    _net: object | None = None
    _probe: dict[int, dict[str, np.ndarray]] = field(default_factory=dict)

    @property
    def workload_id(self) -> str:
        """The network, the rig and the camera views a sample is costed at (the store's key: ``|views-8``)."""
        return f"{self.network}|rig-{self.cameras}x{self.fps:g}fps|views-{self.views}"

    @property
    def views(self) -> int:
        """Camera views one sample of the network is costed at: the rig's cameras for a rig network ``drive``
        rebuilds, else its own (1 for a camera network)."""
        from inferchip.workload.vision.network import network_views

        return network_views(self.network_at_rig())

    def network_at_rig(self) -> object:
        """The network as ``drive`` costs it on this rig (``drive``'s rule, its notes not kept)."""
        if self._net is None:
            from inferchip.workload.vision.network import at_rig_views, load_network, network_views

            net = load_network(self.network)
            self._net = at_rig_views(self.network, net, network_views(net), self.cameras, False, [])
        return self._net

    def arrays(self) -> object:
        return self.network_at_rig().arrays  # type: ignore[attr-defined]

    def per_tile(self, tile: int) -> dict[str, np.ndarray]:
        """Design-independent per-layer work at batch 1 on a probe of GEMM tile ``tile``."""
        if tile not in self._probe:
            from inferchip.catalog.vision_networks import load_vision_calibration
            from inferchip.cost.vision.layers import layer_costs

            cal = load_vision_calibration()
            lc = layer_costs(probe_chip(tile), self.arrays(), np.array([1.0]), PRECISION, cal)  # type: ignore[arg-type]
            self._probe[tile] = {"spent_flop": lc.spent_flop[:, 0], "vector_ops": lc.vector_ops[:, 0],
                                 "overhead_s": lc.overhead_s[:, 0],
                                 "input_bytes": np.array([lc.input_bytes_per_frame])}
        return self._probe[tile]


def drive_metrics(w: DrivingWorkload, ch: Chips, node_nm: np.ndarray, memory_type: np.ndarray) -> dict[str, np.ndarray]:
    """``frame_latency_s``, ``meets_deadline``, ``frames_per_j``, ``energy_per_tick_j`` per chip (see the module)."""
    from inferchip.catalog.assumptions import load_assumptions
    from inferchip.catalog.vision_networks import load_vision_calibration
    from inferchip.cost import energy as en
    from inferchip.cost.peaks import units_for
    from inferchip.cost.vision.frame import VECTOR_ENERGY_FORMAT
    from inferchip.cost.vision.layers import GATHER_READ_FACTOR
    from inferchip.spec.formats import BYTES_PER_ELEMENT
    from inferchip.workload.vision.model import UNIT_GATHER, UNIT_MATRIX, UNIT_VECTOR

    a_ = load_assumptions()
    cal = load_vision_calibration()
    a = w.arrays()
    n = len(ch)
    eb = float(BYTES_PER_ELEMENT[PRECISION])
    reps = a.repeats[:, None]  # type: ignore[attr-defined]
    unit = a.unit  # type: ignore[attr-defined]
    gather = (unit == UNIT_GATHER)[:, None]
    costed = ((unit == UNIT_MATRIX) | (unit == UNIT_VECTOR) | (unit == UNIT_GATHER))[:, None]
    in_e, out_e, w_e = a.in_elems[:, None], a.out_elems[:, None], a.weight_elems[:, None]  # type: ignore[attr-defined]
    # an int8 network runs on the design's fp8 units where it has them, else bf16 (cost.peaks WIDER)
    peak = np.where(ch.peak_fp8 > 0, ch.peak_fp8, ch.peak_bf16)[None, :]
    spent, vec, ovh = (np.zeros((len(unit), n)) for _ in range(3))
    for tile in np.unique(ch.tile):
        sel = ch.tile == tile
        p = w.per_tile(int(tile))
        spent[:, sel], vec[:, sel] = p["spent_flop"][:, None], p["vector_ops"][:, None]
        ovh[:, sel] = p["overhead_s"][:, None]
    matrix_s = spent / (peak * cal.matrix_fraction_for("generic"))
    vector_s = vec / ch.vector[None, :]
    weight_bytes = w_e * eb * reps
    act_bytes = np.where(gather, in_e * eb * reps * GATHER_READ_FACTOR + out_e * eb * reps, (in_e + out_e) * eb * reps)
    working = act_bytes / reps + w_e * eb
    sram = ch.params["sram_mb"].astype(float) * 1e6 if "sram_mb" in ch.params else np.zeros(n)
    usable = (sram * cal.sram_usable_fraction)[None, :]
    kept = np.where(a.fusable[:, None], 1.0, np.minimum(1.0, usable / np.maximum(working, 1.0)))  # type: ignore[attr-defined]
    kept = np.where(gather, 0.0, kept)
    on_chip = kept >= 1.0
    resident = float(np.sum(w_e * eb)) <= usable  # (1, n)
    dram = np.where(resident, 0.0, weight_bytes) + act_bytes * (1.0 - kept)
    last = len(unit) - 1
    dram[0] += np.where(on_chip[0], in_e[0, 0] * eb, 0.0)
    dram[last] += np.where(on_chip[last], out_e[last, 0] * eb, 0.0)
    sram_bytes = act_bytes * kept + np.where(resident, weight_bytes, 0.0)
    bw = ch.attainable_bytes_per_s(cal.memory_bandwidth_fraction)[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):  # a design without DRAM (memory_units 0) has bw 0
        memory_s = np.where(dram > 0, dram / bw, 0.0)  # inf where it would need DRAM it does not have
    t = np.sum(np.where(costed, np.maximum(np.maximum(matrix_s, vector_s), memory_s), 0.0) + ovh, axis=0)
    t = t + cal.inference_overhead_s
    tdp = ch.tdp_w
    static = np.where(np.isfinite(tdp), a_.number("energy.static_power_fraction_of_tdp") * tdp, 0.0)
    e_dyn = np.zeros(n)
    for node in np.unique(node_nm):
        for mt in np.unique(memory_type):
            sel = (node_nm == node) & (memory_type == mt)
            if not sel.any():
                continue
            # the FLOP of the format a design runs the int8 network in: its fp8 units, else its bf16 (cost.peaks
            # .units_for, as the vision frame's energy_per_flop_j charges them)
            runs = [units_for({"bf16": 1.0, **({"fp8": 1.0} if fp8 else {})}, PRECISION) for fp8 in (False, True)]
            by_units = [float(en.energy_per_flop_j(u, float(node), a_)) * passes for u, passes in runs]
            table = np.where(ch.peak_fp8[sel] > 0, by_units[1], by_units[0])
            e_flop = np.minimum(table, np.where(np.isfinite(tdp[sel]) & (tdp[sel] > static[sel]),
                                                (tdp[sel] - static[sel]) / peak[0, sel], table))
            e_vec = float(en.energy_per_flop_j(VECTOR_ENERGY_FORMAT, float(node), a_))
            e_dram = float(en.memory_energy_per_byte_j(str(mt), a_, node_nm=float(node))) if str(mt) != "none" else 0.0
            e_sram = float(en.sram_energy_j(1.0, float(node), a_))
            e_dyn[sel] = (spent[:, sel].sum(axis=0) * e_flop + vec[:, sel].sum(axis=0) * e_vec
                          + dram[:, sel].sum(axis=0) * e_dram + sram_bytes[:, sel].sum(axis=0) * e_sram)
    head = np.where(np.isfinite(tdp) & (tdp > static), tdp - static, np.inf)
    t = np.maximum(t, e_dyn / head)  # power above TDP: the call stretches to hold it
    # the rig's input copied over the host link before the compute, as call_cost does (a design states no host
    # link, so it takes host_links.csv's default for a chip not in the table, an assumed PCIe Gen4 x16)
    from inferchip.cost.vision.host import host_link, input_copy_s

    link = host_link("probe", "").bytes_per_s
    copy = np.zeros(n)
    for tile in np.unique(ch.tile):
        copy[ch.tile == tile] = float(input_copy_s(float(w.per_tile(int(tile))["input_bytes"][0]), np.ones(1), link)[0])
    t = t + copy
    tick = 1.0 / w.fps
    deadline = tick if w.deadline_s is None else w.deadline_s
    keeps_up = t <= tick
    energy_tick = e_dyn + static * tick
    return {"frame_latency_s": np.where(keeps_up & ch.feasible, t, np.inf), "service_s": t,
            "meets_deadline": keeps_up & (t <= deadline) & ch.feasible,
            "frames_per_j": np.where(keeps_up & ch.feasible, w.cameras / energy_tick, 0.0),
            "energy_per_tick_j": energy_tick, "dynamic_j": e_dyn, "runs": np.isfinite(t)}
