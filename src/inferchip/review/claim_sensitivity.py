"""How the claimed chip's suite rank moves: one spec at a time (:mod:`inferchip.review.sensitivity`).
The estimated figures are varied by the claim's named corners and Monte Carlo (:mod:`inferchip.review.uncertainty`).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from functools import partial
from typing import Any

from inferchip.performance.predict import Prediction
from inferchip.review.cases import evaluate, figures
from inferchip.review.deploy.sizing import claim_count
from inferchip.review.inputs import (
    Case,
    ChipEntry,
    ModelEntry,
    OnProgress,
    ReviewConfig,
    no_progress,
    service_level,
)

Figs = Callable[[Prediction, float], dict[str, Any]]


def run_sensitivity(claim: ChipEntry, models: list[ModelEntry], cfg: ReviewConfig, metric: str,
                    table: dict[Case, dict[str, Any]], base: dict[Case, Prediction], figure_ok: dict[str, bool],
                    on_progress: OnProgress = no_progress, figs: Figs | None = None,
                    ahead: Sequence[tuple[Hashable, Any]] = ()) -> list[Any]:
    """One-at-a-time sensitivity of the claim's suite rank (see review.sensitivity). ``figs``:
    a prediction's figures at a price multiplier (default :func:`~inferchip.review.cases.figures` on the claim's
    own price rule, its system and what its price covers;
    the review passes its street-view restatement, so the claim's money matches the tables).
    ``ahead``: keyed pieces of later stages run in the same pool, after the knobs
    (``review.parallel.pool.run_with_ahead``)."""
    fig = figs or partial(figures, spec=claim.spec)  # the price rule predict priced the claim by
    from inferchip.performance.setting import resolve_formats
    from inferchip.review.ranking import METRICS, claim_rank
    from inferchip.review.sensitivity import analyse_knob, knobs_for, scale_chip
    from inferchip.spec.formats import compute_format

    col = METRICS[metric].column
    fmt = resolve_formats(claim.weights_in(cfg), None, None)
    used = tuple(dict.fromkeys((compute_format(fmt.weights, fmt.activations), "bf16")))
    from inferchip.review.parallel.pool import run_with_ahead

    price = next((p.extra.get("chip_price_usd") for p in base.values() if p.extra.get("chip_price_usd")), None)

    def one_knob(knob: Any, on_progress: OnProgress) -> Any:
        def rank_at(m: float) -> tuple[int | None, float | None]:
            values: dict[Case, Any] = {}
            chip = scale_chip(claim.params, knob, m) if knob.target == "chip" and m != 1.0 else None
            for mod in models:
                for name in cfg.slos:
                    case = (mod.id, name)
                    if chip is None:
                        p = base.get(case)
                        values[case] = fig(p, m if knob.target == "price" else 1.0)[col] if p else None
                    else:  # on the case's system: its domain, or its sized deployment and chunk
                        n, chunk = claim_count(claim, case)
                        p = evaluate(chip, mod.spec, service_level(name, mod.total_params, cfg), n, cfg,
                                     chip_spec=claim.spec, weights=claim.weights_in(cfg), chunk_tokens=chunk)[0]
                        values[case] = fig(p, 1.0)[col] if p is not None else None
            on_progress(f"sensitivity: {knob.label} x{m:.3g}", 1)
            rank, score, _ = claim_rank(table, claim.id, values, metric, figure_ok)
            return rank, score

        return analyse_knob(knob, rank_at)

    knobs = knobs_for(claim.params, used, price)  # one knob per worker piece, in order (independent)
    return run_with_ahead([partial(one_knob, k) for k in knobs], ahead, cfg.jobs, on_progress)
