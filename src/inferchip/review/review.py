"""Design review of a claim such as "the best inference chip for models under 250B parameters".

Every chosen chip is evaluated, alone and in its scale-up domain, on a suite of models at
two service levels, with :func:`inferchip.performance.predict.predict` choosing the parallel
layout and the concurrency (continuous batching, max throughput under the latency limits).
Chips are ranked per case (model x service level) and over the suite
(:mod:`inferchip.review.ranking`); the claimed chip gets a verdict and a sensitivity
analysis (:mod:`inferchip.review.sensitivity`). The data of the report's charts
(rooflines, throughput-interactivity curves, memory fit) is computed in
:mod:`inferchip.review.chart_data`; :mod:`inferchip.interfaces.report` only draws it.

The review is split by concept; this module runs the whole of it and re-exports the names
of its parts, so ``from inferchip.review.review import ...`` serves every caller:

* :mod:`~inferchip.review.inputs`: the default suite, the service levels (MLPerf
  latency limits per model size class), the scale-up domain evaluated, resolving the inputs;
* :mod:`~inferchip.review.cases`: one case of one chip, and its row of figures;
* :mod:`~inferchip.review.claim_sensitivity`: the claim's rank with one spec scaled;
* :mod:`~inferchip.review.chart_data`: the data of the report's charts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from inferchip.catalog.chips import spoken_name
from inferchip.errors import InvalidSettingError
from inferchip.performance.predict import Prediction
from inferchip.review.cases import (
    FIGURE_COLUMNS,
    evaluate,
    evaluate_chip,
    figures,
    prediction_row,
)
from inferchip.review.chart_data import (
    chart_data,
    chip_charts,
    mapped_model,
    memory_fit,
    merge_chip_charts,
    roofline_points,
)
from inferchip.review.claim_file import Claim
from inferchip.review.claim_sensitivity import run_sensitivity
from inferchip.review.inputs import (
    CLAIM_MAX_PARAMS,
    DEFAULT_CHIPS,
    DEFAULT_CLAIM,
    DEFAULT_MODELS,
    DOMAIN_CAP_CHIPS,
    LARGE_DOMAIN_CHIPS,
    SERVICE_LEVELS,
    SIZE_CLASSES,
    Case,
    ChipEntry,
    ModelEntry,
    OnProgress,
    ReviewConfig,
    ReviewInputs,
    ServiceLevel,
    chip_entry,
    domain_chips,
    model_entry,
    no_progress,
    resolve,
    service_level,
    size_class,
)
from inferchip.spec.chip import ChipParams
from inferchip.spec.model import ModelSpec

__all__ = [
    "CLAIM_MAX_PARAMS", "DEFAULT_CHIPS", "DEFAULT_CLAIM", "DEFAULT_MODELS", "DOMAIN_CAP_CHIPS", "FIGURE_COLUMNS",
    "LARGE_DOMAIN_CHIPS", "SERVICE_LEVELS", "SIZE_CLASSES", "Case", "ChipEntry", "ModelEntry", "OnProgress",
    "ReviewConfig", "ReviewInputs", "ReviewResult", "ServiceLevel", "chart_data", "chip_entry", "domain_chips",
    "evaluate", "evaluate_chip", "figures", "mapped_model", "memory_fit", "model_entry", "no_progress", "plan_units",
    "prediction_row", "resolve", "review", "roofline_points", "run_review", "run_sensitivity", "service_level",
    "size_class",
]


# ------------------------------------------------------------------ the whole review
@dataclass
class ReviewResult:
    config: ReviewConfig
    chips: list[ChipEntry]
    models: list[ModelEntry]
    claim: ChipEntry | None
    claim_doc: Claim  # the claim file, read and checked once (ReviewInputs.claim_doc)
    metric: str
    rows: list[dict[str, Any]]
    tables: dict[str, dict[Case, dict[str, Any]]]
    suite: dict[str, dict[str, dict[str, Any]]]
    pareto: dict[Case, dict[str, Any]]
    curves: dict[str, dict[str, Any]]
    roofline: dict[str, list[dict[str, Any]]]
    memory: list[dict[str, Any]]
    sensitivity: list[Any]
    verdict: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    judgement: Any = None  # review.claim_review.ClaimJudgement: the claim part by part
    views: list[Any] = field(default_factory=list)  # review.views.CostView: one declared basis each

    @property
    def claim_max_params(self) -> float:
        """The claim's parameter bound (``max_total_params`` of the claim file read once)."""
        return self.claim_doc.max_total_params

    @property
    def cases(self) -> list[Case]:
        return [(m.id, s) for m in self.models for s in self.config.slos]

    def __repr__(self) -> str:  # the dataclass's printed every row, table and curve: 142,982 characters for 2 chips
        return summary_text(self)


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def summary_text(res: ReviewResult) -> str:
    """A review in a few lines of at most 100 columns (ids aside): what was reviewed, the suite ranks on the verdict's
    figure of merit, the claim's verdict part by part and where the rest is."""
    import textwrap

    metric = res.suite.get(res.metric, {})
    ranked = sorted(metric, key=lambda c: (metric[c]["rank"] or 10**6, c))
    ranks = ", ".join(f"{metric[c]['rank'] or '-'} {c}" for c in ranked)
    lines = [f"<ReviewResult: {_n(len(res.chips), 'chip')} x {_n(len(res.models), 'model')} x "
             f"{_n(len(res.config.slos), 'service level')}, ranked on {res.metric}",
             *textwrap.wrap(f"suite ranks (1 = best): {ranks}", 98, initial_indent="  ", subsequent_indent="    ")]
    if res.judgement is not None and res.claim is not None:
        parts = "; ".join(f"{p['part']}{' (' + p['view'] + ')' if p.get('view') else ''} {p['verdict']}"
                          for p in res.judgement.parts)  # (equal_money is judged in each cost view)
        lines += textwrap.wrap(f"claim ({res.claim.id}): {parts}", 98, initial_indent="  ",
                               subsequent_indent="    ")
    lines.append(f"  {_n(len(res.rows), 'row')} in .rows; the ranking: .suite, .tables; the verdict: .verdict, "
                 ".judgement>")
    return "\n".join(lines)


def plan_units(chips: list[ChipEntry], models: list[ModelEntry], cfg: ReviewConfig, claim: ChipEntry | None) -> int:
    """Progress units of a review: cases, charts, and an upper bound for the sensitivity."""
    from inferchip.review.sensitivity import BISECTION_STEPS, TORNADO_MULTIPLIERS

    n = len(chips) * len(models) * len(cfg.slos) + len(chips) * (len(models) + 1)
    if claim is not None and cfg.sensitivity:
        n += 8 * (2 + len(TORNADO_MULTIPLIERS) + BISECTION_STEPS)
    if claim is not None and cfg.judge:
        from inferchip.review.boundary import BANDWIDTH_POINTS

        n += 2 * 4 + BANDWIDTH_POINTS + 1  # corners (up to 4 groups x 2 ends), boundary map, ledger precision
    return n


def run_review(cfg: ReviewConfig | ReviewInputs, on_progress: OnProgress = no_progress,
               on_plan: Callable[[int], None] | None = None) -> ReviewResult:
    """Evaluate, rank, analyse and describe. Raises user errors (unknown ids, bad files) before any work.
    ``cfg``: the settings (resolved here), or the inputs :func:`resolve` made of them (not resolved again: the
    claim file is read once)."""
    return _run(cfg if isinstance(cfg, ReviewInputs) else resolve(cfg), on_progress, on_plan)


def _run(inputs: ReviewInputs, on_progress: OnProgress, on_plan: Callable[[int], None] | None) -> ReviewResult:
    """:func:`run_review` of the resolved inputs."""
    from inferchip.review.pareto import case_fronts
    from inferchip.review.ranking import (
        METRICS,
        has_figure,
        metric_tables,
        rank_case,
        rank_scores,
        suite_scores,
    )
    from inferchip.review.views import cost_views, prediction_figures, restate_money

    cfg, chips, models, claim, claim_doc = inputs.config, inputs.chips, inputs.models, inputs.claim, inputs.claim_doc
    so = claim_doc.scale_out
    if on_plan is not None:
        on_plan(plan_units(chips, models, cfg, claim))
    rows: list[dict[str, Any]] = []
    kept: dict[str, dict[Case, Prediction]] = {}
    from inferchip.review.parallel.pool import run_pieces

    def one_chip(chip: ChipEntry, report: OnProgress) -> tuple[Any, ...]:
        """A chip's cases, then its charts (they read only its own rows and predictions)."""
        r, k = evaluate_chip(chip, models, cfg, so, report)
        return r, k, chip_charts(chip, models, r, k, cfg, so, report)

    per_chip = []
    for chip, (r, k, charts) in zip(chips, run_pieces([partial(one_chip, c) for c in chips], cfg.jobs, on_progress),
                                    strict=True):
        rows.extend(r)
        kept[chip.id] = k
        per_chip.append(charts)
    cases = [(m.id, s) for m in models for s in cfg.slos]
    ids = [c.id for c in chips]
    views = cost_views(chips, cfg.prices)
    restate_money(rows, chips, views)  # one basis (street) in the rows and tables; modelled beside it
    tables = metric_tables(rows, cases, ids)
    from inferchip.review.deploy.sizing import deployment_notes, own_system_notes, record_systems

    if claim is not None:  # its corners, sensitivity and boundary map re-predict it on the system it is judged on
        record_systems(claim, rows, so)
    notes: list[str] = [*deployment_notes(chips, rows, so), *own_system_notes(chips, cfg)]
    notes.extend(f"{spoken_name(c.name)} is given as parameters, without a chip YAML: its host at the wall is "
                 f"{c.system_basis}."
                 for c in chips if c.spec is None and c.system_basis is not None)
    metric = cfg.metric
    ok = {name: has_figure(rows, met.column) for name, met in METRICS.items()}
    if claim is not None and not ok[metric].get(claim.id, True) and metric != "throughput":
        lacks = _lacks(claim, metric, views)
        notes.append(f"{spoken_name(claim.name)} has no {METRICS[metric].label} figure ({lacks}): the ranking uses "
                     "output tokens/s per chip instead.")
        metric = "throughput"
    suite: dict[str, dict[str, dict[str, Any]]] = {}
    for name, met in METRICS.items():
        scores = suite_scores(tables[name], met.higher_is_better, ok[name])
        ranks = rank_scores(scores)
        suite[name] = {c: {"score": scores[c], "rank": ranks[c]} for c in ids}
        for case, vals in tables[name].items():
            for chip_id, rank in rank_case(vals, met.higher_is_better).items():
                for r in rows:
                    if r["setting"] == "domain" and r["chip_id"] == chip_id and (r["model_id"], r["slo"]) == case:
                        r[f"rank_{name}"] = rank
    pareto = case_fronts(rows, cases)
    curves, roofline, memory = merge_chip_charts(chips, models, per_chip)
    sens: list[Any] = []
    if claim is not None:
        c = claim

        def figs(p: Prediction, mult: float) -> dict[str, Any]:
            return prediction_figures(p, c, views, mult)

        # The claim judgement's independent pieces run in one pool with the sensitivity's knobs (or alone),
        # longest first: no stage waits on its last piece while a worker idles. Each stage takes its
        # results by key (review.parallel.pool.run_pieces), or computes them where it asks for others.
        from inferchip.review.claim_review import ahead_pieces
        from inferchip.review.parallel.pool import forget_ahead, run_ahead, workers_for

        ahead = ahead_pieces(chips, claim, models, cfg, claim_doc) if cfg.judge and workers_for(cfg.jobs, 2) > 1 else []
        try:
            if cfg.sensitivity:
                sens = run_sensitivity(claim, models, cfg, metric, tables[metric], kept[claim.id], ok[metric],
                                       on_progress, figs, ahead)
            elif ahead:
                run_ahead(ahead, cfg.jobs, on_progress)
            result = _finish(inputs, metric, rows, tables, suite, pareto, curves, roofline, memory, sens, notes, views,
                             on_progress)
        finally:
            forget_ahead()
        return result
    return _finish(inputs, metric, rows, tables, suite, pareto, curves, roofline, memory, sens, notes, views,
                   on_progress)


def _finish(inputs: ReviewInputs, metric: str, rows: list[dict[str, Any]], tables: Any, suite: Any, pareto: Any,
            curves: Any, roofline: Any, memory: Any, sens: list[Any], notes: list[str], views: list[Any],
            on_progress: OnProgress) -> ReviewResult:
    """The result with the claim's verdict and, where asked, its judgement."""
    from inferchip.review.claim_review import judge_claim
    from inferchip.review.ranking import claim_verdict

    cfg, claim = inputs.config, inputs.claim
    result = ReviewResult(cfg, inputs.chips, inputs.models, claim, inputs.claim_doc, metric, rows, tables, suite,
                          pareto, curves, roofline, memory, sens, {}, notes, views=views)
    result.verdict = claim_verdict(result)
    if claim is not None and cfg.judge:
        result.judgement = judge_claim(result, cfg, on_progress, cfg.prices)
    return result




def review(chips: list[str | ChipParams] | None = None, models: list[str | ModelSpec] | None = None,
           **config: Any) -> ReviewResult:
    """A design review: every chip (catalogue ids or paths; None: the default suite) on every model
    at each service level, ranked, with the claim's verdict and sensitivity.

    ``config``: the other :class:`ReviewConfig` fields: ``claim`` (the chip under review; None or ``"none"``, as
    ``review --claim none``: no claim; left out: the claim file's chip),
    ``slos``, ``max_ttft_s``/``max_tpot_s`` (seconds: the interactive level's limits for every model, in place of
    MLPerf Interactive's by model size), ``metric`` ("tco", "throughput", ...), ``weights``,
    ``input_tokens``/``output_tokens`` (tokens), ``domain_cap`` (chips), ``sensitivity``. Figures are per chip:
    output tokens/s, power in W, tokens per joule, $ per million output tokens (``ReviewResult.rows``).
    """
    for name, given in (("chips", chips), ("models", models)):
        if isinstance(given, str):  # iterated letter by letter it was "unknown chip 'n'"
            raise InvalidSettingError(f"review: {name} = {given!r} is one string; allowed: a list of ids or paths "
                                      f"({name}=[{given!r}]), or None for the default suite")
    if isinstance(config.get("claim"), str) and config["claim"].strip().lower() == "none":
        config["claim"] = None  # as the CLI's --claim none (it was looked up as a chip id: "unknown chip 'none'")
    return run_review(ReviewConfig(chips=chips, models=models, **config))


def _lacks(claim: ChipEntry, metric: str, views: list[Any]) -> str:
    """What the claimed chip lacks for ``metric``'s figure, in words: a street or list price (per $, TCO: the
    street view leaves it unpriced), a TDP (energy, TCO); "no price or power" where neither is the reason."""
    import math

    street = next((v for v in views if v.name == "street"), None)
    unpriced = street is not None and claim.id in street.unpriced
    no_tdp = not math.isfinite(claim.params.tdp_w)
    lacks = [*(["no street or list price"] if unpriced and metric in ("capex", "tco") else []),
             *(["no TDP"] if no_tdp and metric in ("energy", "tco") else [])]
    return ", ".join(lacks) or "no price or power"
