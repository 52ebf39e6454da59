"""Each part of the claim decided on arrays of figures: chips x cases x samples.

The inputs (:class:`Figures`) are per chip and case: output tokens/s per chip (NaN where the
chip does not serve the case), board power per chip (W; NaN without a TDP), plus per chip the
host it sits in, its system size and, per cost view, its price (NaN: unpriced in that view).
Every array carries a trailing sample axis (one sample for a deterministic evaluation,
thousands for the Monte Carlo of :mod:`inferchip.review.uncertainty`), so one call decides every
part in every sample at once.

A ``suite`` part holds in a sample when the claimed chip's *suite score* -- the mean over the
part's cases of its figure relative to the case's best chip (0 where it does not serve the
case) -- is the highest (ties count). Chips without the figure (no TDP, unpriced in the view)
and chips that serve no case are left out of that part. ``lowest_cost_silicon`` holds when the
claimed chip's modelled manufacturing cost is at most 1/``by_far`` of every other chip's (the claim's
words: a chip's silicon). Its other reading (``Figures.silicon_basis`` "deployment", a ledger choice) is the
silicon of the deployment that serves each case, :func:`deployment_silicon_usd`: chips in the system a chip is
judged on (``system_chips``) x its modelled cost per chip; it holds when, in every case a rival serves, the
claimed chip serves it too on at most 1/``by_far`` of that rival's deployment silicon.

Wall power per chip (:func:`wall_power_per_chip_w`) follows :func:`inferchip.cost.energy.wall_power_w`
with the chip's own host (``review.views.host_of``, predict's :func:`inferchip.cost.energy.host_system` of the
chip's ``system``): ``(board x n + host_idle + host_per_accelerator x n) (1 + fan) / psu / n``.
TCO per hour is each chip's system's TCO rule (:func:`inferchip.cost.tco.tco_terms`, as predict's) of the view's
price and that wall power;
$ per million tokens = TCO/h / (3600 x tok/s) x 1e6 (:func:`inferchip.cost.tco.usd_per_million_tokens`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from inferchip.errors import InternalError
from inferchip.review.claim_file import BY_FAR, Part

if TYPE_CHECKING:
    from inferchip.cost.tco import TcoTerms
    from inferchip.spec.assumptions import Assumptions

TIE = 1e-9


@dataclass
class Figures:
    """Arrays of one evaluation. Shapes: ``[C, K, S]`` for per-case figures, ``[C, S]`` per chip
    (C chips, K cases, S samples); ``[C]`` for the constants of each chip."""

    chips: list[str]
    claim: int  # index of the claimed chip
    cases: list[tuple[str, str]]  # (model id, service level)
    tput: np.ndarray  # output tokens/s per chip, NaN where not served
    board_w: np.ndarray  # board power per chip, W, NaN without a TDP
    system_chips: np.ndarray  # [C] or [C, K] chips in the system a chip is judged on (per case where sized)
    host_chips: np.ndarray  # [C, K] accelerators sharing one host (>= 8 for a GPU server)
    host_idle_w: np.ndarray  # [C]
    host_per_acc_w: np.ndarray  # [C]
    price: dict[str, np.ndarray] = field(default_factory=dict)  # view -> [C, S] USD, NaN: unpriced
    cost_usd: np.ndarray | None = None  # [C, S] modelled manufacturing cost, NaN: not modelled
    case_mask: np.ndarray | None = None  # [K] cases in the review (the ledger's alternatives narrow it)
    power_basis_swapped: bool = False  # ledger: wall power for performance per watt, board power at equal power
    by_far: float = BY_FAR
    # [C] each chip's TCO terms (cost.tco.tco_terms of its host's system: a server's, an NPU board's, an embedded
    # module's); None: every chip a server's
    tco_terms: list[TcoTerms] | None = None
    # view -> [C] each chip's terms for that view's figure where they differ from tco_terms (a street price that is
    # a rack's share, Price.covers system_share: its rack not added again; the modelled cost is one chip's)
    view_tco_terms: dict[str, list[TcoTerms]] | None = None
    names: list[str] | None = None  # [C] the names sentences give the chips (review.inputs.namer); None: the ids
    latency_ratio: np.ndarray | None = None  # [C, K, 2] predicted TTFT, TPOT / the case's limit (NaN: no limit)
    tput_in_limits: np.ndarray | None = None  # [C, K, S] tok/s within the limits with the latency error (Monte Carlo)
    silicon_basis: str = "chip"  # lowest-cost silicon: "chip" (one chip's cost) or "deployment" (ledger)
    # [C] each chip's host's fan share and supply efficiency (cost.energy.HostSystem); None: the server's
    host_fan_fraction: np.ndarray | None = None
    host_psu_efficiency: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.tco_terms is None:
            from inferchip.catalog.assumptions import load_assumptions
            from inferchip.cost.tco import tco_terms

            self.tco_terms = [tco_terms("server", load_assumptions())] * len(self.chips)

    def name(self, i: int) -> str:
        """Chip ``i`` as a sentence a person reads names it (its catalogue name; the id where none is given)."""
        return self.chips[i] if self.names is None else self.names[i]

    def narrowed(self, keep: np.ndarray) -> Figures:
        base = np.ones(len(self.cases), bool) if self.case_mask is None else self.case_mask
        return replace(self, case_mask=base & keep)


def wall_power_per_chip_w(board_w: npt.ArrayLike, n: npt.ArrayLike, host_idle_w: npt.ArrayLike,
                          host_per_acc_w: npt.ArrayLike, fan_fraction: npt.ArrayLike,
                          psu_efficiency: npt.ArrayLike) -> np.ndarray:
    """Wall power per accelerator, W: (board x n + host_idle + host_per_accelerator x n)(1 + fan) / psu / n
    (:func:`inferchip.cost.energy.host_wall_power_w`, the formula predict's wall power uses, with each chip's host
    and no per-request term)."""
    from inferchip.cost.energy import host_wall_power_w

    b, k = np.asarray(board_w, float), np.asarray(n, float)
    wall: np.ndarray = host_wall_power_w(b * k, k, host_idle_w, host_per_acc_w, fan_fraction, psu_efficiency) / k
    return wall


def _host() -> tuple[float, float, Assumptions]:
    from inferchip.catalog.assumptions import load_assumptions

    a = load_assumptions()
    return a.number("host.fan_power_fraction"), a.number("host.psu_efficiency"), a


def wall_w(f: Figures) -> np.ndarray:
    """Wall power per chip ([C, K, S]), each chip with its own host's fan share and supply (the server's where
    ``Figures`` names none)."""
    fan, psu, _ = _host()
    n_c = len(f.chips)
    fans = np.full(n_c, fan) if f.host_fan_fraction is None else np.asarray(f.host_fan_fraction, float)
    psus = np.full(n_c, psu) if f.host_psu_efficiency is None else np.asarray(f.host_psu_efficiency, float)
    return wall_power_per_chip_w(f.board_w, f.host_chips[:, :, None], f.host_idle_w[:, None, None],
                                 f.host_per_acc_w[:, None, None], fans[:, None, None], psus[:, None, None])


def tco_per_hour(price_usd: npt.ArrayLike, wall_w: npt.ArrayLike, terms: Sequence[TcoTerms]) -> np.ndarray:
    """TCO per accelerator-hour, USD/h, of each chip (``terms``: [C] its system's, :func:`inferchip.cost.tco.tco_terms`;
    ``price_usd`` and ``wall_w`` with C first): the one rule predict, serve and cost use
    (:meth:`inferchip.cost.tco.TcoTerms.breakdown_per_hour_usd`). NaN where the price or the power is unknown."""
    price, wall = np.asarray(price_usd, float), np.asarray(wall_w, float)
    shape = np.broadcast_shapes(price.shape, wall.shape)
    price, wall = np.broadcast_to(price, shape), np.broadcast_to(wall, shape)
    if len(terms) != shape[0]:
        raise InternalError(f"tco_per_hour: {len(terms)} chips' terms for {shape[0]} chips' figures")
    out = np.full(shape, np.nan)
    for i, t in enumerate(terms):
        ok = np.isfinite(price[i]) & np.isfinite(wall[i])
        if ok.any():
            out[i][ok] = np.asarray(t.breakdown_per_hour_usd(price[i][ok], wall[i][ok])["total_usd_per_h"], float)
    return out


def usd_per_million_tokens(f: Figures, view: str) -> np.ndarray:
    """$ per million output tokens of every chip, case and sample in one cost view ([C, K, S])."""
    if f.tco_terms is None:
        raise InternalError("Figures.__post_init__ fills tco_terms")
    terms = f.tco_terms if f.view_tco_terms is None else f.view_tco_terms.get(view, f.tco_terms)
    per_h = tco_per_hour(f.price[view][:, None, :], wall_w(f), terms)
    with np.errstate(divide="ignore", invalid="ignore"):
        return per_h / (3600.0 * f.tput) * 1e6


def part_values(f: Figures, part: Part, view: str | None = None) -> np.ndarray:
    """The part's figure for every chip, case and sample ([C, K, S]; NaN: no figure or not served)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if part.id == "latency_interactive" and f.tput_in_limits is not None:
            return f.tput_in_limits
        if part.id in ("per_chip", "latency_interactive"):
            return f.tput
        per: np.ndarray  # (numpy's stubs type arithmetic on these arrays as Any)
        if part.id == "per_system":
            n = f.system_chips
            per = f.tput * (n[:, None, None] if n.ndim == 1 else n[:, :, None])
            return per
        if part.id == "equal_power":
            per = f.tput / (f.board_w if f.power_basis_swapped else wall_w(f))
            return per
        if part.id == "performance_per_watt":
            per = f.tput / (wall_w(f) if f.power_basis_swapped else f.board_w)
            return per
        if part.id == "equal_money":
            if view is None:
                raise ValueError("equal_money needs a cost view")
            return usd_per_million_tokens(f, view)
    raise ValueError(f"part {part.id} has no per-case figure")


def part_cases(f: Figures, part: Part) -> np.ndarray:
    """Which cases a part is judged on ([K] bool): its service levels, within the ledger's narrowing."""
    keep = np.array([slo in part.slos for _, slo in f.cases], bool)
    return keep if f.case_mask is None else keep & f.case_mask


def suite_scores(values: np.ndarray, higher_is_better: bool) -> tuple[np.ndarray, np.ndarray]:
    """Suite score of every chip in every sample ([C, S]) and which chips take part ([C, S]):
    mean over cases of value / best (best / value where less is better), 0 where not served.
    A chip takes part where it has a figure in at least one case."""
    v = np.where(np.isfinite(values) & (values > 0), values, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN case: nobody serves it
        if higher_is_better:
            best = np.nanmax(v, axis=0, keepdims=True)
            rel = v / best
        else:
            best = np.nanmin(v, axis=0, keepdims=True)
            rel = best / v
    rel = np.where(np.isfinite(rel), rel, 0.0)
    k = max(values.shape[1], 1)
    return rel.sum(axis=1) / k, np.asarray(np.isfinite(v).any(axis=1))


@dataclass
class PartOutcome:
    """Whether a part holds in each sample, who leads where it does not, and why it cannot be judged."""

    holds: np.ndarray | None  # [S] bool, None when not judged
    leader: np.ndarray | None = None  # [S] index of the best other chip
    ranked: np.ndarray | None = None  # [C] chips in the comparison (any sample)
    reason: str = ""


def judge_part(f: Figures, part: Part, view: str | None = None) -> PartOutcome:
    """Decide one part in every sample of ``f``."""
    if part.kind == "slot":
        return PartOutcome(None, reason="not judged: the review has no vision (frame-deadline) case yet")
    if part.kind == "rig":  # judged on the driving rig (review.in_car), not on the LLM cases
        return PartOutcome(None, reason="not judged: the in-car driving rig was not run")
    if part.kind == "cost":
        return _judge_cost(f)
    keep = part_cases(f, part)
    if not keep.any():
        have = sorted({slo for _, slo in f.cases})
        return PartOutcome(None, reason=(f"not judged: none of its cases is in this review (it is judged at the "
                                         f"{' and '.join(part.slos)} service level; this review has "
                                         f"{' and '.join(have) or 'none'}: --slo {part.slos[0]} or both)"))
    values = part_values(f, part, view)[:, keep, :]
    if view is not None and not np.isfinite(f.price[view][f.claim]).any():
        return PartOutcome(None, reason=f"not judged: {f.name(f.claim)} has no price on the {view} basis")
    scores, takes_part = suite_scores(values, part.higher_is_better)
    claim = scores[f.claim]
    others = np.where(takes_part, scores, -np.inf)
    others[f.claim] = -np.inf
    leader = np.argmax(others, axis=0)
    best_other = np.max(others, axis=0)
    holds = takes_part[f.claim] & (claim > 0) & (claim >= best_other * (1 - TIE))
    return PartOutcome(holds, leader, np.asarray(takes_part.any(axis=1)))


def deployment_silicon_usd(f: Figures) -> np.ndarray:
    """Modelled silicon cost of the deployment that serves each case, USD ([C, K, S]): chips in the system the chip
    is judged on in that case (``system_chips``: a GPU's scale-up domain, a board, a sized deployment) x its
    modelled manufacturing cost per chip; NaN where the chip does not serve the case or has no modelled cost."""
    if f.cost_usd is None:
        raise InternalError("deployment_silicon_usd needs the modelled costs (Figures.cost_usd)")
    n = np.asarray(f.system_chips, float)
    n = n[:, None] if n.ndim == 1 else n  # [C, 1] or [C, K]
    cost = np.where(np.isfinite(f.cost_usd) & (f.cost_usd > 0), f.cost_usd, np.nan)
    out: np.ndarray = n[:, :, None] * cost[:, None, :] * np.ones_like(f.tput)
    return np.where(np.isfinite(f.tput), out, np.nan)


def _judge_cost(f: Figures) -> PartOutcome:
    """Lowest-cost silicon among the chips that serve at least one of the claim's cases (a chip that
    serves none of its models is no competitor for them, however cheap its die); on the deployment basis,
    case by case (:func:`_judge_deployment_cost`)."""
    if f.cost_usd is None or not np.isfinite(f.cost_usd[f.claim]).any():
        return PartOutcome(None, reason=f"not judged: {f.name(f.claim)} has no modelled manufacturing cost")
    keep = np.ones(len(f.cases), bool) if f.case_mask is None else f.case_mask
    if f.silicon_basis == "deployment":
        return _judge_deployment_cost(f, keep)
    if f.silicon_basis != "chip":
        raise InternalError(f"Figures.silicon_basis is 'chip' or 'deployment', got {f.silicon_basis!r}")
    serves = np.isfinite(f.tput[:, keep, :]).any(axis=1)  # [C, S]
    cost = np.where(np.isfinite(f.cost_usd) & (f.cost_usd > 0) & serves, f.cost_usd, np.inf)
    others = cost.copy()
    others[f.claim] = np.inf
    leader = np.argmin(others, axis=0)
    holds = cost[f.claim] * f.by_far <= np.min(others, axis=0)
    return PartOutcome(holds, leader, np.asarray(np.isfinite(cost).any(axis=1)))


def deployment_ratios(f: Figures, dep: np.ndarray) -> np.ndarray:
    """Each chip's deployment silicon over the claimed chip's, case by case ([C, K, S]; ``dep``: the cases' deployment
    silicon, :func:`deployment_silicon_usd` on the cases judged): inf where the chip does not serve the case (nothing
    to compare), 0 where it serves a case the claimed chip does not (the claimed chip has no deployment there), inf
    for the claimed chip itself."""
    mine = dep[f.claim][None]
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(np.isfinite(dep), np.where(np.isfinite(mine), dep / mine, 0.0), np.inf)
    r[f.claim] = np.inf
    return np.asarray(r)


def _judge_deployment_cost(f: Figures, keep: np.ndarray) -> PartOutcome:
    """Holds in a sample when the claimed chip serves a case and, in every case some rival serves (over the cases
    each rival serves), the claimed chip serves it on at most 1/``by_far`` of that rival's deployment silicon; the
    leader is the rival closest to it (lowest ratio over its cases)."""
    dep = deployment_silicon_usd(f)[:, keep, :]
    r = deployment_ratios(f, dep)
    closest = r.min(axis=1)  # [C, S]: each rival at its closest case
    leader = np.argmin(closest, axis=0)
    serves = np.isfinite(dep).any(axis=1)  # [C, S]
    holds = serves[f.claim] & (closest.min(axis=0) >= f.by_far)
    return PartOutcome(holds, leader, np.asarray(serves.any(axis=1)))


def part_keys(parts: list[Part], views: list[str]) -> list[tuple[Part, str | None]]:
    """(part, view) pairs judged: a money part once per cost view, every other part once."""
    out: list[tuple[Part, str | None]] = []
    for p in parts:
        if p.id == "equal_money":
            out.extend((p, v) for v in views)
        else:
            out.append((p, None))
    return out


def judge_all(f: Figures, parts: list[Part], views: list[str]) -> dict[tuple[str, str | None], PartOutcome]:
    """Every part (money parts once per view) in every sample of ``f``."""
    return {(p.id, v): judge_part(f, p, v) for p, v in part_keys(parts, views)}


def probability(o: PartOutcome) -> float | None:
    return None if o.holds is None else float(np.mean(o.holds))
