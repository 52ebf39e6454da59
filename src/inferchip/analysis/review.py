"""Design review of a claim such as "the best inference chip for models under 250B parameters".

Every chosen chip is evaluated, alone and in its scale-up domain, on a suite of models at
two service levels, with :func:`inferchip.analysis.predict.predict` choosing the parallel
layout and the concurrency (continuous batching, max throughput under the latency limits).
Chips are ranked per case (model x service level) and over the suite
(:mod:`inferchip.analysis.ranking`); the claimed chip gets a verdict and a sensitivity
analysis (:mod:`inferchip.analysis.sensitivity`). The data of the report's charts
(rooflines, throughput-interactivity curves, memory fit) is computed at the end of this
module; :mod:`inferchip.interfaces.report` only draws it.

Service levels (METHODS.md 4.1, MLPerf Inference latency limits, TTFT / TPOT):

* ``interactive``: the MLPerf *Interactive* limits of the benchmark model of the same size
  class (by total parameters): up to 20B like Llama-3.1-8B (500 ms / 30 ms), up to 150B like
  Llama-2-70B (450 ms / 40 ms), above like Llama-3.1-405B (4500 ms / 80 ms). MLPerf limits
  are 99th percentiles; the model here gives steady-state means, so the check is lenient.
* ``batch``: maximum throughput, no latency limit (MLPerf Offline).

The scale-up domain is evaluated at its size up to :data:`DOMAIN_CAP_CHIPS` (72, an NVL72
rack); larger domains (TPU pods) at :data:`LARGE_DOMAIN_CHIPS` (64): no suite model has
more than 64 attention heads, so tensor parallelism cannot use more, and further chips
only add data-parallel replicas, which leave per-chip figures unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from inferchip.analysis.pareto import throughput_curve
from inferchip.analysis.predict import Prediction, predict
from inferchip.errors import DoesNotFitError, InvalidSettingError
from inferchip.spec.chip import ChipParams
from inferchip.spec.model import ModelSpec

DEFAULT_CHIPS: tuple[str, ...] = (
    "nvidia-h100-sxm-80gb", "nvidia-h200-sxm-141gb", "nvidia-b200-180gb", "nvidia-gb200-186gb",
    "amd-mi300x", "amd-mi325x", "amd-mi355x", "intel-gaudi3", "google-tpu-v6e-trillium",
    "google-tpu7x-ironwood", "aws-trainium2", "nvidia-l40s", "groq-lpu-v1",
)
DEFAULT_MODELS: tuple[str, ...] = (
    "meta-llama/Llama-3.1-8B-Instruct",  # small dense
    "Qwen/Qwen3-32B",  # mid dense
    "meta-llama/Llama-3.1-70B-Instruct",  # large dense
    "mistralai/Mixtral-8x7B-Instruct-v0.1",  # MoE, 47B total / 13B active
    "openai/gpt-oss-120b",  # MoE, 117B / 5B active
    "Qwen/Qwen3-235B-A22B",  # MoE, 235B / 22B active
)
DEFAULT_CLAIM = "tesla-ai5"
CLAIM_MAX_PARAMS = 250e9  # "models below ~250B parameters" (the claim, chips.csv notes)
DOMAIN_CAP_CHIPS = 72
LARGE_DOMAIN_CHIPS = 64


def domain_chips(max_scaleup_domain: int, cap: int = DOMAIN_CAP_CHIPS) -> int:
    """Chips of the scale-up domain a review evaluates (see the module docstring)."""
    d = max(1, int(max_scaleup_domain))
    return d if d <= cap else min(LARGE_DOMAIN_CHIPS, cap)
SERVICE_LEVELS = ("interactive", "batch")


@dataclass(frozen=True)
class ServiceLevel:
    name: str
    max_ttft_s: float | None
    max_tpot_s: float | None
    basis: str


# (largest total parameters of the class, class name, TTFT limit s, TPOT limit s, MLPerf anchor)
SIZE_CLASSES: tuple[tuple[float, str, float, float, str], ...] = (
    (20e9, "small (<= 20B)", 0.500, 0.030, "MLPerf Interactive, Llama-3.1-8B: TTFT 500 ms, TPOT 30 ms"),
    (150e9, "medium (20-150B)", 0.450, 0.040, "MLPerf Interactive, Llama-2-70B: TTFT 450 ms, TPOT 40 ms"),
    (float("inf"), "large (> 150B)", 4.500, 0.080, "MLPerf Interactive, Llama-3.1-405B: TTFT 4500 ms, TPOT 80 ms"),
)


def size_class(total_params: float) -> tuple[str, float, float, str]:
    for bound, name, ttft, tpot, basis in SIZE_CLASSES:
        if total_params <= bound:
            return name, ttft, tpot, basis
    raise AssertionError("unreachable: the last class is unbounded")


def service_level(name: str, total_params: float) -> ServiceLevel:
    """The latency limits of a service level for a model of ``total_params`` parameters."""
    if name == "batch":
        return ServiceLevel("batch", None, None, "maximum throughput, no latency limit (MLPerf Offline)")
    if name == "interactive":
        _, ttft, tpot, basis = size_class(total_params)
        return ServiceLevel("interactive", ttft, tpot, basis)
    raise InvalidSettingError(f"--slo: unknown service level '{name}'; allowed: interactive, batch, both")


@dataclass
class ReviewConfig:
    """What to review. Chips and models are catalogue ids, file paths, or objects (tests)."""

    chips: list[str | ChipParams] | None = None  # None: DEFAULT_CHIPS
    claim: str | ChipParams | None = DEFAULT_CLAIM
    models: list[str | ModelSpec] | None = None  # None: DEFAULT_MODELS
    slos: tuple[str, ...] = SERVICE_LEVELS
    metric: str = "tco"
    weights: str = "fp8"
    input_tokens: int = 1024
    output_tokens: int = 1024
    domain_cap: int = DOMAIN_CAP_CHIPS
    sensitivity: bool = True
    jobs: int = 1


@dataclass
class ChipEntry:
    """A chip of the review: how to ask the catalogue for it, and what the report shows."""

    ref: str | ChipParams
    id: str
    name: str
    vendor: str
    params: ChipParams
    domain: int
    spec: Any = None  # the ChipSpec (price, node, memory type for the energy and money models)
    estimate: bool = False
    estimated_fields: dict[str, dict[str, Any]] = field(default_factory=dict)
    is_claim: bool = False

    def chip_arg(self) -> str | ChipParams:
        """What predict() takes: the id or path (so energy and price are looked up), or the params."""
        return self.ref if isinstance(self.ref, str) else self.params


@dataclass
class ModelEntry:
    ref: str | ModelSpec
    id: str
    spec: ModelSpec
    total_params: float
    active_params: float
    size_class: str


OnProgress = Callable[[str, int], None]  # (what is being done, units just finished)


def _noop(what: str, n: int) -> None:
    return None


# ------------------------------------------------------------------ one case of one chip
FIGURE_COLUMNS = ("power_w_per_chip", "output_tokens_per_j", "usd_per_million_tokens",
                  "output_tokens_per_s_per_usd_capex", "chip_price_usd")


def evaluate(chip: str | ChipParams, model: str | ModelSpec, slo: ServiceLevel, count: int, cfg: ReviewConfig,
             estimate: str = "central", chip_spec: Any = None) -> tuple[Prediction | None, str, str]:
    """predict() one case; (prediction, status, reason). A model that does not fit or meets
    no latency limit is a status, not an error: "ok", "does not fit", "misses SLO", "no layout"."""
    try:
        p = predict(chip, model, count=count, weights=cfg.weights, input_tokens=cfg.input_tokens,
                    output_tokens=cfg.output_tokens, max_ttft_s=slo.max_ttft_s, max_tpot_s=slo.max_tpot_s,
                    estimate=estimate, chip_spec=chip_spec)
        return p, "ok", ""
    except DoesNotFitError as exc:
        msg = str(exc)
        return None, ("misses SLO" if msg.startswith("no batch meets the latency limits") else "does not fit"), msg
    except InvalidSettingError as exc:
        return None, "no layout", str(exc)


def figures(p: Prediction, price_mult: float = 1.0) -> dict[str, float | None]:
    """Figures of merit of a prediction, read from ``Prediction.extra`` (None where the chip
    lacks a price or TDP), optionally with the chip's price multiplied by ``price_mult``:
    tokens/s per $ scale by 1/price_mult, and the TCO per token by the ratio of
    :func:`inferchip.cost.tco.tco_per_hour_usd` at the new and the old price (same wall power).
    """
    out: dict[str, float | None] = {"output_tokens_per_s_per_chip": p.output_tokens_per_s_per_chip}
    for col in FIGURE_COLUMNS:
        out[col] = _f(p.extra.get(col))
    price = out["chip_price_usd"]
    if price_mult == 1.0 or price is None:
        return out
    capex = out["output_tokens_per_s_per_usd_capex"]
    out["output_tokens_per_s_per_usd_capex"] = capex / price_mult if capex is not None else None
    wall = _f(p.extra.get("wall_power_w_per_chip")) or out["power_w_per_chip"]
    if out["usd_per_million_tokens"] is not None and wall is not None:
        from inferchip.cost.tco import tco_per_hour_usd

        before = float(tco_per_hour_usd(price, wall))
        out["usd_per_million_tokens"] *= float(tco_per_hour_usd(price * price_mult, wall)) / before if before else 1.0
    out["chip_price_usd"] = price * price_mult
    return out


def _f(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and v == v else None


def prediction_row(chip: ChipEntry, model: ModelEntry, slo: ServiceLevel, setting: str, count: int,
                   p: Prediction | None, status: str, reason: str) -> dict[str, Any]:
    """One flat row of results.csv: the case, the chosen layout and batch, every figure."""
    row: dict[str, Any] = {
        "chip_id": chip.id, "chip_name": chip.name, "vendor": chip.vendor, "chip_is_estimate": chip.estimate,
        "is_claim": chip.is_claim, "model_id": model.id, "model_total_params": model.total_params,
        "model_active_params": model.active_params, "model_size_class": model.size_class, "slo": slo.name,
        "max_ttft_s": slo.max_ttft_s, "max_tpot_s": slo.max_tpot_s, "setting": setting, "chips_available": count,
        "status": status, "reason": reason.splitlines()[0] if reason else "",
    }
    keys = ("num_chips", "tp", "pp", "ep", "replicas", "batch", "ttft_s", "tpot_s", "e2e_latency_s",
            "output_tokens_per_s", "output_tokens_per_s_per_user", "memory_per_chip_bytes",
            "memory_capacity_per_chip_bytes", "compute_format")
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


def evaluate_chip(chip: ChipEntry, models: list[ModelEntry], cfg: ReviewConfig,
                  on_progress: OnProgress = _noop) -> tuple[list[dict[str, Any]], dict[tuple[str, str], Prediction]]:
    """Every case of one chip, alone and in its domain; rows plus the domain predictions
    keyed by (model id, service level) for the charts and the sensitivity analysis."""
    rows: list[dict[str, Any]] = []
    kept: dict[tuple[str, str], Prediction] = {}
    arg = chip.chip_arg()
    for m in models:
        for name in cfg.slos:
            slo = service_level(name, m.total_params)
            single = evaluate(arg, m.ref, slo, 1, cfg)
            rows.append(prediction_row(chip, m, slo, "single", 1, *single))
            both = single if chip.domain == 1 else evaluate(arg, m.ref, slo, chip.domain, cfg)
            rows.append(prediction_row(chip, m, slo, "domain", chip.domain, *both))
            if both[0] is not None:
                kept[(m.id, name)] = both[0]
            on_progress(f"{chip.id}: {m.id} ({name})", 1)
    return rows, kept


# ------------------------------------------------------------------ resolving the inputs
def _ranges(spec: Any) -> dict[str, dict[str, Any]]:
    """Estimated (Range) figures of a chip spec by dotted path, with low/central/high and derivation."""
    return {k: {"low": r.low, "central": r.central, "high": r.high, "derivation": r.derivation}
            for k, r in spec.estimated_fields().items()}


def chip_entry(ref: str | ChipParams, domain_cap: int, is_claim: bool = False) -> ChipEntry:
    """Resolve a chip id, YAML path or ChipParams. Unknown ids raise UnknownIdError (closest
    ids named); malformed files raise SpecError (field named) -- both before any work."""
    if isinstance(ref, ChipParams):
        return ChipEntry(ref, ref.id, ref.id, "-", ref, domain_chips(ref.max_scaleup_domain, domain_cap),
                         is_claim=is_claim)
    from inferchip.catalog.chips import get_chip_params, load_chip

    spec = load_chip(ref)
    params = get_chip_params(ref)
    est = _ranges(spec)
    return ChipEntry(ref, spec.id, spec.name, spec.vendor, params, domain_chips(params.max_scaleup_domain, domain_cap),
                     spec=spec, estimate=bool(spec.estimate or est), estimated_fields=est, is_claim=is_claim)


def model_entry(ref: str | ModelSpec) -> ModelEntry:
    from inferchip.catalog.models import load_model
    from inferchip.workload.params import active_params_per_token, total_params

    spec = ref if isinstance(ref, ModelSpec) else load_model(ref)
    total = float(total_params(spec))
    return ModelEntry(ref, spec.id, spec, total, float(active_params_per_token(spec)), size_class(total)[0])


def resolve(cfg: ReviewConfig) -> tuple[list[ChipEntry], list[ModelEntry], ChipEntry | None]:
    """Chips (claim last unless already listed), models and the claim entry; validates every id."""
    from inferchip.analysis.ranking import METRICS

    if cfg.metric not in METRICS:
        raise InvalidSettingError(f"--metric: unknown figure '{cfg.metric}'; allowed: {', '.join(METRICS)}")
    for name in cfg.slos:
        service_level(name, 0.0)
    if not cfg.slos:
        raise InvalidSettingError("--slo: at least one service level is needed")
    chips = [chip_entry(c, cfg.domain_cap) for c in (cfg.chips if cfg.chips is not None else DEFAULT_CHIPS)]
    claim = None
    if cfg.claim is not None:
        claim = chip_entry(cfg.claim, cfg.domain_cap, is_claim=True)
        same = [c for c in chips if c.id == claim.id]
        if same:
            same[0].is_claim = True
            claim = same[0]
        else:
            chips.append(claim)
    ids = [c.id for c in chips]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise InvalidSettingError(f"--chips: chip id(s) given twice: {', '.join(dup)}")
    if not chips:
        raise InvalidSettingError("--chips: no chip to review")
    models = [model_entry(m) for m in (cfg.models if cfg.models is not None else DEFAULT_MODELS)]
    if not models:
        raise InvalidSettingError("--models: no model to review")
    return chips, models, claim


# ------------------------------------------------------------------ sensitivity and estimates
Case = tuple[str, str]  # (model id, service level)


def run_sensitivity(claim: ChipEntry, models: list[ModelEntry], cfg: ReviewConfig, metric: str,
                    table: dict[Case, dict[str, Any]], base: dict[Case, Prediction], figure_ok: dict[str, bool],
                    on_progress: OnProgress = _noop) -> list[Any]:
    """One-at-a-time sensitivity of the claim's suite rank (see analysis.sensitivity)."""
    from inferchip.analysis.predict import resolve_formats
    from inferchip.analysis.ranking import METRICS, claim_rank
    from inferchip.analysis.sensitivity import analyse_knob, knobs_for, scale_chip
    from inferchip.spec.formats import compute_format

    col = METRICS[metric].column
    fmt = resolve_formats(cfg.weights, None, None)
    used = tuple(dict.fromkeys((compute_format(fmt.weights, fmt.activations), "bf16")))
    results = []
    price = next((p.extra.get("chip_price_usd") for p in base.values() if p.extra.get("chip_price_usd")), None)
    for knob in knobs_for(claim.params, used, price):
        def rank_at(m: float, knob=knob) -> tuple[int | None, float | None]:
            values: dict[Case, Any] = {}
            chip = scale_chip(claim.params, knob, m) if knob.target == "chip" and m != 1.0 else None
            for mod in models:
                for name in cfg.slos:
                    case = (mod.id, name)
                    if chip is None:
                        p = base.get(case)
                        values[case] = figures(p, price_mult=m if knob.target == "price" else 1.0)[col] if p else None
                    else:
                        p = evaluate(chip, mod.spec, service_level(name, mod.total_params), claim.domain, cfg,
                                     chip_spec=claim.spec)[0]
                        values[case] = figures(p)[col] if p is not None else None
            on_progress(f"sensitivity: {knob.label} x{m:.3g}", 1)
            rank, score, _ = claim_rank(table, claim.id, values, metric, figure_ok)
            return rank, score

        results.append(analyse_knob(knob, rank_at))
    return results


def estimate_levels(claim: ChipEntry, models: list[ModelEntry], cfg: ReviewConfig, metric: str,
                    table: dict[Case, dict[str, Any]], figure_ok: dict[str, bool],
                    on_progress: OnProgress = _noop) -> dict[str, dict[str, Any]]:
    """The claim's suite rank and first places with its estimated figures at low and high."""
    from inferchip.analysis.ranking import METRICS, claim_rank

    if not isinstance(claim.ref, str) or not claim.estimated_fields:
        return {}
    col = METRICS[metric].column
    out: dict[str, dict[str, Any]] = {}
    for level in ("low", "high"):
        from inferchip.catalog.chips import get_chip_params

        domain = domain_chips(get_chip_params(claim.ref, level).max_scaleup_domain, cfg.domain_cap)
        values: dict[Case, Any] = {}
        for mod in models:
            for name in cfg.slos:
                p, _, _ = evaluate(claim.ref, mod.ref, service_level(name, mod.total_params), domain, cfg, level)
                values[(mod.id, name)] = figures(p)[col] if p is not None else None
        rank, score, firsts = claim_rank(table, claim.id, values, metric, figure_ok)
        on_progress(f"{claim.id} at its {level} estimates", 1)
        out[level] = {"rank": rank, "score": score, "first_places": firsts,
                      "values": {f"{m}|{s}": v for (m, s), v in values.items()}}
    return out


# ------------------------------------------------------------------ chart data
def _mapped(model: ModelEntry, chip: ChipParams, tp: int, pp: int, ep: int, cfg: ReviewConfig):
    from inferchip.analysis.engine import map_model
    from inferchip.analysis.predict import resolve_formats
    from inferchip.cost.calibration import load_calibration
    from inferchip.mapping.layout import Layout

    return map_model(model.spec, chip, Layout(tp, pp, ep), resolve_formats(cfg.weights, None, None),
                     load_calibration(None))


def _gemm_class(name: str) -> str:
    """Operator class of a weight GEMM, as :func:`inferchip.cost.step.step_cost` files it."""
    if name.startswith("experts") or name == "router":
        return "experts"
    return "mlp" if name.startswith(("mlp", "shared")) else "attention_proj"


def roofline_points(model: ModelEntry, chip: ChipParams, p: Prediction, cfg: ReviewConfig) -> list[dict[str, Any]]:
    """Operators of a prefill step and a decode step on a roofline: arithmetic intensity
    (FLOP per DRAM byte) and attained FLOP/s (FLOP / time with overheads), per operator class.

    Each class's FLOP and bytes are isolated by re-costing the step without that class
    (weight GEMMs), without any layer (LM head), or with layers but no GEMMs (attention,
    whose bytes exclude the elementwise kernels); its time is the class time of the full step.
    """
    from dataclasses import replace

    import numpy as np

    from inferchip.analysis.engine import prefill_pairs

    mm = _mapped(model, chip, p.tp, p.pp, p.ep, cfg)
    sm = mm.sm
    b = max(p.batch / p.pp, 1.0)
    ctx = cfg.input_tokens + cfg.output_tokens / 2.0
    n_prompts = max(mm.chunk_tokens // cfg.input_tokens, 1)
    chunk = float(min(mm.chunk_tokens, n_prompts * cfg.input_tokens))
    phases = {
        "decode": (b, b, b * ctx, 0.0),
        "prefill": (chunk, 0.0, 0.0, float(prefill_pairs(min(cfg.input_tokens, chunk)) * n_prompts)),
    }

    def cost(model_shards, args):
        c = mm.stage_step(*args) if model_shards is sm else _step(model_shards, args)
        flop = float(sum(np.sum(v) for v in c.flop_by_format.values()))
        return c, flop, float(np.sum(c.dram_bytes))

    def _step(model_shards, args):
        from inferchip.cost.step import step_cost

        return step_cost(model_shards, chip, mm.formats, mm.cal, *args)

    out: list[dict[str, Any]] = []
    for phase, args in phases.items():
        full, f_all, b_all = cost(sm, args)
        pieces: dict[str, tuple[float, float]] = {}
        for cls in ("attention_proj", "mlp", "experts"):
            layers = tuple(replace(layer, gemms=tuple(g for g in layer.gemms if _gemm_class(g.name) != cls))
                           for layer in sm.layers)
            _, f, by = cost(replace(sm, layers=layers), args)
            pieces[cls] = (f_all - f, b_all - by)
        bare = tuple(replace(layer, gemms=(), collectives=()) for layer in sm.layers)
        _, f_bare, b_bare = cost(replace(sm, layers=bare), args)
        _, f_none, b_none = cost(replace(sm, layers=tuple(replace(layer, count=0) for layer in bare)), args)
        elementwise = sum(layer.count * args[0] * layer.elementwise_elements_per_token * mm.formats.act_bytes
                          for layer in sm.layers)
        pieces["attention"] = (f_bare - f_none, b_bare - b_none - elementwise)
        pieces["lm_head"] = (f_none, b_none)
        pieces["whole step"] = (f_all, b_all)
        for cls, (flop, nbytes) in pieces.items():
            t = float(np.sum(full.time_s if cls == "whole step" else full.classes[cls].time_s))
            if flop <= 0 or nbytes <= 0 or t <= 0:
                continue
            out.append({"model_id": model.id, "phase": phase, "op_class": cls, "flop": flop, "dram_bytes": nbytes,
                        "time_s": t, "arithmetic_intensity_flop_per_byte": flop / nbytes,
                        "attained_flop_per_s": flop / t})
    return out


def memory_fit(model: ModelEntry, chip: ChipEntry, rows: list[dict[str, Any]], cfg: ReviewConfig) -> dict[str, Any]:
    """Weights as a fraction of one chip's usable memory, and where the model fits."""
    mm = _mapped(model, chip.params, 1, 1, 1, cfg)
    frac = mm.weights_bytes / mm.budget_bytes if mm.budget_bytes > 0 else float("inf")
    mine = [r for r in rows if r["chip_id"] == chip.id and r["model_id"] == model.id]
    pref = [r for r in mine if r["slo"] == "batch"] or mine
    single = next((r for r in pref if r["setting"] == "single" and r["status"] == "ok"), None)
    dom = next((r for r in pref if r["setting"] == "domain" and r["status"] == "ok"), None)
    if single is not None:
        status, chips = "fits on one chip", 1
    elif dom is not None:
        status, chips = f"fits on {dom['tp'] * dom['pp']} chips (tp{dom['tp']} pp{dom['pp']})", dom["tp"] * dom["pp"]
    elif any(r["status"] == "misses SLO" for r in pref):
        status, chips = "fits, but no batch meets the latency limits", None
    else:
        status, chips = f"does not fit in {chip.domain} chip(s)", None
    return {"chip_id": chip.id, "model_id": model.id, "weights_fraction_of_one_chip": frac,
            "chips_per_replica": chips, "status": status}


# ------------------------------------------------------------------ the whole review
@dataclass
class ReviewResult:
    config: ReviewConfig
    chips: list[ChipEntry]
    models: list[ModelEntry]
    claim: ChipEntry | None
    metric: str
    rows: list[dict[str, Any]]
    tables: dict[str, dict[Case, dict[str, Any]]]
    suite: dict[str, dict[str, dict[str, Any]]]
    pareto: dict[Case, dict[str, Any]]
    curves: dict[str, dict[str, Any]]
    roofline: dict[str, list[dict[str, Any]]]
    memory: list[dict[str, Any]]
    sensitivity: list[Any]
    levels: dict[str, dict[str, Any]]
    verdict: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    claim_max_params: float = CLAIM_MAX_PARAMS

    @property
    def cases(self) -> list[Case]:
        return [(m.id, s) for m in self.models for s in self.config.slos]


def plan_units(chips: list[ChipEntry], models: list[ModelEntry], cfg: ReviewConfig, claim: ChipEntry | None) -> int:
    """Progress units of a review: cases, charts, and an upper bound for the sensitivity."""
    from inferchip.analysis.sensitivity import BISECTION_STEPS, TORNADO_MULTIPLIERS

    n = len(chips) * len(models) * len(cfg.slos) + len(chips) * (len(models) + 1)
    if claim is not None and cfg.sensitivity:
        n += 8 * (2 + len(TORNADO_MULTIPLIERS) + BISECTION_STEPS)
    if claim is not None and claim.estimated_fields and isinstance(claim.ref, str):
        n += 2  # the claim at the low and the high end of its estimates
    return n


def run_review(cfg: ReviewConfig, on_progress: OnProgress = _noop,
               on_plan: Callable[[int], None] | None = None) -> ReviewResult:
    """Evaluate, rank, analyse and describe. Raises user errors (unknown ids, bad files) before any work."""
    from inferchip.analysis.pareto import case_fronts
    from inferchip.analysis.ranking import (METRICS, claim_verdict, has_figure, metric_tables, rank_case, rank_scores,
                                            suite_scores)

    chips, models, claim = resolve(cfg)
    if on_plan is not None:
        on_plan(plan_units(chips, models, cfg, claim))
    rows: list[dict[str, Any]] = []
    kept: dict[str, dict[Case, Prediction]] = {}
    for chip in chips:
        r, k = evaluate_chip(chip, models, cfg, on_progress)
        rows.extend(r)
        kept[chip.id] = k
    cases = [(m.id, s) for m in models for s in cfg.slos]
    ids = [c.id for c in chips]
    tables = metric_tables(rows, cases, ids)
    notes: list[str] = []
    metric = cfg.metric
    ok = {name: has_figure(rows, met.column) for name, met in METRICS.items()}
    if claim is not None and not ok[metric].get(claim.id, True) and metric != "throughput":
        notes.append(f"{claim.id} has no {METRICS[metric].label} figure (no price or power): "
                     "the verdict ranks output tokens/s per chip instead.")
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
    curves: dict[str, dict[str, Any]] = {m.id: {} for m in models}
    roofline: dict[str, list[dict[str, Any]]] = {c.id: [] for c in chips}
    memory: list[dict[str, Any]] = []
    for chip in chips:
        for m in models:
            preds = {s: p for (mid, s), p in kept[chip.id].items() if mid == m.id}
            layouts = {(p.tp, p.pp, p.ep) for p in preds.values()}
            if any(r["status"] == "ok" for r in rows if r["chip_id"] == chip.id and r["model_id"] == m.id
                   and r["setting"] == "single"):
                layouts.add((1, 1, 1))
            curve = throughput_curve([_mapped(m, chip.params, *lay, cfg) for lay in sorted(layouts)],
                                     cfg.input_tokens, cfg.output_tokens)
            if curve is not None:
                curves[m.id][chip.id] = curve
            p = preds.get("batch") or next(iter(preds.values()), None)
            if p is not None:
                roofline[chip.id].extend(roofline_points(m, chip.params, p, cfg))
            memory.append(memory_fit(m, chip, rows, cfg))
            on_progress(f"charts: {chip.id} {m.id}", 1)
        on_progress(f"charts: {chip.id}", 1)
    sens: list[Any] = []
    levels: dict[str, dict[str, Any]] = {}
    if claim is not None and cfg.sensitivity:
        sens = run_sensitivity(claim, models, cfg, metric, tables[metric], kept[claim.id], ok[metric], on_progress)
    if claim is not None:
        levels = estimate_levels(claim, models, cfg, metric, tables[metric], ok[metric], on_progress)
    result = ReviewResult(cfg, chips, models, claim, metric, rows, tables, suite, pareto, curves, roofline, memory,
                          sens, levels, {}, notes)
    result.verdict = claim_verdict(result)
    return result


