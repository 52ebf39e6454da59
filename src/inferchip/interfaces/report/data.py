"""The machine-readable side of the review report: ``results.json`` and the list of every
assumption the review used (also shown as a table in the page).
"""

from __future__ import annotations

from typing import Any

from inferchip.catalog.chips import spoken_name
from inferchip.review.inputs import service_level
from inferchip.review.review import SIZE_CLASSES, ReviewResult


def case_key(case: tuple[str, str]) -> str:
    return f"{case[0]}|{case[1]}"


def _prices(res: ReviewResult, chip_id: str) -> dict[str, Any]:
    """A chip's street-view price (the basis of the rows' money figures) and its figure in every view."""
    out: dict[str, Any] = {"price_usd": None, "price_basis": None, "price_source": None, "prices": {}}
    for v in res.views:
        p = v.prices.get(chip_id)
        out["prices"][v.name] = ({"usd": p.usd, "low_usd": p.low_usd, "high_usd": p.high_usd, "basis": p.basis,
                                  "source": p.source, "date": p.date} if p is not None
                                 else {"usd": None, "unpriced": v.unpriced.get(chip_id)})
        if v.name == "street":
            out.update(price_usd=p.usd if p else None, price_basis=p.basis if p else None,
                       price_source=p.source if p else v.unpriced.get(chip_id))
    return out


def claim_json(res: ReviewResult) -> dict[str, Any]:
    """The claim part by part (issue 13's interface): claim_parts, monte_carlo_samples, ledger, views."""
    j = res.judgement
    views = [v.to_dict() for v in res.views]
    if j is None:
        return {"claim": None, "claim_parts": [], "monte_carlo_samples": 0, "ledger": [], "views": views,
                "in_car": None}
    c = j.claim
    return {
        "claim": {"chip": c.chip, "text": " ".join(c.text.split()), "source": " ".join(c.source.split()),
                  "date": c.date, "note": " ".join(c.note.split()), "max_total_params": c.max_total_params,
                  "deployment": c.deployment.model_dump(), "scale_out": c.scale_out.model_dump()},
        "claim_parts": j.parts, "monte_carlo_samples": j.samples, "monte_carlo_seed": j.seed, "ledger": j.ledger,
        "views": views, "year": j.year, "claim_cases": [case_key(k) for k in j.cases], "named_corners": j.corners,
        "estimates_not_varied": j.not_varied, "boundary_map": j.boundary, "in_car": j.in_car,
    }


def results_json(res: ReviewResult, assumptions: list[dict[str, Any]]) -> dict[str, Any]:
    from inferchip.review.deploy.sizing import system_text

    cfg = res.config
    return {
        **claim_json(res),
        "settings": {"chips": [c.id for c in res.chips], "claim": res.claim.id if res.claim else None,
                     "models": [m.id for m in res.models], "service_levels": list(cfg.slos), "metric": res.metric,
                     "weights": cfg.weights, "input_tokens": cfg.input_tokens, "output_tokens": cfg.output_tokens,
                     "domain_cap": cfg.domain_cap, "year": res.judgement.year if res.judgement else cfg.year},
        "verdict": res.verdict,
        "chips": [{"id": c.id, "name": c.name, "vendor": c.vendor, "chips_in_domain": c.domain,
                   "chips_per_system": system_text(c.id, c.domain, res.rows),
                   "is_estimate": c.estimate, "is_claim": c.is_claim, "estimated_fields": c.estimated_fields,
                   "weights": c.weights_in(cfg), **_prices(res, c.id)}
                  for c in res.chips],
        "models": [{"id": m.id, "total_params": m.total_params, "active_params": m.active_params,
                    "size_class": m.size_class} for m in res.models],
        "rows": res.rows,
        "rankings": {name: {case_key(case): vals for case, vals in t.items()} for name, t in res.tables.items()},
        "suite": res.suite,
        "pareto": {case_key(case): v for case, v in res.pareto.items()},
        "throughput_interactivity": res.curves,
        "roofline": res.roofline,
        "memory_fit": res.memory,
        "assumptions": assumptions,
    }


def collect_assumptions(res: ReviewResult) -> list[dict[str, Any]]:
    """Every assumption the review used: its own settings, the service levels, the
    calibration of the performance model and the constants of the energy and money models."""
    cfg = res.config
    out: list[dict[str, Any]] = [
        {"group": "review", "name": "weights format", "value": cfg.weights, "unit": "",
         "source": "FP8 weights and activations with an FP8 KV cache, as MLPerf Hopper and AMD submissions run"},
        {"group": "review", "name": "input / output tokens", "value": f"{cfg.input_tokens} / {cfg.output_tokens}",
         "unit": "tokens", "source": "1k/1k chat workload (InferenceMAX, METHODS.md 4.3)"},
        {"group": "review", "name": "serving", "value": "continuous batching, chunked prefill", "unit": "",
         "source": "performance.phases.continuous_batch (vLLM / TensorRT-LLM scheduling)"},
        {"group": "review", "name": "scale-up domain evaluated", "value": f"its size up to {cfg.domain_cap}, else 64",
         "unit": "chips", "source": "no suite model has more than 64 attention heads: larger domains (TPU pods) only "
                                    "add data-parallel replicas, which leave per-chip figures unchanged"},
        {"group": "review", "name": "ranking", "value": "domain setting", "unit": "",
         "source": "a chip is ranked on the system it is judged on (its scale-up domain, whose layout search includes "
                   "one-chip replicas; a layer-pipelined chip's sized deployment), results.csv deployment_chips"},
    ]
    if any(r["setting"] == "scaleup" for r in res.rows):
        so = res.claim_doc.scale_out
        group = "review: layer-pipelined competitors (claim.yaml scale_out)"
        out.append({"group": group, "name": "largest sized deployment", "value": so.max_chips, "unit": "chips",
                    "source": " ".join(so.max_chips_reason.split())})
        out.append({"group": group, "name": "prefill step of a sized chip", "value": so.chunk_tokens,
                    "unit": "tokens", "source": " ".join(so.chunk_reason.split())})
    j = res.judgement
    if j is not None and res.claim is not None and res.claim.deployed:
        d = j.claim.deployment
        for name, value, unit, why in (
                ("weights format", d.weights or res.config.weights, "",
                 d.weights_reason if d.weights else "the review's --weights, as every chip (the claim file states "
                                                    "no deployment.weights)"),
                ("chips per board", res.claim.domain, "chips", d.board_reason),
                ("board link", res.claim.params.link_bytes_per_s / 1e9, "GB/s per direction",
                 "the catalogue's estimate (interconnect.scaleup_bw_gb_per_s_per_direction)")):
            out.append({"group": f"claimed chip as deployed: {spoken_name(res.claim.name)}", "name": name,
                        "value": value,
                        "unit": unit, "source": " ".join(why.split())})
    if j is not None:
        from inferchip.review.uncertainty import model_error_sigmas, model_error_sources

        where = model_error_sources()
        for name, sigma in model_error_sigmas().items():
            out.append({"group": "Monte Carlo", "name": f"model error, {name} (lognormal sigma)", "value": sigma,
                        "unit": "", "source": where.get(name, "review/model_error.yaml")})
        if j.in_car is not None:
            from inferchip.review.in_car import VISION_SOURCE, vision_sigma

            out.append({"group": "Monte Carlo", "name": "model error, vision frame latency (lognormal sigma)",
                        "value": vision_sigma(), "unit": "", "source": VISION_SOURCE})
        out.append({"group": "Monte Carlo", "name": "samples / seed", "value": f"{j.samples} / {j.seed}", "unit": "",
                    "source": "triangular draws on every estimate and price range (low, central, high)"})
    for bound, name, *_ in SIZE_CLASSES:  # the review's own limits where it was given them (--max-ttft-ms, ...)
        sl = service_level("interactive", bound, res.config)
        out.append({"group": "service level: interactive", "name": name,
                    "value": f"TTFT {(sl.max_ttft_s or 0.0) * 1e3:g} ms, TPOT {(sl.max_tpot_s or 0.0) * 1e3:g} ms",
                    "unit": "", "source": sl.basis + " (p99 limits; compared here with modelled means)"})
    out.append({"group": "service level: batch", "name": "all models", "value": "no latency limit", "unit": "",
                "source": "maximum throughput (MLPerf Offline)"})
    try:
        from inferchip.catalog.calibration_file import load_calibration

        cal = load_calibration(None)
        for k in cal.physical_parameter_names():
            desc = type(cal).model_fields[k].description or ""
            out.append({"group": "performance model calibration" + (" (fitted)" if cal.fitted else " (defaults)"),
                        "name": k, "value": getattr(cal, k), "unit": "", "source": desc})
    except Exception as exc:  # a broken calibration file is reported, not fatal for the report
        out.append({"group": "performance model calibration", "name": "error", "value": str(exc), "unit": "",
                    "source": ""})
    try:
        from inferchip.catalog.assumptions import load_assumptions
        from inferchip.cost.tco import TERM_WHAT

        for name, value, unit, citation in load_assumptions().describe():
            what = TERM_WHAT.get(name)  # a TCO term named by what it is (the cost of capital is no depreciation)
            out.append({"group": "energy and money: " + name.split(".")[0], "name": f"{name} ({what})" if what
                        else name, "value": value, "unit": unit, "source": citation})
    except Exception as exc:
        out.append({"group": "energy and money", "name": "error", "value": str(exc), "unit": "", "source": ""})
    return out
