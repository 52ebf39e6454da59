"""A camera rig: ``cameras`` cameras at ``fps`` frames/s through one or more networks on a chip.

Arrivals. Camera ``c`` takes its ``k``-th frame at ``phase_c + k / fps + jitter_ck``: phases are
drawn uniformly over ``phase_spread`` of a frame period (default 0.1: a hardware-triggered rig whose
cameras are close to, but not in, lock-step; 1.0 = free-running cameras) and the jitter is
normal with standard deviation ``jitter_fraction`` of the period, clipped at 3 sigma (at most
0.3 period, so a camera's frames never swap). Both come from one seeded generator: the same seed
gives the same frames and the same figures.

Stages. Each network is a :class:`Stage` with its service time and chip power per batch size.
A *per-camera* stage takes one sample per camera frame (a detector on one 8 MP image); a *rig*
stage takes one sample per tick of all cameras (BEVFormer over the rig's views, a planner).

Batching. ``tick`` (default): the ``k``-th frames of all cameras form one job, started when the
last of them has arrived; per-camera stages run the cameras' frames in calls of at most ``max_batch``, one after
another, at the call size that serves them soonest (:meth:`Stage.call_size`), rig stages at batch 1, in the order
given. ``frame``: each frame is a job at batch 1 in arrival order; the frame that completes tick ``k`` (the last
to arrive) also runs the rig stages, and every frame of the tick gets its result then. Either way the jobs
form one FIFO queue on the chip (several chips act as one, their service times coming from the
cost model at that chip count), solved without a loop by :func:`~inferchip.sim.vision.queue.fifo_finish_s`.

Deadlines. A frame is late when its result arrives after the same camera's next frame (the result
is stale before it is used) or, when a deadline is given, more than ``deadline_s`` after capture.

Power budget (clock throttling). Busy power is the cost model's chip power while a batch runs;
idle power is drawn all the time. Without a budget the chip runs at full clock. With a budget ``W``
below the run's average power, the clock runs at a fraction ``s <= 1``: every service time
stretches by ``1/s`` (all work treated as clock-bound: an upper bound on the slowdown, since
memory-bound layers slow less) and dynamic power (busy minus idle) scales as ``s**3`` (DVFS with
voltage proportional to frequency, P = C V^2 f). The average power is then
``idle + D s^2`` while the chip keeps up (utilisation ``u/s < 1``; ``D`` = dynamic energy per
second at full clock) and ``idle + (D/u) s^3`` when it is saturated; ``s`` solves ``P(s) = W``.
A budget at or below idle power is an error. The energy and average power reported are the steady state's, one
cycle (a frame of every camera) at a time, by network (:mod:`~inferchip.sim.vision.rig_energy`): the same every
cycle, so the budget is met exactly where it binds (a run's own average would also count the drain after its last
capture).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from inferchip.errors import InvalidSettingError, PowerBudgetError, named, named_as
from inferchip.sim.step.protocol import BoolArray, FloatArray
from inferchip.sim.vision.queue import fifo_finish_s, latency_summary_s
from inferchip.sim.vision.rig_energy import RigCycle, rig_cycle
from inferchip.workload.limits import MAX_DURATION_S, MAX_SEED, MIN_DURATION_S

BATCHING = ("tick", "frame")
MAX_FRAMES = 50_000_000  # frames of all cameras in one run: ~1 GB of float64 arrays
MAX_CAMERAS = 1_000
MAX_FPS = 10_000.0


def whole_number(name: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
        raise InvalidSettingError(f"{name} = {value!r}: must be a whole number from {lo:,} to {hi:,}")
    return int(value)


def _positive(name: str, value: Any, hi: float) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InvalidSettingError(f"{name} = {value!r}: must be a number") from None
    if isinstance(value, bool) or not math.isfinite(v) or not 0 < v <= hi:
        raise InvalidSettingError(f"{name} = {value!r}: must be a finite number > 0 and at most {hi:g}")
    return v


def _duration(value: Any) -> float:
    """``duration_s`` within the simulator's bounds (``workload.limits``: drive --duration's), named as called."""
    v = math.nan if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) else float(value)
    if not MIN_DURATION_S <= v <= MAX_DURATION_S:  # NaN too
        raise InvalidSettingError(f"{named_as('duration_s', repr(value))}: allowed: a finite number of seconds from "
                                  f"{MIN_DURATION_S:g} up to {MAX_DURATION_S:,.0f}")
    return v


@dataclass(frozen=True)
class Stage:
    """One network of the rig: seconds and chip watts per batch (index = batch size; index 0 unused)."""

    name: str
    per_camera: bool
    latency_s: FloatArray
    power_w: FloatArray

    def __post_init__(self) -> None:
        t = np.asarray(self.latency_s, dtype=float)
        p = np.asarray(self.power_w, dtype=float)
        if t.ndim != 1 or t.shape != p.shape or t.size < 2:
            raise InvalidSettingError(f"stage {self.name}: latency and power tables must be 1-D, equal, batch 0..n")
        if not (np.all(np.isfinite(t[1:])) and np.all(t[1:] > 0)):
            raise InvalidSettingError(f"stage {self.name}: service times must be finite and > 0 s")
        if not (np.all(np.isfinite(p[1:])) and np.all(p[1:] >= 0)):
            raise InvalidSettingError(f"stage {self.name}: power must be finite and >= 0 W")
        object.__setattr__(self, "latency_s", t)
        object.__setattr__(self, "power_w", p)

    @property
    def max_batch(self) -> int:
        return self.latency_s.size - 1

    def call_size(self, samples: int, cap: int) -> int:
        """The call size, at most ``cap``, that serves ``samples`` soonest in calls one after another (the largest of
        equal ones): a scheduler splits a tick's frames so, as a larger batch can take longer per frame (its
        activations spill out of on-chip SRAM: SSD-ResNet50 8 MP on AI5, 4.8 ms at batch 1, 69 ms at batch 8)."""
        sizes = np.arange(1, max(1, min(cap, self.max_batch, samples)) + 1)
        full, rest = np.divmod(samples, sizes)
        t = full * self.latency_s[sizes] + self.latency_s[rest]  # entry 0 is 0 s: no partial call
        return int(sizes[np.flatnonzero(t <= t.min() * (1 + 1e-12))[-1]])

    def job(self, samples: int, cap: int, idle_w: float) -> tuple[float, float]:
        """(seconds, dynamic joules) to serve ``samples`` in batches of at most ``cap``, one after another, at the
        call size that serves them soonest (:meth:`call_size`)."""
        cap = self.call_size(samples, cap)
        full, rest = divmod(samples, cap)
        t = full * self.latency_s[cap] + (self.latency_s[rest] if rest else 0.0)
        dyn = full * self.latency_s[cap] * max(self.power_w[cap] - idle_w, 0.0)
        if rest:
            dyn += self.latency_s[rest] * max(self.power_w[rest] - idle_w, 0.0)
        return float(t), float(dyn)


@dataclass(frozen=True)
class RigLoad:
    """What the rig asks of the chip: cameras, frame rate, run length, batching, deadline, seed."""

    cameras: int
    fps: float
    duration_s: float = 60.0
    seed: int = 0
    deadline_s: float | None = None
    batching: str = "tick"
    jitter_fraction: float = 0.01
    max_batch: int | None = None
    phase_spread: float = 0.1

    def __post_init__(self) -> None:
        whole_number("cameras", self.cameras, 1, MAX_CAMERAS)
        _positive("fps", self.fps, MAX_FPS)
        _duration(self.duration_s)
        whole_number("seed", self.seed, 0, MAX_SEED)
        if self.deadline_s is not None:
            _positive("deadline_s", self.deadline_s, 1e6)
        if self.batching not in BATCHING:
            raise InvalidSettingError(f"batching = {self.batching!r}: allowed {', '.join(BATCHING)}")
        j = self.jitter_fraction
        if isinstance(j, bool) or not isinstance(j, (int, float)) or not (math.isfinite(j) and 0 <= j <= 0.1):
            raise InvalidSettingError(f"jitter_fraction = {j!r}: must be a number from 0 to 0.1 of a frame period")
        p = self.phase_spread
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not (math.isfinite(p) and 0 <= p <= 1):
            raise InvalidSettingError(f"phase_spread = {p!r}: must be a number from 0 to 1 of a frame period")
        if self.max_batch is not None:
            whole_number("max_batch", self.max_batch, 1, MAX_CAMERAS)
        if self.frames_per_camera < 1:
            raise InvalidSettingError(f"{named_as('duration_s', f'{self.duration_s:g}')} s at {self.fps:g} fps holds "
                                      f"no whole frame; run at least 1/fps = {1 / self.fps:.4g} s")
        if self.frames_per_camera * self.cameras > MAX_FRAMES:
            raise InvalidSettingError(
                f"{self.cameras} cameras x {self.frames_per_camera:,} frames is above {MAX_FRAMES:,} frames in one "
                f"run; shorten {named('duration_s')} to at most "
                f"{MAX_FRAMES / (self.cameras * self.fps):,.4g} s at {self.cameras} cameras x {self.fps:g} fps")

    @property
    def period_s(self) -> float:
        return 1.0 / self.fps

    @property
    def frames_per_camera(self) -> int:
        return int(math.floor(self.duration_s * self.fps + 1e-9))


def camera_arrivals_s(load: RigLoad) -> FloatArray:
    """Capture times, shape (cameras, frames): seeded phases over one period plus clipped normal jitter."""
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([load.seed, 0x716])))
    period = load.period_s
    phases = rng.uniform(0.0, load.phase_spread * period, size=(load.cameras, 1))
    k = np.arange(load.frames_per_camera, dtype=float)[None, :] * period
    jitter = rng.standard_normal((load.cameras, load.frames_per_camera)) * (load.jitter_fraction * period)
    np.clip(jitter, -3 * load.jitter_fraction * period, 3 * load.jitter_fraction * period, out=jitter)
    return phases + k + jitter


@dataclass(frozen=True)
class Throttle:
    """The clock fraction a power budget imposes, and the power without it."""

    clock_fraction: float
    power_unthrottled_w: float
    budget_w: float | None


def throttle_for_budget(idle_w: float, dynamic_w: float, utilisation: float, budget_w: float | None) -> Throttle:
    """Clock fraction ``s`` at which average power ``idle + D s^2`` (or ``idle + (D/u) s^3`` when
    saturated, ``u/s >= 1``) meets the budget; ``s = 1`` when the budget is not binding.

    ``dynamic_w`` (D) is the dynamic energy of the offered work per second of the run and ``utilisation``
    (u) the offered busy time per second, both at full clock; u > 1 means the chip cannot keep up and is
    busy all the time, drawing ``idle + D/u``."""
    unthrottled = idle_w + dynamic_w * min(1.0, 1.0 / utilisation) if utilisation > 0 else idle_w
    if budget_w is None or budget_w >= unthrottled or dynamic_w <= 0:
        return Throttle(1.0, unthrottled, budget_w)
    if budget_w <= idle_w:
        raise PowerBudgetError(
            f"power_budget_w = {budget_w:g} W (--power-budget-w, the power budget) is at or below the chips' idle "
            f"power {idle_w:.4g} W, "
            f"so no clock meets it; allowed: above {idle_w:.4g} W", idle_w, budget_w)
    head = budget_w - idle_w
    s = math.sqrt(head / dynamic_w)
    if s < utilisation:  # the chip would be saturated at that clock: busy all the time
        s = (head * utilisation / dynamic_w) ** (1.0 / 3.0)
    return Throttle(min(1.0, s), unthrottled, budget_w)


@dataclass
class RigResult:
    """Per-frame capture and result times (cameras, frames) and the chip's busy time and energy."""

    load: RigLoad
    stages: tuple[str, ...]
    arrivals_s: FloatArray
    result_s: FloatArray
    busy_s: float
    dynamic_energy_j: float
    idle_w: float
    throttle: Throttle
    notes: tuple[str, ...] = field(default=())
    ready_s: FloatArray | None = None
    """When each frame's result job could start (cameras, frames): the tick's last capture where the result waits
    for the whole tick (tick batching, or a rig network), else the frame's own capture; None: not given."""
    service_s: float = math.nan
    """Seconds of chip work in the job that gives a frame its result, at the run's clock."""
    cycle: RigCycle | None = None
    """The energy of one cycle (a frame of every camera), per network and per rig, at the run's clock
    (:mod:`~inferchip.sim.vision.rig_energy`); None: not given (power and energy figures NaN)."""

    @property
    def latency_s(self) -> FloatArray:
        latency: FloatArray = self.result_s - self.arrivals_s
        return latency

    def late(self) -> tuple[BoolArray, BoolArray]:
        """(late after the same camera's next frame, late after the deadline), boolean (cameras, frames)."""
        nxt = np.empty_like(self.arrivals_s)
        nxt[:, :-1] = self.arrivals_s[:, 1:]
        nxt[:, -1] = self.arrivals_s[:, -1] + self.load.period_s
        stale = self.result_s > nxt
        if self.load.deadline_s is None:
            return stale, np.zeros_like(stale)
        return stale, self.latency_s > self.load.deadline_s

    def summary(self) -> dict[str, Any]:
        lat = self.latency_s.reshape(-1)
        stale, over = self.late()
        frames = int(lat.size)
        start = min(0.0, float(self.arrivals_s.min()))  # jitter may put the first frame just before 0
        makespan = max(self.load.duration_s, float(self.result_s.max())) - start
        nan = float("nan")
        energy = self.cycle.summary() if self.cycle is not None else {
            "average_power_w": nan, "energy_per_frame_j": nan, "rig_energy_per_cycle_j": nan,
            "idle_energy_per_cycle_j": nan, "cycle_s": nan, "busy_per_cycle_s": nan, "network_energy": []}
        stats = latency_summary_s(lat)
        return {
            "cameras": self.load.cameras, "fps": self.load.fps, "duration_s": self.load.duration_s,
            "frames": frames, "batching": self.load.batching, "stages": list(self.stages),
            "seed": self.load.seed, "deadline_ms": None if self.load.deadline_s is None else self.load.deadline_s * 1e3,
            "latency_ms": {k: v * 1e3 for k, v in stats.items()},
            "jitter_ms": float(lat.std()) * 1e3,
            "deadline_miss_rate": float(np.mean(stale | over)),
            "late_after_next_frame_rate": float(np.mean(stale)),
            "late_after_deadline_rate": float(np.mean(over)),
            "utilisation": self.busy_s / makespan,
            "offered_load": self.busy_s / self.load.duration_s,
            "capacity_frames_per_s": frames / self.busy_s if self.busy_s > 0 else float("inf"),
            **energy,
            "clock_fraction": self.throttle.clock_fraction,
            "power_unthrottled_w": self.throttle.power_unthrottled_w,
            "power_budget_w": self.throttle.budget_w,
            "latency_split_ms": self.split_ms(lat),
            "deadline_verdict": self.verdict(stats["p99"]),
            "notes": list(self.notes),
        }

    def split_ms(self, lat: FloatArray) -> dict[str, float] | None:
        """The mean frame latency in three parts that sum to it, ms: waiting for the tick's other cameras (the camera
        pipeline: phase offsets and jitter), queueing behind earlier jobs, and the chip's work on the frame's job."""
        if self.ready_s is None or not math.isfinite(self.service_s):
            return None
        wait = self.ready_s - self.arrivals_s
        queue = np.maximum(lat.reshape(wait.shape) - wait - self.service_s, 0.0)  # >= 0 but for rounding
        return {"camera_wait": float(wait.mean()) * 1e3, "queueing": float(queue.mean()) * 1e3,
                "service": self.service_s * 1e3}

    def verdict(self, p99_s: float) -> dict[str, Any]:
        """The p99 frame latency against the tighter deadline: the frame period (a result after the same camera's
        next frame is stale; nominal, each frame's own next capture moves with the jitter) or ``deadline_s``."""
        period = self.load.period_s
        given = self.load.deadline_s
        deadline, by = (given, "deadline") if given is not None and given < period else (period, "next_frame")
        return {"deadline_ms": deadline * 1e3, "set_by": by, "latency_p99_ms": p99_s * 1e3,
                "margin_ms": (deadline - p99_s) * 1e3}


def _check_stages(stages: tuple[Stage, ...], load: RigLoad) -> int:
    if not stages:
        raise InvalidSettingError("a rig needs at least one network")
    cap = load.max_batch or load.cameras
    for st in stages:
        if st.per_camera and load.batching == "tick" and st.max_batch < min(cap, load.cameras):
            raise InvalidSettingError(
                f"stage {st.name}: service times known up to batch {st.max_batch}, the rig needs "
                f"{min(cap, load.cameras)}")
    return cap


def simulate_rig(load: RigLoad, stages: tuple[Stage, ...], *, idle_w: float,
                 power_budget_w: float | None = None) -> RigResult:
    """Run the rig for ``load.duration_s``: every frame's capture and result time, busy time, energy."""
    cap = _check_stages(stages, load)
    if not (math.isfinite(idle_w) and idle_w >= 0):
        raise InvalidSettingError(f"idle power {idle_w!r} W: must be a finite number >= 0")
    if power_budget_w is not None:
        _positive("power_budget_w", power_budget_w, 1e7)
    arr = camera_arrivals_s(load)
    n_cam, n_frames = arr.shape
    per_cam = [st.job(1 if load.batching == "frame" else n_cam, cap, idle_w) for st in stages if st.per_camera]
    rig = [st.job(1, 1, idle_w) for st in stages if not st.per_camera]
    t_cam, e_cam = sum(t for t, _ in per_cam), sum(e for _, e in per_cam)
    t_rig, e_rig = sum(t for t, _ in rig), sum(e for _, e in rig)
    if load.batching == "tick":
        jobs = n_frames
        busy1 = jobs * (t_cam + t_rig)
        dyn1 = jobs * (e_cam + e_rig)
    else:
        busy1 = arr.size * t_cam + n_frames * t_rig
        dyn1 = arr.size * e_cam + n_frames * e_rig
    # per second of the rig's steady state (a cycle's work x the cycle rate), so that a budget is met exactly by the
    # average power at the frame rate (sim.vision.rig_energy)
    thr = throttle_for_budget(idle_w, dyn1 / n_frames * load.fps, busy1 / n_frames * load.fps, power_budget_w)
    s = thr.clock_fraction
    if load.batching == "tick":
        ready = arr.max(axis=0)
        finish = fifo_finish_s(ready, np.full(n_frames, (t_cam + t_rig) / s))
        result = np.broadcast_to(finish, arr.shape).copy()
    else:
        flat = arr.reshape(-1)
        order = np.argsort(flat, kind="stable")
        # the camera whose frame completes each tick: the latest capture, and among equal captures the one the
        # stable FIFO order serves last (the highest camera index), so the planner starts after the whole tick
        last_cam = n_cam - 1 - arr[::-1].argmax(axis=0)
        closer = np.zeros(arr.shape, dtype=bool)
        closer[last_cam, np.arange(n_frames)] = True
        service = np.where(closer.reshape(-1)[order], t_cam + t_rig, t_cam) / s
        fin_sorted = fifo_finish_s(flat[order], service)
        own: FloatArray = np.empty_like(flat)
        own[order] = fin_sorted
        own = own.reshape(arr.shape)
        result = np.broadcast_to(own[last_cam, np.arange(n_frames)], arr.shape).copy() if rig else own
    notes = []
    if s < 1.0:
        notes.append(f"clock throttled to {s:.1%} to meet the {power_budget_w:g} W budget "
                     f"(unthrottled average {thr.power_unthrottled_w:.4g} W)")
    whole_tick = load.batching == "tick" or bool(rig)  # the result waits for the tick's last camera
    ready_all = np.broadcast_to(arr.max(axis=0), arr.shape) if whole_tick else arr
    job_s = (t_cam + t_rig if whole_tick else t_cam) / s
    return RigResult(load, tuple(st.name for st in stages), arr, result, busy1 / s, dyn1 * s * s, idle_w, thr,
                     tuple(notes), ready_all, job_s, rig_cycle(stages, load, idle_w, s))


def deadline_curve(stages: tuple[Stage, ...], *, idle_w: float, cameras: npt.ArrayLike, fps: npt.ArrayLike,
                   duration_s: float = 30.0, seed: int = 0, batching: str = "tick",
                   deadline_s: float | None = None, threshold: float = 0.01,
                   power_budget_w: float | None = None, max_batch: int | None = None,
                   phase_spread: float = 0.1) -> dict[str, Any]:
    """Deadline-miss rate over a grid of camera counts x frame rates, and per camera count the
    highest frame rate in the grid whose miss rate stays at or under ``threshold``."""
    if not (isinstance(threshold, (int, float)) and math.isfinite(threshold) and 0 <= threshold < 1):
        raise InvalidSettingError(f"threshold = {threshold!r}: must be a fraction in [0, 1)")
    cams = [int(c) for c in np.asarray(cameras).reshape(-1)]
    rates = [float(f) for f in np.asarray(fps).reshape(-1)]
    if not cams or not rates:
        raise InvalidSettingError("the deadline curve needs at least one camera count and one frame rate")
    miss = np.empty((len(cams), len(rates)))
    for i, n in enumerate(cams):
        for j, f in enumerate(rates):
            load = RigLoad(n, f, duration_s=max(duration_s, 2.0 / f), seed=seed, deadline_s=deadline_s,
                           batching=batching, max_batch=max_batch, phase_spread=phase_spread)
            res = simulate_rig(load, stages, idle_w=idle_w, power_budget_w=power_budget_w)
            stale, over = res.late()
            miss[i, j] = float(np.mean(stale | over))
    ok = miss <= threshold
    best = [max((f for f, good in zip(rates, row, strict=True) if good), default=float("nan")) for row in ok]
    return {"cameras": cams, "fps": rates, "miss_rate": miss, "threshold": threshold, "max_fps": best}
