"""Static batches of a sweep priced together: their steps through the plan's array path, then answered one by one.

``ic.sweep`` asks ``predict`` thousands of static-batch questions on one setting; each costs two steps of the scalar
path (:mod:`inferchip.cost.scalar_step`, a few microseconds each, most of a question's time). :func:`prime` takes a
block of the questions, finds each one's prefill and decode step points as ``FastLayout.static`` would (its
``static_steps``, the same code), prices the new ones at once (:func:`~inferchip.cost.step_rows.step_rows`: equal
to the scalar step to float rounding) and keeps them where ``static`` looks them up. The questions are then asked as
before, through ``predict`` with all its checks; only the steps are found instead of priced.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from inferchip.catalog.models import input_key
from inferchip.cost.step_rows import step_rows
from inferchip.performance.fast_path import FastLayout
from inferchip.performance.predict import _RECENT, KEYED, predict

if TYPE_CHECKING:
    from inferchip.catalog.chips import ChipInput
    from inferchip.catalog.models import ModelInput
    from inferchip.spec.chip import ChipParams
    from inferchip.spec.model import ModelSpec

PRIME_BLOCK = 2048
"""Questions primed at once (:func:`prime`): enough to spread numpy's per-call cost over thousands of points, few
enough that the steps held (two tuples of a few dozen floats a question, ~2 kB) stay within a few MB."""


def recent_fast_layout(chip: ChipInput | ChipParams, model: ModelInput | ModelSpec, **kw: Any) -> FastLayout | None:
    """The :class:`~inferchip.performance.fast_path.FastLayout` that ``predict(chip, model, **kw)`` answers a
    fixed-length question on, where recent calls made one (None otherwise: no call yet, fewer than the fast path
    waits for, or a setting it does not cover). ``kw``: predict's keywords other than the question's (lengths,
    batch, limits), as the calls were given them."""
    args = inspect.signature(predict).bind(chip, model, **kw)
    args.apply_defaults()
    a = args.arguments
    try:
        setting = _RECENT.get((input_key(a["chip"]), input_key(a["model"]), *(a[name] for name in KEYED)))
    except TypeError:  # an unhashable argument: predict keeps no setting for it
        return None
    held = None if setting is None else setting.derived.get("fast")
    return held[0] if held is not None and isinstance(held[0], FastLayout) else None


def prime(fast: FastLayout, points: Iterable[tuple[float, float, float]]) -> int:
    """Price the steps of the static batches ``points`` ((batch, input tokens, output tokens) per replica, as
    ``FastLayout.static`` takes them) at once, held in ``fast.primed`` (those of an earlier call dropped) for
    ``static`` to find; :func:`release` drops them. Points that do not fit, or where the float path does not apply
    (attention data parallelism), are left to ``static``. Returns the steps priced."""
    steps: dict[tuple[float, ...], None] = {}
    for b, i, o in points:
        got = fast.static_steps(b, i, o)
        if isinstance(got, tuple):
            steps[got[0]] = steps[got[1]] = None
    fast.primed.clear()
    if steps:
        rows = step_rows(fast.plan, list(zip(*steps, strict=True))).tolist()
        fast.primed.update(zip(steps, map(tuple, rows), strict=True))
    return len(steps)


def release(fast: FastLayout) -> None:
    """Drop the steps :func:`prime` held: questions asked after a sweep price their steps on the scalar path, as
    they would have without it (the same figures to the last bit)."""
    fast.primed.clear()
