"""Rank chips on one figure of merit, per case and over a whole suite of cases.

A *case* is one model at one service level; a *table* maps each case to the value every
chip reached there (``None`` where the chip has no value: the model does not fit, no
batch meets the latency limits, or the figure needs a price or power the chip lacks).

* Per case: competition ranking ("1224"): chips with equal values (relative difference
  below :data:`TIE_FRACTION`) share a rank; chips without a value are not ranked.
* Over the suite: each chip's *suite score* is the mean over cases of its value relative
  to the case's leader (1.0 = leader in every case; a case the chip cannot serve counts
  0). A chip that lacks the figure in every case it can serve (no price, no TDP) gets no
  score and no suite rank. Ranks over the suite follow the score.

Dimensionless throughout: ranks are integers from 1, scores are fractions in [0, 1].
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict, TypeGuard, TypeVar

TIE_FRACTION = 1e-9  # values this close (relative) are ties: the same physics gives the same number


@dataclass(frozen=True)
class Metric:
    """A figure of merit: the row column it reads and whether more is better."""

    name: str
    column: str
    label: str
    unit: str
    higher_is_better: bool


METRICS: dict[str, Metric] = {
    "throughput": Metric("throughput", "output_tokens_per_s_per_chip", "output tokens/s per chip", "tok/s", True),
    "capex": Metric("capex", "output_tokens_per_s_per_usd_capex",
                    "output tokens/s per $ of capex (price + system share)", "tok/s/$", True),
    "tco": Metric("tco", "usd_per_million_tokens", "total cost of ownership per million output tokens", "$/Mtok",
                  False),
    "energy": Metric("energy", "output_tokens_per_j", "output tokens per joule", "tok/J", True),
}

Value = float | None
CaseKey = TypeVar("CaseKey", bound=Hashable)  # how a table names its cases (a review: ``Case``)
Table = Mapping[CaseKey, Mapping[str, Value]]  # case -> chip -> value
Case = tuple[str, str]  # (model id, service level)


def _valid(v: Value) -> TypeGuard[float]:
    return v is not None and isinstance(v, (int, float)) and math.isfinite(v) and v > 0


def _better(a: float, b: float, higher_is_better: bool) -> bool:
    """Is ``a`` strictly better than ``b`` (beyond a tie)?"""
    if abs(a - b) <= TIE_FRACTION * max(abs(a), abs(b)):
        return False
    return a > b if higher_is_better else a < b


def rank_case(values: Mapping[str, Value], higher_is_better: bool) -> dict[str, int | None]:
    """Competition rank of every chip in one case: 1 + number of chips strictly better."""
    ok = {c: float(v) for c, v in values.items() if _valid(v)}
    out: dict[str, int | None] = {}
    for chip, _v in values.items():
        if chip not in ok:
            out[chip] = None
            continue
        out[chip] = 1 + sum(_better(w, ok[chip], higher_is_better) for w in ok.values())
    return out


def leader(values: Mapping[str, Value], higher_is_better: bool) -> tuple[str, float] | None:
    """The best chip of a case and its value (first in order among ties); None if nobody has a value."""
    best: tuple[str, float] | None = None
    for chip, v in values.items():
        if _valid(v) and (best is None or _better(float(v), best[1], higher_is_better)):
            best = (chip, float(v))
    return best


def relative_to_leader(value: Value, best: float, higher_is_better: bool) -> float:
    """Value as a fraction of the leader's performance: v/best, or best/v where less is better."""
    if not _valid(value):
        return 0.0
    return float(value) / best if higher_is_better else best / float(value)


def gap_to_leader(value: float, best: float, higher_is_better: bool) -> float:
    """How far behind the leader, as a fraction: 0.25 = 25% less throughput, or 25% more cost."""
    return 1.0 - value / best if higher_is_better else value / best - 1.0


def suite_scores(table: Table[CaseKey], higher_is_better: bool,
                 has_figure: Mapping[str, bool] | None = None) -> dict[str, float | None]:
    """Mean over cases of each chip's value relative to the case leader (0 where it has none).

    ``has_figure[chip]`` False marks a chip that lacks the inputs of this figure (no price,
    no TDP): it gets None, not 0, so it is left out of the ranking instead of ranked last.
    """
    chips: list[str] = []
    for vals in table.values():
        chips.extend(c for c in vals if c not in chips)
    totals = dict.fromkeys(chips, 0.0)
    n = 0
    for vals in table.values():
        best = leader(vals, higher_is_better)
        n += 1
        if best is None:
            continue
        for chip in chips:
            totals[chip] += relative_to_leader(vals.get(chip), best[1], higher_is_better)
    out: dict[str, float | None] = {}
    for chip in chips:
        if has_figure is not None and not has_figure.get(chip, True):
            out[chip] = None
        else:
            out[chip] = totals[chip] / n if n else None
    return out


def rank_scores(scores: Mapping[str, float | None]) -> dict[str, int | None]:
    """Competition rank of suite scores (higher is better). A score of 0 (the chip serves no
    case) and None (no figure) stay unranked: a chip that serves nothing is not ranked last, it is not ranked."""
    positive = {c: s for c, s in scores.items() if s is not None and s > 0}
    ranks = rank_case(positive, True)
    return {chip: ranks.get(chip) for chip in scores}


# ------------------------------------------------------------------ the verdict in plain words
def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _num(v: float) -> str:
    return f"{v:,.3g}" if abs(v) < 1000 else f"{v:,.0f}"


class CaseOutcome(TypedDict):
    """One case as the claim sees it (:func:`case_outcomes`): its rank (None: not ranked) of the ``ranked`` chips,
    its value, and the leader (the runner-up where the claim leads, then ``margin``; else ``gap``)."""

    case: Case
    rank: int | None
    ranked: int
    value: Value
    other: NotRequired[str]
    other_value: NotRequired[float]
    margin: NotRequired[float]
    gap: NotRequired[float]


def case_outcomes(table: Table[Case], claim: str, metric: Metric) -> list[CaseOutcome]:
    """For each case: the claim's rank, the leader (or runner-up when the claim leads) and the gap."""
    out: list[CaseOutcome] = []
    for case, vals in table.items():
        ranks = rank_case(vals, metric.higher_is_better)
        n = sum(r is not None for r in ranks.values())
        mine = vals.get(claim)
        best = leader(vals, metric.higher_is_better)
        item: CaseOutcome = {"case": case, "rank": ranks.get(claim), "ranked": n, "value": mine}
        if ranks.get(claim) == 1:
            others = {c: v for c, v in vals.items() if c != claim}
            second = leader(others, metric.higher_is_better)
            if second is not None and mine is not None:
                item["other"], item["other_value"] = second
                item["margin"] = -gap_to_leader(second[1], float(mine), metric.higher_is_better)
        elif best is not None:
            item["other"], item["other_value"] = best
            if _valid(mine):
                item["gap"] = gap_to_leader(float(mine), best[1], metric.higher_is_better)
        out.append(item)
    return out


def _behind(value: float, best: float, hib: bool, leader_id: str) -> str:
    """How far ``value`` trails the leader's ``best``, in words."""
    ratio = best / value if hib else value / best
    if hib:
        return (f"{1 - value / best:.0%} less than the leader, {leader_id}" if ratio < 1.5
                else f"the leader, {leader_id}, does {ratio:.1f}x as much")
    return (f"costs {ratio - 1:.0%} more than the leader, {leader_id}" if ratio < 1.5
            else f"costs {ratio:.1f}x as much as the leader, {leader_id}")


def _ahead(value: float, other: float, hib: bool, other_id: str) -> str:
    """How far ``value`` leads the next best chip, in words."""
    ratio = value / other if hib else other / value
    if hib:
        return (f"{ratio - 1:.0%} more than the next best, {other_id}" if ratio < 1.5
                else f"{ratio:.1f}x the next best, {other_id}")
    return (f"the next best, {other_id}, costs {ratio - 1:.0%} more" if ratio < 1.5
            else f"the next best, {other_id}, costs {ratio:.1f}x as much")


def _ranked_value(item: CaseOutcome) -> float:
    """The claim's value in a case it is ranked in (a ranked chip has one)."""
    if item["value"] is None:
        raise ValueError(f"case {item['case']}: ranked {item['rank']} without a value")
    return float(item["value"])


def describe_case(item: CaseOutcome, claim: str, metric: Metric, label: str, status: str,
                  name: Callable[[str], str] = str) -> str:
    """One sentence on one case; ``name``: a chip id -> the name the sentence gives it (``review.inputs.namer``)."""
    rank = item["rank"]
    hib = metric.higher_is_better
    other_name = name(str(item["other"])) if "other" in item else ""
    if rank == 1:
        if "other" in item:
            mine, other = _ranked_value(item), item["other_value"]
            how = (f"tied with {other_name}" if not _better(mine, other, hib)
                   else _ahead(mine, other, hib, other_name))
            return f"{label}: first; {how} ({_num(mine)} vs {_num(other)} {metric.unit})."
        return f"{label}: first (the only chip that serves it)."
    if rank is None:
        why = {"does not fit": "the model does not fit in its memory",
               "misses SLO": "no batch meets the latency limits",
               "no layout": "no parallel layout suits the model"}.get(status, f"no {metric.label} figure")
        lead = f"; {other_name} leads" if "other" in item else ""
        return f"{label}: not ranked ({why}){lead}."
    mine, best = _ranked_value(item), item["other_value"]
    return (f"{label}: {_ordinal(rank)} of {item['ranked']}; {_behind(mine, best, hib, other_name)} "
            f"({_num(mine)} vs {_num(best)} {metric.unit}).")


# ------------------------------------------------------------------ tables of a review

def metric_tables(rows: list[dict[str, Any]], cases: list[Case],
                  chip_ids: list[str]) -> dict[str, dict[Case, dict[str, Any]]]:
    """metric -> case -> chip -> value, from the domain-setting rows (a chip at its best: the
    domain search includes one-chip replicas, so it is never worse than the chip alone)."""
    out: dict[str, dict[Case, dict[str, Any]]] = {m: {c: dict.fromkeys(chip_ids) for c in cases} for m in METRICS}
    for r in rows:
        if r["setting"] != "domain":
            continue
        case = (r["model_id"], r["slo"])
        for name, met in METRICS.items():
            out[name][case][r["chip_id"]] = r[met.column]
    return out


def has_figure(rows: list[dict[str, Any]], column: str) -> dict[str, bool]:
    """Does each chip have this figure wherever it serves a case? (False: no price or TDP.)"""
    out: dict[str, bool] = {}
    for r in rows:
        if r["setting"] == "domain" and r["status"] == "ok":
            out[r["chip_id"]] = out.get(r["chip_id"], False) or r[column] is not None
    for r in rows:
        out.setdefault(r["chip_id"], True)
    return out


def claim_rank(table: dict[Case, dict[str, Any]], claim_id: str, claim_values: dict[Case, Any], metric: str,
               figure_ok: dict[str, bool]) -> tuple[int | None, float | None, int]:
    """Suite rank and score of the claim with its values replaced, and its count of first places."""
    hib = METRICS[metric].higher_is_better
    t = {case: {**vals, claim_id: claim_values.get(case)} for case, vals in table.items()}
    scores = suite_scores(t, hib, figure_ok)
    firsts = sum(1 for vals in t.values() if rank_case(vals, hib).get(claim_id) == 1)
    return rank_scores(scores)[claim_id], scores[claim_id], firsts


def _case_label(case: Case) -> str:
    return f"{case[0]} ({case[1]})"


def claim_verdict(res: Any) -> dict[str, Any]:
    """The verdict on the claim of a :class:`~inferchip.review.review.ReviewResult`, in plain
    words (or, without a claim, who leads the suite): per case, over the suite, on the other
    figures of merit, from the sensitivity analysis and across the estimates."""
    from inferchip.catalog.chips import chip_namer

    met = METRICS[res.metric]
    n_chips = len(res.chips)
    nm = chip_namer({c.id: str(c.name) for c in [*res.chips, res.claim] if c is not None})
    leaders = {name: next((nm(c) for c, v in s.items() if v["rank"] == 1), None) for name, s in res.suite.items()}
    if res.claim is None:
        head = f"Best over the suite on {met.label}: {leaders[res.metric] or 'no chip'}."
        return {"claim_id": None, "metric": res.metric, "metric_label": met.label, "headline": head,
                "lines": [head] + [f"Best on {METRICS[n].label}: {c or 'no chip with this figure'}."
                                   for n, c in leaders.items() if n != res.metric],
                "cases": [], "sensitivity": [], "estimates": {}}
    cid = res.claim.id
    status: dict[Case, str] = {(r["model_id"], r["slo"]): r["status"] for r in res.rows
                               if r["chip_id"] == cid and r["setting"] == "domain"}
    cases: list[dict[str, Any]] = []  # each case's outcome as the verdict states it (JSON)
    for item in case_outcomes(res.tables[res.metric], cid, met):
        case = item["case"]
        sentence = describe_case(item, cid, met, _case_label(case), status.get(case, "ok"), nm)
        cases.append({**{k: v for k, v in item.items() if k != "case"}, "model_id": case[0], "slo": case[1],
                      "status": status.get(case), "sentence": sentence})
    firsts = [c for c in cases if c["rank"] == 1]
    mine = res.suite[res.metric][cid]
    ranked = sum(1 for v in res.suite[res.metric].values() if v["rank"] is not None)
    lo, hi = (f"{f(m.total_params for m in res.models) / 1e9:.0f}" for f in (min, max))
    size = f"models of {lo}-{hi}B parameters" if lo != hi else f"a model of {lo}B parameters"
    # a ranking on one figure of merit: never the claim's verdict (that is judged part by part, review.claim_review)
    alone = f"Ranked on {met.label} alone, {nm(cid)} is first"
    if len(firsts) == len(cases):
        head = f"{alone} in every case reviewed ({len(cases)} cases, {size})."
    elif firsts:
        head = (f"{alone} in {len(firsts)} of {len(cases)} cases "
                f"({', '.join(_case_label((c['model_id'], c['slo'])) for c in firsts)}), not in the others.")
    else:
        head = f"{alone} in none of the {len(cases)} cases reviewed ({size})."
    suite_line = (f"Over the whole suite it ranks {_ordinal(mine['rank']) if mine['rank'] else '-'} of the {ranked} "
                  f"chips with {'an' if met.label[0] in 'aeiou' else 'a'} {met.label} figure "
                  f"(suite score {mine['score']:.2f}; 1.00 = best in every case; {leaders[res.metric]} leads)."
                  if mine["rank"] is not None else f"It has no {met.label} figure, so it is not ranked over the suite.")
    others = []
    for name, m2 in METRICS.items():
        if name == res.metric:
            continue
        r = res.suite[name][cid]
        f = sum(1 for vals in res.tables[name].values() if rank_case(vals, m2.higher_is_better).get(cid) == 1)
        others.append(f"on {m2.label}: {'rank ' + str(r['rank']) if r['rank'] else 'not ranked (no figure)'}, "
                      f"first in {f} of {len(cases)} cases")
    lines = [head, suite_line, "Other figures of merit -- " + "; ".join(others) + "."]
    bound = res.claim_max_params
    over = [m.id for m in res.models if bound and m.total_params > bound]
    if over and bound:  # (a model over the bound: there is one)
        lines.append(f"Outside the claim's bound of {bound / 1e9:.0f}B parameters: {', '.join(over)}.")
    sens = [{"knob": k.knob.name, "label": k.knob.label, "more_is_better": k.knob.more_is_better,
             "ranks": {str(m): r for m, r in sorted(k.ranks.items())},
             "scores": {str(m): s for m, s in sorted(k.scores.items())},
             "first_now": k.first_now, "threshold": k.threshold, "summary": k.summary()} for k in res.sensitivity]
    if sens:
        if mine["rank"] == 1:
            lose = [s["summary"] for s in sens if s["threshold"] is not None]
            lines.append("It stays first over the suite unless: " + ("; ".join(lose) if lose else
                         "no single spec within x0.25-x16 changes that") + ".")
        else:
            win = [s["summary"] for s in sens if s["threshold"] is not None]
            if win:
                lines.append("What one spec alone would make it first over the suite: " + "; ".join(win) + ".")
            else:
                caps = {s["label"]: (s["ranks"].get("16.0") if s["more_is_better"] else s["ranks"].get("0.25"),
                                     "x16" if s["more_is_better"] else "x0.25") for s in sens}
                best = min((r for r, _ in caps.values() if r), default=None)
                how = ", ".join(f"{label} {m}" for label, (r, m) in caps.items() if r == best)
                lines.append("No single spec within x0.25-x16 makes it first over the suite"
                             + (f"; the best it reaches is {_ordinal(best)} ({how})." if best else "."))
    est = res.claim.estimated_fields
    estimates: dict[str, Any] = {"fields": est}
    if est:
        # each estimate at its own ends (named corners) and over its range (Monte Carlo): review.claim_review;
        # no line here sets every estimate to one end at once
        lines.append(f"{len(est)} of its figures are estimates ({', '.join(sorted(est))}); the claim's parts "
                     "vary each at its favourable and unfavourable end (named corners) and over its range "
                     "(the Monte Carlo behind each part's probability).")
    lines.extend(res.notes)
    claim_text = (f"{nm(cid)} is the best inference chip for models under "
                  f"{(bound or 250e9) / 1e9:.0f}B parameters")
    return {"claim_id": cid, "claim_name": res.claim.name, "claim_text": claim_text,
            "judged_on": f"{met.label}, over {len(res.models)} model{'s' if len(res.models) != 1 else ''} x "
                         f"{len(res.config.slos)} service level{'s' if len(res.config.slos) != 1 else ''}",
            "metric": res.metric, "metric_label": met.label,
            "headline": head, "lines": lines, "cases": cases, "suite_rank": mine["rank"], "suite_ranked": ranked,
            "suite_score": mine["score"], "first_places": len(firsts), "cases_total": len(cases),
            "chips_total": n_chips, "sensitivity": sens, "estimates": estimates}
