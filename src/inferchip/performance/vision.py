"""Cost of a vision network on a chip, per call of ``batch`` frames: :func:`frame_cost`.

The interface the scenario and camera-rig simulators call::

    frame_cost(chip, network, batch, precision="int8", chips=1) -> FrameCost

``chip`` is a catalogue :class:`~inferchip.spec.chip.ChipSpec` (or its id); ``network`` a
:class:`~inferchip.workload.vision.network.VisionNetwork` from :func:`load_network`. With
``chips`` > 1 the frames of a call are split data-parallel (each chip runs ceil(batch/chips)
frames of its own copy of the network); latency is then that of the largest share.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from inferchip.catalog.assumptions import load_assumptions
from inferchip.catalog.chips import family_defaults, load_chip
from inferchip.catalog.vision_networks import load_vision_calibration
from inferchip.cost.peaks import executed_format
from inferchip.cost.vision.clocks import load_sustained_clocks
from inferchip.cost.vision.frame import call_cost
from inferchip.cost.vision.host import host_link
from inferchip.cost.vision.layers import layer_costs
from inferchip.errors import InvalidSettingError
from inferchip.spec.chip import ChipParams, ChipSpec, chip_params
from inferchip.spec.formats import check_format
from inferchip.spec.vision import BATCH_MAX, MAX_VISION_CHIPS, VisionCalibration
from inferchip.workload.vision.model import VisionNetwork
from inferchip.workload.vision.network import load_network

__all__ = ["FrameCost", "frame_cost", "load_network"]

REFERENCE_NODE_NOTE = "process node not in the spec: the energy assumptions' reference node is used"


@dataclass(frozen=True)
class FrameCost:
    """One call of ``batch`` frames (arrays over the batch points given) and per-frame scalars."""

    batch: npt.NDArray[np.float64]
    latency_s: npt.NDArray[np.float64]
    energy_j: npt.NDArray[np.float64]
    power_w: npt.NDArray[np.float64]
    flop_per_frame: float
    bytes_per_frame: float
    notes: tuple[str, ...]
    input_copy_s: npt.NDArray[np.float64] | None = None
    """The share of ``latency_s`` spent copying the call's input over the host link (None: not given)."""
    pipelined_s: npt.NDArray[np.float64] | None = None
    """Time per call under load (calls overlapped, inputs copied during compute); None: not given."""

    @property
    def frames_per_s(self) -> npt.NDArray[np.float64]:
        return self.batch / self.latency_s


_PARAMS: dict[int, tuple[ChipSpec, ChipParams]] = {}


def _params(spec: ChipSpec) -> ChipParams:
    """Chip parameters at the central estimate, cached per spec object (specs are frozen)."""
    hit = _PARAMS.get(id(spec))
    if hit is None or hit[0] is not spec:
        hit = (spec, chip_params(spec, family_defaults(spec.family)))
        if len(_PARAMS) > 512:
            _PARAMS.clear()
        _PARAMS[id(spec)] = hit
    return hit[1]


def _batch(batch: npt.ArrayLike) -> npt.NDArray[np.float64]:
    given = np.asarray(batch)
    bad = InvalidSettingError(f"batch: frames per call must be whole numbers from 1 to {BATCH_MAX:,} (one or a "
                              f"list of them), got {given!r}")
    if given.dtype.kind not in "iuf":  # a string '8' or a bool True is not a frame count
        raise bad
    b = np.atleast_1d(given.astype(float))
    if (b.ndim != 1 or b.size == 0 or not np.all(np.isfinite(b)) or np.any(b < 1) or np.any(b > BATCH_MAX)
            or np.any(b != np.round(b))):
        raise bad
    return b


def _calibration(calibration: VisionCalibration | str | Path | None) -> VisionCalibration:
    """The calibration given, or read from a file path or ``"none"`` as `--calibration` reads it."""
    if calibration is None or isinstance(calibration, str | Path):
        return load_vision_calibration(calibration)
    if not isinstance(calibration, VisionCalibration):
        raise InvalidSettingError(f"calibration = {calibration!r}; allowed: a VisionCalibration, a calibration YAML "
                                  "path, 'none' (the uncalibrated defaults) or None (the shipped calibration)")
    return calibration


def frame_cost(chip: ChipSpec | str, network: VisionNetwork | str, batch: npt.ArrayLike, *,
               precision: str = "int8", chips: int = 1,
               calibration: VisionCalibration | str | Path | None = None) -> FrameCost:
    """Latency, energy and power of running ``batch`` frames of ``network`` on ``chips`` copies of ``chip``."""
    spec = load_chip(chip) if isinstance(chip, str) else chip
    net = load_network(network) if isinstance(network, str) else network
    check_format(precision, "precision")
    if isinstance(chips, bool) or not isinstance(chips, int | np.integer) or not 1 <= chips <= MAX_VISION_CHIPS:
        raise InvalidSettingError(f"chips: must be a whole number from 1 to {MAX_VISION_CHIPS:,}, got {chips!r}")
    b = _batch(batch)
    cal = _calibration(calibration)
    params = _params(spec)
    assumptions = load_assumptions()
    notes = [*net.notes, *(n for n in params.notes if "scale-up" not in n)]  # links play no part here
    if not np.isfinite(params.tdp_w):  # the chip note says power is unavailable; here it is the work's alone
        notes = [n for n in notes if n not in params.notes or "no TDP published" not in n]
        notes.append(f"{spec.id} publishes no TDP: power and energy are the network's dynamic energy only "
                     "(no static or idle floor, no TDP cap on the clock)")
    node = spec.silicon.node_nm
    if node is None:
        node = assumptions.number("energy.reference_node_nm")
        notes.append(REFERENCE_NODE_NOTE)
    ran = executed_format(params, precision)
    if ran != precision:
        notes.append(f"{spec.id} has no {precision} matrix peak: computed at {ran}")
    clock = load_sustained_clocks().get(params.id)
    if clock is not None:
        notes.append(f"compute at the sustained clock {clock.sustained_ghz:g} GHz ({clock.kind}; datasheet boost "
                     f"{clock.datasheet_ghz:g} GHz): catalog/vision/sustained_clocks.csv")
    link = host_link(params.id, params.family)
    if link.note:
        notes.append(link.note)
    per_chip = np.ceil(b / chips)
    busy = np.minimum(b, chips)
    c = call_cost(params, net.arrays, per_chip, precision, cal, memory_type=spec.memory.type, node_nm=float(node),
                  assumptions=assumptions)
    idle_w = float(params.idle_w) if np.isfinite(params.idle_w) else 0.0
    energy = busy * c.energy_j + (chips - busy) * idle_w * c.latency_s
    if np.any(c.throttled):
        notes.append("power above TDP at some batch sizes: calls stretched to hold TDP")
    if per_chip[0] == 1:
        one_bytes = float(c.layers.dram_bytes[:, 0].sum())
    else:
        one_bytes = float(layer_costs(params, net.arrays, np.array([1.0]), precision, cal).dram_bytes.sum())
    return FrameCost(batch=b, latency_s=c.latency_s, energy_j=energy, power_w=energy / c.latency_s,
                     flop_per_frame=net.flop_per_frame, bytes_per_frame=one_bytes,
                     notes=tuple(notes), input_copy_s=c.input_copy_s,
                     pipelined_s=c.pipelined_s)
