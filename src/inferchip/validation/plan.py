"""Plans of the validation cases and their analytic evaluation on one parallel layout.

Each case (:mod:`inferchip.validation.cases`) becomes a :class:`Plan`: the lengths (fixed, or
an MLPerf data set's spread), the load (maximum throughput, a closed loop of
``concurrency`` requests, an open loop at a stated request rate, or a static batch) and the
latency limits. :func:`operating_point` (:mod:`inferchip.performance.operating`, the one solver that
``predict`` uses too) evaluates a plan on one mapped model with the steady-state step cost
(the *analytic* model); :func:`metric_value` converts an operating point to the row's metric. The serving
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
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TYPE_CHECKING, TypedDict

from inferchip.catalog.engines import engine_for_software, row_engine
from inferchip.errors import InferchipError
from inferchip.mapping.layout import Layout
from inferchip.mapping.memory_fit import Formats
from inferchip.performance.operating import (  # the one operating-point solver (re-exported)
    LENGTH_POINTS,
    LENGTH_SIGMA,
    QUEUE_WAIT_STEPS,
    LengthDist,
    OperatingPoint,
    Question,
    max_concurrency,
    operating_point,
    steady_state,
)
from inferchip.performance.setting import format_choice
from inferchip.spec.calibration import DatasetLengths
from inferchip.spec.chip import ChipParams
from inferchip.validation.case_notes import decode_worker_chips, stated_limits, stated_load_per_s, states_dp_balance
from inferchip.validation.cases import DATASETS, MLPERF_DATASETS, Case, LatencyLimits, case_dataset
from inferchip.workload.datasets import mean_input_of

if TYPE_CHECKING:
    from inferchip.catalog.models import UserConfig

__all__ = ["E2E_P99_OVER_MEAN", "LENGTH_POINTS", "LENGTH_SIGMA", "QUEUE_WAIT_STEPS", "TPOT_P99_OVER_MEAN",
           "TTFT_P99_OVER_MEAN", "LengthDist", "NotPredictable", "OperatingPoint", "Plan", "max_concurrency",
           "metric_value", "operating_point", "plan_for", "steady_state"]

TTFT_P99_OVER_MEAN = 2.5  # p99/mean of TTFT under Poisson load (median of the Server rows' notes: 1.6-3.2)
TPOT_P99_OVER_MEAN = 1.15  # p99/mean of TPOT (Server rows' notes: 1.02-1.38)
E2E_P99_OVER_MEAN = 1.2  # p99/mean of end-to-end latency (assumption, GPT-J Server)


# ------------------------------------------------------------------ plans
@dataclass(frozen=True)
class Plan(Question):
    """What to evaluate for a case (lengths, load, limits), independent of the layout: the
    solver's :class:`~inferchip.performance.operating.Question` with where it came from.
    ``concurrency`` is system-wide; limits are on the MEAN (p99 limits already scaled)."""

    dataset: str | None = None
    notes: tuple[str, ...] = ()
    analytic_notes: tuple[str, ...] = ()  # how the analytic model reads the load and limits (not the simulator)


class _Lengths(TypedDict):
    """The lengths every plan of one case shares (:func:`plan_for`)."""

    inputs: LengthDist
    outputs: LengthDist
    dataset: str | None
    beams: int


class _MeanLimits(TypedDict):
    """A server row's p99 limits scaled to means, seconds (None: no limit; :func:`plan_for`)."""

    max_ttft_s: float | None
    max_tpot_s: float | None
    max_e2e_s: float | None


class NotPredictable(InferchipError):
    """A row whose setting lacks something the prediction needs."""


def plan_for(case: Case, lengths: DatasetLengths) -> Plan:
    """The plan of a case (MLPerf rows: the mean input length of their data set from ``lengths``), its attention-DP
    prompts balanced over the ranks where the row's engine or notes say so (:func:`balances_dp_prompts`)."""
    plan = _plan_for(case, lengths)
    return replace(plan, dp_prompts_balanced=True) if balances_dp_prompts(case) else plan


def balances_dp_prompts(case: Case) -> bool:
    """Whether the row's engine holds new prompts until every attention-DP rank has one: its notes state a
    TensorRT-LLM balance (``adp_balancing_*``, ``enable_balance true``) or its software is an engine whose record has
    ``attention_dp_balance`` (TensorRT-LLM's)."""
    if states_dp_balance(case):
        return True
    engine = engine_for_software(case.software)  # None: blank or no engine (the default's has no balance)
    return engine is not None and engine.attention_dp_balance is not None


def _plan_for(case: Case, lengths: DatasetLengths) -> Plan:
    notes: list[str] = []
    dataset = None
    ds = case_dataset(case) if case.scenario in ("offline", "server") else None
    if ds is not None and case.input_tokens is None:
        stated = mean_input_of(ds, lengths.mean_input_tokens)
        if stated is None:
            raise NotPredictable(f"the calibration has no mean input length for data set {ds.name}")
        mean_in = stated
        mean_out = case.output_tokens or ds.default_output_tokens
        if mean_out is None:
            raise NotPredictable(f"no output_tokens and no reference output length for data set {ds.name}")
        if case.output_tokens is None:
            notes.append(f"output length not given: {mean_out:g} tokens assumed ({ds.citation})")
        inputs = LengthDist.lognormal(mean_in, ds.max_input_tokens)
        outputs = LengthDist.lognormal(mean_out, ds.max_output_tokens)
        kind = "MLPerf " if ds.name in MLPERF_DATASETS else "data set "
        whose = "stated" if ds.mean_input_tokens is not None else "calibration"
        notes.append(f"{kind}{ds.name}: mean input {mean_in:.0f} tokens ({whose}), lognormal spread")
        dataset = ds.name
        if ds.beams > 1:
            notes.append(f"beam search of width {ds.beams}: {ds.beams} sequences decode per sample, one prefill")
    else:
        if case.input_tokens is None or case.output_tokens is None:
            raise NotPredictable(f"scenario {case.scenario} needs input_tokens and output_tokens")
        inputs, outputs = LengthDist.fixed(case.input_tokens), LengthDist.fixed(case.output_tokens)
    beams = DATASETS[dataset].beams if dataset is not None else 1
    base: _Lengths = {"inputs": inputs, "outputs": outputs, "dataset": dataset, "beams": beams}
    if case.scenario == "single_stream" or case.metric == "batch_e2e_latency_ms":
        return Plan("static", concurrency=float(case.concurrency or 1), notes=tuple(notes), **base)
    if case.concurrency is not None:
        return Plan("closed_loop", concurrency=float(case.concurrency), notes=tuple(notes), **base)
    if case.scenario in ("fixed_length", "offline"):
        return Plan("max_throughput", notes=tuple(notes), **base)
    # server without a concurrency
    lim = stated_limits(case) or LatencyLimits()
    scaled: _MeanLimits = {
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
        how.append(f"p99 limits ({lim.source}) scaled to means: TTFT/{TTFT_P99_OVER_MEAN:g}, "
                   f"TPOT/{TPOT_P99_OVER_MEAN:g}")
    if rate is not None:
        how.append("stated request rate INF: saturation, maximum throughput")
    elif not any(v is not None for v in scaled.values()):
        how.append("server row with no concurrency, rate or limits: maximum throughput")
    return Plan("max_throughput", queue_wait=True, notes=tuple(notes), analytic_notes=tuple(how), **scaled, **base)


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


# ------------------------------------------------------------------ what a row is


def _chip_or_none(case: Case) -> ChipParams | None:
    """The row's chip (to default the formats of 4-bit float weights on a chip without 4-bit units);
    None for an unknown chip, which the row's prediction reports."""
    return _chip_params(case.accelerator)


@lru_cache(maxsize=64)
def _chip_params(accelerator: str) -> ChipParams | None:
    from inferchip.catalog.chips import get_chip_params

    try:
        return get_chip_params(accelerator)
    except InferchipError:
        return None


def case_formats(case: Case, config: UserConfig | None = None) -> tuple[Formats, list[str]]:
    """Formats of a row and the notes on how they were chosen, by ``predict``'s one rule
    (:func:`~inferchip.performance.setting.format_choice`): the checkpoint's per-layer map, W4A16 on a chip
    without 4-bit float units, 4-bit float activations (NVFP4/MXFP4 W4A4, as the README's MLPerf Blackwell and
    MI355X rows state) with the GEMMs at the 4-bit peak and attention at 16 bit, KV as given (fp8 by default).
    ``config``: the user's config.json the row's model was read from, as read (serve's ``--model``)."""
    if case.weight_dtype is None:
        raise NotPredictable("weight_dtype is blank: the number format of the weights is unknown")
    chip = _chip_or_none(case)
    fmt, _, notes = format_choice(case.weight_dtype, case.act_dtype, case.kv_dtype, None, chip=chip,
                                  model_id=case.model, config=config,
                                  expert_activations=_recipe_expert_activations(case, chip))
    return _served_checkpoint_attention(case, fmt, notes)


def _recipe_expert_activations(case: Case, chip: ChipParams | None) -> str | None:
    """The activations the expert kernel of the row's launch recipe takes (its engine's ``recipe_moe_kernel`` entry
    for the chip and weights, read in the ``moe_kernels`` entry it names, as ``closed_loop_rows`` reads its
    padding), the default of a blank ``act_dtype``; None without such an entry."""
    from inferchip.catalog.engines import engine_for_software, recipe_moe_kernel_entry

    engine = engine_for_software(case.software)
    if engine is None or chip is None:
        return None
    hit = recipe_moe_kernel_entry(engine, case.accelerator, (case.weight_dtype or "").lower(), chip.family,
                                  f"line {case.line} ({case.case_id}): the launch recipe's expert kernel")
    return None if hit is None else hit[1].activations


def _served_checkpoint_attention(case: Case, fmt: Formats, notes: list[str]) -> tuple[Formats, list[str]]:
    """``fmt`` with the attention projections as the engine the row's ``software`` names runs the checkpoint its
    notes name (:func:`~inferchip.mapping.format_defaults.served_attention`, the rule predict/serve/curve apply),
    with the chips of a disaggregated row's decode worker (its notes' pools) as the launch recipe's layout."""
    from inferchip.catalog.engines import engine_for_software
    from inferchip.mapping.format_defaults import served_attention

    engine = engine_for_software(case.software)
    got = served_attention(engine, case.software, case.model, fmt.weights, case.notes, decode_worker_chips(case))
    if got is None:
        return fmt, notes
    attn, out, q_b, note = got
    fmt = replace(fmt, attention_weights=None if attn == fmt.weights else attn, attention_out_weights=out,
                  attention_q_b_weights=q_b)
    return fmt, [*notes, note]


def _needs_ttft(case: Case) -> bool:
    return case.metric in ("ttft_ms", "batch_e2e_latency_ms")


def is_closed_loop(case: Case) -> bool:
    """A closed-loop serving row: scenario server with a concurrency and stated lengths."""
    return (case.scenario == "server" and case.concurrency is not None and case.input_tokens is not None
            and case.output_tokens is not None)


def uses_simulator(case: Case, plan: Plan) -> bool:
    """Server rows without a concurrency: MLPerf Server/Interactive, or an open loop at a stated rate; and
    :func:`offline_by_use` rows."""
    return (case.scenario == "server" and case.concurrency is None and plan.mode in ("max_throughput", "open_loop")
            or offline_by_use(case, plan))


def offline_by_use(case: Case, plan: Plan) -> bool:
    """An Offline max-throughput row whose engine admits by use (``EngineSpec.admission_by_use`` of its software:
    vLLM; TensorRT-LLM under NVIDIA's MLPerf harness, max_util): predicted by the simulated Offline run
    (validation/server.py), whose scheduler pauses and recomputes as those engines do."""
    if case.scenario != "offline" or plan.mode != "max_throughput":
        return False
    engine = row_engine(case.software, f"line {case.line} ({case.case_id})")
    return engine is not None and engine.admission_by_use(case.software)


def run_plan(plan: Plan) -> Plan:
    """The plan whose best layout a run's metric rows share: a latency row measured at a stated
    load (an open loop) belongs to the run whose throughput row asks the most throughput under
    the same limits, so it takes that plan's layout. Notes (where the limits were read) do not
    part a run."""
    if plan.mode != "open_loop":
        return replace(plan, notes=(), analytic_notes=())
    return replace(plan, mode="max_throughput", rate_per_s=None, notes=(), analytic_notes=())
