"""Latency, energy and power of one call (a batch of frames) of a vision network on one chip.

Energy (METHODS.md 2.10, the events of :mod:`inferchip.cost.energy`): matrix FLOP actually spent
(padded tiles included) at the layer format's energy per FLOP, vector operations at the fp32 energy
per FLOP, DRAM bytes at the memory level's energy per byte, on-chip activation bytes at the SRAM
energy per byte, plus static power over the call. When the average power would exceed TDP the
call is stretched (:func:`inferchip.cost.energy.throttle`).

The energy per FLOP of the assumptions table is derived from a GPU (A100: TDP over dense peak). A chip
whose own datasheet promises its dense peak within its TDP spends at most (TDP - static power) / peak per
FLOP at that format, so that bound caps the table value chip by chip (at-memory and dataflow parts such
as the Untether speedAI240 are several times more efficient than a GPU). GPUs (:data:`BOOST_CLOCK_FAMILIES`)
make no such promise: their datasheet peak is at the maximum boost clock, which a power-limited board (H100
PCIe at 350 W, L4 at 72 W) does not hold under sustained tensor-core load, so they keep the table value and
are throttled to TDP; the H100 PCIe then sustains ~60 % of its peak on int8 convolutions (MLPerf v4.x
ResNet-50 Offline per card: PCIe / SXM = 0.64 while the datasheet peaks are 0.76 apart).

Under load (MLPerf Offline and Server harnesses keep two or more calls in flight per device: CUDA streams,
runtime instances) one call's memory-bound layers overlap another's compute-bound layers, so the time per
call is max(sum of compute, sum of DRAM time) rather than the sum of per-layer maxima that one call on its
own takes: :attr:`CallCost.pipelined_s`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from inferchip.cost import energy as en
from inferchip.cost.peaks import peak_flop_per_s, units_for
from inferchip.cost.roofline import FloatArray
from inferchip.cost.vision.dataflow import (
    STREAM_REFERENCE_BATCHES,
    is_dataflow,
    pipeline_interval_s,
    stream_latency_s,
    stream_occupancy_s,
)
from inferchip.cost.vision.host import host_link, input_copy_s
from inferchip.cost.vision.layers import LayerCosts, layer_costs
from inferchip.spec.assumptions import Assumptions
from inferchip.spec.params import ChipParams
from inferchip.spec.vision import VisionCalibration
from inferchip.workload.vision.model import LayerArrays

BOOST_CLOCK_FAMILIES = ("nvidia-", "amd-")
"""Family prefixes of GPUs, whose datasheet peaks are quoted at the maximum boost clock (NVIDIA and AMD
datasheets); the (TDP - static) / peak cap on energy per FLOP does not apply to them."""
VECTOR_ENERGY_FORMAT = "fp32"  # vector/SIMT lanes: the fp32 energy per FLOP of the assumptions table


@dataclass(frozen=True)
class CallCost:
    """One call of ``batch`` frames, arrays over the batch points. ``latency_s`` holds the input copy over the
    host link (:mod:`inferchip.cost.vision.host`) before the compute; ``input_copy_s`` is that copy alone."""

    latency_s: FloatArray
    energy_j: FloatArray
    power_w: FloatArray
    throttled: np.ndarray
    layers: LayerCosts
    input_copy_s: FloatArray
    pipelined_s: FloatArray  # time per call under load: calls overlapped, next input copied during this compute
    split_s: dict[str, FloatArray] | None = None
    """``latency_s`` by what it is spent on (:data:`SPLIT_PARTS`), summing to it; None: not given."""


SPLIT_PARTS = ("compute", "memory", "overhead", "host_copy", "power_limit")
"""What a call's latency is spent on: compute-bound layers (matrix and vector units), memory-bound layers and DRAM time
in series with compute, kernel launch and per-inference overhead, the input copy over the host link, and the stretch
that holds the chip at its TDP."""


def split_s(costs: LayerCosts, inference_overhead_s: float, unthrottled_s: FloatArray, throttled_s: FloatArray,
            copy_s: FloatArray) -> dict[str, FloatArray]:
    """The call's latency split into :data:`SPLIT_PARTS`: a layer's max(compute, memory) goes to the side that is the
    larger (its DRAM time in series with compute, ``stall_s``, to memory), its launch overhead to overhead."""
    bound = costs.time_s - costs.overhead_s
    stall = np.zeros_like(bound) if costs.stall_s is None else np.broadcast_to(costs.stall_s, bound.shape)
    memory = np.where(bound > 0, np.where(costs.memory_s > costs.compute_s, bound, np.minimum(stall, bound)), 0.0)
    return {"compute": (bound - memory).sum(axis=0), "memory": memory.sum(axis=0),
            "overhead": costs.overhead_s.sum(axis=0) + inference_overhead_s,
            "power_limit": np.asarray(throttled_s - unthrottled_s, dtype=float), "host_copy": np.asarray(copy_s)}


def energy_per_flop_j(chip: ChipParams, fmt: str, node_nm: float, static_w: float, assumptions: Assumptions) -> float:
    """Matrix energy per FLOP at ``fmt``: the assumptions' value for the format the chip runs it as, times the
    passes of an emulation (``cost.peaks.units_for``), capped by the chip's (TDP - static) / peak unless the chip is
    a GPU (peak quoted at boost clock)."""
    units, passes = units_for(chip.peak_flop_per_s, fmt)
    table = float(en.energy_per_flop_j(units, node_nm, assumptions)) * passes
    if chip.family.startswith(BOOST_CLOCK_FAMILIES):
        return table
    tdp = float(chip.tdp_w)
    if not np.isfinite(tdp) or tdp <= static_w:
        return table
    return min(table, (tdp - static_w) / float(peak_flop_per_s(chip, fmt)))


_RATES: dict[tuple[int, str, float], tuple[float, float, float]] = {}


def _event_rates_j(memory_type: str, node_nm: float, assumptions: Assumptions) -> tuple[float, float, float]:
    """(J per vector op, J per DRAM byte, J per SRAM byte), cached per assumptions object, memory and node."""
    key = (id(assumptions), memory_type, node_nm)
    hit = _RATES.get(key)
    if hit is None:
        hit = (float(en.energy_per_flop_j(VECTOR_ENERGY_FORMAT, node_nm, assumptions)),
               float(en.memory_energy_per_byte_j(memory_type, assumptions, node_nm=node_nm)),
               float(en.sram_energy_j(1.0, node_nm, assumptions)))
        if len(_RATES) > 4096:
            _RATES.clear()
        _RATES[key] = hit
    return hit


def call_energy_j(costs: LayerCosts, chip: ChipParams, memory_type: str, node_nm: float, static_w: float,
                  assumptions: Assumptions) -> FloatArray:
    """Dynamic energy of one call, J, per batch point."""
    e = np.zeros(costs.time_s.shape[1])
    for fmt in sorted(set(costs.formats)):
        rows = np.array([f == fmt for f in costs.formats])
        e = e + costs.spent_flop[rows].sum(axis=0) * energy_per_flop_j(chip, fmt, node_nm, static_w, assumptions)
    vec_j, dram_j, sram_j = _event_rates_j(memory_type, node_nm, assumptions)
    e = e + costs.vector_ops.sum(axis=0) * vec_j + costs.dram_bytes.sum(axis=0) * dram_j
    e = e + costs.sram_bytes.sum(axis=0) * sram_j
    return np.asarray(e, dtype=float)


def static_w(chip: ChipParams, assumptions: Assumptions) -> float:
    """Static power: the chip's idle power, else the assumptions' share of TDP, else 0 (no TDP published)."""
    idle, tdp = float(chip.idle_w), float(chip.tdp_w)
    if np.isfinite(idle):
        return idle
    return float(en.static_power_w(tdp, assumptions)) if np.isfinite(tdp) else 0.0


def call_cost(chip: ChipParams, a: LayerArrays, batch: FloatArray, precision: str, cal: VisionCalibration, *,
              memory_type: str, node_nm: float, assumptions: Assumptions, stream: bool = True) -> CallCost:
    """Latency (with the per-inference overhead and the input copy), energy and average power of one call per
    batch size. On a dataflow chip (:mod:`inferchip.cost.vision.dataflow`; ``stream``) b samples stream through
    the pipeline: latency L + (b - 1) I and time under load b I, from the chip's batch-1 call (L) and its time per
    sample under full load (I) over :data:`STREAM_REFERENCE_BATCHES`."""
    if stream and is_dataflow(chip.family):
        return _streamed(chip, a, batch, precision, cal, memory_type=memory_type, node_nm=node_nm,
                         assumptions=assumptions)
    costs = layer_costs(chip, a, batch, precision, cal)
    copy = input_copy_s(costs.input_bytes_per_frame, np.asarray(batch, dtype=float),
                        host_link(chip.id, chip.family).bytes_per_s)
    t = costs.time_s.sum(axis=0) + cal.inference_overhead_s
    loaded = overlapped_s(costs) + cal.inference_overhead_s
    static = static_w(chip, assumptions)
    tdp = float(chip.tdp_w)
    e_dyn = call_energy_j(costs, chip, memory_type, node_nm, static, assumptions)
    unthrottled = t
    if np.isfinite(tdp) and tdp > static:
        t2, _, throttled = en.throttle(t, e_dyn, static, tdp)
        t = np.asarray(t2, dtype=float)
        loaded = np.maximum(loaded, e_dyn / (tdp - static))
    else:
        throttled = np.zeros_like(t, dtype=bool)
    parts = split_s(costs, cal.inference_overhead_s, unthrottled, t, copy)
    t = t + copy
    energy = e_dyn + static * t
    return CallCost(latency_s=t, energy_j=energy, power_w=energy / t, throttled=np.asarray(throttled), layers=costs,
                    input_copy_s=copy, pipelined_s=np.asarray(np.maximum(loaded, copy), dtype=float), split_s=parts)


def _streamed(chip: ChipParams, a: LayerArrays, batch: FloatArray, precision: str, cal: VisionCalibration, *,
              memory_type: str, node_nm: float, assumptions: Assumptions) -> CallCost:
    """:func:`call_cost` of a dataflow chip: the layer model's batch-1 call is the pipeline's fill L, its least time
    per sample under load the interval I; energy stays the layer model's at each batch, static power over the
    burst's latency."""
    ref_b = np.asarray(STREAM_REFERENCE_BATCHES, dtype=float)
    ref, own = (call_cost(chip, a, b, precision, cal, memory_type=memory_type, node_nm=node_nm,
                          assumptions=assumptions, stream=False) for b in (ref_b, batch))
    interval = pipeline_interval_s(ref_b, ref.pipelined_s)
    t = stream_latency_s(float(ref.latency_s[0]), interval, batch)
    static = static_w(chip, assumptions)
    energy = own.energy_j - static * own.latency_s + static * t
    # the pipeline's latency spent as the layer model's own call is (its parts scaled to the streamed latency)
    parts = None if own.split_s is None else {k: v * t / own.latency_s for k, v in own.split_s.items()}
    return CallCost(latency_s=t, energy_j=energy, power_w=energy / t, throttled=own.throttled, layers=own.layers,
                    input_copy_s=own.input_copy_s, pipelined_s=stream_occupancy_s(interval, batch), split_s=parts)


def overlapped_s(costs: LayerCosts) -> FloatArray:
    """Device time per call with calls in flight side by side: max(sum of compute, sum of DRAM time) plus the
    layers' launch overheads and the DRAM time that runs in series with compute (``stall_s``) (a lower bound on the
    one-call sum of per-layer maxima)."""
    compute = np.where(costs.time_s > 0, costs.compute_s, 0.0).sum(axis=0)
    memory = np.where(costs.time_s > 0, costs.memory_s, 0.0).sum(axis=0)
    stall = 0.0 if costs.stall_s is None else costs.stall_s.sum(axis=0)  # in series with compute (layers.py)
    return np.asarray(np.maximum(compute, memory) + stall + costs.overhead_s.sum(axis=0), dtype=float)
