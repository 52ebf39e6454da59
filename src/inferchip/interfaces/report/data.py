"""The machine-readable side of the review report: ``results.json`` and the list of every
assumption the review used (also shown as a table in the page).
"""

from __future__ import annotations

from typing import Any

from inferchip.review.review import SIZE_CLASSES, ReviewResult


def case_key(case: tuple[str, str]) -> str:
    return f"{case[0]}|{case[1]}"


def results_json(res: ReviewResult, assumptions: list[dict[str, Any]]) -> dict[str, Any]:
    cfg = res.config
    return {
        "settings": {"chips": [c.id for c in res.chips], "claim": res.claim.id if res.claim else None,
                     "models": [m.id for m in res.models], "service_levels": list(cfg.slos), "metric": res.metric,
                     "weights": cfg.weights, "input_tokens": cfg.input_tokens, "output_tokens": cfg.output_tokens,
                     "domain_cap": cfg.domain_cap},
        "verdict": res.verdict,
        "chips": [{"id": c.id, "name": c.name, "vendor": c.vendor, "chips_in_domain": c.domain,
                   "is_estimate": c.estimate, "is_claim": c.is_claim, "estimated_fields": c.estimated_fields}
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
         "source": "a chip is ranked in its scale-up domain, whose layout search includes one-chip replicas"},
    ]
    for _bound, name, ttft, tpot, basis in SIZE_CLASSES:
        out.append({"group": "service level: interactive", "name": name,
                    "value": f"TTFT {ttft * 1e3:g} ms, TPOT {tpot * 1e3:g} ms",
                    "unit": "", "source": basis + " (p99 limits; compared here with modelled means)"})
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

        for name, value, unit, citation in load_assumptions().describe():
            out.append({"group": "energy and money: " + name.split(".")[0], "name": name, "value": value,
                        "unit": unit, "source": citation})
    except Exception as exc:
        out.append({"group": "energy and money", "name": "error", "value": str(exc), "unit": "", "source": ""})
    return out
