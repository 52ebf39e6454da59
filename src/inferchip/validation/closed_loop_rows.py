"""A closed-loop row predicted by the :class:`~inferchip.validation.validate.Validator`: its facts
(:func:`~inferchip.validation.closed_loop_facts.row_facts`), the workers' mapped models under the
engine's calibration, one simulated benchmark shared by the row's throughput, TTFT and TPOT
rows, and by every nightly repeat of the same configuration. The engine replicas (mapped model
and step-time cache) kept are bounded, so memory stays flat over thousands of rows."""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from inferchip.catalog.engines import (
    engine_calibration,
    family_kernel_calibration,
    get_engine,
    kernel_engine,
    recipe_moe_kernel_entry,
    request_host_time,
)
from inferchip.cost.context import attention_format, prefill_attention_format_of
from inferchip.cost.gemm import expert_stream_cap_bytes_per_s
from inferchip.errors import (
    OPTIONS,
    DoesNotFitError,
    InferchipError,
    InternalError,
    InvalidSettingError,
    SpecError,
    spelled,
)
from inferchip.mapping.layout import Layout
from inferchip.performance.mapped import DEFAULT_CHUNK_TOKENS
from inferchip.performance.operating import OperatingPoint
from inferchip.performance.setting import resolve_setting
from inferchip.sim.engines import BenchFigures
from inferchip.spec.engine.workers import recipe_worker
from inferchip.spec.params import device_params
from inferchip.validation.cases import Case
from inferchip.validation.closed_loop import (
    SIM_ROUNDS,
    EngineReplica,
    closed_loop_value,
    num_requests,
    prompt_mean_tokens,
    simulate_closed_loop,
)
from inferchip.validation.closed_loop_facts import PROMPTS_PER_CLIENT, RowFacts, Worker, check_span, row_facts
from inferchip.validation.plan import NotPredictable
from inferchip.validation.results import (
    CaseResult,
    error_result,
    in_pool_terms,
    in_row_terms,
    in_worker_terms,
    worker_columns,
)
from inferchip.workload.limits import MAX_REQUESTS

REPLICAS_KEPT = 6  # engine replicas (mapped model + step-time cache) kept per validator


def _lru(v: Any, name: str, size: int) -> OrderedDict[Any, Any]:
    cache: OrderedDict[Any, Any] = v.closed_loop_cache.setdefault(name, OrderedDict())
    while len(cache) > size:
        cache.popitem(last=False)
    return cache


def _moe_stream_cap_bytes_per_s(moe: Any, chip: Any) -> float:
    """The recipe expert kernel's read cap on ``chip`` (its SM count x the entry's per-SM rate,
    cost.gemm.expert_stream_cap_bytes_per_s), inf where the entry states no rate; a rate on a chip whose file
    states no SM count is refused."""
    if moe is None or moe.read_gb_per_s_per_sm is None:
        return float("inf")
    if not chip.sm_count:
        raise SpecError(f"recipe_moe_kernel {moe.kernel} on {chip.id}: a per-SM read rate needs the chip file's "
                        f"compute.sm_count, which {chip.id} does not state")
    return expert_stream_cap_bytes_per_s(chip.sm_count, moe.read_gb_per_s_per_sm)


def _context_mla_fp8(fmt: Any, facts: RowFacts, family: str) -> bool:
    """Whether the row's prefill (context) workers run MLA context attention in FP8 over the row's FP8 KV cache: their
    ``prefill_worker_scheduling`` entry lists the chip's family in ``mla_context_fp8_families``."""
    pw = facts.prefill_scheduling()
    return fmt.kv == "fp8" and pw is not None and family in pw.mla_context_fp8_families


def _replica(v: Any, case: Case, fmt: Any, worker: Worker, facts: RowFacts) -> tuple[EngineReplica, Layout, list[str]]:
    layout, notes = worker.layout()
    cache = _lru(v, "replicas", REPLICAS_KEPT)
    # a disaggregated row's decode workers: whether their recipe's expert dispatch routes the graphs' padded rows
    routed = facts.prefill is None or worker is facts.prefill or facts.engine.decode_worker_on(
        case.software, fmt.weights, int(case.input_tokens or 0), facts.decode_workers,
        facts.prefill_workers).padded_rows_routed
    # the row's software selects recipe facts (worker engine, kernel formats): two rows differing only in it differ
    key = (case.accelerator, case.model, case.software.lower(), fmt, layout, facts.engine.id, facts.mtp,
           facts.engine.mtp_draft_tokens, facts.prefill is None, routed)
    if key in cache:  # the replica's notes (recipe memory, codec, span) as its first row had them
        cache.move_to_end(key)
        return cache[key][0], layout, list(cache[key][1])
    cals = v.closed_loop_cache.setdefault("cals", {})
    keff = facts.engine.kernel_efficiency_on(case.accelerator, fmt.weights, int(case.input_tokens or 0),
                                             facts.prefill_workers)
    kernels = kernel_engine(facts.engine, case.software)
    # the row counts GPUs as its engine does: a worker of an MI250X runs on GCDs, one device's parameters each
    cp, ms = device_params(v.chip(case.accelerator), layout.chips_per_replica), v.model(case.model)
    hit = None if facts.prefill is not None else recipe_moe_kernel_entry(  # the one record of its padding
        facts.engine, case.accelerator, fmt.weights, cp.family,
        f"line {case.line} ({case.case_id}): the launch recipe's expert kernel (recipe_moe_kernel) on {cp.id}")
    moe, pads = (None, None) if hit is None else hit
    cap_bytes_per_s = _moe_stream_cap_bytes_per_s(moe, cp)
    fp8_mla = ms.attention == "mla" and worker is facts.prefill and _context_mla_fp8(fmt, facts, cp.family)
    # what the calibration below is a function of: the engine, the engine whose kernels run, their recipes, the family
    cal_key = (facts.engine.id, kernels.id, moe, pads, keff, cap_bytes_per_s, cp.family, fp8_mla)
    if cal_key not in cals:  # the engine's kernel choices on this chip family (family_kernel_calibration)
        cal = family_kernel_calibration(engine_calibration(v.cal, facts.engine, keff, case.software), kernels,
                                        cp.family).model_copy(update={"mla_prefill_attention_fp8_kv": fp8_mla})
        if moe is not None and pads is not None:  # the recipe's expert kernel: its MMA at a share of the peak
            cal = cal.model_copy(update={"moe_mma_peak_fraction": moe.mma_peak_fraction,
                                         "moe_stream_cap_bytes_per_s": cap_bytes_per_s,
                                         "moe_pad_hidden_to": pads.pad_hidden_to,  # its weight layout's widths
                                         "moe_pad_intermediate_to": pads.pad_intermediate_to,
                                         "moe_activations": pads.activations})  # as case_formats read it
        cals[cal_key] = cal
    pool = None if facts.prefill is None else "prefill" if worker is facts.prefill else "decode"
    notes = notes + check_span(layout, cp.max_scaleup_domain, cp.id,
                               f"line {case.line} ({case.case_id}), {worker_columns(case, pool)}")
    try:  # a refusal of the row's layout names its line and columns, not the CLI's options (in_row_terms reads
        with spelled(OPTIONS):  # them in the options' spelling, whichever interface runs the rows)
            setting = resolve_setting(cp, ms, count=layout.chips_per_replica, weights=fmt.weights,
                                      activations=fmt.activations, kv=fmt.kv, tp=layout.tp, pp=layout.pp,
                                      ep=layout.ep, attn_dp=layout.attn_dp, calibration=cals[cal_key],
                                      attention_weights=fmt.attention_weights,
                                      attention_out_weights=fmt.attention_out_weights,
                                      chunk_tokens=DEFAULT_CHUNK_TOKENS,  # the chunk these rows are validated at
                                      padding=None)  # the row's engine pads its own steps (closed_loop.EngineReplica)
    except InferchipError as exc:  # a disaggregated row's workers are the notes' pools, not the tp/ep columns
        raise (in_row_terms(case, exc) if pool is None else in_pool_terms(case, exc, pool)) from None
    if fmt.attention_q_b_weights is not None:  # the launch recipe's q_b format (case_formats), not a CLI option
        setting = replace(setting, formats=replace(setting.formats, attention_q_b_weights=fmt.attention_q_b_weights),
                          _mapped={})
    mm = setting.mapped(setting.layout)
    static = facts.engine.memory_fraction_on(case.accelerator, fmt.weights, layout.tp)
    codec = facts.engine.all_reduce_codec_on(case.accelerator, fmt.weights) if facts.prefill is None else ""
    if mm.chunk_tokens != facts.engine.chunk_tokens or static is not None or codec:
        mm = replace(mm, chunk_tokens=facts.engine.chunk_tokens, static_memory_fraction=static,
                     formats=replace(mm.formats, all_reduce=codec))
    if codec:
        notes = notes + [f"tensor-parallel all-reduces from the codec's smallest message up run the launch recipe's "
                         f"QuickReduce {codec.upper()} (ROCM_QUICK_REDUCE_QUANTIZATION)"]
    pre_fmt = prefill_attention_format_of(mm.formats, cals[cal_key])
    if pre_fmt != attention_format(mm.formats) and not fp8_mla:
        notes = notes + [f"prefill attention in {pre_fmt}: the engine's context attention is FP8 only "
                         f"for quantised attention projections (context_attention_follows_projections)"]
    if fp8_mla:
        notes = notes + ["MLA context attention in FP8 over the FP8 KV cache: the context workers' engine build "
                         f"quantises Q, K and V on {cp.family} (prefill_worker_scheduling mla_context_fp8_families)"]
    if cals[cal_key].mla_prefill_attention_16bit and ms.attention == "mla" and pre_fmt not in ("bf16", "fp16"):
        notes = notes + [f"MLA prefill attention in bf16: engine {kernels.id}'s MLA extend path runs 16-bit flash "
                         f"attention on {cp.family} (mla_prefill_16bit_families)"]
    if moe is not None and pads is not None:
        cap = (f", their reads at most {cap_bytes_per_s / 1e12:.3g} TB/s ({cp.sm_count:g} SMs x "
               f"{moe.read_gb_per_s_per_sm:g} GB/s)" if moe.read_gb_per_s_per_sm else "")
        pad = (f", widths padded to multiples of {pads.pad_hidden_to} (hidden) and {pads.pad_intermediate_to} "
               f"(intermediate per rank)" if pads.pad_hidden_to > 1 or pads.pad_intermediate_to > 1 else "")
        notes = notes + [f"expert GEMMs run the launch recipe's {moe.kernel} kernels, their MMA at "
                         f"{moe.mma_peak_fraction:.3g} of the tensor-core peak{cap}{pad}"]
    if not routed:
        notes = notes + ["decode steps priced at their real rows: the launch recipe's expert dispatch routes no "
                         "CUDA-graph padding row (engines.yaml decode_worker padded_rows_routed)"]
    if static is not None:
        notes = notes + [f"KV pool from the launch recipe's static memory fraction {static:g} of the usable memory "
                         f"(weights + KV; activations outside): {mm.kv_capacity_tokens():,} tokens per replica"]
    try:  # weights that leave no KV cache: refused naming what sets the worker, not the engine's wording alone
        rep = EngineReplica(mm, facts.engine, facts.mtp, kernels, routed)
    except DoesNotFitError as exc:
        raise in_worker_terms(case, exc, layout, pool) from None
    cache[key] = (rep, notes)
    _lru(v, "replicas", REPLICAS_KEPT)
    return rep, layout, list(notes)


def with_prefill_scheduling(case: Case, weights: str, facts: RowFacts) -> RowFacts:
    """The row's facts with its prefill workers' ``prefill_worker_scheduling`` entry on ``weights`` looked up, once
    (:meth:`~inferchip.spec.engine.EngineSpec.prefill_worker`; :meth:`RowFacts.prefill_scheduling` reads it); an
    aggregated row's as they are."""
    if facts.prefill is None:
        return facts
    return replace(facts, prefill_lookup=(facts.engine.prefill_worker(case.software, weights, facts.prefill_workers,
                                                                     int(case.input_tokens or 0)),))


def recipe_workers(case: Case, weights: str, facts: RowFacts) -> tuple[RowFacts, list[str]]:
    """The row's facts with its prefill and decode workers as the launch recipe runs them: the engine's matching
    ``prefill_worker_scheduling`` (looked up here, :func:`with_prefill_scheduling`) and ``decode_worker`` entries'
    ``attention_dp`` (:func:`~inferchip.spec.engine.workers.recipe_worker`), with a note for each worker that differs
    from the row's."""
    facts = with_prefill_scheduling(case, weights, facts)
    if facts.prefill is None:
        return facts, []
    eng = facts.engine
    pw = facts.prefill_scheduling()
    dw = eng.decode_worker_on(case.software, weights, int(case.input_tokens or 0), facts.decode_workers,
                              facts.prefill_workers)
    notes: list[str] = []
    for role, entry, recipe in (("prefill", "prefill_worker_scheduling", None if pw is None else pw.attention_dp),
                                ("decode", "decode_worker", dw.attention_dp)):
        w = facts.prefill if role == "prefill" else facts.decode
        if w is None:
            raise InternalError(f"row_facts names a {role} pool for every disaggregated row")
        tp, ep, dpa = recipe_worker(w.chips, w.tp, w.ep, w.dpa, recipe)
        if (tp, ep, dpa) == (w.tp, w.ep, w.dpa):
            continue
        new = Worker(w.chips, tp, ep, dpa)
        facts = replace(facts, prefill=new) if role == "prefill" else replace(facts, decode=new)
        notes.append(f"{role} workers as the launch recipe runs them (engines.yaml {entry} attention_dp): "
                     f"TP{tp}/EP{ep}, attention DP {str(dpa).lower()}; the row states TP{w.tp}/EP{w.ep}, "
                     f"DP-attention {str(w.dpa).lower()}")
    return facts, notes


def most_clients(prompts_per_client: int) -> int:
    """The most clients whose simulated run (:func:`~inferchip.validation.closed_loop.num_requests`: at most
    ``SIM_ROUNDS`` rounds of them, fewer where each sends fewer prompts) stays within the simulator's
    ``MAX_REQUESTS`` requests per run."""
    return MAX_REQUESTS // max(1, min(prompts_per_client, SIM_ROUNDS))


def predict_closed_loop(v: Any, case: Case, case_formats: Callable[[Case], tuple[Any, list[str]]]) -> CaseResult:
    """The row's value from its simulated benchmark, or why there is none (``case_formats``: the
    validator's reading of the row's number formats)."""
    try:
        engine = getattr(v, "engine_spec", None)
        if engine is None and v.engine is not None:
            engine = get_engine(v.engine)
        facts = row_facts(case, engine)
        if getattr(v, "kv_link", None) is not None:
            facts = replace(facts, kv_link=v.kv_link)
        if getattr(v, "recipe_mtp", None) is not None:  # serve --mtp 0: the MTP row's launch recipe
            facts = replace(facts, recipe_mtp=v.recipe_mtp)
        most = most_clients(facts.prompts_per_client)
        if case.concurrency and case.concurrency > most:  # the requests it simulates (num_requests), not the bench's
            sim_n = num_requests(int(case.concurrency), facts.prompts_per_client)[1]
            raise InvalidSettingError(f"line {case.line} ({case.case_id}), column concurrency: {case.concurrency:,} "
                                      f"clients need {sim_n:,} simulated requests, more than the simulator's "
                                      f"{MAX_REQUESTS:,} per run; allowed: at most {most:,}")
        fmt, notes = case_formats(case)
        if engine is None and not case.software.strip():
            notes = [*notes, f"column software is blank: the engine catalogue's default, {facts.engine.id}, assumed "
                             "(--engine chooses another)"]
        elif engine is not None and getattr(v, "engine_spec", None) is None:  # serve's engine: its own notes
            notes = [*notes, f"engine {engine.id} from --engine (the row's software: {case.software or 'blank'})"]
        facts, rnotes = recipe_workers(case, fmt.weights, facts)
        notes = [*notes, *rnotes]
        dec, layout, dnotes = _replica(v, case, fmt, facts.decode, facts)
        reps = {"decode": dec}
        notes += dnotes
        if facts.prompts_per_client != PROMPTS_PER_CLIENT:
            notes += [f"engine {facts.engine.id}: the launch harness sends {facts.prompts_per_client} prompts per "
                      "client (engines.yaml run_length)"]
        if facts.prefill is not None:
            pre, _, pnotes = _replica(v, case, fmt, facts.prefill, facts)
            reps["prefill"] = pre
            notes += [f"prefill: {n}" for n in pnotes]
        runs = v.closed_loop_cache.setdefault("runs", {})  # figures are small: kept for every configuration
        key = (case.accelerator, case.model, case.software.lower(), fmt, facts, case.concurrency, case.input_tokens,
               case.output_tokens)
        weights = dec.mm.formats.weights  # what the replica runs: the engine's request path is keyed on it
        prompt = prompt_mean_tokens(case.input_tokens) if case.input_tokens else 0
        host = request_host_time(facts.engine, prompt, case.accelerator, weights, case.software,
                                 case.model)  # resolved once: the simulation and the record use it
        if key not in runs:
            runs[key] = simulate_closed_loop(case, facts, reps, case.num_accelerators, host)
        fig, run_notes = runs[key]
    except InferchipError as exc:
        return error_result(case, exc)
    value = closed_loop_value(case, fig)
    if not math.isfinite(value):  # e.g. a TPOT of runs whose requests all have one output token: no gap to time
        return error_result(case, NotPredictable(
            f"line {case.line}, column output_tokens: value {case.output_tokens:g}: the simulated benchmark gives no "
            f"{case.metric} (a TPOT needs requests of 2 or more output tokens; lengths are drawn in [0.8 L, L])"))
    workers = facts.decode_workers
    point = _point(fig, workers)
    lay = Layout(layout.tp, layout.pp, layout.ep, workers, layout.attn_dp)
    eng = facts.engine
    worker = get_engine(host.worker) if host.worker else None
    path = eng.request_path(case.accelerator, weights, case.software, case.model)
    own = 0.0 if path is None or path.overhead_s is None else path.overhead_s
    sim = {"kind": "closed_loop", **fig.as_dict(), "engine": eng.id, "step_overhead_s": eng.step_overhead_s,
           "request_overhead_s": host.request_s - own,  # a path entry's own time stays in the TTFT as run (not refit)
           "recipe_request_own_s": own,
           # on top of request_overhead_s, not a fitted host time (closed_loop.simulate_closed_loop)
           "tokenize_s": host.tokenize_s,
           "recipe_request_path": path is not None and path.overhead_s is None,  # eng.on_request_path, looked up once
           "recipe_request_overhead_s": eng.recipe_request_overhead_s,
           "worker_engine": host.worker,  # request path crossed too (its time below)
           "worker_request_overhead_s": host.worker_s,
           "worker_recipe_request_path": worker is not None and worker.on_request_path(case.accelerator, weights,
                                                                                     case.software, case.model),
           "kernel_efficiency": eng.kernel_efficiency.model_dump(),
           "tokens_per_step": eng.mtp_tokens_per_step() if facts.mtp else 1.0,
           "prompts_per_client": facts.prompts_per_client}
    return CaseResult(case, "ok", "", value, lay, point, notes + list(run_notes), "sim", {"sim": value}, sim)


def _point(fig: BenchFigures, workers: int) -> OperatingPoint:
    return OperatingPoint(batch=fig.running_mean, ttft_s=fig.ttft_s, tpot_s=fig.tpot_s, e2e_s=fig.e2e_s,
                          tokens_per_s_replica=fig.output_tokens_per_s / max(workers, 1))
