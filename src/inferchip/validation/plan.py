"""Plans of the validation cases and their analytic evaluation on one parallel layout.

Each case (:mod:`inferchip.validation.cases`) becomes a :class:`Plan`: the lengths (fixed, or
an MLPerf data set's spread), the load (maximum throughput, a closed loop of
``concurrency`` requests, an open loop at a stated request rate, or a static batch) and the
latency limits. :func:`operating_point` evaluates a plan on one mapped model with the
steady-state step cost of :mod:`inferchip.performance.phases` (the *analytic* model);
:func:`metric_value` converts an operating point to the row's metric. The serving
simulator's path for Server rows is :mod:`inferchip.validation.server`.

Assumptions, each stated once here and in docs/validation.md:

* **Length spread of MLPerf data sets** (README gives limits, not shapes): input and output
  lengths are lognormal with ``LENGTH_SIGMA`` (coefficient of variation 0.66), clipped at
  the data set's limit and rescaled so the clipped mean is the target mean. Inputs and
  outputs are independent. In steady-state continuous batching the sequences in flight are
  length-biased (a long answer stays longer): their mean context is ``E[i] + E[o^2]/(2 E[o])``
  and each holds KV for ``E[i] + E[o^2]/E[o]`` tokens; new requests arrive at ``b / E[o]`` per
  step and each brings ``E[i (i+1) / 2]`` causal prefill pairs. With a fixed length this is
  exactly :func:`inferchip.performance.phases.continuous_batch`.
* **MLPerf Server/Interactive, analytic** (Poisson arrivals, p99 limits): the highest-throughput
  concurrency whose *mean* TTFT and TPOT meet the p99 limits divided by
  ``TTFT_P99_OVER_MEAN`` and ``TPOT_P99_OVER_MEAN`` (end-to-end limit: ``E2E_P99_OVER_MEAN``).
  A Poisson arrival also waits on average half an iteration before its prefill is scheduled.
* **Open loop at a stated rate, analytic** (a latency row "measured at N samples/s", or
  "request rate N"): the concurrency solves Little's law ``b = rate x E2E(b)`` per replica;
  above the predicted capacity the replica saturates (queueing delay beyond that is not
  modelled, and the row says so).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np

from inferchip.validation.cases import (
    MLPERF_DATASETS,
    Case,
    LatencyLimits,
    dataset_for_model,
    stated_limits,
    stated_load_per_s,
)
from inferchip.performance.phases import (
    MappedModel,
    fit_error,
    prefill_pairs,
    static_batch,
)
from inferchip.performance.predict import BATCH_GRID
from inferchip.spec.calibration import DatasetLengths
from inferchip.errors import DoesNotFitError, InferchipError
from inferchip.mapping.layout import Layout

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
    analytic_notes: tuple[str, ...] = ()  # how the analytic model reads the load and limits (not the simulator)

    @property
    def needs_ttft(self) -> bool:
        return self.mode == "open_loop" or self.max_ttft_s is not None or self.max_e2e_s is not None


class NotPredictable(InferchipError):
    """A row whose setting lacks something the prediction needs."""


def plan_for(case: Case, lengths: DatasetLengths) -> Plan:
    """The plan of a case (MLPerf rows: the mean input length of their data set from ``lengths``)."""
    notes: list[str] = []
    dataset = None
    if case.is_mlperf:
        ds = dataset_for_model(case.model)
        if ds is None:
            raise NotPredictable(f"no input_tokens and {case.model} is not on an MLPerf data set this validator knows")
        if ds.name not in lengths.mean_input_tokens:
            raise NotPredictable(f"the calibration has no mean input length for MLPerf data set {ds.name}")
        mean_in = float(lengths.mean_input_tokens[ds.name])
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
    base = {"inputs": inputs, "outputs": outputs, "dataset": dataset, "beams": beams}
    if case.scenario == "single_stream" or case.metric == "batch_e2e_latency_ms":
        return Plan("static", concurrency=float(case.concurrency or 1), notes=tuple(notes), **base)
    if case.concurrency is not None:
        return Plan("closed_loop", concurrency=float(case.concurrency), notes=tuple(notes), **base)
    if case.scenario in ("fixed_length", "offline"):
        return Plan("max_throughput", notes=tuple(notes), **base)
    # server without a concurrency
    lim = stated_limits(case) or LatencyLimits()
    scaled = {
        "max_ttft_s": None if lim.ttft_s is None else lim.ttft_s / TTFT_P99_OVER_MEAN,
        "max_tpot_s": None if lim.tpot_s is None else lim.tpot_s / TPOT_P99_OVER_MEAN,
        "max_e2e_s": None if lim.e2e_s is None else lim.e2e_s / E2E_P99_OVER_MEAN,
    }
    rate = stated_load_per_s(case)
    if rate is not None and math.isfinite(rate):
        return Plan("open_loop", rate_per_s=rate, queue_wait=True, notes=tuple(notes),
                    analytic_notes=(f"open loop at the stated {rate:g} requests/s",), **scaled, **base)
    how: list[str] = []
    if any(v is not None for v in scaled.values()):
        how.append(f"p99 limits ({lim.source}) scaled to means: TTFT/{TTFT_P99_OVER_MEAN:g}, TPOT/{TPOT_P99_OVER_MEAN:g}")
    if rate is not None:
        how.append("stated request rate INF: saturation, maximum throughput")
    elif not any(v is not None for v in scaled.values()):
        how.append("server row with no concurrency, rate or limits: maximum throughput")
    return Plan("max_throughput", queue_wait=True, notes=tuple(notes), analytic_notes=tuple(how), **scaled, **base)


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
