"""Predict every published measurement in its own setting, and the error statistics.

Each case (:mod:`inferchip.analysis.cases`) becomes a :class:`Plan`: the lengths (fixed, or
an MLPerf data set's spread), the load (maximum throughput, a closed loop of
``concurrency`` requests, an open loop at a stated request rate, or a static batch) and the
latency limits. :func:`operating_point` evaluates a plan on one mapped model with the step
cost of :mod:`inferchip.analysis.engine`; :class:`Validator` picks the parallel layout
(the row's, or the best the model finds), converts to the row's metric and caches repeated
settings. Errors are percentages: signed ``100 (pred - meas) / meas``, APE its absolute value.

Assumptions, each stated once here and in docs/validation.md:

* **Length spread of MLPerf data sets** (README gives limits, not shapes): input and output
  lengths are lognormal with ``LENGTH_SIGMA`` (coefficient of variation 0.66), clipped at
  the data set's limit and rescaled so the clipped mean is the target mean. Inputs and
  outputs are independent. In steady-state continuous batching the sequences in flight are
  length-biased (a long answer stays longer): their mean context is ``E[i] + E[o^2]/(2 E[o])``
  and each holds KV for ``E[i] + E[o^2]/E[o]`` tokens; new requests arrive at ``b / E[o]`` per
  step and each brings ``E[i (i+1) / 2]`` causal prefill pairs. With a fixed length this is
  exactly :func:`inferchip.analysis.engine.continuous_batch`.
* **MLPerf Server/Interactive** (Poisson arrivals, p99 limits): the highest-throughput
  concurrency whose *mean* TTFT and TPOT meet the p99 limits divided by
  ``TTFT_P99_OVER_MEAN`` and ``TPOT_P99_OVER_MEAN`` (end-to-end limit: ``E2E_P99_OVER_MEAN``).
  A Poisson arrival also waits on average half an iteration before its prefill is scheduled.
* **Open loop at a stated rate** (a latency row "measured at N samples/s", or "request rate N"):
  the concurrency solves Little's law ``b = rate x E2E(b)`` per replica; above the predicted
  capacity the replica saturates (queueing delay beyond that is not modelled, and the row says so).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from typing import Any

import numpy as np

from inferchip.analysis.cases import (
    MLPERF_DATASETS,
    Case,
    LatencyLimits,
    dataset_for_model,
    stated_limits,
    stated_load_per_s,
)
from inferchip.analysis.engine import (
    MappedModel,
    fit_error,
    map_model,
    prefill_pairs,
    static_batch,
)
from inferchip.analysis.predict import BATCH_GRID, resolve_formats
from inferchip.cost.calibration import Calibration
from inferchip.errors import (
    DoesNotFitError,
    InferchipError,
    InvalidSettingError,
    UnknownIdError,
)
from inferchip.mapping.layout import Layout, candidate_layouts, check_layout
from inferchip.mapping.memory_fit import Formats

LENGTH_SIGMA = 0.6  # lognormal shape of MLPerf input/output lengths (assumption, see module doc)
LENGTH_POINTS = 16  # quantile points that stand for a length distribution
TTFT_P99_OVER_MEAN = 2.5  # p99/mean of TTFT under Poisson load (median of the Server rows' notes: 1.6-3.2)
TPOT_P99_OVER_MEAN = 1.15  # p99/mean of TPOT (Server rows' notes: 1.02-1.38)
E2E_P99_OVER_MEAN = 1.2  # p99/mean of end-to-end latency (assumption, GPT-J Server)
QUEUE_WAIT_STEPS = 0.5  # mean wait of a Poisson arrival for the running iteration to end


# ------------------------------------------------------------------ length distributions
@dataclass(frozen=True)
class LengthDist:
    """Token lengths as equally weighted quantile points (a fixed length is one point)."""

    points: tuple[float, ...]

    @classmethod
    def fixed(cls, tokens: float) -> LengthDist:
        return cls((float(tokens),))

    @classmethod
    def lognormal(cls, mean: float, cap: float, sigma: float = LENGTH_SIGMA, n: int = LENGTH_POINTS) -> LengthDist:
        """Lognormal of shape ``sigma`` clipped at ``cap``, scaled so the clipped mean is ``mean``."""
        return _lognormal(float(mean), float(cap), float(sigma), int(n))

    @cached_property
    def array(self) -> np.ndarray:
        return np.asarray(self.points)

    @cached_property
    def mean(self) -> float:
        return float(np.mean(self.array))

    @cached_property
    def second_moment(self) -> float:
        return float(np.mean(np.square(self.array)))

    @cached_property
    def mean_prefill_pairs(self) -> float:
        """E[i (i+1) / 2]: causal query-key pairs of one prompt."""
        return float(np.mean(prefill_pairs(self.array)))


@lru_cache(maxsize=4096)
def _unit_lognormal(sigma: float, n: int) -> np.ndarray:
    """Quantile mid-points of a unit-mean lognormal, ascending."""
    from scipy.stats import norm

    return np.exp(sigma * norm.ppf((np.arange(n) + 0.5) / n) - sigma**2 / 2)


@lru_cache(maxsize=4096)
def _lognormal(mean: float, cap: float, sigma: float, n: int) -> LengthDist:
    if mean >= cap:
        return LengthDist.fixed(cap)
    base = _unit_lognormal(sigma, n)
    # With the k largest points clipped, the clipped mean is s * sum(base[:n-k]) / n + k cap / n:
    # solve for the scale s and keep the k whose clipping is consistent with s.
    for k in range(n):
        s = (mean * n - k * cap) / base[: n - k].sum()
        if s * base[n - k - 1] <= cap and (k == 0 or s * base[n - k] >= cap):
            return LengthDist(tuple(float(v) for v in np.minimum(base * s, cap)))
    return LengthDist.fixed(mean)  # pragma: no cover (k = n - 1 always satisfies mean < cap)


# ------------------------------------------------------------------ plans
@dataclass(frozen=True)
class Plan:
    """What to evaluate for a case (lengths, load, limits), independent of the layout."""

    mode: str  # "max_throughput" | "closed_loop" | "open_loop" | "static"
    inputs: LengthDist
    outputs: LengthDist
    concurrency: float | None = None  # system-wide sequences (closed loop, static batch)
    rate_per_s: float | None = None  # system-wide requests/s (open loop; inf = saturating)
    max_ttft_s: float | None = None  # limits on the MEAN (p99 limits already scaled)
    max_tpot_s: float | None = None
    max_e2e_s: float | None = None
    queue_wait: bool = False
    beams: int = 1  # sequences decoded per request (beam search); the prompt is prefilled once
    dataset: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def needs_ttft(self) -> bool:
        return self.mode == "open_loop" or self.max_ttft_s is not None or self.max_e2e_s is not None


class NotPredictable(InferchipError):
    """A row whose setting lacks something the prediction needs."""


def plan_for(case: Case, cal: Calibration) -> Plan:
    """The plan of a case under a calibration (MLPerf mean input lengths come from it)."""
    notes: list[str] = []
    dataset = None
    if case.is_mlperf:
        ds = dataset_for_model(case.model)
        if ds is None:
            raise NotPredictable(f"no input_tokens and {case.model} is not on an MLPerf data set this validator knows")
        if ds.name not in cal.mlperf_mean_input_tokens:
            raise NotPredictable(f"the calibration has no mean input length for MLPerf data set {ds.name}")
        mean_in = float(cal.mlperf_mean_input_tokens[ds.name])
        mean_out = case.output_tokens or ds.default_output_tokens
        if mean_out is None:
            raise NotPredictable(f"no output_tokens and no reference output length for data set {ds.name}")
        if case.output_tokens is None:
            notes.append(f"output length not given: {mean_out:g} tokens assumed ({ds.citation})")
        inputs = LengthDist.lognormal(mean_in, ds.max_input_tokens)
        outputs = LengthDist.lognormal(mean_out, ds.max_output_tokens)
        notes.append(f"MLPerf {ds.name}: mean input {mean_in:.0f} tokens (calibration), lognormal spread")
        dataset = ds.name
        if ds.beams > 1:
            notes.append(f"beam search of width {ds.beams}: {ds.beams} sequences decode per sample, one prefill")
    else:
        if case.input_tokens is None or case.output_tokens is None:
            raise NotPredictable(f"scenario {case.scenario} needs input_tokens and output_tokens")
        inputs, outputs = LengthDist.fixed(case.input_tokens), LengthDist.fixed(case.output_tokens)
    beams = MLPERF_DATASETS[dataset].beams if dataset is not None else 1
    base = dict(inputs=inputs, outputs=outputs, dataset=dataset, beams=beams)
    if case.scenario == "single_stream" or case.metric == "batch_e2e_latency_ms":
        return Plan("static", concurrency=float(case.concurrency or 1), notes=tuple(notes), **base)
    if case.concurrency is not None:
        return Plan("closed_loop", concurrency=float(case.concurrency), notes=tuple(notes), **base)
    if case.scenario in ("fixed_length", "offline"):
        return Plan("max_throughput", notes=tuple(notes), **base)
    # server without a concurrency
    lim = stated_limits(case) or LatencyLimits()
    scaled = dict(
        max_ttft_s=None if lim.ttft_s is None else lim.ttft_s / TTFT_P99_OVER_MEAN,
        max_tpot_s=None if lim.tpot_s is None else lim.tpot_s / TPOT_P99_OVER_MEAN,
        max_e2e_s=None if lim.e2e_s is None else lim.e2e_s / E2E_P99_OVER_MEAN,
    )
    rate = stated_load_per_s(case)
    if rate is not None and math.isfinite(rate):
        notes.append(f"open loop at the stated {rate:g} requests/s")
        return Plan("open_loop", rate_per_s=rate, queue_wait=True, notes=tuple(notes), **scaled, **base)
    if any(v is not None for v in scaled.values()):
        notes.append(f"p99 limits ({lim.source}) scaled to means: TTFT/{TTFT_P99_OVER_MEAN:g}, TPOT/{TPOT_P99_OVER_MEAN:g}")
    if rate is not None:
        notes.append("stated request rate INF: saturation, maximum throughput")
    elif not any(v is not None for v in scaled.values()):
        notes.append("server row with no concurrency, rate or limits: maximum throughput")
    return Plan("max_throughput", queue_wait=True, notes=tuple(notes), **scaled, **base)


# ------------------------------------------------------------------ evaluation on one layout
@dataclass
class OperatingPoint:
    batch: float  # sequences in flight per replica
    ttft_s: float
    tpot_s: float
    e2e_s: float
    tokens_per_s_replica: float
    limits_met: bool = True
    saturated: bool = False


def _steady(mm: MappedModel, b: np.ndarray, plan: Plan, with_ttft: bool):
    """Steady-state continuous batching at concurrencies ``b`` (sequences per replica), with the
    length moments of the plan; with beam search a request is ``beams`` sequences and one prefill."""
    i, o = plan.inputs, plan.outputs
    e_o = max(o.mean, 1.0)
    new = b / e_o / plan.beams  # requests (prompts) starting per step
    ctx = i.mean + o.second_moment / (2.0 * e_o)
    tpot, _ = mm.replica_step_s(b + new * i.mean, b, b * ctx, new * i.mean_prefill_pairs)
    if not with_ttft:
        return tpot, None, None
    iq = i.array[None, :]
    bb = b[:, None]
    chunk = np.minimum(iq, mm.chunk_tokens)
    first, _ = mm.replica_step_s(bb + chunk, bb, bb * ctx, prefill_pairs(chunk) + (new * i.mean_prefill_pairs)[:, None],
                                 logit_rows=bb + 1.0)
    ttft = np.mean(np.ceil(iq / mm.chunk_tokens) * first, axis=1)
    if plan.queue_wait:
        ttft = ttft + QUEUE_WAIT_STEPS * tpot
    return tpot, ttft, ttft + np.maximum(o.mean - 1.0, 0.0) * tpot


def max_concurrency(mm: MappedModel, plan: Plan) -> float:
    """Sequences per replica whose KV cache fits (length-biased full context per sequence)."""
    o = plan.outputs
    ctx = plan.inputs.mean + o.second_moment / max(o.mean, 1.0)
    free = mm.budget_bytes - mm.weights_bytes - float(mm.activation_bytes(mm.chunk_tokens))
    return float(np.floor(max(free, 0.0) / float(mm.kv_bytes_per_seq(ctx))))


def _grid(bmax: float, coarse: bool) -> np.ndarray:
    if coarse:
        return np.unique(np.append(np.round(np.geomspace(1.0, max(bmax, 1.0), 20)), bmax))
    return np.unique(np.append(BATCH_GRID[BATCH_GRID <= bmax], bmax))


def _at(met, k: int) -> tuple[float, float, float]:
    tpot, ttft, e2e = met
    return (float(tpot[k]), math.nan if ttft is None else float(ttft[k]), math.nan if e2e is None else float(e2e[k]))


def operating_point(mm: MappedModel, plan: Plan, replicas: int, *, coarse: bool = False,
                    need_ttft: bool = True) -> OperatingPoint:
    """The plan's operating point on one layout; raises DoesNotFitError when nothing fits."""
    bmax = max_concurrency(mm, plan)
    if plan.mode in ("static", "closed_loop"):
        b = plan.concurrency / replicas
        if b > bmax:
            raise DoesNotFitError(f"{plan.concurrency:g} sequences ({b:g} per replica) of "
                                  f"{plan.inputs.mean + plan.outputs.mean:.0f} tokens do not fit {mm.chip.id} with "
                                  f"tp={mm.layout.tp} pp={mm.layout.pp}: at most {bmax:.0f} per replica")
        if plan.mode == "static":
            met = static_batch(mm, np.array([b]), plan.inputs.mean, plan.outputs.mean)
            return OperatingPoint(b, float(met.ttft_s[0]), float(met.tpot_s[0]), float(met.e2e_s[0]),
                                  float(met.tokens_per_s_replica[0]))
        tpot, ttft, e2e = _at(_steady(mm, np.array([b]), plan, need_ttft), 0)
        return OperatingPoint(b, ttft, tpot, e2e, b / tpot)
    if bmax < 1:
        raise fit_error(mm, 1.0, plan.inputs.mean, plan.outputs.mean, mm.layout.num_chips)
    if plan.mode == "open_loop":
        return _open_loop(mm, plan, replicas, bmax)
    grid = _grid(bmax, coarse)
    tpot, ttft, e2e = _steady(mm, grid, plan, plan.needs_ttft or need_ttft)
    ok = np.ones(grid.shape, bool)
    for lim, v in ((plan.max_ttft_s, ttft), (plan.max_tpot_s, tpot), (plan.max_e2e_s, e2e)):
        if lim is not None:
            ok &= v <= lim
    tput = grid / tpot
    k = int(np.argmax(np.where(ok, tput, -1.0))) if ok.any() else 0
    t1, t2, t3 = _at((tpot, ttft, e2e), k)
    return OperatingPoint(float(grid[k]), t2, t1, t3, float(tput[k]), limits_met=bool(ok.any()))


def _open_loop(mm: MappedModel, plan: Plan, replicas: int, bmax: float) -> OperatingPoint:
    """Little's law ``b = rate x E2E(b)`` per replica, solved on a grid and interpolated."""
    rate = plan.rate_per_s / replicas * plan.beams  # sequences starting per second per replica
    grid = np.geomspace(min(0.05, bmax), bmax, 48)
    tpot, ttft, e2e = _steady(mm, grid, plan, True)
    g = rate * e2e - grid
    if g[-1] > 0:  # more load than the replica can carry: it saturates
        t1, t2, t3 = _at((tpot, ttft, e2e), len(grid) - 1)
        return OperatingPoint(bmax, t2, t1, t3, bmax / t1, saturated=True)
    k = int(np.argmax(g <= 0))
    if k == 0:
        b = grid[0]
    else:  # linear interpolation of the sign change
        b = grid[k - 1] + (grid[k] - grid[k - 1]) * g[k - 1] / (g[k - 1] - g[k])
    t1, t2, t3 = _at(_steady(mm, np.array([b]), plan, True), 0)
    return OperatingPoint(float(b), t2, t1, t3, float(b) / t1)


# ------------------------------------------------------------------ one case
@dataclass
class CaseResult:
    """A case, its prediction (or why there is none) and how the prediction was made."""

    case: Case
    status: str  # "ok" | "unknown_id" | "does_not_fit" | "invalid_setting" | "not_predictable"
    reason: str = ""
    predicted: float | None = None
    layout: Layout | None = None
    point: OperatingPoint | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def measured(self) -> float:
        return self.case.value

    @property
    def signed_error_pct(self) -> float | None:
        return None if self.predicted is None else 100.0 * (self.predicted - self.measured) / self.measured

    @property
    def ape(self) -> float | None:
        e = self.signed_error_pct
        return None if e is None else abs(e)

    def to_dict(self) -> dict[str, Any]:
        c, p, lay = self.case, self.point, self.layout
        return {
            "case_id": c.case_id, "accelerator": c.accelerator, "num_accelerators": c.num_accelerators,
            "model": c.model, "scenario": c.scenario, "metric": c.metric, "unit": c.unit, "source_kind": c.source_kind,
            "predicted": self.predicted, "measured": self.measured, "signed_error_pct": self.signed_error_pct,
            "ape": self.ape, "status": self.status, "reason": self.reason,
            "tp": lay.tp if lay else None, "pp": lay.pp if lay else None, "ep": lay.ep if lay else None,
            "replicas": lay.replicas if lay else None,
            "concurrency_per_replica": p.batch if p else None,
            "ttft_ms": None if p is None or math.isnan(p.ttft_s) else p.ttft_s * 1e3,
            "tpot_ms": p.tpot_s * 1e3 if p else None,
            "limits_met": p.limits_met if p else None, "saturated": p.saturated if p else None,
            "notes": list(self.notes),
        }


def metric_value(case: Case, plan: Plan, point: OperatingPoint, layout: Layout) -> float:
    """Convert an operating point to the row's metric, in the row's unit."""
    system_tokens_per_s = point.tokens_per_s_replica * layout.replicas
    m = case.metric
    if m == "output_tokens_per_s_total":
        return system_tokens_per_s
    if m == "output_tokens_per_s_per_accelerator":
        return system_tokens_per_s / case.num_accelerators
    if m == "samples_per_s":
        return system_tokens_per_s / (plan.outputs.mean * plan.beams)
    if m == "ttft_ms":
        return point.ttft_s * 1e3
    if m in ("tpot_ms", "itl_ms"):
        return point.tpot_s * 1e3
    return point.e2e_s * 1e3  # batch_e2e_latency_ms


FOUR_BIT = ("fp4", "mxfp4", "int4")


def case_formats(case: Case) -> tuple[Formats, list[str]]:
    """Formats of a row. 4-bit activations (NVFP4/MXFP4 W4A4 GEMMs, as the README's MLPerf
    Blackwell and MI355X rows state) are taken as given: the step cost then runs the GEMMs at
    the 4-bit peak and attention at 16 bit (``predict.resolve_formats`` refuses this setting)."""
    if case.weight_dtype is None:
        raise NotPredictable("weight_dtype is blank: the number format of the weights is unknown")
    if case.act_dtype in FOUR_BIT and case.act_dtype != "int4":
        kv = case.kv_dtype or resolve_formats(case.weight_dtype, "fp8", None).kv
        return Formats(case.weight_dtype, case.act_dtype, kv), [
            f"W4A4 ({case.weight_dtype}/{case.act_dtype}): GEMMs at the 4-bit peak, KV {kv}"]
    return resolve_formats(case.weight_dtype, case.act_dtype, case.kv_dtype), []


def _needs_ttft(case: Case) -> bool:
    return case.metric in ("ttft_ms", "batch_e2e_latency_ms")


class Validator:
    """Predicts cases under one calibration, caching chips, models, mapped models and settings."""

    def __init__(self, cal: Calibration, *, coarse: bool = False):
        self.cal = cal
        self.coarse = coarse
        self._chips: dict[str, Any] = {}
        self._models: dict[str, Any] = {}
        self._mapped: dict[tuple, MappedModel] = {}
        self._settings: dict[tuple, tuple[Layout, OperatingPoint]] = {}

    def chip(self, chip_id: str):
        if chip_id not in self._chips:
            from inferchip.catalog.chips import get_chip_params

            self._chips[chip_id] = get_chip_params(chip_id, "central")
        return self._chips[chip_id]

    def model(self, model_id: str):
        if model_id not in self._models:
            from inferchip.catalog.models import load_model

            self._models[model_id] = load_model(model_id)
        return self._models[model_id]

    def mapped(self, case: Case, layout: Layout, fmt: Formats) -> MappedModel:
        key = (case.accelerator, case.model, layout.tp, layout.pp, layout.ep, fmt)
        if key not in self._mapped:
            self._mapped[key] = map_model(self.model(case.model), self.chip(case.accelerator), layout, fmt, self.cal)
        return self._mapped[key]

    def layouts(self, case: Case) -> list[Layout]:
        """The row's layout, or every layout worth searching for the fields it leaves blank."""
        ms, cp, n = self.model(case.model), self.chip(case.accelerator), case.num_accelerators
        given = {"tp": case.tp, "pp": case.pp, "ep": case.ep}
        found = [lay for lay in candidate_layouts(ms, n, max(cp.max_scaleup_domain, case.tp or 1))
                 if all(v is None or getattr(lay, k) == v for k, v in given.items())]
        if found:
            return found
        lay = check_layout(ms, Layout(case.tp or 1, case.pp or 1, case.ep or 1), n)
        return [replace(lay, replicas=max(1, n // lay.chips_per_replica))]

    def predict_case(self, case: Case) -> CaseResult:
        try:
            fmt, fmt_notes = case_formats(case)
            plan = plan_for(case, self.cal)
            key = (case.accelerator, case.num_accelerators, case.model, fmt, case.tp, case.pp, case.ep, plan)
            if key not in self._settings:
                self._settings[key] = self._search(case, plan, fmt)
            layout, point = self._settings[key]
            if _needs_ttft(case) and math.isnan(point.ttft_s):
                point = operating_point(self.mapped(case, layout, fmt), plan, layout.replicas, coarse=self.coarse)
                self._settings[key] = (layout, point)
        except UnknownIdError as exc:
            return CaseResult(case, "unknown_id", str(exc))
        except DoesNotFitError as exc:
            return CaseResult(case, "does_not_fit", str(exc).splitlines()[0])
        except NotPredictable as exc:
            return CaseResult(case, "not_predictable", str(exc))
        except InferchipError as exc:
            return CaseResult(case, "invalid_setting", str(exc).splitlines()[0])
        notes = fmt_notes + list(plan.notes)
        if not point.limits_met:
            notes.append("no concurrency meets the latency limits: value at concurrency 1")
        if point.saturated:
            notes.append("stated load exceeds the predicted capacity: saturated, queueing delay not modelled")
        value = metric_value(case, plan, point, layout)
        if not (math.isfinite(value) and value > 0):
            return CaseResult(case, "not_predictable", f"the model gives {value:g} (a chip figure it needs, such as "
                              f"the scale-up link bandwidth for tp={layout.tp}, is missing or zero)", None, layout, point, notes)
        return CaseResult(case, "ok", "", value, layout, point, notes)

    def _search(self, case: Case, plan: Plan, fmt: Formats) -> tuple[Layout, OperatingPoint]:
        best, first_err = None, None
        for lay in self.layouts(case):
            try:
                pt = operating_point(self.mapped(case, lay, fmt), plan, lay.replicas, coarse=self.coarse,
                                     need_ttft=_needs_ttft(case))
            except DoesNotFitError as exc:
                first_err = first_err or exc
                continue
            if plan.mode == "open_loop":  # same load on every layout: the least time in system wins
                score = (not pt.saturated, -pt.e2e_s)
            else:
                score = (pt.limits_met, pt.tokens_per_s_replica * lay.replicas)
            if best is None or score > best[0]:
                best = (score, lay, pt)
        if best is None:
            raise first_err or InvalidSettingError(f"no parallel layout of {case.num_accelerators} chips suits {case.model}")
        return best[1], best[2]


def evaluate_fixed(case: Case, layout: Layout, mm: MappedModel, cal: Calibration, *, coarse: bool = True) -> float:
    """The row's predicted metric on a fixed layout under ``cal`` (the calibration's fast path):
    the mapped model is re-used with the new calibration, nothing else is searched."""
    plan = plan_for(case, cal)
    pt = operating_point(replace(mm, cal=cal), plan, layout.replicas, coarse=coarse, need_ttft=_needs_ttft(case))
    return metric_value(case, plan, pt, layout)


def validate_cases(cases: Sequence[Case], cal: Calibration, *, progress: Callable[[int], None] | None = None,
                   validator: Validator | None = None) -> list[CaseResult]:
    """Predict every case; ``progress`` is called with the number of cases done."""
    v = validator or Validator(cal)
    out = []
    for k, case in enumerate(cases, start=1):
        out.append(v.predict_case(case))
        if progress is not None:
            progress(k)
    return out


# ------------------------------------------------------------------ statistics
GROUP_KEYS = {
    "source": lambda c: c.source_kind,
    "accelerator": lambda c: c.accelerator,
    "model": lambda c: c.model,
    "scenario": lambda c: c.scenario,
    "metric": lambda c: c.metric,
}


def error_stats(results: Sequence[CaseResult]) -> dict[str, float | int | None]:
    """Count, median/p90/max APE (percent; p90 by linear interpolation), the percent of
    predicted rows within 10% and 25%, and the median signed error (bias)."""
    ok = [r for r in results if r.status == "ok"]
    ape = np.array([r.ape for r in ok], float)
    signed = np.array([r.signed_error_pct for r in ok], float)
    have = ape.size > 0
    return {
        "cases": len(results),
        "predicted": len(ok),
        "not_predicted": len(results) - len(ok),
        "median_ape": float(np.median(ape)) if have else None,
        "p90_ape": float(np.percentile(ape, 90)) if have else None,
        "max_ape": float(ape.max()) if have else None,
        "within_10pct": float(100.0 * np.mean(ape <= 10.0)) if have else None,
        "within_25pct": float(100.0 * np.mean(ape <= 25.0)) if have else None,
        "median_signed_error_pct": float(np.median(signed)) if have else None,
    }


def summarize(results: Sequence[CaseResult], by: str | None = None) -> dict[str, Any]:
    """Overall statistics and, with ``by``, the same per group (sorted by group name)."""
    out: dict[str, Any] = {"overall": error_stats(results)}
    if by is not None:
        if by not in GROUP_KEYS:
            raise InvalidSettingError(f"--by {by}: allowed: {', '.join(GROUP_KEYS)}")
        groups: dict[str, list[CaseResult]] = {}
        for r in results:
            groups.setdefault(GROUP_KEYS[by](r.case), []).append(r)
        out["by"] = by
        out["groups"] = {k: error_stats(v) for k, v in sorted(groups.items())}
    return out
