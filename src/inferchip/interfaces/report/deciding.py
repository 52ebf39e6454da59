"""The first screen's reading of each part in one line: the verdicts counted in a headline, and each part's
deciding numbers at the central figures with their units, against the best other chip there (the claim
review's ``central`` entry of each part; the frame-deadline part's from the in-car rig's rows).

These are the reader's numbers, not the verdict: the verdict and its probability are the Monte Carlo's.
The names and errors the first screen and the in-car section share (``chip_name``, ``short_name``, ``PART_NAMES``,
``model_errors``) live here, below :mod:`inferchip.interfaces.report.claim_page`, which imports them.
"""

from __future__ import annotations

from typing import Any

from inferchip.catalog.chips import load_chip, spoken_name
from inferchip.errors import SpecError, UnknownIdError
from inferchip.interfaces.report.tables import esc
from inferchip.review.in_car import VISION_LATENCY_APE_PCT, latency_text
from inferchip.review.review import ReviewResult


def model_errors() -> dict[str, tuple[float, float]]:
    """(median, p90) APE in percent of each figure the Monte Carlo samples (review/model_error.yaml and the
    in-car rig's vision latency error)."""
    from inferchip.catalog.yaml_io import read_mapping
    from inferchip.review.uncertainty import MODEL_ERROR_FILE

    out = {name: (float(row["median_ape_pct"]), float(row["p90_ape_pct"]))
           for name, row in read_mapping(MODEL_ERROR_FILE).items()}
    out["vision latency"] = VISION_LATENCY_APE_PCT
    return out


# The claim's parts in the report's words, short enough for a column head (the first screen gives each in full).
PART_NAMES = {"per_chip": "per chip", "per_system": "per system", "equal_power": "equal power",
              "equal_money": "equal money", "lowest_cost_silicon": "lowest-cost silicon",
              "performance_per_watt": "perf. per watt", "latency_interactive": "latency limits",
              "frame_deadlines": "frame deadlines"}


def chip_name(chip_id: str, res: ReviewResult) -> str:
    """A chip's name: the review's entry, else the catalogue's (the in-car chips), else its id."""
    chips = [*getattr(res, "chips", []), *([res.claim] if getattr(res, "claim", None) else [])]  # or a stand-in
    entry = next((c for c in chips if c.id == chip_id), None)
    if entry is not None:
        return str(entry.name)
    try:
        return load_chip(chip_id).name
    except (UnknownIdError, SpecError):
        return chip_id


def short_name(name: str) -> str:
    """A chip's name without its parenthesised detail, for an axis or a narrow column ("AI4 (Hardware 4 FSD
    computer SoC)" -> "AI4")."""
    return spoken_name(name)


def chip_short_name(chip_id: str, res: ReviewResult) -> str:
    """A chip's short name (:func:`short_name` of :func:`chip_name`): the one helper of every part of the report
    that names a chip on an axis, in a narrow cell or a sentence."""
    return short_name(chip_name(chip_id, res))


def _ratio(r: float) -> str:
    return f"{r:.2f}x" if r < 10 else f"{r:,.0f}x"


def deciding_text(p: dict[str, Any], res: ReviewResult) -> str:
    """One line, plain text: the part's deciding numbers at the central figures with units ("" when none)."""
    c = p.get("central")
    me = chip_short_name(res.claim.id, res) if res.claim is not None else "the claimed chip"
    if p["part"] == "frame_deadlines":
        return _frame_text(p, res, me)
    if not c:
        return ""
    rival = chip_short_name(c["rival"], res)
    if "claimed_usd" in c:
        return (f"{me} ${c['claimed_usd']:,.0f} vs {rival} ${c['rival_usd']:,.0f} modelled cost per chip "
                f"({c['claimed_usd'] / c['rival_usd']:.2f}x; holds at <= {1 / c['by_far']:.2f}x)"
                if c["rival_usd"] > 0 else "")
    unit = p.get("unit") or ""
    share = (f"{me} {_ratio(c['ratio'])} {rival}'s {unit} (median of {c['cases_both']} cases"
             + ("; lower is better)" if unit == "$/Mtok" else ")")
             if c.get("ratio") is not None else f"{me} and {rival} serve no case in common")
    return f"{share}; suite score {c['claimed_score']:.2f} vs {c['rival_score']:.2f}"


def _frame_text(p: dict[str, Any], res: ReviewResult, me: str) -> str:
    ic = res.judgement.in_car if res.judgement is not None else None
    rows = {r["chip"]: r for r in (ic or {}).get("rows", []) if "error" not in r}
    mine = rows.get(res.claim.id) if res.claim is not None else None
    other = rows.get(p.get("rival") or "")
    if mine is None or other is None or ic is None:
        return ""
    rival = chip_short_name(other["chip"], res)
    return (f"p99 frame latency {me} {latency_text(mine['latency_p99_ms'])} vs {rival} "
            f"{latency_text(other['latency_p99_ms'])} (deadline {ic['deadline_ms']:.1f} ms)")


def central_html(p: dict[str, Any], res: ReviewResult) -> str:
    """The "at the central figures" cell: holds / no, then the deciding numbers."""
    central = p.get("holds_at_central")
    word = "-" if central is None else ("holds" if central else "no")
    text = deciding_text(p, res)
    return esc(word) + (f'<div class="src deciding">{esc(text)}</div>' if text else "")


def headline_html(parts: list[dict[str, Any]]) -> str:
    """The verdicts counted in one line: which parts hold, which are undecided, how many do not hold."""
    def named(v: str) -> list[str]:
        return [PART_NAMES.get(p["part"], p["part"]) + (f" ({p['view']})" if p["view"] else "")
                for p in parts if p["verdict"] == v and p["probability"] is not None]

    holds, und, no = named("holds"), named("undecided"), named("does not hold")
    unjudged = [PART_NAMES.get(p["part"], p["part"]) for p in parts if p["probability"] is None]
    bits = [f'<span class="first">{len(holds)} of {len(parts)} parts hold</span>'
            + (f" ({esc(', '.join(holds))})" if holds else "")]
    if und:
        bits.append(f'<span class="und">{len(und)} undecided</span> ({esc(", ".join(und))})')
    if no:
        bits.append(f'<span class="no">{len(no)} do not hold</span>'
                    + (f" ({esc(', '.join(no))})" if len(no) <= 3 else ""))
    if unjudged:  # no case of its service level was run: a reason, not a verdict (claim_first_screen's cell)
        bits.append(f'{len(unjudged)} not judged ({esc(", ".join(unjudged))})')
    return f'<p class="headline" id="claim-headline">{"; ".join(bits)}.</p>'


def prediction_error_note(names: tuple[str, ...] = ("throughput", "ttft", "tpot", "power")) -> str:
    """A note for a section of predictions: the model's validated error on each figure it shows (median / p90
    absolute error, review/model_error.yaml), so a reader can tell a lead from the model's own spread."""
    errors = model_errors()
    words = ", ".join(f"{n.upper() if n in ('ttft', 'tpot') else n} {errors[n][0]:.1f} / {errors[n][1]:.1f} %"
                      for n in names if n in errors)
    return ('<p class="note model-error">Every figure here is a model prediction. The model\'s validated error '
            f'(absolute, median / p90 over held-out measurements): {esc(words)}. A lead smaller than these is '
            'within the model\'s error; the claim\'s probabilities above sample it.</p>')
