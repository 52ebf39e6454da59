"""The keys of the :class:`~inferchip.validation.validate.Validator`'s caches: named frozen records, one type per
cache, read by field name, never tuples read by position (a reordered tuple could make two settings share a cached
layout, replica or simulation; a record of one kind never equals another kind's, nor a tuple of the same values)."""

from __future__ import annotations

from dataclasses import dataclass

from inferchip.mapping.layout import Layout
from inferchip.mapping.memory_fit import Formats
from inferchip.validation.cases import Case
from inferchip.validation.plan import Plan
from inferchip.validation.stated_engine import StatedScheduling


@dataclass(frozen=True)
class SettingKey:
    """A row's resolved setting (:meth:`Validator.setting`): its system, model, formats and stated tp/pp/ep."""

    accelerator: str
    num_accelerators: int
    model: str
    formats: Formats
    tp: int | None
    pp: int | None
    ep: int | None
    no_engine: bool = False  # a row naming no engine (blank software, no --engine): the default engine's GEMM library

    @classmethod
    def of(cls, case: Case, fmt: Formats, engine: str | None) -> SettingKey:
        """``case``'s key under the validator's ``--engine`` (None: the rows' software column)."""
        return cls(case.accelerator, case.num_accelerators, case.model, fmt, case.tp, case.pp, case.ep,
                   engine is None and not (case.software or "").strip())


@dataclass(frozen=True)
class PlanKey:
    """A row's layout and operating point: its setting under one plan (a row's own, or its run's)."""

    setting: SettingKey
    plan: Plan


@dataclass(frozen=True)
class SimKey:
    """A simulated server row's outcome: its setting and plan, layout and every fact of its notes the run reads."""

    plan: PlanKey
    layout: Layout
    batch: tuple[int | None, int | None]  # stated (sequences, step token budget)
    requests: int | None
    load_per_s: float | None
    scheduling: StatedScheduling
    reads_at_edge: bool
    kv_free_fraction: float | None


@dataclass(frozen=True)
class ReplicaKey:
    """A simulated replica: the mapped model of one chip, model, layout and formats, the beams, the stated KV pool."""

    accelerator: str
    model: str
    tp: int
    pp: int
    ep: int
    attn_dp: bool
    formats: Formats
    beams: int
    kv_free_fraction: float | None  # the stated KV pool's fraction of the free memory (None: the calibration's)
    kv_step_tokens: int | None  # the stated max_num_tokens sizing that pool's activations (None without a pool)
