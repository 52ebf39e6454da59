"""The system ``serve`` and ``curve`` simulate: the setting resolved on one layout (``predict``'s where none is
given) and its serving step model (:func:`system`), the scheduler of the engine it runs (:func:`engine_config`, the
rule of ``Setting.scheduler``), the prompt length the engine's tokenisation is resolved for
(:func:`mean_prompt_tokens`) and its layout in words."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from inferchip.errors import InternalError
from inferchip.interfaces.cli_options import options as opts

if TYPE_CHECKING:
    from inferchip.performance.serving import ServingStepModel
    from inferchip.performance.setting import Setting
    from inferchip.sim.batching.scheduler import SchedulerConfig
    from inferchip.spec.calibration import Calibration
    from inferchip.spec.engine import EngineSpec, SchedulerCaps
    from inferchip.spec.engine.padding import PaddingLadder


def resolver(chip: str, model: opts.GivenModel, weights: str | None, activations: str | None, kv: str | None,
             calibration: Calibration | str | None, assumptions: str | None, engine: str | None = None,
             moe_kernel: str | None = None, chunk_tokens: int | None = None,
             padding: PaddingLadder | Literal["engine"] | None = "engine") -> Callable[..., Setting]:
    """``resolve(count=..., tp=..., ...)``: the setting ``serve``/``curve`` run at a count of chips and a layout, or
    every candidate layout where none of tp/pp/ep is given, with ``engine`` / ``moe_kernel`` (``--engine`` /
    ``--moe-kernel``) resolved as ``ic.serve(engine=, moe_kernel=)`` resolves them (``resolve_setting``: its
    calibration, step budget, padding and served attention formats). ``chunk_tokens``: the prefill chunk per step
    and chip (None: the engine's step budget on the chip); ``padding``: the back end's compiled step shapes
    (``"engine"``: the engine's, else the default engine's, at that budget), so the layout search prices the steps
    the simulation runs."""
    from inferchip.performance.setting import resolve_setting

    return partial(resolve_setting, chip, model.spec, config=model.config, weights=weights, activations=activations,
                   kv=kv, calibration=calibration, assumptions=assumptions, chunk_tokens=chunk_tokens,
                   padding=padding, engine=engine, moe_kernel=moe_kernel)


def step_fields(setting: Setting) -> tuple[ServingStepModel, int, dict[str, str]]:
    """A one-layout setting's (serving step model, replicas, its formats and where the weights' came from:
    ``performance.serving.format_fields``, with ``attention_source``: how the setting's engine runs the served
    checkpoint's attention, where it has an entry for it)."""
    from inferchip.performance.serving import format_fields, serving_step

    step, replicas = serving_step(setting)
    attention = None if setting.engine is None else setting.engine.attention
    fields = format_fields(setting)
    if attention is not None:
        fields["attention_source"] = attention[2]
    return step, replicas, fields


def system(chip: str, model: opts.GivenModel, count: int, tp: int | None, pp: int | None, ep: int | None,
           weights: str | None, activations: str | None, kv: str | None, calibration: Calibration | str | None,
           assumptions: str | None, attn_dp: bool | None, input_tokens: int,
           output_tokens: int, engine: str | None = None, chunk_tokens: int | None = None,
           searched_rows: bool = False, running_cap: int | None = None, concurrency: int | None = None,
           slo_s: tuple[float | None, float | None] = (None, None), rate_per_s: float | None = None,
           trace: Path | None = None, padding: PaddingLadder | Literal["engine"] | None = "engine",
           moe_kernel: str | None = None) -> tuple[ServingStepModel, int, dict[str, str]]:
    """The resolved setting (one layout) and its serving step model, as ``curve`` and the ``--mtp``/``--disagg``
    rows take it (``serve`` searches its layout with :class:`inferchip.performance.fleet.FleetQuestion`, which judges
    an SLO at its percentile by the candidates' runs): (step model, replicas, :func:`step_fields`'s fields).

    With none of tp/pp/ep given the layout is searched (attention DP too unless given): with a load,
    ``concurrency`` closed-loop clients or ``rate_per_s`` (or ``trace``'s mean rate and lengths,
    :func:`trace_load`), the first of :func:`inferchip.performance.fleet.candidates` (the lowest mean end-to-end
    latency among the layouts that carry it; where none does, the most output tokens/s), its rule in the fields'
    ``layout_rule`` where there were two or more candidates; without one, ``predict``'s layout at
    ``input_tokens``/``output_tokens`` (the most output tokens/s that fits, within ``slo_s``'s (TTFT, TPOT) limits
    by the analytic model's means where a layout meets them). ``searched_rows``: search only the layouts a
    closed-loop case row runs (``serve_rows.row_layouts``). ``running_cap``: the running-batch cap per attention-DP
    rank the simulation admits (``cli_options.engine.EngineChoice.caps``), within which the search's concurrency
    stays (None: uncapped). ``engine``, ``moe_kernel``, ``chunk_tokens``, ``padding``: :func:`resolver`'s."""
    from dataclasses import replace

    from inferchip.performance.fleet import candidates, served_load
    from inferchip.performance.predict import best_layout, predict_setting

    if isinstance(running_cap, bool):  # the cap is a number of sequences (the flag it replaced read True)
        raise InternalError(f"running_cap {running_cap!r}: a number of sequences per rank is needed")
    resolve = resolver(chip, model, weights, activations, kv, calibration, assumptions, engine, moe_kernel,
                       chunk_tokens, padding)
    rule = ""
    if tp is None and pp is None and ep is None:
        searched = resolve(count=count, attn_dp=attn_dp)
        if searched_rows:
            from inferchip.interfaces.serve_rows import row_layouts

            searched = row_layouts(searched)
        if concurrency or rate_per_s is not None or trace is not None:  # a load: the search serve runs
            rate, lengths = (rate_per_s, (input_tokens, output_tokens)) if trace is None else trace_load(trace)
            load = served_load(*lengths, concurrency=concurrency, rate_per_s=rate, running_cap=running_cap,
                               text=None if trace is None else trace_text(rate, lengths))
            layouts, why = candidates(searched, load)
            lay = layouts[0]
            rule = f"layout: {why}" if len(searched.layouts) > 1 else ""
        else:
            question = served_load(input_tokens, output_tokens, concurrency=None, rate_per_s=None,
                                   running_cap=running_cap).question
            limited = [replace(question, max_ttft_s=slo_s[0], max_tpot_s=slo_s[1])] if slo_s != (None, None) else []
            found = None
            for q in (*limited, question):
                found = best_layout(searched, q)
                if found is not None:
                    break
            if found is None:
                predict_setting(searched, question)  # raises the reason: does not fit, or no layout suits
                raise InternalError("predict_setting raises where best_layout finds no layout")
            lay = found[0]
        tp, pp, ep, attn_dp = lay.tp, lay.pp, lay.ep, lay.attn_dp
    step, replicas, fields = step_fields(resolve(count=count, tp=tp, pp=pp, ep=ep, attn_dp=attn_dp))
    if rule:
        fields["layout_rule"] = rule
    return step, replicas, fields


def trace_text(rate: float | None, lengths: tuple[float, float]) -> str:
    """A trace's load in words, as the layout rule names it."""
    return (f"the trace's mean rate ({rate or 0:.3g} requests/s of {lengths[0]:,.0f}/{lengths[1]:,.0f} mean "
            "input/output tokens)")


def trace_load(trace: Path) -> tuple[float | None, tuple[float, float]]:
    """A trace's open-loop load: its mean arrival rate, requests/s (``n - 1`` gaps over the span from the first arrival
    to the last; None where it states none: one request, or all at one instant), and its mean input and output
    tokens."""
    from inferchip.sim import load_trace

    arrival, inp, out = load_trace(trace)
    span_s = float(arrival[-1] - arrival[0])
    rate = (len(arrival) - 1) / span_s if span_s > 0 else None
    return rate, (float(inp.mean()), float(out.mean()))


def shortest_trace_prompt(trace: Path) -> float:
    """A trace's shortest prompt, tokens: the context no decoding sequence of its run is below (the capacity
    bound's, :mod:`inferchip.performance.serving.capacity`)."""
    from inferchip.sim import load_trace

    return float(load_trace(trace)[1].min())


def engine_config(engine: EngineSpec | None, step: ServingStepModel, chunk_tokens: int, caps: SchedulerCaps
                  ) -> SchedulerConfig:
    """The scheduler of ``--engine`` (else the default engine record's, with no host time) on the step model's ranks
    (``serving_step`` resolved them): :func:`~inferchip.performance.setting.engine.engine_scheduler`, the rule
    ``Setting.scheduler`` (``ic.serve``'s, ``serve``'s) runs, for ``curve``, which holds the step model."""
    from inferchip.performance.setting.engine import engine_scheduler

    return engine_scheduler(engine, step.ranks, caps, chunk_tokens)


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
