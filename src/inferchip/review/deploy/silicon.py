"""The silicon of the deployment that serves each case: the other reading of "by far lowest cost silicon".

The claim's words are about a chip's silicon, and its part is judged on one chip's modelled manufacturing cost
(:mod:`inferchip.review.judge`). A chip cheap per die may serve a case only on many of them, though: a Groq LPU
(about $126 modelled) serves Llama-3.1-8B on 96 chips (:mod:`inferchip.review.deploy.sizing`). This reading, a
ledger choice, prices the silicon of the system each chip is judged on in each case:

    deployment silicon (USD) = chips in the deployment (results.csv ``deployment_chips``: a GPU's scale-up domain
    or node, the claimed chip's board, a sized chip's count) x modelled manufacturing cost per chip (USD)

(results.csv ``deployment_silicon_cost_usd``; :func:`inferchip.review.judge.deployment_silicon_usd`). It holds
when, in every case a rival serves, the claimed chip serves it too on at most 1/``by_far`` of that rival's
deployment silicon (:func:`inferchip.review.judge.judge_part` with ``Figures.silicon_basis`` "deployment"). This
module gives the central figures of that reading for the report's first screen and the ledger.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from inferchip.catalog.chips import spoken_name
from inferchip.review.judge import Figures, deployment_ratios, deployment_silicon_usd

CHOICE = "silicon basis (lowest-cost silicon)"
DEFAULT = "one chip's modelled manufacturing cost (the claim's words: a chip's silicon)"
ALTERNATIVE = ("the silicon of the deployment that serves each case: chips in it x modelled cost per chip (GPUs on "
               "their scale-up domain or node, the claimed chip on its board, a sized chip on its sized count), case "
               "by case over the cases each rival serves, by the same margin")


@dataclass(frozen=True)
class Deployment:
    """One chip's deployment on one case: its chips and the modelled cost of each, USD."""

    chip: str
    case: tuple[str, str]
    chips: float
    usd_per_chip: float

    @property
    def total_usd(self) -> float:
        return self.chips * self.usd_per_chip

    def text(self) -> str:
        return f"{self.chips:,.0f} x ${self.usd_per_chip:,.0f} = ${self.total_usd:,.0f}"


@dataclass(frozen=True)
class Reading:
    """The deployment reading at the central figures: the claimed chip's deployments (the cases it serves), the
    closest rival on those cases (lowest deployment silicon over the claimed chip's) and the claimed chip's
    deployment there, the cheapest chip per chip (the per-chip reading's rival) at its cheapest case, the cases the
    claimed chip wins by the margin out of the cases some chip serves, and how many of those it does not serve
    (each lost to the rivals that serve it)."""

    claim: list[Deployment]
    rival: Deployment | None
    claim_there: Deployment | None
    cheapest_per_chip: Deployment | None
    wins: int
    cases: int
    by_far: float
    not_served: int = 0


def _deployment(f: Figures, usd: np.ndarray, i: int, k: int) -> Deployment:
    """Chip ``i`` on case ``k`` at the central figures (``usd``: [C] modelled cost per chip)."""
    n = np.asarray(f.system_chips, float)
    return Deployment(f.chips[i], f.cases[k], float(n[i] if n.ndim == 1 else n[i, k]), float(usd[i]))


def central_reading(f: Figures) -> Reading | None:
    """The reading on ``f``'s first sample (the central figures); None without modelled costs."""
    if f.cost_usd is None or not np.isfinite(f.cost_usd[f.claim, 0]):
        return None
    keep = np.ones(len(f.cases), bool) if f.case_mask is None else f.case_mask
    idx = np.flatnonzero(keep)
    usd = f.cost_usd[:, 0]
    dep_all = deployment_silicon_usd(f)
    dep = dep_all[:, :, 0]
    r = deployment_ratios(f, dep_all[:, keep, :])[:, :, 0]  # [C, K kept]
    mine = [_deployment(f, usd, f.claim, int(k)) for k in idx if np.isfinite(dep[f.claim, k])]
    rival = there = None
    on_mine = np.where(np.isfinite(dep[f.claim, idx])[None, :], r, np.inf)  # the cases the claimed chip serves
    if np.isfinite(on_mine).any():
        i, kk = np.unravel_index(int(np.argmin(on_mine)), on_mine.shape)
        k = int(idx[kk])
        rival, there = _deployment(f, usd, int(i), k), _deployment(f, usd, f.claim, k)
    per_chip = np.where(np.isfinite(dep[:, idx]).any(axis=1), usd, np.inf)
    per_chip[f.claim] = np.inf
    cheap = None
    if np.isfinite(per_chip).any():
        c = int(np.argmin(per_chip))
        k = int(idx[np.nanargmin(np.where(np.isfinite(dep[c, idx]), dep[c, idx], np.inf))])
        cheap = _deployment(f, usd, c, k)
    served = np.isfinite(dep[:, idx]).any(axis=0)
    wins = served & np.isfinite(dep[f.claim, idx]) & (r.min(axis=0) >= f.by_far)
    lost = served & ~np.isfinite(dep[f.claim, idx])
    return Reading(mine, rival, there, cheap, int(wins.sum()), int(served.sum()), f.by_far, int(lost.sum()))


def chip_names(res: Any) -> dict[str, str]:
    """id -> name of the review's chips and its claimed chip (``ReviewResult``), for :func:`reading_text`."""
    chips = [*res.chips, *([res.claim] if res.claim is not None else [])]
    return {c.id: str(c.name) for c in chips}


def _case(case: tuple[str, str]) -> str:
    return f"{case[0]} ({case[1]})"


def reading_text(r: Reading, claim_id: str, names_of: Mapping[str, str] | None = None) -> str:
    """The reading's figures in words: the claimed chip's deployments, the closest rival's and, where another chip
    is the cheapest per chip, that chip's deployment too. ``names_of``: id -> name (:func:`chip_names`; the catalogue's,
    without its parenthesised detail); a chip without one is named by its id."""
    names = names_of or {}

    def name(chip_id: str) -> str:
        if chip_id not in names:
            return chip_id
        return spoken_name(names[chip_id]) or chip_id

    claim_id = name(claim_id)
    if not r.claim:
        head = f"{claim_id} serves none of the claim's cases, so it has no deployment to price"
    else:
        totals = sorted({d.total_usd for d in r.claim})
        counts = sorted({d.chips for d in r.claim})
        usd = r.claim[0].usd_per_chip
        head = (f"{claim_id}: {r.claim[0].text()} in each of the {len(r.claim)} cases it serves" if len(totals) == 1
                else f"{claim_id}: {counts[0]:,.0f}-{counts[-1]:,.0f} chips x ${usd:,.0f} = ${totals[0]:,.0f}-"
                     f"${totals[-1]:,.0f} over the {len(r.claim)} cases it serves")
    out = [head]
    if r.rival is not None and r.claim_there is not None:
        vs = f"{r.rival.total_usd / r.claim_there.total_usd:.2g}x {claim_id}'s {r.claim_there.text()}"
        out.append(f"closest rival {name(r.rival.chip)}: {_case(r.rival.case)} on {r.rival.text()} ({vs})")
    c = r.cheapest_per_chip
    if c is not None and (r.rival is None or c.chip != r.rival.chip):
        out.append(f"{name(c.chip)}, the cheapest chip per chip (${c.usd_per_chip:,.0f}), serves {_case(c.case)} at "
                   f"the least on {c.text()}")
    lost = f" ({r.not_served} of them served by a rival and not by {claim_id})" if r.not_served else ""
    out.append(f"{claim_id} is at most 1/{r.by_far:g} of every rival serving the case in {r.wins} of the {r.cases} "
               f"cases some chip serves{lost}")
    return "; ".join(out)
