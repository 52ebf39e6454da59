"""One explore objective per part of the review's claim (``review/claim_file.py PARTS``).

Each part the explore layer can score is a :class:`ClaimObjective`: the per-workload figure, which
way is better, the service levels it is judged on (the part's ``slos``), and the margin a chip
must win by (1 for "best", :data:`~inferchip.review.claim_file.BY_FAR` for "by far lowest cost").
Values are geometric means over the part's workloads (a workload not served counts as
:data:`~inferchip.explore.evaluate.ZERO_FLOOR` tokens/s), one per chip:

* ``per_chip``: output tokens/s per chip, every service level;
* ``performance_per_watt``: tokens/s per W of board power (TDP), every service level;
* ``equal_money``: $ per million output tokens from the TCO per accelerator-hour
  (:func:`inferchip.cost.tco.tco_breakdown_per_hour_usd`, price = the chip's manufacturing cost or
  known price, average power = its TDP), less is better;
* ``lowest_cost_silicon``: manufacturing cost per chip, less is better, won only "by far" (the claim's
  reading; the review's ledger also judges the silicon of the deployment that serves each case,
  ``review/deploy/silicon.py``, which needs each case's system and is not scored here);
* ``latency_interactive``: tokens/s per chip at the interactive TTFT and TPOT limits only.

The review judges ``per_system``, ``equal_power`` (wall power with its host) and
``frame_deadlines`` (in-car rig) on figures the explore suite does not compute: they are listed in
:data:`NOT_SCORED` with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from inferchip.explore.designs import Chips
from inferchip.explore.evaluate import ZERO_FLOOR, Suite
from inferchip.review.claim_file import BY_FAR, PARTS
from inferchip.spec.assumptions import Assumptions


@dataclass(frozen=True)
class ClaimObjective:
    part: str
    metric: str  # per-workload column of evaluate(), or "usd_per_mtok" / "cost_usd"
    direction: str  # "max" or "min"
    slos: tuple[str, ...]
    unit: str  # the unit of the part's value (a geometric mean over its workloads where the metric is per workload)
    margin: float = 1.0  # the target must beat the best rival by this factor

    @property
    def label(self) -> str:
        return PARTS[self.part].label


CLAIM_OBJECTIVES: dict[str, ClaimObjective] = {o.part: o for o in (
    ClaimObjective("per_chip", "tokens_per_s_per_chip", "max", PARTS["per_chip"].slos, "output tokens/s per chip"),
    ClaimObjective("performance_per_watt", "tokens_per_s_per_w", "max", PARTS["performance_per_watt"].slos,
                   "output tokens/s per W of TDP"),
    ClaimObjective("equal_money", "usd_per_mtok", "min", PARTS["equal_money"].slos, "USD per million output tokens"),
    ClaimObjective("lowest_cost_silicon", "cost_usd", "min", PARTS["lowest_cost_silicon"].slos, "USD per chip",
                   margin=BY_FAR),
    ClaimObjective("latency_interactive", "tokens_per_s_per_chip", "max", PARTS["latency_interactive"].slos,
                   "output tokens/s per chip"),
)}
NOT_SCORED = {
    "per_system": "the explore suite scores one chip at its best tensor-parallel size, not a whole system",
    "equal_power": "wall power needs the host model of the review (review/judge.py wall_w)",
    "frame_deadlines": "judged on the review's in-car rig (review/in_car.py); the explore suite's driving "
                       "workload reports frame latency and frames per joule per design, not the rig's verdict",
}


def usd_per_mtok(tokens_per_s: np.ndarray, price_usd: np.ndarray, power_w: np.ndarray, a: Assumptions) -> np.ndarray:
    """$ per million output tokens (chips x workloads): TCO per hour over tokens per hour; NaN for a chip of no
    known price or power (a catalogue CPU, a part without a TDP), as a rival without a figure."""
    from inferchip.cost.tco import tco_breakdown_per_hour_usd

    price, power = np.asarray(price_usd, float), np.asarray(power_w, float)
    known = np.isfinite(price) & np.isfinite(power)
    per_h = np.full(price.shape, np.nan)
    if known.any():
        per_h[known] = np.asarray(tco_breakdown_per_hour_usd(price[known], power[known], assumptions=a)
                                  ["total_usd_per_h"], float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return per_h[:, None] / (3600.0 * np.asarray(tokens_per_s, float)) * 1e6


def claim_values(suite: Suite, metrics: dict[str, np.ndarray], chips: Chips, a: Assumptions,
                 parts: list[str] | None = None) -> dict[str, np.ndarray]:
    """Each scored claim part's value per chip (see the module docstring)."""
    slo_of = np.array([w.split("|", 1)[1] for w in suite.workload_ids])
    out = {}
    for name in parts or list(CLAIM_OBJECTIVES):
        o = CLAIM_OBJECTIVES[name]
        cols = np.isin(slo_of, o.slos)
        if o.metric == "cost_usd":
            out[name] = np.asarray(chips.cost_usd, float)
            continue
        tput = np.maximum(np.nan_to_num(metrics["tokens_per_s_per_chip"][:, cols], nan=0.0), ZERO_FLOOR)
        if o.metric == "usd_per_mtok":
            v = usd_per_mtok(tput, chips.cost_usd, chips.tdp_w, a)
        else:
            v = np.maximum(np.nan_to_num(metrics[o.metric][:, cols], nan=0.0), ZERO_FLOOR)
        out[name] = np.exp(np.mean(np.log(v), axis=1))
    return out


def wins(part: str, target: np.ndarray, best_rival: float) -> np.ndarray:
    """Whether each target value is first against the best rival's, by the part's margin."""
    o = CLAIM_OBJECTIVES[part]
    t = np.asarray(target, float)
    if o.direction == "max":
        return t > best_rival * o.margin
    return t * o.margin < best_rival


def best_rival_index(part: str, rivals: np.ndarray) -> int:
    """Index of the rival the target must beat (NaN values never best)."""
    v = np.asarray(rivals, float)
    if CLAIM_OBJECTIVES[part].direction == "max":
        return int(np.nanargmax(v))
    return int(np.nanargmin(v))
