"""The one choice of a parallel layout among a setting's candidates, for ``predict`` and ``validate``.

``predict`` (and ``serve``, which takes predict's layout) and the validation of a row that
states no layout (or only part of one) ask the same question of the same candidates
(:attr:`~inferchip.performance.setting.Setting.layouts`): which layout gives the most output
tokens per second of the whole system, within memory and the question's latency limits?
Both call :func:`choose_layout`, which evaluates every candidate with the one operating-point
solver (:func:`~inferchip.performance.operating.operating_point`) and ranks them by
:func:`pick`. There is one objective: the two callers do not optimise different things
(validation's other load, an open loop at a stated rate, never chooses a layout: its row
takes the layout of its run's maximum-throughput question, ``validation.plan.run_plan``).

The rule, in order (:func:`pick`):

1. **Limits met** before limits missed. ``operating_point`` reports a layout on which no
   concurrency meets the TTFT/TPOT/end-to-end limits with ``limits_met`` False (its point at
   concurrency 1). ``predict`` answers such a choice with "no batch meets the limits";
   validation reports the row's value at concurrency 1 and says so.
2. **Objective**: system output tokens/s, ``tokens_per_s_replica x replicas``, larger is
   better. Two layouts within a relative ``TIE_RELATIVE`` (1e-9) of the best are tied: the
   sums behind the figures round differently on different layouts, and such a gap is
   rounding, not a faster layout.
3. **Tie key** (:func:`tie_key`), smallest first: fewer chips in use, then lower tp, lower pp,
   lower ep, attention data parallelism off before on: the simplest layout, with the fewest
   collectives and the least reliance on link figures. Candidates (``candidate_layouts``)
   come in this order, so the key is also "the first candidate". (The same layout twice: the
   faster of the two.)

The choice does not depend on the order of the candidates (``tests/test_layout_choice.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from inferchip.errors import DoesNotFitError, InvalidSettingError
from inferchip.mapping.layout import Layout
from inferchip.performance.operating import OperatingPoint, Question, operating_point
from inferchip.performance.setting import Setting

__all__ = ["TIE_RELATIVE", "Choice", "carrying", "choose_layout", "lowest_latency", "pick", "system_tokens_per_s",
           "tie_key"]

TIE_RELATIVE = 1e-9  # objectives within this fraction of the best are tied (float rounding of the step sums)


@dataclass(frozen=True)
class Choice:
    """A candidate layout and its operating point for the question."""

    layout: Layout
    point: OperatingPoint


def system_tokens_per_s(c: Choice) -> float:
    """The objective: output tokens/s of the whole system (each replica's, times the replicas)."""
    return c.point.tokens_per_s_replica * c.layout.replicas


def tie_key(lay: Layout) -> tuple[int, int, int, int, bool]:
    """What breaks a tie, smallest first: chips in use, tp, pp, ep, attention DP (off first)."""
    return (lay.num_chips, lay.tp, lay.pp, lay.ep, lay.attn_dp)


def pick(choices: Iterable[Choice]) -> Choice | None:
    """The best of ``choices`` by the module's rule (limits met; most system tokens/s, ties within
    ``TIE_RELATIVE``; then :func:`tie_key`), or None where there are none. Independent of their order."""
    cs = list(choices)
    if not cs:
        return None
    met = [c for c in cs if c.point.limits_met] or cs
    best = max(system_tokens_per_s(c) for c in met)
    tied = [c for c in met if system_tokens_per_s(c) >= best * (1.0 - TIE_RELATIVE)]
    return min(tied, key=lambda c: (tie_key(c.layout), -system_tokens_per_s(c)))


def choose_layout(setting: Setting, q: Question, *, coarse: bool = False, need_ttft: bool = True,
                  sweeps: dict[Any, Any] | None = None) -> Choice:
    """The setting's best layout for question ``q`` and its operating point (rule: module docstring).

    Every candidate of ``setting.layouts`` is evaluated with ``operating_point`` (``coarse``,
    ``need_ttft`` and the ``sweeps`` cache as it takes them); one whose memory cannot hold the
    question is left out. Raises the first candidate's DoesNotFitError where none fits. The
    choice may miss the limits (``point.limits_met`` False) where no candidate meets them.
    """
    # Where the limits do not read the TTFT, the choice does not either: each candidate's point is
    # taken from its (cached) sweep, and only the chosen one's TTFT evaluated, as operating_point would.
    later = need_ttft and sweeps is not None and q.mode == "max_throughput" and not q.needs_ttft
    choices, first_err = [], None
    for lay in setting.layouts:
        try:
            pt = operating_point(setting.mapped(lay), q, lay.replicas, coarse=coarse, need_ttft=need_ttft and not later,
                                 sweeps=sweeps)
        except DoesNotFitError as exc:
            first_err = first_err or exc
            continue
        choices.append(Choice(lay, pt))
    best = pick(choices)
    if best is None:
        raise first_err or InvalidSettingError(
            f"no parallel layout of {setting.count} chips suits {setting.model.id}")
    if later:
        lay = best.layout
        best = Choice(lay, operating_point(setting.mapped(lay), q, lay.replicas, coarse=coarse, need_ttft=True,
                                           sweeps=sweeps))
    return best


def lowest_latency(setting: Setting, q: Question) -> Choice | None:
    """For a served load, an open loop (``serve --rate``/``--trace``) or a closed loop of clients (``serve
    --concurrency``): the candidate that carries it (an open loop's Little's-law point unsaturated; a closed loop's
    clients held in memory) and meets the question's limits (its point's mean TTFT, TPOT and end-to-end latency within
    ``max_ttft_s``/``max_tpot_s``/``max_e2e_s`` where given: ``serve``'s SLO) with the lowest mean end-to-end latency,
    ties by :func:`tie_key`; None where none carries it within the limits or none fits. At a stated rate every layout
    that carries it gives the same tokens/s, so :func:`pick`'s objective ties them all and its tie rule (fewest chips)
    would choose the slowest; latency is what differs (stop 45's tour: Llama-3.1-70B on
    8 H100 at 2 requests/s ran tp 2 pp 2, p99 TPOT 40 ms, where tp 8 gives 17 ms). At C clients the lowest latency
    is the most throughput (a closed loop's Little's law, requests/s = C / E2E), so both loads take one rule."""
    found = [c for c in carrying(setting, q) if _within(c.point, q)]
    return found[0] if found else None


def carrying(setting: Setting, q: Question) -> list[Choice]:
    """Every candidate that carries an open- or closed-loop question's load (:func:`lowest_latency`'s test, without
    its limits), lowest mean end-to-end latency first, ties by :func:`tie_key`: the order in which a served load's
    layout search (:mod:`inferchip.performance.fleet`) runs them against an SLO judged at a percentile."""
    if q.mode not in ("open_loop", "closed_loop"):
        raise InvalidSettingError(f"lowest_latency ranks an open-loop or a closed-loop question, not mode {q.mode!r}")
    choices = []
    for lay in setting.layouts:
        try:
            pt = operating_point(setting.mapped(lay), q, lay.replicas, sweeps=setting.sweeps)
        except DoesNotFitError:
            continue
        if not pt.saturated:
            choices.append(Choice(lay, pt))
    return sorted(choices, key=lambda c: (c.point.e2e_s, tie_key(c.layout)))


def _within(pt: OperatingPoint, q: Question) -> bool:
    """The point's mean TTFT, TPOT and end-to-end latency within the question's limits (s) where it states them."""
    return all(lim is None or v <= lim for lim, v in ((q.max_ttft_s, pt.ttft_s), (q.max_tpot_s, pt.tpot_s),
                                                      (q.max_e2e_s, pt.e2e_s)))
