"""The system a served load runs on and the fewest chips that meet an SLO: one search for ``inferchip serve`` (with
and without ``--find-count``) and the Python API (``ic.find_count``), which differ only in how they resolve a setting
(the CLI's ``--engine``, calibration and padding) and run it (the CLI's progress bar and engine host time).

**A count's layout** (:meth:`FleetQuestion.run`): the layout given, or, with none of tp/pp/ep given, searched among
the setting's candidates. The analytic model orders the candidates that carry the load (a closed loop's clients held
in memory, an open loop's rate at an unsaturated Little's-law point) by their mean end-to-end latency (at C clients
also the most throughput, requests/s = C / E2E; :func:`~inferchip.performance.layout_choice.carrying`). Without an
SLO the first is run. With an SLO the analytic model cannot judge it: it prices means and has no spread, while the
verdict reads the run's per-request TTFT and TPOT at the statistic the user named (p99 by default). So the candidates
are run in that order, at most :data:`MAX_LAYOUT_RUNS` of them, and the first whose run meets the SLO at that
statistic is the count's layout (the same run the verdict then reads); where none of those run meets it, the first
(the lowest latency) is kept. Where no layout carries the load, the layout with the most output tokens/s is run.

**The fewest chips** (:meth:`FleetQuestion.smallest`): :func:`inferchip.sim.runs.slo.smallest_count` over
:meth:`FleetQuestion.run`, so a count is judged by the run its layout search chose.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

from inferchip.errors import InternalError
from inferchip.mapping.layout import Layout
from inferchip.performance.operating import Question
from inferchip.performance.setting import Setting

__all__ = ["MAX_LAYOUT_RUNS", "FleetQuestion", "ServedLoad", "candidates", "served_load"]

T = TypeVar("T")

MAX_LAYOUT_RUNS = 8
"""The most candidate layouts one count runs to find one whose run meets the SLO: a bound on the work of a search
(each candidate is a whole simulated run), not a physical figure; the line says how many were run."""


@dataclass(frozen=True)
class ServedLoad:
    """What the layouts are priced for: ``question`` (the lengths, within the running-batch cap per rank), the
    ``loaded`` question (a closed loop of clients or an open loop's rate; None: a trace that states no rate) and
    the load in words (``text``)."""

    question: Question
    loaded: Question | None
    text: str


def served_load(input_tokens: float, output_tokens: float, *, concurrency: int | None, rate_per_s: float | None,
                running_cap: int | None, text: str | None = None) -> ServedLoad:
    """The load ``serve`` (``--concurrency`` C or ``--rate`` R, or a trace's mean rate and lengths) and ``ic.serve``
    (``concurrency``, ``rate_per_s``) run, priced within ``running_cap`` sequences per rank (None: uncapped): the
    search's concurrency stays within the cap the simulation runs under (uncapped, a layout of few attention-DP ranks
    won on thousands of sequences the scheduler never admits: DeepSeek-R1 on 8 B200, tp 2 pp 4 at 7,068 sequences,
    simulated at 512, 745 tok/s per chip against tp 8's 2,393)."""
    from inferchip.performance.predict import ask

    question = ask(input_tokens, output_tokens)
    if running_cap is not None:
        question = replace(question, max_seqs_per_rank=float(running_cap))
    if concurrency:
        return ServedLoad(question, replace(question, mode="closed_loop", concurrency=float(concurrency)),
                          text or f"{concurrency:,} clients")
    loaded = None if rate_per_s is None else replace(question, mode="open_loop", rate_per_s=rate_per_s)
    return ServedLoad(question, loaded, text or ("no load" if rate_per_s is None else f"{rate_per_s:g} requests/s"))


def candidates(searched: Setting, load: ServedLoad) -> tuple[list[Layout], str]:
    """The layouts a count tries, in order, and the rule that ordered them in words."""
    from inferchip.performance.layout_choice import carrying
    from inferchip.performance.predict import best_layout, predict_setting

    if load.loaded is not None:
        found = carrying(searched, load.loaded)
        if found:
            carry = ("the most throughput there (requests/s = clients / E2E), among the layouts that hold them in "
                     "memory" if load.loaded.mode == "closed_loop" else
                     "among the layouts that carry it (each at its Little's-law load, within the running-batch cap)")
            return [c.layout for c in found], f"the lowest mean end-to-end latency at {load.text}, {carry}"
        why = f"no layout holds {load.text} in memory" if load.loaded.mode == "closed_loop" else \
            f"no layout carries {load.text}"
    else:
        why = "the trace states no arrival rate (one request, or all at one instant)"
    best = best_layout(searched, load.question)
    if best is None:
        predict_setting(searched, load.question)  # raises the reason: does not fit, or no layout suits
        raise InternalError("predict_setting raises where best_layout finds no layout")
    return [best[0]], f"the most output tokens/s, as {why}"


@dataclass(frozen=True)
class FleetQuestion(Generic[T]):
    """A served load on a chip, its system resolved and run at any count of chips.

    ``resolve(**kw)``: the setting of ``count`` chips (``tp``, ``pp``, ``ep``, ``attn_dp`` as given, or none of the
    first three: every candidate layout); ``layout``: the tp/pp/ep/attn_dp given (None where none of tp/pp/ep is:
    searched, ``attn_dp`` then searched too unless ``attn_dp_given``); ``simulate(setting)``: the run of a one-layout
    setting; ``meets(run)``: whether it meets the SLO at ``statistic`` (None: no SLO given)."""

    resolve: Callable[..., Setting]
    layout: dict[str, Any] | None
    load: ServedLoad
    simulate: Callable[[Setting], T]
    meets: Callable[[T], bool] | None
    statistic: str
    attn_dp_given: bool | None = None

    def run(self, count: int) -> tuple[T, str]:
        """The run of ``count`` chips on its layout (module docstring) and the rule that chose the layout in words
        ("" where it was given or there was no choice)."""
        if self.layout is not None:
            return self.simulate(self.resolve(count=count, **self.layout)), ""
        searched = self.resolve(count=count, attn_dp=self.attn_dp_given)
        layouts, rule = candidates(searched, self.load)
        choice = len(searched.layouts) > 1

        def at(lay: Layout) -> T:
            return self.simulate(self.resolve(count=count, tp=lay.tp, pp=lay.pp, ep=lay.ep, attn_dp=lay.attn_dp))

        if self.meets is None:
            return at(layouts[0]), f"layout: {rule}" if choice else ""
        tried = layouts[:MAX_LAYOUT_RUNS]
        first: T | None = None
        for i, lay in enumerate(tried, 1):
            out = at(lay)
            first = out if first is None else first
            if self.meets(out):
                return out, (f"layout: {rule}, the first whose run meets the SLO by its {self.statistic} TTFT and "
                             f"TPOT (candidate {i} of {len(layouts)})" if choice else "")
        if first is None:
            raise InternalError("a layout search tries one layout at least")
        return first, (f"layout: {rule}; none of the {len(tried)} run (of {len(layouts)}) meets the SLO by its "
                       f"{self.statistic} TTFT and TPOT, so the lowest-latency one is kept" if choice else "")

    def layouts_text(self) -> str:
        """How each count's layout is chosen, in the search's rule."""
        if self.layout is not None:
            return "the layout given at each count"
        return (f"the layout searched at each count: of those that carry the load, by mean end-to-end latency, the "
                f"first whose run meets the SLO by its {self.statistic} TTFT and TPOT (at most {MAX_LAYOUT_RUNS} run)")

    def smallest(self, start: int, judged: Callable[[T], dict[str, Any]], *, option: str, start_option: str,
                 duration_option: str = "duration_s") -> tuple[int, dict[str, Any]]:
        """The fewest chips whose run meets the SLO and the ``sizing`` record
        (:func:`inferchip.sim.runs.slo.smallest_count` over :meth:`run`; each count run carries its
        ``layout_rule``); ``sizing['run']`` is that count's (run, layout rule)."""
        from inferchip.sim.runs.slo import smallest_count

        def judged_run(out: tuple[T, str]) -> dict[str, Any]:
            return {**judged(out[0]), "layout_rule": out[1] or None}

        return smallest_count(self.run, start, judged_run, option=option, start_option=start_option,
                              layouts=self.layouts_text(), statistic=self.statistic, duration_option=duration_option,
                              step=self.replica_chips())

    def replica_chips(self) -> int:
        """The chips of one replica of the layout given (tp x pp; one not given is 1), 1 where it is searched: the
        counts the search runs are its multiples."""
        if self.layout is None:
            return 1
        tp, pp = (self.layout.get(k) for k in ("tp", "pp"))
        sizes = [1 if v is None else v for v in (tp, pp)]
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in sizes):
            return 1  # a bad size: the run at the first count names it
        return int(sizes[0]) * int(sizes[1])
