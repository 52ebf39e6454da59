"""Latency, energy and power of one call (a batch of frames) of a vision network on one chip.

Energy (METHODS.md 2.10, the events of :mod:`inferchip.cost.energy`): matrix FLOP actually spent
(padded tiles included) at the layer format's energy per FLOP, vector operations at the fp32 energy
per FLOP, DRAM bytes at the memory level's energy per byte, on-chip activation bytes at the SRAM
energy per byte, plus static power over the call. When the average power would exceed TDP the
call is stretched (:func:`inferchip.cost.energy.throttle`).

The energy per FLOP of the assumptions table is derived from a GPU (A100: TDP over dense peak). A chip
whose own datasheet promises its dense peak within its TDP spends at most (TDP - static power) / peak per
FLOP at that format, so that bound caps the table value chip by chip (at-memory and dataflow parts such
as the Untether speedAI240 are several times more efficient than a GPU).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from inferchip.cost import energy as en
from inferchip.cost.peaks import peak_flop_per_s
from inferchip.cost.roofline import FloatArray
from inferchip.cost.vision.host import host_link, input_copy_s
from inferchip.cost.vision.layers import LayerCosts, layer_costs
from inferchip.spec.assumptions import Assumptions
from inferchip.spec.params import ChipParams
from inferchip.spec.vision import VisionCalibration
from inferchip.workload.vision.model import LayerArrays

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

    @property
    def pipelined_s(self) -> FloatArray:
        """Time per call when calls follow each other and the next input is copied during this call's compute."""
        return np.asarray(np.maximum(self.latency_s - self.input_copy_s, self.input_copy_s), dtype=float)


def energy_per_flop_j(chip: ChipParams, fmt: str, node_nm: float, static_w: float, assumptions: Assumptions) -> float:
    """Matrix energy per FLOP at ``fmt``: the assumptions' value, capped by the chip's (TDP - static) / peak."""
    table = float(en.energy_per_flop_j(fmt, node_nm, assumptions))
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
              memory_type: str, node_nm: float, assumptions: Assumptions) -> CallCost:
    """Latency (with the per-inference overhead and the input copy), energy and average power of one call per
    batch size."""
    costs = layer_costs(chip, a, batch, precision, cal)
    copy = input_copy_s(costs.input_bytes_per_frame, np.asarray(batch, dtype=float),
                        host_link(chip.id, chip.family).bytes_per_s)
    t = costs.time_s.sum(axis=0) + cal.inference_overhead_s
    static = static_w(chip, assumptions)
    tdp = float(chip.tdp_w)
    e_dyn = call_energy_j(costs, chip, memory_type, node_nm, static, assumptions)
    if np.isfinite(tdp) and tdp > static:
        t2, _, throttled = en.throttle(t, e_dyn, static, tdp)
        t = np.asarray(t2, dtype=float)
    else:
        throttled = np.zeros_like(t, dtype=bool)
    t = t + copy
    energy = e_dyn + static * t
    return CallCost(latency_s=t, energy_j=energy, power_w=energy / t, throttled=np.asarray(throttled), layers=costs,
                    input_copy_s=copy)
