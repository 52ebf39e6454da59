"""Driving rigs on a chip: the vision cost model's service times through the camera-rig simulation.

:func:`drive` answers ``inferchip drive``: N cameras at F fps through one or more networks on
``chips`` chips, with frame-latency percentiles, jitter, deadline misses, utilisation, the average power and the
energy per camera frame at the rig's rate, and each network's energy per cycle
(:mod:`~inferchip.sim.vision.rig_energy`). :func:`drive_curve` sweeps cameras x fps for the deadline
curve; the review puts the in-car chips (:data:`IN_CAR_CHIPS`)
on the same rig (8 cameras at 36 fps, :mod:`inferchip.review.in_car`).

Networks. Each ``--model`` is a vision network id or ONNX path, optionally suffixed ``@camera`` (one
sample per camera frame) or ``@rig`` (one sample per tick of all cameras: a BEV network over all
views, a planner). Without a suffix a network whose loaded form says it takes several camera views
(an attribute ``cameras`` or ``views`` > 1) is a rig network, every other one a camera network.

The cost model is reached through :data:`CostFn` (``cost_frames(chip, network, batch, precision=,
chips=)`` returning arrays ``latency_s`` and ``power_w`` or ``energy_j`` over the batch sizes) and a
loader (``load_network(name)``); both default to :mod:`inferchip.performance.vision` and can be
passed in (tests, other cost models).
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from numbers import Integral
from typing import Any, Protocol

import numpy as np

from inferchip.catalog.chips import family_defaults, load_chip
from inferchip.errors import InferchipError, InvalidSettingError, labelled, named_as
from inferchip.mapping.memory_fit import FloatArray
from inferchip.sim.vision.rig import RigLoad, Stage, deadline_curve, simulate_rig
from inferchip.sim.vision.rig_energy import budget_floor_note
from inferchip.spec.chip import ChipSpec, chip_params
from inferchip.workload.vision.network import at_rig_views, checked_own_views, network_views

DEFAULT_MODELS = ("bevformer-tiny@rig",)
"""BEVFormer-tiny (MLPerf Automotive) over all the rig's views once per tick: the multi-camera BEV
perception that current driving stacks run (shared/reference/vision_models.md)."""

IN_CAR_CHIPS = ("tesla-fsd-hw3", "tesla-ai4-hw4", "tesla-ai5", "nvidia-jetson-agx-orin-64gb", "nvidia-drive-agx-thor")
IN_CAR_CAMERAS = 8
IN_CAR_FPS = 36.0
"""The driving rig of the review: 8 cameras at 36 frames/s (Tesla's camera suite as issue 14 states it;
the only Tesla throughput figure in the shared data is HW3's 'up to 2300 frames per second' per FSD
computer, IEEE Micro 2020, shown beside the table as a cross-check)."""
IN_CAR_POWER_BUDGET_W = 100.0
"""The car's power budget for the chip that runs the review's rig, W (drive's ``power_budget_w``: a chip over it is
clocked down; one whose idle power alone exceeds it cannot run the rig in a car). An inferchip estimate from the
shipping in-car computers the shared reference documents: Tesla's HW3 FSD computer, a board under 100 W holding two
chips of sub-40 W TDP (Talpes et al., IEEE Micro 2020; Hot Chips 31, Autonomy Day 2019), and AI4's 80-100 W system
(unanswered.io, a community estimate). The rig runs on one chip, so the whole computer's envelope is the most that
chip may draw. The ledger sets it to :data:`IN_CAR_POWER_BUDGET_HIGH_W`."""
IN_CAR_POWER_BUDGET_HIGH_W = 150.0
"""AI5's reported edge envelope, ~150 W (spiderking.ai leak report 2026-04-17, as tesla-ai5.yaml cites it): the
in-car budget's ledger alternative, a next-generation car's computer."""
IN_CAR_POWER_BUDGET_SOURCE = ("the car's power budget, an inferchip estimate: Tesla HW3's board under 100 W (IEEE "
                              "Micro 2020) and AI4's 80-100 W system (unanswered.io, a community estimate)")


ROLES = ("camera", "rig")


class FrameCostLike(Protocol):
    latency_s: FloatArray


CostFn = Callable[..., FrameCostLike]
Loader = Callable[[str], Any]


@dataclass(frozen=True)
class DriveNetwork:
    name: str
    network: Any
    per_camera: bool


def _vision_api() -> tuple[CostFn, Loader]:
    try:  # the vision cost model (issue 14, point 3)
        vision = importlib.import_module("inferchip.performance.vision")
    except ModuleNotFoundError as exc:
        if exc.name != "inferchip.performance.vision":
            raise
        raise InferchipError("the vision cost model (inferchip.performance.vision) is not in this build; "
                             "`inferchip drive` needs it") from None
    return vision.cost_frames, vision.load_network


def parse_models(models: Sequence[str] | None, loader: Loader) -> tuple[DriveNetwork, ...]:
    """``NAME[@camera|@rig]`` strings -> loaded networks with their role (see the module doc)."""
    out = []
    for given in (models or DEFAULT_MODELS):
        text = str(given).strip()
        head, at, tail = text.rpartition("@")
        name, role = (head, tail) if tail in ROLES else (text, "")
        if at and not role and head and not tail.lower().endswith(".onnx") and "/" not in tail:
            raise InvalidSettingError(f"{labelled('models')} {given!r}: unknown role '@{tail}'; allowed: "
                                      f"{', '.join('@' + r for r in ROLES)} (or no suffix)")
        if not name:
            raise InvalidSettingError(f"{labelled('models')} {given!r}: a network id or ONNX path is needed")
        net = loader(name)
        if role:
            per_camera = role == "camera"
        else:
            per_camera = network_views(net) <= 1
        out.append(DriveNetwork(name, net, per_camera))
    return tuple(out)


def _array(fc: Any, attr: str, n: int) -> FloatArray | None:
    v = getattr(fc, attr, None)
    if v is None:
        return None
    a = np.broadcast_to(np.asarray(v, dtype=float), (n,))
    return np.array(a)


def stage_for(chip: ChipSpec, net: DriveNetwork, max_batch: int, *, precision: str, chips: int,
              cost_fn: CostFn, idle_w: float, notes: list[str] | None = None,
              splits: dict[str, dict[str, float]] | None = None, run_batch: int | None = None,
              samples: int | None = None) -> Stage:
    """The cost model's seconds and watts per batch 1..max_batch for one network, as a rig stage; its notes go to
    ``notes``, its call's time split (``time_split_s``) at ``run_batch`` (default: the call size serving ``samples``
    soonest, ``Stage.call_size``), the batch the rig runs it at, to ``splits[name]`` in seconds, with ``batch``."""
    batch = np.arange(1, max_batch + 1)
    fc = cost_fn(chip, net.network, batch, precision=precision, chips=chips)
    if notes is not None:
        for n in getattr(fc, "notes", ()) or ():
            text = f"{net.name}: {n}"
            if text not in notes:
                notes.append(text)
    lat = _array(fc, "latency_s", batch.size)
    if lat is None:
        raise InferchipError(f"the cost model returned no latency for {net.name}")
    power = _array(fc, "power_w", batch.size)
    if power is None:
        energy = _array(fc, "energy_j", batch.size)
        power = energy / lat if energy is not None else np.full(batch.size, idle_w)
    power = np.where(np.isfinite(power), power, idle_w)
    st = Stage(net.name, net.per_camera, np.concatenate(([0.0], lat)), np.concatenate(([0.0], power)))
    split = getattr(fc, "time_split_s", None)
    if splits is not None and isinstance(split, dict):  # at the call size the rig runs (Stage.call_size)
        at = min(run_batch or st.call_size(samples or max_batch, max_batch), max_batch)
        splits[net.name] = {"batch": float(at), **{k: float(np.asarray(v)[at - 1]) for k, v in split.items()}}
    return st


def _idle_w(chip: ChipSpec, chips: int) -> tuple[float, list[str], int]:
    """(the chips' idle power, notes, the devices the runtime sees in one package: an MI250X's two GCDs, each running
    its share of a call's frames in the cost model, ``performance.vision.frame_cost``)."""
    p = chip_params(chip, family_defaults(chip.family))
    if math.isfinite(p.idle_w):
        return p.idle_w * chips, [], p.runtime_devices
    return 0.0, [f"{chip.name} publishes no TDP: idle power taken as 0 W, power and energy are the networks' only"], (
        p.runtime_devices)


@dataclass(frozen=True)
class DriveSetup:
    chip: ChipSpec
    networks: tuple[DriveNetwork, ...]
    stages: tuple[Stage, ...]
    chips: int  # packages, as --count gives them
    idle_w: float
    notes: tuple[str, ...]
    devices_per_package: int = 1  # the runtime's devices in one package (ChipSpec memory.runtime_devices)
    splits: tuple[tuple[str, dict[str, float]], ...] = ()  # per network: its call's time split at the rig's batch

    def counted(self) -> dict[str, int]:
        """The summary's chip count as predict's: the runtime devices (``chips``; packages x devices a package) and
        ``runtime_devices_per_package``."""
        return {"chips": self.chips * self.devices_per_package,
                "runtime_devices_per_package": self.devices_per_package}


def setup(chip: str | ChipSpec, models: Sequence[str] | None, *, max_cameras: int, chips: int = 1,
          precision: str = "int8", max_batch: int | None = None, cost_fn: CostFn | None = None,
          loader: Loader | None = None, batching: str = "tick", own_views: bool = False,
          views: int | None = None) -> DriveSetup:
    """Resolve the chip and networks and tabulate each network's service time up to ``max_cameras``
    frames per call (or ``max_batch`` when smaller); a rig network taking several views is rebuilt at ``views``
    (default ``max_cameras``; :func:`~inferchip.workload.vision.network.at_rig_views`) unless ``own_views``."""
    if isinstance(chips, bool | np.bool_) or not isinstance(chips, Integral) or not 1 <= chips <= 1024:
        raise InvalidSettingError(f"{named_as('count', chips)}: must be a whole number from 1 to 1,024")  # ic.drive's
    chips = int(chips)  # a numpy integer too, as frame_cost takes it ("count=2: must be a whole number" refused it)
    checked_own_views(own_views)
    spec = chip if isinstance(chip, ChipSpec) else load_chip(chip)
    if cost_fn is None or loader is None:
        default_cost, default_loader = _vision_api()
        cost_fn, loader = cost_fn or default_cost, loader or default_loader
    nets = parse_models(models, loader)
    idle, notes, devices = _idle_w(spec, chips)
    nets = tuple(n if n.per_camera else DriveNetwork(n.name, at_rig_views(  # its views the rig's, or its own
        n.name, n.network, network_views(n.network), views or max_cameras, own_views, notes), False) for n in nets)
    if own_views and all(n.per_camera for n in nets):  # it was taken silently
        notes.append("--own-views (API own_views=True) changes nothing here: no rig network among the networks "
                     "(each camera network runs one camera's frames)")
    top = min(max_cameras, max_batch or max_cameras)
    splits: dict[str, dict[str, float]] = {}
    stages = tuple(stage_for(spec, n, top if n.per_camera else 1, precision=precision, chips=chips,
                             cost_fn=cost_fn, idle_w=idle, notes=notes, splits=splits,
                             run_batch=1 if batching == "frame" else None, samples=max_cameras) for n in nets)
    return DriveSetup(spec, nets, stages, chips, idle, tuple(notes), devices, tuple(splits.items()))


def drive(chip: str | ChipSpec, cameras: int, fps: float, models: Sequence[str] | None = None, *, chips: int = 1,
          deadline_ms: float | None = None, power_budget_w: float | None = None, duration_s: float = 60.0,
          seed: int = 0, batching: str = "tick", precision: str = "int8", phase_spread: float = 0.1,
          max_batch: int | None = None, cost_fn: CostFn | None = None,
          loader: Loader | None = None, own_views: bool = False) -> dict[str, Any]:
    """Simulate the rig and return its summary (see :meth:`~inferchip.sim.vision.rig.RigResult.summary`): frame
    latency percentiles (``latency_ms``), deadline misses and verdict, what binds; at the rig's rate
    (:mod:`~inferchip.sim.vision.rig_energy`) ``average_power_w``, ``energy_per_frame_j`` (per camera frame),
    ``rig_energy_per_cycle_j`` (a frame of every camera) = each network's ``networks[i]["energy_per_cycle_j"]`` +
    ``idle_energy_per_cycle_j``; ``power_dynamic_only``: True where the chip publishes no TDP (the networks' calls
    are their dynamic energy alone, idle 0 W unless stated: a floor, a note says so). ``chips``: chips (``--count``);
    ``precision``: the number format (``--weights``)."""
    load = RigLoad(cameras, fps, duration_s=duration_s, seed=seed,
                   deadline_s=None if deadline_ms is None else _ms(deadline_ms) / 1e3, batching=batching,
                   phase_spread=phase_spread, max_batch=max_batch)
    s = setup(chip, models, max_cameras=cameras, chips=chips, precision=precision, max_batch=max_batch,
              cost_fn=cost_fn, loader=loader, batching=batching, own_views=own_views)
    res = simulate_rig(load, s.stages, idle_w=s.idle_w, power_budget_w=power_budget_w)
    out = res.summary()
    energy = out.pop("network_energy")  # each network's calls in a cycle, in the networks' own entries
    out.update(chip=s.chip.id, **s.counted(), precision=precision, networks=[  # views: as costed (at_rig_views)
        {"name": n.name, "role": "camera" if n.per_camera else "rig", "views": network_views(n.network),
         **{k: v for k, v in e.items() if k != "name"}} for n, e in zip(s.networks, energy, strict=True)])
    out["service_split"] = {name: _shares(sp) for name, sp in s.splits}
    over = float(out.get("offered_load", 0.0)) >= 1.0  # binds' rule: then a tick's work, else a frame's job
    out["binds"] = binds(out, dict(s.splits), {st.name: _work_s(st, load, over) for st in s.stages})
    floor = [n.name for n in s.networks if _uncosted(n.network)]
    if out["binds"] is not None and floor:  # its work counted as 0 s: the verdict is a floor, and may be the wrong one
        out["binds"]["text"] += (f"; a floor: {', '.join(floor)} has graph nodes not costed (counted as 0 s, named "
                                 "in the notes), so the work may bind instead")
    if out["deadline_verdict"] is not None:
        out["deadline_verdict"]["floor_of"] = floor
    out["notes"] = list(s.notes) + out["notes"]
    out["power_dynamic_only"] = not math.isfinite(chip_params(s.chip, family_defaults(s.chip.family)).tdp_w)
    if out["power_dynamic_only"] and power_budget_w is not None:
        out["notes"].append(budget_floor_note(s.chip.name, power_budget_w, out))
    return out




def _uncosted(net: Any) -> bool:
    """Whether a network has layers the cost model could not price (an ONNX graph's unknown operators, unsized
    tensors: ``op == "uncosted"``, counted as 0 s)."""
    return any(getattr(x, "op", "") == "uncosted" for x in getattr(net, "layers", ()) or ())


BOUND_WORDS = {"compute": "compute-bound layers", "memory": "memory-bound layers (DRAM)",
               "overhead": "kernel launch and per-call overhead", "host_copy": "the input copy over the host link",
               "power_limit": "the TDP limit (clock stretched)"}
"""What each part of a call's time (:data:`~inferchip.cost.vision.frame.SPLIT_PARTS`) is, in words."""


def _shares(split: dict[str, float]) -> dict[str, float]:
    """A network's call split as shares of its latency (and the batch it ran at)."""
    total = sum(v for k, v in split.items() if k != "batch")
    return {k: (v if k == "batch" else v / total if total > 0 else 0.0) for k, v in split.items()}


def _work_s(st: Stage, load: RigLoad, tick: bool) -> tuple[float, int]:
    """(seconds, calls) of one network in a frame's job (``tick``: in a tick's work, every camera's frame): a camera
    network runs every camera's frame of the tick under tick batching, in calls of at most ``--max-batch``, and one
    frame a call under frame batching (as :func:`~inferchip.sim.vision.rig.simulate_rig` runs them); a rig network
    one sample."""
    samples = load.cameras if st.per_camera and (tick or load.batching == "tick") else 1
    if load.batching == "frame":
        return samples * float(st.latency_s[1]), samples
    cap = st.call_size(samples, load.max_batch or load.cameras)
    return st.job(samples, cap, 0.0)[0], -(-samples // cap)


def binds(summary: dict[str, Any], splits: dict[str, dict[str, float]],
          work: dict[str, tuple[float, int]] | None = None) -> dict[str, Any] | None:
    """What binds a frame's latency: the largest part of the mean latency (waiting for the tick's cameras, queueing,
    or the chip's work), and for the chip's work the network that takes the most of it and the largest part of its
    call. ``work``: each network's (seconds, calls) in a frame's job, or in a tick's work where the offered load is
    at or above 1 (:func:`_work_s`; None: one call each, as ``splits`` holds it). Returns ``{"part", "network",
    "by", "share", "text"}`` (network/by/share None outside the chip's work)."""
    parts = summary.get("latency_split_ms")
    if not parts:
        return None
    part = max(parts, key=lambda k: parts[k])
    load = float(summary.get("offered_load", 0.0))
    over = load >= 1.0  # the chip cannot keep up: the queue is the work's, growing for the whole run
    if over:
        part = "service"
    out: dict[str, Any] = {"part": part, "network": None, "by": None, "share": None}
    if part == "camera_wait":
        out["text"] = (f"the camera pipeline: {parts[part]:,.2f} ms of the mean latency waiting for the tick's last "
                       "camera (--phase-spread, jitter)")
        return out
    if part == "queueing":
        out["text"] = (f"queueing: {parts[part]:,.2f} ms of the mean latency behind earlier jobs (utilisation "
                       f"{summary['utilisation']:.0%})")
        return out
    head = (f"the chip's work, offered {load:.2f}x the chip's time (the queue grows throughout the run)" if over
            else "the chip's work")
    if not splits:
        out["text"] = f"{head}: {parts['service']:,.2f} ms a frame"
        return out
    def seconds(name: str) -> tuple[float, int]:  # the network's time in the job: its calls there, else one call
        one = sum(v for k, v in splits[name].items() if k != "batch")
        return (work or {}).get(name, (one, 1))

    name = max(splits, key=lambda k: seconds(k)[0])
    sp, calls = splits[name], seconds(name)[1]
    share = _shares(sp)
    by = max((k for k in share if k != "batch"), key=lambda k: share[k])
    out.update(network=name, by=by, share=share[by])
    where = "a tick" if over else "in a frame's job"
    many = f", {calls:,} calls {where}" if calls > 1 else ""
    out["text"] = (f"{head}: {name} at batch {sp['batch']:.0f}{many}, {share[by]:.0%} of its call in "
                   f"{BOUND_WORDS.get(by, by)}")
    return out


def _ms(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not (math.isfinite(v) and v > 0):
        raise InvalidSettingError(f"{named_as('deadline_ms', v)}: must be a finite number of milliseconds > 0")
    return float(v)


def drive_curve(chip: str | ChipSpec, cameras: Sequence[int], fps: Sequence[float],
                models: Sequence[str] | None = None, *, chips: int = 1, deadline_ms: float | None = None,
                power_budget_w: float | None = None, duration_s: float = 30.0, seed: int = 0,
                batching: str = "tick", precision: str = "int8", threshold: float = 0.01,
                phase_spread: float = 0.1, max_batch: int | None = None, cost_fn: CostFn | None = None,
                loader: Loader | None = None, own_views: bool = False, views: int | None = None) -> dict[str, Any]:
    """Deadline-miss rate over cameras x fps and the highest fps per camera count under ``threshold``; a rig network
    costed at ``views`` (default: the most cameras of the grid) at every camera count, or at its own (``own_views``)."""
    if not cameras or not fps:
        raise InvalidSettingError("the deadline curve needs at least one camera count and one frame rate")
    s = setup(chip, models, max_cameras=max(int(c) for c in cameras), max_batch=max_batch, chips=chips,
              precision=precision, cost_fn=cost_fn, loader=loader, own_views=own_views, views=views)
    curve = deadline_curve(s.stages, idle_w=s.idle_w, cameras=np.asarray(cameras), fps=np.asarray(fps),
                           duration_s=duration_s, seed=seed, batching=batching,
                           deadline_s=None if deadline_ms is None else _ms(deadline_ms) / 1e3,
                           threshold=threshold, power_budget_w=power_budget_w, phase_spread=phase_spread,
                           max_batch=max_batch)
    curve.update(chip=s.chip.id, **s.counted(), networks=[n.name for n in s.networks])
    return curve

