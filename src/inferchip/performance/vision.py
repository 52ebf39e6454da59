"""Cost of a vision network on a chip, per call of ``batch`` frames: :func:`frame_cost`.

The public call (``ic.frame_cost``, its keywords named as ``ic.predict``'s and ``ic.drive``'s)::

    frame_cost(chip, network, batch, weights="int8", count=1) -> FrameCost

and :func:`cost_frames`, the same with the camera-rig simulator's names (``precision=``, ``chips=``), which
``performance.vision_drive`` calls. ``chip`` is a catalogue :class:`~inferchip.spec.chip.ChipSpec` (or its id);
``network`` a :class:`~inferchip.workload.vision.network.VisionNetwork` from :func:`load_network`. With
``count`` > 1 the frames of a call are split data-parallel (each chip runs ceil(batch/count)
frames of its own copy of the network); latency is then that of the largest share. A package its
runtime sees as several devices (an MI250X: two GCDs, each its own GPU to ROCm; the chip file's
``memory.runtime_devices``) is those devices, as predict sees it (:func:`~inferchip.spec.params.runtime_device_view`):
``count`` packages are ``count`` x n devices sharing the frames the same way, one graph never spanning two.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from inferchip.catalog.assumptions import load_assumptions
from inferchip.catalog.chips import family_defaults, load_chip, spoken_name
from inferchip.catalog.vision_networks import load_vision_calibration
from inferchip.cost.peaks import emulation, executed_format
from inferchip.cost.vision.clocks import load_sustained_clocks
from inferchip.cost.vision.frame import call_cost
from inferchip.cost.vision.host import host_link
from inferchip.cost.vision.layers import layer_costs
from inferchip.errors import DoesNotFitError, InvalidSettingError, labelled, named, unexpected_keyword
from inferchip.sim.vision.rig import MAX_CAMERAS, whole_number
from inferchip.spec.chip import ChipParams, ChipSpec, chip_params
from inferchip.spec.formats import BYTES_PER_ELEMENT, check_format
from inferchip.spec.vision import BATCH_MAX, MAX_VISION_CHIPS, VisionCalibration
from inferchip.workload.vision.model import UNIT_GATHER, VisionNetwork
from inferchip.workload.vision.network import at_rig_views, checked_own_views, load_network, network_views

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["FrameCost", "MemoryNeed", "cost_frames", "frame_cost", "load_network", "memory_need"]

RENAMED = {"precision": "weights", "chips": "count"}
"""``frame_cost``'s old keywords (stops <= 50) and their names now, as ``ic.predict``, ``ic.drive`` and the CLI's
``--weights``/``--count`` say them: still taken, with a DeprecationWarning naming the new one."""
_DEFAULTS: dict[str, Any] = {"weights": "int8", "count": 1}  # frame_cost's, to tell a new name given from its default
_OTHER = ("calibration", "cameras", "own_views")  # frame_cost's other keywords

REFERENCE_NODE_NOTE = "process node not in the spec: the energy assumptions' reference node is used"
NO_SRAM_NOTE = ("{chip} states no on-chip SRAM (sram.capacity_mb): no weight or activation is kept on chip between "
                "layers, so every layer's traffic is priced from DRAM (an upper bound of the traffic; a chip YAML of "
                "your own can state sram.capacity_mb)")


@dataclass(frozen=True)
class MemoryNeed:
    """The least memory one chip needs for a call: the network's weights once, and per frame the input and output
    of its largest layer (both are live while it runs; a gather's sampled reads are not a tensor of their own). A
    floor (runtimes keep more: workspaces, other live tensors), so a call above the usable memory cannot run; one
    below it may still not."""

    weights_bytes: float
    activation_bytes_per_frame: float
    largest_layer: str

    def bytes_for(self, frames: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return self.weights_bytes + self.activation_bytes_per_frame * frames

    def fitting_frames(self, usable_bytes: float) -> int:
        """The most frames per call the usable memory holds (0: not even one)."""
        return max(int((usable_bytes - self.weights_bytes) // self.activation_bytes_per_frame), 0)


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
    memory_per_chip_bytes: npt.NDArray[np.float64] | None = None
    """Per batch point, the least memory a chip needs (:func:`memory_need`); None: not given."""
    memory: MemoryNeed | None = None
    """What that memory is made of; None: not given."""
    usable_memory_bytes: float = float("nan")
    """What the chip's runtime leaves usable (NaN: not stated)."""
    runtime_devices_per_package: int = 1
    """Devices the runtime sees in one package (an MI250X: 2): the call ran on packages x this many devices, and
    every per-chip figure (memory, usable memory) is one device's."""
    time_split_s: dict[str, npt.NDArray[np.float64]] | None = None
    """``latency_s`` by what it is spent on, summing to it (:data:`~inferchip.cost.vision.frame.SPLIT_PARTS`:
    compute- and memory-bound layers, overheads, the host input copy, the TDP stretch); None: not given."""
    power_dynamic_only: bool = False
    """True where the chip publishes no TDP: ``energy_j`` and ``power_w`` are the network's dynamic energy alone (no
    static or idle floor, no TDP cap), a floor of the chip's, not comparable with a chip whose figures include them
    (the README's rule for vision and drive; predict, serve and curve give null there instead)."""

    def over_memory(self) -> list[int]:
        """The batch sizes (frames per call) whose memory floor per chip exceeds the usable memory: calls that cannot
        run (``frame_cost`` says so in its notes; ``inferchip vision`` refuses them)."""
        if self.memory_per_chip_bytes is None or not np.isfinite(self.usable_memory_bytes):
            return []
        return [int(b) for b, m in zip(self.batch, self.memory_per_chip_bytes, strict=True)
                if m > self.usable_memory_bytes]

    @property
    def frames_per_s(self) -> npt.NDArray[np.float64]:
        return self.batch / self.latency_s

    @property
    def call_energy_per_frame_j(self) -> npt.NDArray[np.float64]:
        """A call's energy over its frames (calls back to back, no idle between them): ``inferchip vision``'s JSON
        key. A camera rig's energy per frame at its rate, idle included, is ``drive``'s ``energy_per_frame_j``."""
        return self.energy_j / self.batch

    def to_dataframe(self) -> pd.DataFrame:
        """One row per batch point: ``batch`` (frames per call), ``latency_s``, ``frames_per_s``, ``energy_j`` (per
        call), ``call_energy_per_frame_j``, ``power_w`` (through the call), and where given ``input_copy_s``,
        ``pipelined_s``, ``memory_per_chip_bytes`` and ``over_memory`` (the call cannot run: its memory floor
        exceeds the usable memory), the latency's split (``time_split_s``) as ``latency_compute_s``,
        ``latency_memory_s``, ... summing to ``latency_s``, and ``power_dynamic_only`` (as :meth:`to_dict`: the
        energy and power are the network's dynamic floor, the chip stating no TDP)."""
        import pandas as pd

        cols = {"batch": self.batch, "latency_s": self.latency_s, "frames_per_s": self.frames_per_s,
                "energy_j": self.energy_j, "call_energy_per_frame_j": self.call_energy_per_frame_j,
                "power_w": self.power_w, "input_copy_s": self.input_copy_s,
                "pipelined_s": self.pipelined_s, "memory_per_chip_bytes": self.memory_per_chip_bytes,
                **{f"latency_{part}_s": t for part, t in (self.time_split_s or {}).items()}}
        df = pd.DataFrame({k: np.asarray(v, dtype=float) for k, v in cols.items() if v is not None})
        df["over_memory"] = df["batch"].isin(self.over_memory())
        df["power_dynamic_only"] = self.power_dynamic_only
        return df

    def to_dict(self) -> dict[str, Any]:
        """Every figure, arrays as lists (one value per batch point), for JSON."""
        d = {k: _plain(v) for k, v in self.__dict__.items() if k != "memory"}
        return {**d, "frames_per_s": self.frames_per_s.tolist(),
                "call_energy_per_frame_j": self.call_energy_per_frame_j.tolist(), "notes": list(self.notes),
                "memory": None if self.memory is None else asdict(self.memory)}

    def __repr__(self) -> str:  # the dataclass's printed every array and note (~700 characters for two points)
        pts = ", ".join(f"{b:g}: {t * 1e3:,.3g} ms" for b, t in zip(self.batch[:4], self.latency_s[:4], strict=True))
        more = f" (+{len(self.batch) - 4} more)" if len(self.batch) > 4 else ""
        return (f"<FrameCost {len(self.batch)} batch point(s), latency per call {pts}{more}; "
                f"{self.flop_per_frame / 1e9:,.4g} GFLOP per frame; every figure: .to_dataframe(), .to_dict()>")


def _plain(v: Any) -> Any:
    """An array as a list and a dict of arrays (``time_split_s``) as a dict of lists: JSON's types."""
    if isinstance(v, np.ndarray):
        return v.tolist()
    return {k: _plain(x) for k, x in v.items()} if isinstance(v, dict) else v


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


def _devices(params: ChipParams, packages: int) -> tuple[ChipParams, int, str]:
    """(one runtime device's parameters, the devices, a note) of ``packages`` packages: a package its runtime sees as
    several devices runs a vision network on each device apart (one graph never spans two GCDs: each is its own GPU
    with its own memory); unchanged where the runtime sees one device a package."""
    from inferchip.spec.params import runtime_device_view

    device, devices, _ = runtime_device_view(params, packages)
    n = device.devices_per_package
    if n == 1:
        return params, packages, ""
    return device, devices, (
        f"{params.id}: its runtime sees each package as {n} devices (the chip file's memory.runtime_devices), so "
        f"{packages} package(s) run as {devices} devices of {device.memory_capacity_bytes / 2**30:g} GiB and 1/{n} of "
        f"the package's peaks, bandwidth, SRAM and TDP each; a call's frames are split over the devices as over "
        f"chips (ceil(frames / {devices}) each, the idle ones at idle power), and every per-chip figure is one "
        "device's")


def _unit(params: ChipParams, count: int) -> str:
    """What ``count`` counts in a sentence: runtime devices where a package is several (:func:`_devices`), else
    chips."""
    word = "device" if params.devices_per_package > 1 else "chip"
    return word + ("s" if count > 1 else "")


def _batch(batch: npt.ArrayLike) -> npt.NDArray[np.float64]:
    given = np.asarray(batch)
    bad = InvalidSettingError(f"batch: frames per call must be whole numbers from 1 to {BATCH_MAX:,} (one or a "
                              f"list of them), got {batch!r}")
    if given.dtype.kind not in "iuf":  # a string '8' or a bool True is not a frame count
        raise bad
    items = np.ravel(np.asarray(batch, dtype=object))
    if given.dtype.kind != "f" and any(isinstance(x, bool | np.bool_) for x in items):
        raise bad  # [True, 2]: numpy casts the bool to 1
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


def memory_need(net: VisionNetwork, precision: str) -> MemoryNeed:
    """:class:`MemoryNeed` of ``net`` with weights and activations in ``precision`` (a layer's own format where it
    has one)."""
    nbytes = np.array([BYTES_PER_ELEMENT[x.precision or precision] for x in net.layers])
    a = net.arrays
    # a gather's reads sample a tensor an earlier layer wrote (counted there as its output): only its output is new
    live = (np.where(a.unit == UNIT_GATHER, 0.0, a.in_elems) + a.out_elems) * nbytes
    big = int(np.argmax(live))
    weights = float(np.sum(np.array([x.param_elems for x in net.layers]) * nbytes))
    return MemoryNeed(weights, max(float(live[big]), 1.0), net.layers[big].name)


def _check_fit(spec: ChipSpec, net: VisionNetwork, need: MemoryNeed, per_chip: npt.NDArray[np.float64],
               usable: float, unit: str = "chip") -> None:
    """Refused when not even the smallest call fits the chip's usable memory (a 10^7 x 10^7 input, a 3-D volume on
    an edge chip): the error says by how much and what would make it fit. ``unit``: what one share of a call runs
    on, "chip" or a package's runtime "device" (:func:`_unit`)."""
    least = float(np.min(per_chip))
    got = float(need.bytes_for(np.array([least]))[0])
    if not np.isfinite(usable) or got <= usable:
        return
    frames = f"{least:.0f} frame{'s' if least != 1 else ''}"
    fits = need.fitting_frames(usable)
    smaller = f"a smaller batch (at most {fits:,} frames per {unit} fit), " if fits else ""
    raise DoesNotFitError(
        f"{net.named} does not fit on {spec.id}: a call of {frames} needs at least {got / 1e9:,.4g} GB per {unit} "
        f"(weights {need.weights_bytes / 1e9:,.4g} GB, the input and output of its largest layer "
        f"'{need.largest_layer}' {need.activation_bytes_per_frame * least / 1e9:,.4g} GB) but "
        f"{usable / 1e9:,.4g} GB is usable; what would make it fit: {smaller}a smaller input (the network's "
        f"input.spatial, an ONNX graph's dynamic axes), a narrower {named('weights')} format, or a chip with more "
        "memory")


def frame_cost(chip: ChipSpec | str | Path, network: VisionNetwork | str | Path, batch: npt.ArrayLike, *,
               weights: str = "int8", count: int = 1, calibration: VisionCalibration | str | Path | None = None,
               cameras: int | None = None, own_views: bool = False, **renamed: Any) -> FrameCost:
    """Latency, energy and power of running ``batch`` frames of ``network`` on ``count`` copies of ``chip`` (an id,
    a chip YAML's path or a ChipSpec), weights and activations in the number format ``weights`` (a layer's own
    format where it has one). ``cameras``: a rig network (BEVFormer, several camera views a sample) rebuilt at that
    many views, as ``ic.drive`` costs it on a rig of ``cameras`` (1 to 1,000; None: its own views), unless
    ``own_views`` (True or False, as ``ic.drive``'s); a note says which, and that they change nothing for a camera
    network (one camera's frame a sample: ``batch`` sets a call's frames). ``precision=`` and ``chips=``, the names
    of stops <= 50, are taken with a DeprecationWarning naming ``weights=`` and ``count=`` (:data:`RENAMED`); one
    given with its new name too is a TypeError (unless the new one is at its default, which cannot be told from not
    given); any other keyword a TypeError naming the closest allowed one."""
    given: dict[str, Any] = {"weights": weights, "count": count}
    for old, value in renamed.items():
        new = RENAMED.get(old)
        if new is None:
            raise unexpected_keyword(old, [*_DEFAULTS, *_OTHER, *RENAMED], ", ".join([*_DEFAULTS, *_OTHER]),
                                     caller="frame_cost", renamed=RENAMED)
        if given[new] != _DEFAULTS[new]:
            raise TypeError(f"frame_cost(): {old}= and {new}= given together ({old}= is the old name of {new}=); "
                            f"allowed: {new}= alone")
        import warnings

        warnings.warn(f"frame_cost(): {old}= is deprecated, use {new}= (same meaning, as ic.predict and ic.drive "
                      "name it)", DeprecationWarning, stacklevel=2)
        given[new] = value
    net, notes = rig_network(network, cameras, own_views)
    fc = cost_frames(chip, net, batch, precision=given["weights"], chips=given["count"], calibration=calibration)
    return replace(fc, notes=(*notes, *fc.notes)) if notes else fc


def rig_network(network: VisionNetwork | str | Path, cameras: int | None, own_views: bool
                ) -> tuple[VisionNetwork, list[str]]:
    """(``network`` as a rig of ``cameras`` runs it, the notes saying how): :func:`frame_cost`'s ``cameras`` and
    ``own_views``, checked and read as ``ic.drive`` reads them (:func:`~inferchip.workload.vision.network.
    at_rig_views`)."""
    own = checked_own_views(own_views)
    rig = None if cameras is None else whole_number("cameras", cameras, 1, MAX_CAMERAS)
    net = network if isinstance(network, VisionNetwork) else load_network(network)
    notes: list[str] = []
    views = network_views(net)
    if views > 1 and rig is not None:
        net = at_rig_views(net.name, net, views, rig, own, notes)
    elif (own or rig is not None) and views <= 1:
        notes.append(f"{'cameras=' if rig is not None else 'own_views=True'} changes nothing here: {net.name} is a "
                     "camera network (one camera's frame a sample; batch= sets the frames a call)")
    elif own:
        notes.append(f"own_views=True changes nothing without cameras=: {net.name} is costed at its own {views} "
                     "views")
    return net, notes


def cost_frames(chip: ChipSpec | str | Path, network: VisionNetwork | str | Path, batch: npt.ArrayLike, *,
                precision: str = "int8", chips: int = 1,
                calibration: VisionCalibration | str | Path | None = None) -> FrameCost:
    """:func:`frame_cost` with the camera-rig simulator's names (``precision``: the number format, ``chips``: the
    count); a bad value is named as the API and the CLI name it (``weights``, ``count``)."""
    spec = load_chip(chip)  # a ChipSpec as it is; None was a bare AttributeError ('family') from deep inside
    net = network if isinstance(network, VisionNetwork) else load_network(network)  # a Path was taken as a network
    precision = check_format(precision, "weights")
    if isinstance(chips, bool) or not isinstance(chips, int | np.integer) or not 1 <= chips <= MAX_VISION_CHIPS:
        raise InvalidSettingError(f"{labelled('count')}: must be a whole number from 1 to {MAX_VISION_CHIPS:,}, "
                                  f"got {chips!r}")
    b = _batch(batch)
    cal = _calibration(calibration)
    params, chips, devices_note = _devices(_params(spec), chips)
    assumptions = load_assumptions()
    notes = [*net.notes, *(n for n in params.notes if "scale-up" not in n)]  # links play no part here
    notes += [devices_note] if devices_note else []
    if not np.isfinite(params.tdp_w):  # the chip note says power is unavailable; here it is the work's alone
        notes = [n for n in notes if n not in params.notes or "no TDP published" not in n]
        notes.append(f"{spec.name} publishes no TDP: power and energy are the network's dynamic energy only "
                     "(no static or idle floor, no TDP cap on the clock)")
    if spec.sram.capacity_mb is None:  # sram_bytes reads 0: nothing is kept on chip between layers
        notes.append(NO_SRAM_NOTE.format(chip=spoken_name(spec.name)))
    node = spec.silicon.node_nm
    if node is None:
        node = assumptions.number("energy.reference_node_nm")
        notes.append(REFERENCE_NODE_NOTE)
    ran = executed_format(params, precision)
    emulated = emulation(params, precision)
    if emulated is not None:
        notes.append(f"{spec.name} has no {precision} matrix peak nor any as wide: emulated on its {emulated[0]} units "
                     f"at 1/{emulated[1]} of their peak (spec.formats.emulation_passes; an estimate)")
    elif ran != precision:
        notes.append(f"{spec.name} has no {precision} matrix peak: computed at {ran}")
    clock = load_sustained_clocks().get(params.id)
    if clock is not None:
        notes.append(f"compute at the sustained clock {clock.sustained_ghz:g} GHz ({clock.kind}; datasheet boost "
                     f"{clock.datasheet_ghz:g} GHz): catalog/vision/sustained_clocks.csv")
    link = host_link(params.id, params.family)
    if link.note:
        notes.append(link.note)
    per_chip = np.ceil(b / chips)
    need = memory_need(net, precision)
    _check_fit(spec, net, need, per_chip, float(params.usable_memory_bytes), _unit(params, 1))
    busy = np.minimum(b, chips)
    c = call_cost(params, net.arrays, per_chip, precision, cal, memory_type=spec.memory.technology(),
                  node_nm=float(node), assumptions=assumptions)
    idle_w = float(params.idle_w) if np.isfinite(params.idle_w) else 0.0
    energy = busy * c.energy_j + (chips - busy) * idle_w * c.latency_s
    if np.any(c.throttled):
        notes.append("power above TDP at some batch sizes: calls stretched to hold TDP")
    if per_chip[0] == 1:
        one_bytes = float(c.layers.dram_bytes[:, 0].sum())
    else:
        one_bytes = float(layer_costs(params, net.arrays, np.array([1.0]), precision, cal).dram_bytes.sum())
    f = FrameCost(batch=b, latency_s=c.latency_s, energy_j=energy, power_w=energy / c.latency_s,
                  flop_per_frame=net.flop_per_frame, bytes_per_frame=one_bytes,
                  notes=tuple(notes), input_copy_s=c.input_copy_s,
                  pipelined_s=c.pipelined_s, memory_per_chip_bytes=need.bytes_for(per_chip), memory=need,
                  usable_memory_bytes=float(params.usable_memory_bytes),
                  runtime_devices_per_package=params.devices_per_package, time_split_s=c.split_s,
                  power_dynamic_only=not np.isfinite(params.tdp_w))
    over = f.over_memory()
    if over:  # the API answered these silently while the CLI refused them (stop 39 review)
        fits = need.fitting_frames(float(params.usable_memory_bytes)) * chips
        f = replace(f, notes=(*f.notes, f"batch {', '.join(map(str, over))}: more than the {_unit(params, 1)}'s "
                                        f"usable memory ({float(params.usable_memory_bytes) / 1e9:,.4g} GB) per "
                                        f"{_unit(params, 1)}: such a call "
                                        f"cannot run (figures shown as if it could); at most {fits:,} frames per call "
                                        f"fit on {chips} {_unit(params, chips)}"))
    return f
