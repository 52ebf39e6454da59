"""The claim judged part by part: build the central figures from the review's rows, run the
claimed chip's corners, the Monte Carlo, the ledger of choices and the boundary map, and say
for each part its verdict, its probability and what decides it.

Scope: the cases of every model within the claim's bound (``max_total_params``); the review's
other models stay in its tables but not in the parts.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from inferchip.catalog.chips import spoken_name
from inferchip.errors import InternalError
from inferchip.review.claim_file import RULE_TEXT, Claim, Part, pct, verdict
from inferchip.review.deploy.silicon import chip_names
from inferchip.review.inputs import ChipEntry, OnProgress, ReviewConfig, namer, no_progress
from inferchip.review.judge import (
    Figures,
    PartOutcome,
    judge_all,
    part_cases,
    part_keys,
    part_values,
    probability,
    suite_scores,
)
from inferchip.review.uncertainty import (
    Base,
    at_corner,
    at_price_end,
    build_base,
    corner_runs,
    monte_carlo,
    scope_cases,
    side,
)
from inferchip.review.views import CostView, cost_views


@dataclass
class ClaimJudgement:
    claim: Claim
    parts: list[dict[str, Any]]
    samples: int
    seed: int
    views: list[CostView]
    cases: list[tuple[str, str]]
    corners: list[dict[str, Any]] = field(default_factory=list)
    not_varied: dict[str, str] = field(default_factory=dict)
    ledger: list[dict[str, Any]] = field(default_factory=list)
    boundary: dict[str, Any] = field(default_factory=dict)
    year: int | None = None
    judged_chip: str = ""
    in_car: dict[str, Any] | None = None  # the driving rig (review.in_car): table, frame-deadline part
    unserved: str = ""  # where the claimed chip serves none of the claim's cases: that, in words (else "")


def _ranges_of(claim_entry: ChipEntry, base: Base) -> None:
    for c in base.corners:
        if c.group not in base.ranges:
            path = next(iter(c.fields))
            r = claim_entry.estimated_fields[path]
            base.ranges[c.group] = (float(r["low"]), float(r["central"]), float(r["high"]))


def part_entries(claim: Claim, mc: dict[tuple[str, str | None], PartOutcome],
                 central: dict[tuple[str, str | None], PartOutcome], fig: Figures, samples: int,
                 views: list[CostView]) -> list[dict[str, Any]]:
    """One entry per judged part (money parts once per view): verdict, probability, what decides it."""
    out = []
    labels = {v.name: v.label for v in views}
    for part, view in part_keys(claim.part_list(), [v.name for v in views]):
        o, c = mc[(part.id, view)], central[(part.id, view)]
        p = probability(o)
        entry: dict[str, Any] = {"part": part.id, "label": part.label, "metric": part.metric, "unit": part.unit,
                                 "view": view, "basis": labels.get(view) if view else None,
                                 "verdict": verdict(p), "probability": p, "judged": p is not None,
                                 "holds_at_central": None if c.holds is None else bool(c.holds[0])}
        if p is None:  # unpriced in a money part's view: that view's reason too (a chip file: the field to add)
            unpriced = (view in fig.price and bool(part_cases(fig, part).any())
                        and not np.isfinite(fig.price[view][fig.claim]).any())  # judge_part's own test
            why = next((v.unpriced.get(fig.chips[fig.claim]) for v in views if v.name == view), None)
            entry["decided_by"] = o.reason + (f" ({why})" if unpriced and why else "")
        else:
            entry["rival"] = _rival(o, fig)
            entry["leader_at_central"] = fig.chips[int(c.leader[0])] if c.leader is not None else None
            entry["decided_by"] = _decided_by(part.kind, part.slos, c, fig, samples, p, entry["rival"])
            entry["central"] = central_figures(part, view, c, fig)
        out.append(entry)
    return out


def central_figures(part: Part, view: str | None, c: PartOutcome, fig: Figures) -> dict[str, Any] | None:
    """The numbers that decide a part at the central figures, against the best other chip there (``rival``):
    a cost part's modelled USD per chip of each; a suite part's suite scores of each (1.00 = best in every case)
    and the median over the cases both serve of the claimed chip's figure / the rival's (``ratio``, NaN-free;
    None where they share no case). Reader's numbers only: the verdict is the Monte Carlo's."""
    if c.leader is None:
        return None
    lead = int(c.leader[0])
    if part.kind == "cost":
        if fig.cost_usd is None:
            return None
        return {"rival": fig.chips[lead], "claimed_usd": float(fig.cost_usd[fig.claim, 0]),
                "rival_usd": float(fig.cost_usd[lead, 0]), "by_far": float(fig.by_far)}
    keep = part_cases(fig, part)
    values = part_values(fig, part, view)[:, keep, :1]
    scores, _ = suite_scores(values, part.higher_is_better)
    mine, theirs = values[fig.claim, :, 0], values[lead, :, 0]
    both = np.isfinite(mine) & np.isfinite(theirs) & (mine > 0) & (theirs > 0)
    return {"rival": fig.chips[lead], "claimed_score": float(scores[fig.claim, 0]),
            "rival_score": float(scores[lead, 0]), "cases": int(keep.sum()), "cases_both": int(both.sum()),
            "ratio": float(np.median(mine[both] / theirs[both])) if both.any() else None}


def _rival(o: PartOutcome, fig: Figures) -> str:
    """The chip that beats the claimed chip in most samples (where it never loses: the best other chip in most
    samples, not the first sample's, a draw of the Monte Carlo)."""
    if o.leader is None or o.holds is None:
        raise InternalError("a judged part's outcome has its per-sample leader and holds")
    rivals = Counter(int(i) for i, h in zip(o.leader, o.holds, strict=True) if not h)
    return fig.chips[(rivals or Counter(int(i) for i in o.leader)).most_common(1)[0][0]]


def _decided_by(kind: str, slos: tuple[str, ...], c: PartOutcome, fig: Figures, samples: int, p: float,
                rival_id: str) -> str:
    claim, rival = fig.name(fig.claim), fig.name(fig.chips.index(rival_id))
    if kind == "cost":
        if fig.cost_usd is None or c.leader is None:
            raise InternalError("a judged cost part has the costs and the cheapest other chip")
        mine = fig.cost_usd[fig.claim, 0]
        nxt = fig.cost_usd[int(c.leader[0]), 0]
        return (f"{claim}'s modelled manufacturing cost is at most 1/{fig.by_far:g} of every other chip's in "
                f"{pct(p)} of {samples:,} samples (central: ${mine:,.0f} against {fig.name(int(c.leader[0]))}'s "
                f"${nxt:,.0f}); {rival} is the closest")
    n = sum(1 for _, s in fig.cases if s in slos)
    where = "first" if c.holds is not None and c.holds[0] else "not first"
    beaten = (f"the chip that beats it most often: {rival}" if p < 1.0 else
              f"no chip beats it in any sample; the best other chip in most samples: {rival}")
    return (f"{claim} is first over the suite ({n} cases within the claim's bound) in {pct(p)} of {samples:,} "
            f"samples ({where} at the central figures); {beaten}")


def corner_table(base: Base, claim: Claim, views: list[str]) -> list[dict[str, Any]]:
    """Each estimate group at its favourable and its unfavourable end independently (the rest central, no
    model error): which parts hold. No corner sets several groups to one end at once."""
    parts = claim.part_list()
    out = []

    def row(group: str, end: str, fields: dict[str, float], fig: Figures) -> dict[str, Any]:
        res = judge_all(fig, parts, views)
        return {"group": group, "end": end, "side": side(group, end), "figures": fields,
                "holds": {_key(k): (None if o.holds is None else bool(o.holds[0])) for k, o in res.items()}}

    for c in base.corners:
        out.append(row(c.group, c.end, c.fields, at_corner(base, c)))
    for end in ("low", "high"):
        i = 0 if end == "low" else 2
        figs = {f"{v} price": float(base.price_ranges[v][base.fig.claim, i]) for v in views
                if np.isfinite(base.price_ranges[v][base.fig.claim, i])}
        if figs:
            out.append(row("price and cost", end, figs, at_price_end(base, end)))
    return out


def _key(k: tuple[str, str | None]) -> str:
    return k[0] if k[1] is None else f"{k[0]} ({k[1]})"


def judge_claim(res: Any, cfg: ReviewConfig, on_progress: OnProgress = no_progress,
                price_table: dict[str, Any] | None = None) -> ClaimJudgement | None:
    """The claim of ``cfg.claim_file`` (``res.claim_doc``, read once when the review's inputs were resolved) judged
    on the review ``res`` (None without a claimed chip)."""
    from inferchip.review.boundary import boundary_map
    from inferchip.review.inputs import review_year
    from inferchip.review.ledger import ledger

    if res.claim is None:
        return None
    from inferchip.review.deploy.sizing import record_systems

    claim: Claim = res.claim_doc
    record_systems(res.claim, res.rows, claim.scale_out)  # as run_review does, for a result judged on its own
    views = cost_views(res.chips, price_table)
    cases = scope_cases(res, claim)
    base = build_base(res, res.claim, claim, views, cases)
    base.corners, skipped = corner_runs(res.claim, res.models, cases, cfg, on_progress)
    _ranges_of(res.claim, base)
    names = [v.name for v in views]
    mc = monte_carlo(base, cfg.samples, cfg.seed)
    outcomes = judge_all(mc, claim.part_list(), names)
    central = judge_all(base.fig, claim.part_list(), names)
    parts = part_entries(claim, outcomes, central, base.fig, cfg.samples, views)
    out = ClaimJudgement(claim, parts, cfg.samples, cfg.seed, views, cases, corner_table(base, claim, names), skipped,
                         year=review_year(cfg) if cfg.chips is None else None, judged_chip=res.claim.id)
    out.unserved = serves_none(parts, base.fig, claim, _system_words(res, claim))
    out.ledger = ledger(res, cfg, claim, base, parts, views, on_progress)
    silicon_on_deployment(parts, out.ledger, base.fig, chip_names(res))
    out.boundary = boundary_map(res, cfg, claim, base, names, on_progress)
    out.in_car = _in_car(out, res.claim, on_progress)
    return out


def silicon_on_deployment(parts: list[dict[str, Any]], ledger: list[dict[str, Any]], fig: Figures,
                          names_of: dict[str, str] | None = None) -> None:
    """Give the lowest-cost silicon part its deployment reading (review.deploy.silicon), from the ledger's entry:
    ``deployment`` = {"figures": the central figures in words, "verdict", "probability", "moves": whether the
    verdict differs from the part's own}."""
    from inferchip.review.deploy.silicon import CHOICE, central_reading, reading_text

    entry = next((e for e in ledger if e["choice"] == CHOICE), None)
    part = next((p for p in parts if p["part"] == "lowest_cost_silicon"), None)
    r = central_reading(fig)
    if entry is None or part is None or r is None or "lowest_cost_silicon" not in entry["verdicts_if_flipped"]:
        return
    alt = entry["verdicts_if_flipped"]["lowest_cost_silicon"]
    part["deployment"] = {"figures": reading_text(r, fig.chips[fig.claim], names_of), "verdict": alt["verdict"],
                          "probability": alt["probability"],
                          "moves": part["probability"] is not None and alt["verdict"] != part["verdict"]}


def _system_words(res: Any, claim: Claim) -> str:
    """The systems the claimed chip was tried on, in words (for :func:`serves_none`)."""
    entry = res.claim
    if entry.systems:
        return (f"on any deployment up to {claim.scale_out.max_chips:,} chips, sized as review/claim.yaml scale_out "
                "says; each case's reason in results.csv")
    return f"on its system of {entry.domain:,} chips; each case's reason in results.csv"


def serves_none(parts: list[dict[str, Any]], fig: Figures, claim: Claim, where: str) -> str:
    """Where the claimed chip serves none of a part's cases at the central figures and the part holds in no
    sample, its ``decided_by`` says that (not "first in 0% of samples", nor, for the cost part, a cost it would
    win on); the claim's line in words where it serves none of the claim's cases ("" where it serves one)."""
    from inferchip.review.claim_file import PARTS
    from inferchip.review.judge import part_cases

    name = fig.chips[fig.claim]
    served = np.isfinite(fig.tput[fig.claim, :, 0])
    for e in parts:
        part = PARTS[e["part"]]
        if e["probability"] != 0.0 or part.kind not in ("suite", "cost"):
            continue
        keep = part_cases(fig, part) if part.kind == "suite" else np.ones(len(fig.cases), bool)
        if served[keep].any():
            continue
        if part.kind == "cost":
            e["decided_by"] = (f"{name} serves none of the claim's {int(keep.sum())} cases ({where}), so it is no "
                               "competitor for them, whatever its cost: the part compares the chips that serve a case")
        else:
            e["decided_by"] = (f"{name} serves none of this part's {int(keep.sum())} cases ({where}), so it has no "
                               f"{part.metric} figure and cannot be first")
    if served.any():
        return ""
    return (f"{name} serves none of the claim's {len(fig.cases)} cases ({where}), so no part judged on those cases "
            "can hold")


def in_car_piece(claim_entry: ChipEntry, claim: Claim, samples: int, seed: int) -> tuple[Any, Any] | None:
    """The in-car section of the claimed chip as one piece with its key (``review.parallel.pool``),
    or None where the chip has no catalogue spec."""
    from inferchip.review.claim_file import PARTS
    from inferchip.review.in_car import in_car_section

    spec = claim_entry.spec
    if spec is None:
        return None
    part = PARTS["frame_deadlines"]
    with_ledger = "frame_deadlines" in claim.parts

    def piece(report: OnProgress) -> Any:
        return in_car_section(spec, part.label, part.metric, samples, seed, ledger=with_ledger)

    return ("in-car", claim_entry.id, part.label, part.metric, samples, seed, with_ledger), piece


def ahead_pieces(chips: list[ChipEntry], claim_entry: ChipEntry, models: list[Any], cfg: ReviewConfig,
                 claim: Claim) -> list[tuple[Any, Any]]:
    """The claim judgement's independent pieces (the year choice's new chips, the in-car section,
    the named corners, the boundary map's bandwidths), longest first, each with the key its stage
    asks for it by: to run in one pool with the sensitivity's knobs (``review.parallel.pool``). ``claim``: the
    claim file as the review's inputs hold it (``ReviewInputs.claim_doc``)."""
    from inferchip.review.boundary import boundary_pieces
    from inferchip.review.ledger import new_chip_pieces
    from inferchip.review.uncertainty import corner_pieces

    cases = [(m.id, s) for m in models if m.total_params <= claim.max_total_params for s in cfg.slos]  # scope_cases
    in_car = in_car_piece(claim_entry, claim, cfg.samples, cfg.seed)
    return [*new_chip_pieces(chips, claim_entry, models, cases, cfg, claim.scale_out), *([in_car] if in_car else []),
            *corner_pieces(claim_entry, models, cases, cfg)[0], *boundary_pieces(claim_entry, models, cases, cfg)]


def _in_car(j: ClaimJudgement, claim_entry: ChipEntry, on_progress: OnProgress) -> dict[str, Any] | None:
    """The in-car driving rig and the frame-deadline part judged on it (None: the claimed chip has no spec)."""
    from inferchip.review.in_car import merge_into
    from inferchip.review.parallel.pool import run_pieces

    keyed = in_car_piece(claim_entry, j.claim, j.samples, j.seed)
    if keyed is None:
        for p in j.parts:
            if p["part"] == "frame_deadlines":
                p["decided_by"] = (f"not judged: {spoken_name(claim_entry.name)} has no catalogue spec for the vision "
                                   "cost model")
        return None
    ic = run_pieces([keyed[1]], 1, keys=[keyed[0]])[0]  # run ahead with the other pieces, or here
    on_progress("in-car driving rig", 0)
    merge_into(ic, j.parts, j.corners, j.ledger)
    out: dict[str, Any] = ic.to_dict()
    return out


def summary_lines(j: ClaimJudgement) -> list[str]:
    """The parts in words, for the terminal and the report's first screen."""
    lines = [f"Claim ({j.claim.date}): \u201c{' '.join(j.claim.text.split())}\u201d"]
    if j.judged_chip != j.claim.chip:
        name = namer(())
        lines.append(f"The claim names {name(j.claim.chip)}; this review judges {name(j.judged_chip)} against its "
                     "words.")
    if j.unserved:
        lines.append(j.unserved + ".")
    for p in j.parts:
        view = f" (on {p['view']} prices)" if p["view"] else ""
        if p["probability"] is None:  # why, not "undecided", which is a probability between the rule's bounds
            lines.append(f"{p['label']}{view}: {p.get('decided_by') or 'not judged'}")
            continue
        lines.append(f"{p['label']}{view}: {p['verdict']} (P = {pct(p['probability'])})")
        d = p.get("deployment")
        if d:
            lines.append(f"  on the silicon of the deployment that serves each case: {d['verdict']} "
                         f"(P = {pct(d['probability'])}; {'the verdict moves' if d['moves'] else 'the same verdict'})"
                         f": {d['figures']}")
    lines.append(f"Rule: a part {RULE_TEXT}; {j.samples:,} Monte Carlo samples, seed {j.seed}.")
    return lines
