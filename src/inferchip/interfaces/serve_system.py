"""The system ``serve`` and ``curve`` simulate: the setting resolved on one layout (``predict``'s where none is
given) and its serving step model (:func:`system`), the scheduler of the engine it runs (:func:`engine_config`), the
prompt length the engine's tokenisation is resolved for (:func:`mean_prompt_tokens`) and its layout in words."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from inferchip.errors import InternalError
from inferchip.interfaces.cli_options import engine as eng_opts
from inferchip.interfaces.cli_options import options as opts

if TYPE_CHECKING:
    from inferchip.mapping.layout import Layout
    from inferchip.performance.operating import OperatingPoint
    from inferchip.performance.question import Question
    from inferchip.performance.serving import ServingStepModel
    from inferchip.performance.setting import Setting
    from inferchip.sim.batching.scheduler import SchedulerConfig
    from inferchip.spec.calibration import Calibration
    from inferchip.spec.engine import EngineSpec, SchedulerCaps
    from inferchip.spec.engine.padding import PaddingLadder


def system(chip: str, model: opts.GivenModel, count: int, tp: int | None, pp: int | None, ep: int | None,
           weights: str | None, activations: str | None, kv: str | None, calibration: Calibration | str | None,
            assumptions: str | None, attn_dp: bool | None, input_tokens: int,
           output_tokens: int, engine: EngineSpec | None = None, chunk_tokens: int | None = None,
           searched_rows: bool = False, running_cap: int | None = None, concurrency: int | None = None,
           slo_s: tuple[float | None, float | None] = (None, None), rate_per_s: float | None = None,
           trace: Path | None = None, padding: PaddingLadder | None = None
           ) -> tuple[ServingStepModel, int, dict[str, str]]:
    """The resolved setting (one layout) and its serving step model: (step model, replicas, its formats and where
    the weights' came from: ``performance.serving.format_fields``; ``attention_source``: how ``engine`` runs the
    served checkpoint's attention, ``cli_options.engine.served_attention``, where it has an entry for it).

    With none of tp/pp/ep given the layout is ``predict``'s: the one with the most output tokens/s
    at ``input_tokens``/``output_tokens`` that fits (attention DP searched too unless given). ``chunk_tokens``: the
    prefill chunk per step and chip the memory fit keeps a step's activations for (None: 8,192). ``searched_rows``:
    search only the layouts a closed-loop case row runs (``serve_rows.row_layouts``). ``running_cap``: the
    running-batch cap per attention-DP rank the simulation admits (``cli_options.engine.EngineChoice.caps``), within
    which the search's concurrency stays (None: uncapped). ``padding``: the back end's compiled step shapes
    (``cli_options.engine.EngineChoice.padding_at``), set on the setting the layout search prices and the step model
    the simulation runs (resolved with the setting: ``resolve_setting``'s ``padding``; None: unpadded).
    ``slo_s``: (TTFT, TPOT) limits, s (``serve --slo-ttft-ms/--slo-tpot-ms``). A
    load, ``concurrency`` closed-loop clients (``serve --concurrency``), ``rate_per_s`` (``serve --rate``) or
    ``trace`` (``serve --trace``: its mean arrival rate and mean lengths, :func:`trace_load`), is one rule whatever
    the SLO: the layout that carries the load (clients held in memory; a rate at an unsaturated Little's-law point)
    and meets the SLO (where given; its mean TTFT and TPOT at the load) with the lowest mean end-to-end latency
    (``layout_choice.lowest_latency``; at C clients that is also the most throughput, requests/s = C / E2E); then,
    in order, the lowest latency among those that carry the load, the most throughput within the SLO, the most
    throughput. The fields' ``layout_rule`` says which rule chose it (where there were two or more candidate
    layouts)."""
    from dataclasses import replace

    from inferchip.performance.predict import ask, best_layout, predict_setting
    from inferchip.performance.serving import format_fields, serving_step
    from inferchip.performance.setting import resolve_setting

    if isinstance(running_cap, bool):  # the cap is a number of sequences (the flag it replaced read True)
        raise InternalError(f"running_cap {running_cap!r}: a number of sequences per rank is needed")
    attention = eng_opts.served_attention(engine, model, weights)
    rule = ""
    resolve = partial(resolve_setting, chip, model.spec, config=model.config, count=count, weights=weights,
                      activations=activations, kv=kv, calibration=calibration, assumptions=assumptions,
                      attention_weights=None if attention is None else attention[0],
                      attention_out_weights=None if attention is None else attention[1], chunk_tokens=chunk_tokens,
                      padding=padding)  # the run's step budget and its back end's padding, resolved with the setting
    if tp is None and pp is None and ep is None:
        searched = resolve(attn_dp=attn_dp)
        if searched_rows:
            from inferchip.interfaces.serve_rows import row_layouts

            searched = row_layouts(searched)
        # the search's concurrency stays within the running-batch cap the simulation then runs under (engine_config):
        # uncapped, a layout of few attention-DP ranks won on thousands of sequences the scheduler never admits
        # (DeepSeek-R1 on 8 B200: tp 2 pp 4 at 7,068 sequences, simulated at 512: 745 tok/s per chip against tp 8's
        # 2,393)
        rate, lengths = (rate_per_s, (input_tokens, output_tokens)) if trace is None else trace_load(trace)
        question = ask(*lengths)
        if running_cap is not None:
            question = replace(question, max_seqs_per_rank=float(running_cap))
        # the load asked for: Llama-3.1-70B on 8 H100 at 64 clients ran tp 1 pp 8, the best at ~1,000 sequences (111
        # tok/s per chip, TPOT 73 ms), where tp 8 runs 338 tok/s, TPOT 25 ms; the SLO asked for: at 2 requests/s with
        # TPOT <= 30 ms it ran tp 2 pp 2 (p99 TPOT 40 ms, no request within the SLO), where tp 8 meets it for all
        limited = [replace(question, max_ttft_s=slo_s[0], max_tpot_s=slo_s[1])] if slo_s != (None, None) else []
        found = None
        if concurrency or rate_per_s is not None or trace is not None:  # a load: one rule, any SLO
            loaded: Question | None
            if concurrency:
                load, rate = f"{concurrency:,} clients", None
                loaded = replace(question, mode="closed_loop", concurrency=float(concurrency))
            else:
                load = (f"{rate_per_s:g} requests/s" if trace is None else f"the trace's mean rate ({rate or 0:.3g} "
                        f"requests/s of {lengths[0]:,.0f}/{lengths[1]:,.0f} mean input/output tokens)")
                loaded = None if rate is None else replace(question, mode="open_loop", rate_per_s=rate)
            found, rule = (None, "") if loaded is None else _lowest_latency(searched, loaded, slo_s, load)
            if found is None:
                why = ("the trace states no arrival rate (one request, or all at one instant)" if loaded is None else
                       f"no layout holds {load} in memory" if concurrency else f"no layout carries {load}")
                within = " (within the SLO where a layout meets it)" if limited else ""
                rule = f"layout: the most output tokens/s{within}, as {why}"
            rule = rule if len(searched.layouts) > 1 else ""  # a note where there was a choice
        for q in () if found else (*limited, question):
            found = best_layout(searched, q)
            if found is not None:
                break
        if found is None:
            predict_setting(searched, question)  # raises the reason: does not fit, or no layout suits
        if found is None:
            raise InternalError("predict_setting raises where best_layout finds no layout")
        lay = found[0]
        tp, pp, ep, attn_dp = lay.tp, lay.pp, lay.ep, lay.attn_dp
    setting = resolve(tp=tp, pp=pp, ep=ep, attn_dp=attn_dp)
    fields = format_fields(setting)
    if rule:
        fields["layout_rule"] = rule
    if attention is not None:
        fields["attention_source"] = attention[2]
    step, replicas = serving_step(setting)
    return step, replicas, fields


def _lowest_latency(searched: Setting, q: Question, slo_s: tuple[float | None, float | None], load: str
                    ) -> tuple[tuple[Layout, OperatingPoint] | None, str]:
    """The lowest-latency layout that carries a question's load (an open loop's rate, a closed loop's clients) and
    meets the SLO, else the lowest-latency one that carries it (``layout_choice.lowest_latency``), and the rule that
    chose it in words; (None, "") where no layout carries the load."""
    from dataclasses import replace

    from inferchip.performance.layout_choice import lowest_latency

    carry = ("the most throughput there (requests/s = clients / E2E), among the layouts that hold them in memory"
             if q.mode == "closed_loop" else
             "among the layouts that carry it (each at its Little's-law load, within the running-batch cap)")
    rule = f"layout: the lowest mean end-to-end latency at {load}, {carry}"
    if slo_s != (None, None):
        met = lowest_latency(searched, replace(q, max_ttft_s=slo_s[0], max_tpot_s=slo_s[1]))
        if met is not None:
            return (met.layout, met.point), f"{rule} and meet the SLO by their mean TTFT and TPOT"
        rule += (", as none that holds them" if q.mode == "closed_loop" else ", as none that carries it") + \
            " meets the SLO by its mean TTFT and TPOT"
    found = lowest_latency(searched, q)
    return (None, "") if found is None else ((found.layout, found.point), rule)


def trace_load(trace: Path) -> tuple[float | None, tuple[float, float]]:
    """A trace's open-loop load: its mean arrival rate, requests/s (``n - 1`` gaps over the span from the first arrival
    to the last; None where it states none: one request, or all at one instant), and its mean input and output
    tokens."""
    from inferchip.sim import load_trace

    arrival, inp, out = load_trace(trace)
    span_s = float(arrival[-1] - arrival[0])
    rate = (len(arrival) - 1) / span_s if span_s > 0 else None
    return rate, (float(inp.mean()), float(out.mean()))


def engine_config(engine: EngineSpec | None, step: ServingStepModel, chunk_tokens: int, caps: SchedulerCaps
                  ) -> SchedulerConfig:
    """The scheduler of ``--engine`` (else the default engine record's, with no host time): its running-batch cap
    on the chip (``caps``, ``cli_options.engine.EngineChoice.caps``, resolved once) and prefill chunk
    (``chunk_tokens``: ``cli_options.engine.chunk_setting``'s) per attention-DP rank, on the step model's ranks
    (``serving_step`` resolved them), and its loop's intake per request in series with the steps
    (``request_intake_s``, as validate's closed-loop rows run it)."""
    from inferchip.sim.batching.scheduler import rank_scheduler

    cfg = rank_scheduler(step.ranks, caps.max_num_seqs, chunk_tokens)
    if engine is None:
        return cfg
    return cfg.model_copy(update={"request_intake_s": engine.request_intake_s})


def mean_prompt_tokens(trace: Path | None, input_tokens: int) -> float:
    """The prompt length (tokens) the engine's tokenisation time is resolved for: ``--input-tokens``, or a
    trace's mean prompt."""
    if trace is None:
        return input_tokens
    from inferchip.sim import load_trace

    return float(load_trace(trace)[1].mean())


def layout_text(step: ServingStepModel, replicas: int) -> str:
    lay = step.mm.layout
    return f"tp={lay.tp} pp={lay.pp} ep={lay.ep}{' attention-DP' if lay.attn_dp else ''}, {replicas} replica(s)"


LAYOUT_KEYS = ("tp", "pp", "ep", "attn_dp")
"""The JSON keys of the layout a ``serve``/``curve`` run simulated (flat, as the summary's; the replicas are
``num_replicas``)."""


def layout_keys(step: ServingStepModel) -> dict[str, int | bool]:
    """The layout the run simulated (the one the title's text names), under :data:`LAYOUT_KEYS` (the names of the
    ``--mtp``/``--disagg`` rows' ``layout`` and of ``predict``'s JSON)."""
    lay = step.mm.layout
    return {"tp": lay.tp, "pp": lay.pp, "ep": lay.ep, "attn_dp": bool(lay.attn_dp)}


def replicas_note(simulated: int, replicas: int) -> str | None:
    """What ``curve`` simulated where its replicas ran as one (:mod:`inferchip.sim.runs.curve`)."""
    if replicas == 1 or simulated != 1:
        return None
    return (f"{replicas} identical replicas under least-loaded routing: each point is one replica's run at "
            f"concurrency/{replicas} clients (one client below {replicas}), its totals times the busy replicas and "
            f"the idle ones' idle power added; the sweep runs 1, 2, 4, ... below {replicas}, then {replicas} x 1, 2, "
            "4, ... up to the memory limit or the running-batch cap")


def calibration_source(calibration: str | None) -> str:
    """``--calibration`` in words for serve's and curve's output (:func:`~inferchip.catalog.calibration_file.
    calibration_label`, as predict's): the shipped file, none, or the user's with what it was fitted on."""
    from inferchip.catalog.calibration_file import calibration_label

    return calibration_label(calibration)
