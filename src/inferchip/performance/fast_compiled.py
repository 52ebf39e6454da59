"""The fast path's written-out functions (:mod:`inferchip.performance.fast_path`): a step's
time by operator class and a step's power, each compiled once per setting and layout from
the step tuple's layout (``ScalarPlan.step``), the operations of the general code in its order."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from inferchip.cost.step import BOUNDS

if TYPE_CHECKING:
    from inferchip.cost.economics import ChipEconomy

StepTuple = tuple[float, ...]  # ScalarPlan.step's flat tuple of a step (time first)
PowerFunction = Callable[[StepTuple, float, int], tuple[float, float, bool, float]]  # (time, W, throttled, J)
BreakdownFunction = Callable[[StepTuple, int], dict[str, dict[str, Any]]]  # prediction._breakdown's form


def power_function(eco: ChipEconomy, flop_j: list[float], f0: int, f1: int) -> PowerFunction:
    """``power(v, t, pp)``: ``eco.step_power_of(flop_j, v[f0:f1], v[-2], v[-1], t, pp)`` of a step
    tuple ``v``, its operations in their order with the constants bound; any value it would refuse
    (negative, NaN) goes to ``step_power_of`` itself, which says so."""
    u = eco.units
    env: dict[str, Any] = {"SLOW": lambda v, t, pp: eco.step_power_of(flop_j, v[f0:f1], v[-2], v[-1], t, pp),
                           "DJ": u.per_byte_dram_j, "LJ": u.per_byte_link_j, "S": eco.static_w, "TDP": eco.tdp_w,
                           "inf": math.inf}
    lines = ["def power(v, t, pp):", "    e = 0.0"]
    for n, j in enumerate(flop_j):
        env[f"J{n}"] = j
        lines += [f"    x = v[{f0 + n}]", "    if not x >= 0:", "        return SLOW(v, t, pp)",
                  f"    e = e + x * J{n}"]
    lines += ["    x, y = v[-2], v[-1]", "    if not (x >= 0 and y >= 0 and t >= 0):", "        return SLOW(v, t, pp)",
              "    e = e + x * DJ", "    e = e + y * LJ", "    e_dyn = e * pp",
              "    if not e_dyn >= 0:", "        return SLOW(v, t, pp)",
              "    p_dyn = e_dyn / t if t > 0 else (inf if e_dyn > 0 else 0.0)",
              "    if p_dyn + S > TDP:",
              "        t = max(t, e_dyn / (TDP - S))",
              "        return t, TDP, True, e_dyn + S * t",
              "    return t, p_dyn + S, False, e_dyn + S * t"]
    exec(compile("\n".join(lines) + "\n", "<inferchip step power>", "exec"), env)
    power: PowerFunction = env["power"]
    return power


def breakdown_function(class_names: tuple[str, ...]) -> BreakdownFunction:
    """``breakdown(v, pp)`` of a step tuple with these classes, written out class by class (the
    loop of ``prediction._breakdown`` unrolled: a prediction makes two of them)."""
    lines = ["def breakdown(v, pp):", "    out = {}", "    total = v[0]"]
    for j, cls in enumerate(class_names):
        k = 1 + 5 * j
        lines += [f"    t = v[{k}]", "    if not t <= 0:", f"        x, bound = v[{k + 1}], {BOUNDS[0]!r}"]
        for n, name in enumerate(BOUNDS[1:], start=2):
            lines += [f"        if v[{k + n}] > x:", f"            x, bound = v[{k + n}], {name!r}"]
        lines.append(f"        out[{cls!r}] = {{'time_s': t * pp, 'share': t / total if total else 0.0, "
                     "'bound': bound}")
    lines.append("    return out")
    env: dict[str, Any] = {}
    exec(compile("\n".join(lines) + "\n", "<inferchip step breakdown>", "exec"), env)
    breakdown: BreakdownFunction = env["breakdown"]
    return breakdown
