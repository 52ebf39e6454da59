"""A camera rig's energy at its frame rate: per network and per rig, one cycle at a time.

A *cycle* is one frame of every camera: ``1 / fps`` seconds while the chips keep up. In one cycle each network
runs its calls (a camera network every camera's frame, in calls of at most ``max_batch`` under tick batching or one
frame a call under frame batching; a rig network one sample), one after another on the chips; the chips idle for
the rest of the cycle. So, at the run's clock fraction ``s`` (1 without a power budget):

* a network's energy per cycle = the sum over its calls of the call's latency x the chips' power through it
  (``latency / s`` x ``idle + (power - idle) s^3``: the clock model of :mod:`~inferchip.sim.vision.rig`);
* the idle energy per cycle = the chips' idle power x the part of the cycle no network runs;
* the rig's energy per cycle = the networks' sum + the idle energy;
* the average power = the rig's energy per cycle x fps (the cycle rate), and the energy per camera frame = the
  rig's energy per cycle / cameras.

Where the networks' work in a cycle is longer than the period (offered load above 1), the chips cannot keep the
rig's rate: a cycle then lasts as long as its work, nothing idles, and the average power is the energy per cycle
over that time (the chips busy all the time), not x fps.

These are steady-state figures: the same every cycle (the service times are deterministic), so they do not depend
on the seed, the phases or the jitter, and a power budget met by :func:`~inferchip.sim.vision.rig.throttle_for_budget`
is met exactly.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Protocol

from inferchip.sim.step.protocol import FloatArray


class Stage(Protocol):
    """What this module reads of a :class:`~inferchip.sim.vision.rig.Stage` (which imports this module)."""

    @property
    def name(self) -> str: ...
    @property
    def per_camera(self) -> bool: ...
    @property
    def latency_s(self) -> FloatArray: ...
    @property
    def power_w(self) -> FloatArray: ...
    @property
    def max_batch(self) -> int: ...
    def call_size(self, samples: int, cap: int) -> int: ...


class RigLoad(Protocol):
    """What this module reads of a :class:`~inferchip.sim.vision.rig.RigLoad`."""

    @property
    def cameras(self) -> int: ...
    @property
    def batching(self) -> str: ...
    @property
    def max_batch(self) -> int | None: ...
    @property
    def period_s(self) -> float: ...


@dataclass(frozen=True)
class NetworkCycle:
    """One network's work in one cycle of the rig, at the run's clock."""

    name: str
    samples_per_cycle: int
    """Samples it takes a cycle: the cameras for a camera network, 1 for a rig network."""
    calls_per_cycle: int
    busy_per_cycle_s: float
    energy_per_cycle_j: float
    """The chips' energy through its calls in one cycle (their idle power while the calls run included)."""


@dataclass(frozen=True)
class RigCycle:
    """The rig's energy in one cycle (a frame of every camera) and the average power at the frame rate."""

    cameras: int
    period_s: float
    """1 / fps."""
    cycle_s: float
    """1 / fps, or the cycle's work where it is longer (the chips cannot keep the rate)."""
    busy_per_cycle_s: float
    idle_energy_per_cycle_j: float
    rig_energy_per_cycle_j: float
    networks: tuple[NetworkCycle, ...]

    @property
    def average_power_w(self) -> float:
        return self.rig_energy_per_cycle_j / self.cycle_s

    @property
    def energy_per_frame_j(self) -> float:
        """Joules per camera frame at the rig's rate: the rig's energy per cycle over its cameras."""
        return self.rig_energy_per_cycle_j / self.cameras

    @property
    def keeps_rate(self) -> bool:
        """Whether the networks' work in a cycle fits in the frame period (else a cycle lasts as long as its work)."""
        return self.busy_per_cycle_s <= self.period_s

    def summary(self) -> dict[str, Any]:
        """The summary's keys: ``average_power_w``, ``energy_per_frame_j``, ``rig_energy_per_cycle_j``,
        ``idle_energy_per_cycle_j``, ``cycle_s``, ``busy_per_cycle_s`` and ``network_energy`` (per network)."""
        return {"average_power_w": self.average_power_w, "energy_per_frame_j": self.energy_per_frame_j,
                "rig_energy_per_cycle_j": self.rig_energy_per_cycle_j,
                "idle_energy_per_cycle_j": self.idle_energy_per_cycle_j, "cycle_s": self.cycle_s,
                "busy_per_cycle_s": self.busy_per_cycle_s, "network_energy": [asdict(n) for n in self.networks]}


def network_cycle(stage: Stage, load: RigLoad, idle_w: float, clock_fraction: float) -> NetworkCycle:
    """``stage``'s calls in one cycle of ``load`` at clock fraction ``clock_fraction`` (see the module doc)."""
    samples = load.cameras if stage.per_camera else 1
    cap = 1 if (load.batching == "frame" or not stage.per_camera) else stage.call_size(
        samples, load.max_batch or load.cameras)
    full, rest = divmod(samples, cap)
    calls = [cap] * full + ([rest] if rest else [])
    s = clock_fraction
    busy = sum(float(stage.latency_s[b]) for b in calls) / s
    energy = sum(float(stage.latency_s[b]) / s * (idle_w + max(float(stage.power_w[b]) - idle_w, 0.0) * s ** 3)
                 for b in calls)
    return NetworkCycle(stage.name, samples, len(calls), busy, energy)


def rig_cycle(stages: tuple[Stage, ...], load: RigLoad, idle_w: float, clock_fraction: float = 1.0) -> RigCycle:
    """The rig's energy in one cycle and its networks' (see the module doc)."""
    nets = tuple(network_cycle(st, load, idle_w, clock_fraction) for st in stages)
    busy = sum(n.busy_per_cycle_s for n in nets)
    cycle = max(load.period_s, busy)
    idle_j = idle_w * (cycle - busy)
    work_j = sum(n.energy_per_cycle_j for n in nets)
    return RigCycle(load.cameras, load.period_s, cycle, busy, idle_j, work_j + idle_j, nets)


def budget_floor_note(chip_name: str, budget_w: float, out: dict[str, Any]) -> str:
    """Why a power budget on a chip with no TDP is judged against a floor: the rig's power there is the networks'
    dynamic energy alone (no static or idle draw), the chip's real power is at least that, so the clock fraction
    that meets the budget is an upper bound (the chip may throttle more, or not meet the budget at all)."""
    unthrottled = out.get("power_unthrottled_w")
    at = f" ({unthrottled:,.1f} W unthrottled)" if isinstance(unthrottled, float) else ""
    return (f"power budget: {chip_name} publishes no TDP, so the {budget_w:g} W budget is compared with the networks' "
            f"dynamic power alone{at}, a floor of the chip's (its static and idle draw unknown): the clock "
            f"fraction {out['clock_fraction']:.1%} is an upper bound (the chip may throttle more, or not meet the "
            "budget at all); a chip file with power.tdp_w judges it in full")
