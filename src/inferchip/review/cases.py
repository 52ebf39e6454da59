"""One case of a design review: a chip (alone, or on the system it is judged on), a model and a
service level, evaluated with :func:`inferchip.performance.predict.predict`, and its figures
of merit as one flat row of ``results.csv``.

Each chip and case has a ``single`` row (one chip) and a ``domain`` row: the system the verdicts judge it on, with
its size and basis in ``deployment_chips`` and ``deployment_basis``: the chip's scale-up domain (the claimed chip's
board), or, for a layer-pipelined competitor, the smallest deployment that serves the case
(:mod:`inferchip.review.deploy.sizing`); such a chip also has a ``scaleup`` row, its scale-up domain (the ledger's
alternative).
"""

from __future__ import annotations

from typing import Any

from inferchip.errors import DoesNotFitError, InvalidSettingError
from inferchip.performance.predict import Prediction, predict
from inferchip.review.claim_file import ScaleOut
from inferchip.review.deploy.sizing import default_basis
from inferchip.review.inputs import (
    ChipEntry,
    ModelEntry,
    OnProgress,
    ReviewConfig,
    ServiceLevel,
    no_progress,
    service_level,
)
from inferchip.spec.chip import ChipParams, ChipSpec
from inferchip.spec.model import ModelSpec

FIGURE_COLUMNS = ("power_w_per_chip", "output_tokens_per_j", "usd_per_million_tokens",
                  "output_tokens_per_s_per_usd_capex", "chip_price_usd")


def evaluate(chip: str | ChipParams, model: str | ModelSpec, slo: ServiceLevel, count: int, cfg: ReviewConfig,
             estimate: str = "central", chip_spec: Any = None,
             weights: str | None = None, chunk_tokens: int | None = None) -> tuple[Prediction | None, str, str]:
    """predict() one case; (prediction, status, reason). A model that does not fit or meets
    no latency limit is a status, not an error: "ok", "does not fit", "misses SLO", "no layout".
    ``weights``: the chip's own weight format (the claimed chip as deployed), else the review's;
    ``chunk_tokens``: the prefill step's token budget (None: predict's default, the engines')."""
    try:
        p = predict(chip, model, count=count, weights=weights or cfg.weights, input_tokens=cfg.input_tokens,
                    output_tokens=cfg.output_tokens, max_ttft_s=slo.max_ttft_s, max_tpot_s=slo.max_tpot_s,
                    estimate=estimate, chip_spec=chip_spec, chunk_tokens=chunk_tokens)
        return p, "ok", ""
    except DoesNotFitError as exc:
        msg = str(exc)
        return None, ("misses SLO" if msg.startswith("no batch meets the latency limits") else "does not fit"), msg
    except InvalidSettingError as exc:
        return None, "no layout", str(exc)


def figures(p: Prediction, price_mult: float = 1.0, spec: ChipSpec | None = None) -> dict[str, float | None]:
    """Figures of merit of a prediction, read from ``Prediction.extra`` (None where the chip
    lacks a price or TDP), optionally with the chip's price multiplied by ``price_mult``, on the price rule
    ``predict`` used (:func:`inferchip.cost.tco.tco_terms` of ``spec``'s system and what its price covers; a
    server's accelerator without a spec): tokens/s per $ over the new price with its system share
    (:meth:`~inferchip.cost.tco.TcoTerms.system_price_usd`), the TCO per token by the ratio of the TCO per hour at
    the new and the old price (same wall power).
    """
    out: dict[str, float | None] = {"output_tokens_per_s_per_chip": p.output_tokens_per_s_per_chip}
    for col in FIGURE_COLUMNS:
        out[col] = _f(p.extra.get(col))
    price = out["chip_price_usd"]
    if price_mult == 1.0 or price is None:
        return out
    from inferchip.catalog.assumptions import load_assumptions
    from inferchip.cost.tco import price_covers, tco_terms

    # the review's constants (the bundled assumptions file), the rule predict priced this chip by
    terms = tco_terms(spec.system if spec is not None else "server", load_assumptions(), price_covers(spec))
    if out["output_tokens_per_s_per_usd_capex"] is not None:
        capital = float(terms.system_price_usd(price * price_mult))
        out["output_tokens_per_s_per_usd_capex"] = p.output_tokens_per_s_per_chip / capital if capital else None
    wall = _f(p.extra.get("wall_power_w_per_chip")) or out["power_w_per_chip"]
    if out["usd_per_million_tokens"] is not None and wall is not None:
        before = float(terms.breakdown_per_hour_usd(price, wall)["total_usd_per_h"])
        after = float(terms.breakdown_per_hour_usd(price * price_mult, wall)["total_usd_per_h"])
        out["usd_per_million_tokens"] *= after / before if before else 1.0
    out["chip_price_usd"] = price * price_mult
    return out


def _f(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and v == v else None


def prediction_row(chip: ChipEntry, model: ModelEntry, slo: ServiceLevel, setting: str, count: int,
                   p: Prediction | None, status: str, reason: str, basis: str | None = None) -> dict[str, Any]:
    """One flat row of results.csv: the case, the system (``deployment_chips``, ``deployment_basis``: ``basis``,
    else the setting's own), the chosen layout and batch, every figure."""
    row: dict[str, Any] = {
        "chip_id": chip.id, "chip_name": chip.name, "vendor": chip.vendor, "chip_is_estimate": chip.estimate,
        "is_claim": chip.is_claim, "model_id": model.id, "model_total_params": model.total_params,
        "model_active_params": model.active_params, "model_size_class": model.size_class, "slo": slo.name,
        "max_ttft_s": slo.max_ttft_s, "max_tpot_s": slo.max_tpot_s, "setting": setting, "chips_available": count,
        "deployment_chips": count, "deployment_basis": basis or default_basis(chip, setting, count),
        "status": status, "reason": reason.splitlines()[0] if reason else "", "weights": p.weights if p else None,
    }
    keys = ("num_chips", "tp", "pp", "ep", "replicas", "batch", "ttft_s", "tpot_s", "e2e_latency_s",
            "output_tokens_per_s", "output_tokens_per_s_per_user", "memory_per_chip_bytes",
            "memory_capacity_per_chip_bytes", "compute_format", "runtime_devices_per_package")
    for k in keys:
        row[k] = getattr(p, k) if p is not None else None
    figs = figures(p) if p is not None else dict.fromkeys(("output_tokens_per_s_per_chip", *FIGURE_COLUMNS))
    row.update(figs)
    mem = p.memory_breakdown_bytes if p is not None else {}
    for k in ("weights", "kv_cache", "activations"):
        row[f"{k}_bytes_per_chip"] = mem.get(k)
    for k in ("wall_power_w_per_chip", "tco_usd_per_hour_per_chip", "throttled"):
        row[k] = p.extra.get(k) if p is not None else None
    return row


def domain_rows(chip: ChipEntry, model: ModelEntry, slos: list[ServiceLevel], cfg: ReviewConfig, so: ScaleOut,
                arg: Any, spec: Any, weights: str, single: dict[str, tuple[Prediction | None, str, str]] | None = None,
                ) -> tuple[list[dict[str, Any]], dict[str, Prediction]]:
    """The rows of the system each level judges ``chip`` on (``domain``; for a sized chip also ``scaleup``, sized
    as ``so``, the claim file's ``scale_out``, says), in level order, and the ``domain`` predictions by level name.
    ``single``: the one-chip results, reused where the domain is one chip."""
    from inferchip.review.deploy.sizing import deployments, is_sized

    rows: list[dict[str, Any]] = []
    kept: dict[str, Prediction] = {}

    def at(n: int, slo: ServiceLevel, chunk: int | None) -> tuple[Prediction | None, str, str]:
        if chunk is None and n == 1 and single is not None:  # the one-chip result, already predicted
            return single[slo.name]
        return evaluate(arg, model.ref, slo, n, cfg, chip_spec=spec, weights=weights, chunk_tokens=chunk)

    sized = is_sized(chip, cfg)
    dep = deployments(chip, model, slos, cfg, so, weights, at)  # the review's one rule (explore reads it too)
    for slo in slos:
        d = dep[slo.name]
        rows.append(prediction_row(chip, model, slo, "domain", d.chips, d.prediction, d.status, d.reason, d.basis))
        if sized:
            rows.append(prediction_row(chip, model, slo, "scaleup", chip.domain, *at(chip.domain, slo, None)))
        if d.prediction is not None:
            kept[slo.name] = d.prediction
    return rows, kept


def review_deployments(chip_id: str, claim_chip: str | None, model_id: str, slo_names: list[str]) -> dict[str, Any]:
    """The review's deployment of each level (``review.deploy.sizing.deployments``, the review's one rule, each a
    ``Sized``) of a catalogue chip as the default review builds it (``ReviewConfig()``, the bundled claim file:
    ``claim_chip`` on its board where the claim file names it), each level predicted by :func:`evaluate`: the
    deployment and whether it serves the case, for ``explore --silicon deployment``."""
    from inferchip.review.claim_file import load_claim
    from inferchip.review.deploy.sizing import deployments
    from inferchip.review.inputs import chip_entry, deploy, model_entry

    claim, cfg = load_claim(), ReviewConfig()
    entry = chip_entry(chip_id, cfg.domain_cap, is_claim=chip_id == claim_chip)
    if chip_id == claim_chip:
        entry = deploy(entry, cfg, claim)
    m = model_entry(model_id)
    arg, weights = entry.chip_arg(), entry.weights_in(cfg)

    def at(n: int, slo: ServiceLevel, chunk: int | None) -> tuple[Prediction | None, str, str]:
        return evaluate(arg, m.ref, slo, n, cfg, weights=weights, chunk_tokens=chunk)

    return deployments(entry, m, [service_level(s, m.total_params, cfg) for s in slo_names], cfg, claim.scale_out,
                       weights, at)


def sized_cases(chip: ChipEntry, models: list[ModelEntry], cases: list[tuple[str, str]], cfg: ReviewConfig,
                so: ScaleOut, weights: str) -> dict[tuple[str, str], Any]:
    """Each of ``cases`` (model id, level) sized again by :func:`inferchip.review.deploy.sizing.size_model` at
    ``weights``, by case, each a ``review.deploy.sizing.Sized`` (the ledger's precision alternative for a sized
    claimed chip)."""
    from inferchip.review.deploy.sizing import size_model

    arg = chip.chip_arg()
    spec = chip.spec if isinstance(arg, ChipParams) else None
    out: dict[tuple[str, str], Any] = {}
    for m in models:
        names = [s for mid, s in cases if mid == m.id]
        if not names:
            continue
        slos = [service_level(n, m.total_params, cfg) for n in names]

        def at(n: int, slo: ServiceLevel, chunk: int | None, m: ModelEntry = m) -> tuple[Prediction | None, str, str]:
            return evaluate(arg, m.ref, slo, n, cfg, chip_spec=spec, weights=weights, chunk_tokens=chunk)

        for name, d in size_model(chip, m, slos, so, weights, at).items():
            out[(m.id, name)] = d
    return out


def evaluate_chip(
    chip: ChipEntry, models: list[ModelEntry], cfg: ReviewConfig, so: ScaleOut, on_progress: OnProgress = no_progress
) -> tuple[list[dict[str, Any]], dict[tuple[str, str], Prediction]]:
    """Every case of one chip, alone and in its domain (a layer-pipelined chip sized as ``so``, the claim file's
    ``scale_out``, says); rows plus the domain predictions keyed by (model id, service level) for the charts and
    the sensitivity analysis."""
    rows: list[dict[str, Any]] = []
    kept: dict[tuple[str, str], Prediction] = {}
    arg = chip.chip_arg()
    spec = chip.spec if isinstance(arg, ChipParams) else None
    w = chip.weights_in(cfg)
    for m in models:
        slos = [service_level(name, m.total_params, cfg) for name in cfg.slos]
        single = {s.name: evaluate(arg, m.ref, s, 1, cfg, chip_spec=spec, weights=w) for s in slos}
        dom, got = domain_rows(chip, m, slos, cfg, so, arg, spec, w, single)
        for s in slos:
            rows.append(prediction_row(chip, m, s, "single", 1, *single[s.name]))
            rows.extend(r for r in dom if r["slo"] == s.name)
            if s.name in got:
                kept[(m.id, s.name)] = got[s.name]
            on_progress(f"{chip.id}: {m.id} ({s.name})", 1)
    return rows, kept
