"""One-at-a-time sensitivity of a chip's rank to its specs, and the value that makes it first.

A *knob* multiplies one spec of a chip: memory bandwidth, memory capacity, the dense peak
of one number format, scale-up link bandwidth, power (TDP, and the idle power with it:
the chip throttles sooner or later) -- these change the model's inputs,
:func:`scale_chip` -- or its price, which changes only the money figures (applied by
the caller). For each knob the rank is found at a few
multipliers (the tornado, :data:`TORNADO_MULTIPLIERS`) and the multiplier at which the
chip starts (or stops) ranking first is found by bisection on log(multiplier) between 1
and a cap (:data:`MULTIPLIER_RANGE`).

Assumption: the rank moves monotonically with each multiplier (more bandwidth never
hurts; a higher price never helps). The bisection relies on it; where it does not hold
the answer is one crossing, not necessarily the first.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

from inferchip.spec.chip import ChipParams

MULTIPLIER_RANGE = (0.25, 16.0)  # searched multipliers: x0.25 .. x16 of the spec
TORNADO_MULTIPLIERS = (0.5, 2.0)
BISECTION_STEPS = 5  # a bracket of at most 4 octaves / 2**5: the answer is within a factor 2**(1/8) ~ 9%


@dataclass(frozen=True)
class Knob:
    """One spec to scale. ``target`` is "chip" (inputs of the performance and energy model) or "price"."""

    name: str
    label: str
    more_is_better: bool
    target: str = "chip"
    fmt: str | None = None
    base_si: float | None = None  # the spec's value at x1, SI units (B/s, B, FLOP/s, W, USD)
    unit: str = ""  # display unit of ``value_text``
    unit_si: float = 1.0  # SI units per display unit (1e12 for TB/s)

    def value_text(self, m: float) -> str:
        """The spec at multiplier ``m`` in its display unit, e.g. "3.84 TB/s"."""
        if self.base_si is None or not self.base_si == self.base_si:
            return ""
        v = self.base_si * m / self.unit_si
        return f"{v:,.3g} {self.unit}" if v < 1000 else f"{v:,.0f} {self.unit}"


def knobs_for(chip: ChipParams, formats_used: tuple[str, ...], price_usd: float | None = None) -> list[Knob]:
    """The knobs of a chip: memory, the peaks of the formats the review computes in, links,
    power and price. A format the chip has no units for is left out (it runs in a wider one)."""
    out = [Knob("memory_bandwidth", "memory bandwidth", True, base_si=chip.memory_bytes_per_s, unit="TB/s",
                unit_si=1e12),
           Knob("memory_capacity", "memory capacity", True, base_si=chip.memory_capacity_bytes, unit="GB",
                unit_si=1e9)]
    for f in formats_used:
        if chip.peak_flop_per_s.get(f):
            out.append(Knob(f"peak_{f}", f"peak {f} FLOP/s", True, fmt=f, base_si=chip.peak_flop_per_s[f],
                            unit="TFLOP/s", unit_si=1e12))
    out.append(Knob("link_bandwidth", "scale-up link bandwidth", True, base_si=chip.link_bytes_per_s,
                    unit="GB/s per direction", unit_si=1e9))
    out.append(Knob("power", "power (TDP)", False, base_si=chip.tdp_w, unit="W"))
    out.append(Knob("price", "chip price", False, target="price", base_si=price_usd, unit="USD"))
    return out


def scale_chip(chip: ChipParams, knob: Knob, m: float) -> ChipParams:
    """A copy of ``chip`` with one spec multiplied by ``m``.

    Capacity: the runtime reserve (capacity - usable) stays the same in bytes, as a driver
    and runtime do not grow with the memory. Power: TDP and idle power both scale. Price:
    not a chip parameter (the copy is unchanged).
    """
    if m <= 0:
        raise ValueError(f"multiplier must be positive, got {m}")
    if knob.name == "memory_bandwidth":
        return replace(chip, memory_bytes_per_s=chip.memory_bytes_per_s * m)
    if knob.name == "memory_capacity":
        reserve = chip.memory_capacity_bytes - chip.usable_memory_bytes
        cap = chip.memory_capacity_bytes * m
        return replace(chip, memory_capacity_bytes=cap, usable_memory_bytes=max(cap - reserve, 0.0))
    if knob.fmt is not None:
        peaks = dict(chip.peak_flop_per_s)
        peaks[knob.fmt] = peaks[knob.fmt] * m
        return replace(chip, peak_flop_per_s=peaks)
    if knob.name == "link_bandwidth":
        return replace(chip, link_bytes_per_s=chip.link_bytes_per_s * m)
    if knob.name == "power":
        return replace(chip, tdp_w=chip.tdp_w * m, idle_w=chip.idle_w * m)
    if knob.name == "price":
        return chip
    raise ValueError(f"unknown knob {knob.name}")


@dataclass
class KnobResult:
    """Rank (and suite score) of the chip at each multiplier tried, and the threshold found.

    ``threshold``: the multiplier at which the chip ranks first (when it is not first now),
    or down to which it stays first (when it is first now); None when no multiplier within
    the range changes whether it is first. ``first_now``: first at x1.
    """

    knob: Knob
    ranks: dict[float, int | None]
    scores: dict[float, float | None]
    first_now: bool
    threshold: float | None
    within_range: bool

    def summary(self) -> str:
        k = self.knob
        lo, hi = MULTIPLIER_RANGE
        better_cap = hi if k.more_is_better else lo
        worse_cap = lo if k.more_is_better else hi
        if self.first_now:
            if self.threshold is None:
                return f"{k.label}: stays first anywhere from x1 to x{worse_cap:g}"
            return f"{k.label}: loses first place at about x{self.threshold:.2g}{self._value(self.threshold)}"
        if self.threshold is None:
            at_cap = self.ranks.get(better_cap)
            return f"{k.label}: not first even at x{better_cap:g}" + (f" (rank {at_cap} there)" if at_cap else "")
        return f"{k.label}: first from about x{self.threshold:.2g}{self._value(self.threshold)}"

    def _value(self, m: float) -> str:
        text = self.knob.value_text(m)
        return f" ({text})" if text else ""


def _is_first(rank: int | None) -> bool:
    return rank == 1


def bisect_threshold(is_first: Callable[[float], bool], start: float, end: float,
                     steps: int = BISECTION_STEPS) -> float:
    """Multiplier between ``start`` (where ``is_first`` has one value) and ``end`` (the
    other) at which it changes, bisected on log(multiplier); returns the end of the final
    bracket on the ``end`` side (so the answer errs towards the changed state)."""
    a, b = math.log(start), math.log(end)
    state_a = is_first(start)
    for _ in range(steps):
        mid = 0.5 * (a + b)
        if is_first(math.exp(mid)) == state_a:
            a = mid
        else:
            b = mid
    return math.exp(b)


def analyse_knob(knob: Knob, rank_at: Callable[[float], tuple[int | None, float | None]]) -> KnobResult:
    """Tornado points and threshold for one knob. ``rank_at(m)`` -> (rank, suite score) of
    the chip with the knob at ``m``; the caller caches it (bisection revisits nothing, but
    tornado and bisection share x1 and the caps)."""
    lo, hi = MULTIPLIER_RANGE
    ranks: dict[float, int | None] = {}
    scores: dict[float, float | None] = {}

    def first(m: float) -> bool:
        if m not in ranks:
            ranks[m], scores[m] = rank_at(m)
        return _is_first(ranks[m])

    for m in (1.0, *TORNADO_MULTIPLIERS):
        first(m)
    first_now = _is_first(ranks[1.0])
    better_cap = hi if knob.more_is_better else lo
    worse_cap = lo if knob.more_is_better else hi
    target = worse_cap if first_now else better_cap
    if first(target) == first_now:
        return KnobResult(knob, ranks, scores, first_now, None, False)
    # Narrow the bracket with the tornado points already computed.
    start = 1.0
    for m in sorted((x for x in TORNADO_MULTIPLIERS if (x - 1.0) * (target - 1.0) > 0), key=lambda x: abs(math.log(x))):
        if first(m) == first_now:
            start = m
        else:
            target = m
            break
    return KnobResult(knob, ranks, scores, first_now, bisect_threshold(first, start, target), True)
