"""One explore objective per part of the review's claim (``review/claim_file.py PARTS``).

Each part the explore layer can score is a :class:`ClaimObjective`: the per-workload figure, which
way is better, the service levels it is judged on (the part's ``slos``), and the margin a chip
must win by (1 for "best", :data:`~inferchip.review.claim_file.BY_FAR` for "by far lowest cost").
Values are geometric means over the part's workloads (a workload not served counts as
:data:`~inferchip.explore.evaluate.ZERO_FLOOR` tokens/s), one per chip:

* ``per_chip``: output tokens/s per chip, every service level;
* ``performance_per_watt``: tokens/s per W of board power (TDP), every service level;
* ``equal_money``: $ per million output tokens from the TCO per accelerator-hour on the chip's own system's
  terms (:func:`inferchip.cost.tco.tco_terms` of ``ChipSpec.system``: a server's, an embedded module's; a design
  a server's), price = the chip's manufacturing cost or known price, average power = its TDP; less is better;
* ``lowest_cost_silicon``: manufacturing cost per chip, less is better, won only "by far" (the claim's
  reading and the review's verdict, :data:`SILICON_BASES` "chip"); its other reading ("deployment", the review
  ledger's "silicon basis" choice, ``review/deploy/silicon.py``) is the silicon of the system that serves each
  workload, :func:`deployment_silicon_usd`: for a catalogue chip, the review's deployment of the case
  (``review.cases.review_deployments``, the review's one rule: the claimed chip's board, a scale-up domain up
  to 72, a layer-pipelined chip sized per case) x its cost, where the review's prediction serves it; for a variant
  of the target, the target's deployment, where the target or the variant (on explore's layouts) serves it. It
  holds as the review's does
  (:func:`deployment_ratio`): the target serves a workload, and in every workload a rival serves, the target serves
  it too on at most 1/``BY_FAR`` of that rival's board silicon;
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
SILICON_BASES = ("chip", "deployment")  # lowest_cost_silicon: one chip's cost (default), or the deployment's
NOT_SCORED = {
    "per_system": "the explore suite scores one chip at its best tensor-parallel size, not a whole system",
    "equal_power": "wall power needs the host model of the review (review/judge.py wall_w)",
    "frame_deadlines": "judged on the review's in-car rig (review/in_car.py); the explore suite's driving "
                       "workload reports frame latency and frames per joule per design, not the rig's verdict",
}


def usd_per_mtok(tokens_per_s: np.ndarray, price_usd: np.ndarray, power_w: np.ndarray, a: Assumptions,
                 system: np.ndarray | None = None, covers: np.ndarray | None = None) -> np.ndarray:
    """$ per million output tokens (chips x workloads): TCO per hour over tokens per hour, each chip on its own
    system's terms (``system``: ``ChipSpec.system`` per chip, None: every chip a server; ``covers``: what each
    price holds, None: the accelerator alone; the one TCO rule, :func:`inferchip.cost.tco.tco_terms`: a server's
    rack share, PUE and colocation, an embedded module's carrier and no facility, a system-share price's system
    not added again); NaN for a chip of no known price or power (a catalogue CPU, a part without a TDP), as a rival
    without a figure."""
    from inferchip.cost.tco import tco_terms

    price, power = np.asarray(price_usd, float), np.asarray(power_w, float)
    systems = np.full(price.shape, "server", dtype=object) if system is None else np.asarray(system, dtype=object)
    held = np.full(price.shape, "accelerator", dtype=object) if covers is None else np.asarray(covers, dtype=object)
    known = np.isfinite(price) & np.isfinite(power)
    per_h = np.full(price.shape, np.nan)
    for name, what in sorted(set(zip(systems[known], held[known], strict=True))):
        rows = known & (systems == name) & (held == what)
        per_h[rows] = np.asarray(tco_terms(str(name), a, str(what)).breakdown_per_hour_usd(price[rows], power[rows])
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
            v = usd_per_mtok(tput, chips.cost_usd, chips.tdp_w, a, chips.system, chips.covers)
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


def cost_workloads(suite: Suite) -> list[str]:
    """The workload ids the cost part is judged on (its service levels), in suite order."""
    slos = CLAIM_OBJECTIVES["lowest_cost_silicon"].slos
    return [w for w in suite.workload_ids if w.split("|", 1)[1] in slos]


def explore_serves(suite: Suite, metrics: dict[str, np.ndarray]) -> np.ndarray:
    """Whether each chip serves each of the cost part's workloads on explore's layouts ([chips, workloads] bool)."""
    slo_of = np.array([w.split("|", 1)[1] for w in suite.workload_ids])
    cols = np.isin(slo_of, CLAIM_OBJECTIVES["lowest_cost_silicon"].slos)
    out: np.ndarray = np.nan_to_num(np.asarray(metrics["meets_slo"], float)[:, cols], nan=0.0) > 0
    return out


def deployment_silicon_usd(suite: Suite, metrics: dict[str, np.ndarray], chips: Chips,
                           system_chips: np.ndarray | None = None, served: np.ndarray | None = None) -> np.ndarray:
    """The silicon of the system that serves each of the cost part's workloads (:func:`cost_workloads`), USD
    ([chips, workloads]): ``system_chips`` ([chips] or [chips, workloads]: the review's deployment; None:
    ``chips_per_board``) x ``cost_usd`` where the chip serves the workload (``served``; None: explore's
    ``meets_slo``), NaN where it does not (the review's :func:`inferchip.review.judge.deployment_silicon_usd`)."""
    if served is None:
        served = explore_serves(suite, metrics)
    n = np.asarray(chips.chips_per_board if system_chips is None else system_chips, float)
    board = (n if n.ndim == 2 else n[:, None]) * np.asarray(chips.cost_usd, float)[:, None]
    return np.where(served, board, np.nan)


def deployment_ratio(target: np.ndarray, rivals: np.ndarray) -> np.ndarray:
    """Each target's closest rival on the deployment reading ([targets]; ``target`` [T, W], ``rivals`` [R, W] of
    :func:`deployment_silicon_usd`): the lowest rival / target board silicon over the workloads each rival serves;
    0 where a rival serves a workload the target does not, inf where no rival serves any (the review's
    :func:`inferchip.review.judge.deployment_ratios`). The part holds where the target serves a workload and this
    is at least the margin (``BY_FAR``)."""
    t, r = np.asarray(target, float)[:, None, :], np.asarray(rivals, float)[None, :, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(np.isfinite(r), np.where(np.isfinite(t), r / t, 0.0), np.inf)
    closest: np.ndarray = ratio.min(axis=(1, 2)) if ratio.size else np.full(len(t), np.inf)
    return np.where(np.isfinite(target).any(axis=1), closest, 0.0)
