"""The cost of a step, by operator class: the types :mod:`inferchip.cost.step` returns.

A step costed at one point by the scalar path (:mod:`inferchip.cost.scalar_step`) carries
its figures as floats (:attr:`StepCost.point`); its arrays are made from them only when
first read (:func:`point_step_cost`), as most readers of one point read the floats.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from inferchip.cost.roofline import FloatArray
from inferchip.mapping.operators import OP_CLASSES

BOUNDS = ("compute", "memory", "network", "overhead")


@dataclass
class ClassCost:
    """Accumulated seconds of one operator class, split by what bounds each kernel."""

    time_s: FloatArray
    compute_bound_s: FloatArray
    memory_bound_s: FloatArray
    network_s: FloatArray
    overhead_s: FloatArray

    def bound(self) -> npt.NDArray[np.str_]:
        stack = np.stack(np.broadcast_arrays(self.compute_bound_s, self.memory_bound_s, self.network_s,
                                             self.overhead_s))
        names: npt.NDArray[np.str_] = np.take(np.array(BOUNDS), np.argmax(stack, axis=0))
        return names


class PointCost(NamedTuple):
    """One step's figures as floats (see :attr:`StepCost.point`)."""

    time_s: float
    classes: dict[str, tuple[float, float, float, float, float]]
    flop_by_format: dict[str, float]
    dram_bytes: float
    link_bytes: float


@dataclass
class StepCost:
    """Per-chip cost of one step of one pipeline stage (plus its outgoing pipeline transfer)."""

    time_s: FloatArray
    classes: dict[str, ClassCost]
    flop_by_format: dict[str, FloatArray] = field(default_factory=dict)
    dram_bytes: FloatArray = field(default_factory=lambda: np.zeros(()))
    link_bytes: FloatArray = field(default_factory=lambda: np.zeros(()))
    # The same figures as floats where the step is one point costed by the scalar path: the
    # time, (time, compute-bound, memory-bound, network, overhead) of each class present (in
    # OP_CLASSES order), FLOP by format, DRAM and link bytes. Readers of one point use these.
    point: PointCost | None = field(default=None, repr=False, compare=False)

    def class_times_s(self) -> dict[str, FloatArray]:
        return {k: v.time_s for k, v in self.classes.items()}


class _Rows:
    """A point's figures as one list, made into arrays of the step's shape on first read."""

    __slots__ = ("flat", "shape", "rows")

    def __init__(self, flat: list[float], shape: tuple[int, ...]) -> None:
        self.flat, self.shape = flat, shape
        self.rows: list[FloatArray] | None = None

    def row(self, k: int) -> FloatArray:
        rows = self.rows
        if rows is None:
            values = np.array(self.flat, dtype=float).reshape(-1, *self.shape)
            rows = self.rows = list(values) if self.shape else [values[j, ...] for j in range(len(values))]
        return rows[k]


_CLASS_FIELDS = {"time_s": 0, "compute_bound_s": 1, "memory_bound_s": 2, "network_s": 3, "overhead_s": 4}
_STEP_FIELDS = {"time_s": 0, "dram_bytes": 1, "link_bytes": 2}


class _PointClassCost(ClassCost):
    """A class present in a one-point step: its arrays are rows of the step's, made when first read."""

    def __init__(self, rows: _Rows, start: int) -> None:  # no dataclass init: the fields are read lazily
        self.__dict__["_rows"] = (rows, start)

    def __getattr__(self, name: str) -> Any:
        k = _CLASS_FIELDS.get(name)
        held = self.__dict__.get("_rows")
        if k is None or held is None:
            raise AttributeError(name)
        v = self.__dict__[name] = held[0].row(held[1] + k)
        return v


class _PointStepCost(StepCost):
    """A one-point step: ``point`` at once, its classes and arrays when first read."""

    def __init__(self, rows: _Rows, shape: tuple[int, ...], class_names: tuple[str, ...], formats: tuple[str, ...],
                 point: PointCost) -> None:
        self.__dict__.update(point=point, _rows=rows, _shape=shape, _names=class_names, _formats=formats)
        if not class_names:  # no class present: the time is zero
            self.__dict__["time_s"] = _absent(shape).time_s

    def __getattr__(self, name: str) -> Any:
        d = self.__dict__
        rows = d.get("_rows")
        if rows is None:
            raise AttributeError(name)
        v: Any
        if name == "flop_by_format":
            v = {f: rows.row(3 + j) for j, f in enumerate(d["_formats"])}
        elif name == "classes":
            names, nf = d["_names"], len(d["_formats"])
            v = {cls: _PointClassCost(rows, 3 + nf + 5 * names.index(cls)) if cls in names else _absent(d["_shape"])
                 for cls in OP_CLASSES}
        elif name in _STEP_FIELDS:
            v = rows.row(_STEP_FIELDS[name])
        else:
            raise AttributeError(name)
        d[name] = v
        return v


_ABSENT: dict[tuple[int, ...], ClassCost] = {}


def _absent(shape: tuple[int, ...]) -> ClassCost:
    """The cost of a class with no operator: read-only zeros of ``shape`` (one object per shape)."""
    c = _ABSENT.get(shape)
    if c is None:
        zero = np.zeros(shape)
        zero.setflags(write=False)
        c = _ABSENT[shape] = ClassCost(zero, zero, zero, zero, zero)
    return c


def point_step_cost(shape: tuple[int, ...], class_names: tuple[str, ...], flop_formats: tuple[str, ...],
                    by_class: list[list[float]], flop: list[float], dram: float, link: float) -> StepCost:
    """The StepCost of one point: ``by_class`` (time, compute-bound, memory-bound, network, overhead)
    of each class present (``class_names``, in OP_CLASSES order), FLOP by format, DRAM and link
    bytes; its classes and arrays (of ``shape``, all of size one) made when first read."""
    total = 0.0
    for acc in by_class:
        total = total + acc[0]
    flat = [total, dram, link, *flop]
    point: dict[str, tuple[float, float, float, float, float]] = {}
    for name, a in zip(class_names, by_class, strict=True):
        flat.extend(a)
        point[name] = (a[0], a[1], a[2], a[3], a[4])
    one = PointCost(total, point, dict(zip(flop_formats, flop, strict=True)), dram, link)
    return _PointStepCost(_Rows(flat, shape), shape, class_names, flop_formats, one)
