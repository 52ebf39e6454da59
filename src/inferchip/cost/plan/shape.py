"""The chip-independent part of a step plan: the operators sorted and grouped, kept per sharded model.

:func:`inferchip.cost.step.compile_step` compiles a step for one (sharded model, chip, formats,
calibration). Which operators there are, how many times each runs, the order they are costed
in (by class, then kind, then appearance) and the runs of one kind or one class depend on the
sharded model alone; only the rules' columns and the FLOP formats read the chip, formats and
calibration (:class:`~inferchip.cost.rules.CostContext`). A review compiles the same sharded
model on many chips (every chip of the suite, the claimed chip with a spec scaled), so the shape
is built once per sharded model, found again by its value (:class:`ShardedModel` is a frozen,
hashable record: two equal ones have the same operators), in a bounded cache.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from inferchip.cost.context import Rule
from inferchip.cost.rules import rule_for
from inferchip.mapping.operators import OP_CLASSES
from inferchip.mapping.sharding import ShardedModel

SHAPES_KEPT = 512  # sharded models whose plan shape is kept (a few kB each)


@dataclass(frozen=True)
class PlanShape:
    """A sharded model's operators as a plan costs them.

    ``kinds``: operator types in order of first appearance in the step; ``ordered``: the
    operators sorted by class, kind, appearance; ``ordered_kinds``: each one's type; ``groups``:
    runs of one kind, (rule, operators, start, stop, class segments: position among the classes
    present, start, stop within the run); ``starts``: first operator of each class present;
    ``class_names``: those classes; ``class_of``: each operator's class position; ``reps``: runs
    per step of each operator (its layer count)."""

    kinds: tuple[type, ...]
    rules: dict[type, Rule]
    ordered: tuple[Any, ...]
    ordered_kinds: tuple[type, ...]
    groups: tuple[tuple[Rule, tuple[Any, ...], int, int, tuple[tuple[int, int, int], ...]], ...]
    starts: tuple[int, ...]
    class_names: tuple[str, ...]
    class_of: tuple[int, ...]
    reps: tuple[float, ...]


def _segments(cls: list[int], present: list[int]) -> tuple[tuple[int, int, int], ...]:
    """Runs of one class in a group's operators: (position among the classes present, start, stop)."""
    out = []
    a = 0
    for i in range(1, len(cls) + 1):
        if i == len(cls) or cls[i] != cls[a]:
            out.append((present.index(cls[a]), a, i))
            a = i
    return tuple(out)


def build_shape(sm: ShardedModel) -> PlanShape:
    """The shape of ``sm``'s step. Raises :class:`~inferchip.cost.rules.UnknownOperatorError` for an
    operator kind without a rule."""
    ops = sm.operators()
    kinds = list(dict.fromkeys(type(op) for op, _ in ops))
    rules = {k: rule_for(k) for k in kinds}
    # Operators sorted by class (then kind, then order of appearance): classes and kinds contiguous.
    order = sorted(range(len(ops)),
                   key=lambda i: (OP_CLASSES.index(ops[i][0].op_class), kinds.index(type(ops[i][0])), i))
    ordered = [ops[i] for i in order]
    classes = [op.op_class for op, _ in ordered]
    starts = [i for i in range(len(classes)) if i == 0 or classes[i] != classes[i - 1]]
    present = [OP_CLASSES.index(classes[i]) for i in starts]
    groups = []
    start = 0
    for i in range(1, len(ordered) + 1):
        if i == len(ordered) or type(ordered[i][0]) is not type(ordered[start][0]):
            rule = rules[type(ordered[start][0])]
            cls = [OP_CLASSES.index(op.op_class) for op, _ in ordered[start:i]]
            groups.append((rule, tuple(op for op, _ in ordered[start:i]), start, i, _segments(cls, present)))
            start = i
    return PlanShape(kinds=tuple(kinds), rules=rules, ordered=tuple(op for op, _ in ordered),
                     ordered_kinds=tuple(type(op) for op, _ in ordered), groups=tuple(groups), starts=tuple(starts),
                     class_names=tuple(classes[i] for i in starts),
                     class_of=tuple(present.index(OP_CLASSES.index(c)) for c in classes),
                     reps=tuple(float(r) for _, r in ordered))


_SHAPES: OrderedDict[ShardedModel, PlanShape] = OrderedDict()


_BY_ID: dict[int, tuple[ShardedModel, PlanShape]] = {}  # the latest shapes by the object (no hashing of its value)


def plan_shape(sm: ShardedModel) -> PlanShape:
    """:func:`build_shape` of ``sm``, kept by its value (the latest :data:`SHAPES_KEPT`), and found first
    by the object itself (the same sharded model compiled on another chip)."""
    held = _BY_ID.get(id(sm))
    if held is not None and held[0] is sm:
        return held[1]
    shape = _by_value(sm)
    if len(_BY_ID) >= SHAPES_KEPT:
        _BY_ID.clear()
    _BY_ID[id(sm)] = (sm, shape)  # sm kept alive with its entry: its id is not reused meanwhile
    return shape


def _by_value(sm: ShardedModel) -> PlanShape:
    try:
        shape = _SHAPES.get(sm)
    except TypeError:  # a field that does not hash (not a sharded model as sharding makes them)
        return build_shape(sm)
    if shape is None:
        shape = _SHAPES[sm] = build_shape(sm)
        if len(_SHAPES) > SHAPES_KEPT:
            _SHAPES.popitem(last=False)
    else:
        _SHAPES.move_to_end(sm)
    return shape
