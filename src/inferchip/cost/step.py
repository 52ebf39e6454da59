"""Time of one engine iteration (a "step") of one pipeline stage on one chip, vectorised.

A step processes ``num_tokens`` new tokens: the chunks of prompts being prefilled plus
one token for each of ``num_decode_seqs`` decoding sequences (continuous batching with
chunked prefill). Its operators are the typed records sharding produces
(:mod:`inferchip.mapping.operators`), each costed by its kind's rule (:mod:`inferchip.cost.rules`);
the step sums them by operator class. Inputs broadcast: arrays of steps, and chips given as
arrays in ``ChipParams``.

Everything that does not depend on the step's token counts is compiled once per (sharded
model, chip, formats, calibration) into a :class:`StepPlan`: the operators grouped by kind
with their columns, how many times each runs, where each operator class starts and which
format each operator's FLOP run in. Evaluating a step is then a few vectorised numpy
operations per operator kind over ``points x operators`` arrays.

Under attention data parallelism (``sm.dp_attention > 1``) the step's tokens and sequences
are spread evenly over the chips of the stage: attention, dense and shared MLPs, norms, the
router, the LM head and the expert all-to-all run on this chip's share, while its routed
experts serve the tokens of every chip. The step is the busiest chip's
(:func:`busiest_chip_share`): ``s`` decoding sequences occupy ``min(dp, s)`` chips, one or
more whole sequences each, and prefill tokens are spread evenly unless the caller gives the busiest
chip's own (``prefill_chip``: the simulator places each prompt whole on one rank).

The prefill attention pairs (the causal query-key pairs of the score and context products) are always given
in the worker's form, ``dp`` times the busiest chip's own, and divided by ``dp`` here: where prompts sit
whole on the ranks the caller gives ``dp x`` the pairs of the prompts the busiest rank holds (the sum over
its chunks of their own pairs: :func:`~inferchip.sim.batching.scheduler.busiest_rank_prefill` in the
simulator, :func:`~inferchip.performance.phases.static_batch` and the steady state's TTFT step in
``performance``), never the whole step's pairs, which this division would spread over ranks that do not
hold them. A lone 8,192-token prompt on 8 ranks: 8 x 33,558,528 pairs given, 33,558,528 on its rank, the
attention of the same prompt on one chip of a ``dp = 1`` worker. SGLang's DP attention hands each request
to one rank (``python/sglang/srt/managers/data_parallel_controller.py``, sgl-project/sglang @000a3db) and
TensorRT-LLM's attention DP each new request to one rank (``ExecutorRequestQueue``
``_schedule_attention_dp_requests``), each rank running the request's context phase on its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from inferchip.cost import rules as r
from inferchip.cost.constants import VECTOR_WORK_FORMAT
from inferchip.cost.context import CostContext, OpTable, Rule, StepPoints, cost_context
from inferchip.cost.plan.shape import plan_shape
from inferchip.cost.roofline import ArrayLike, FloatArray
from inferchip.cost.scalar_step import ScalarPlan, scalar_plan
from inferchip.cost.step_types import BOUNDS, ClassCost, PointCost, StepCost, point_step_cost
from inferchip.mapping.memory_fit import Formats
from inferchip.mapping.operators import OP_CLASSES
from inferchip.mapping.sharding import ShardedModel
from inferchip.spec.calibration import Calibration
from inferchip.spec.chip import ChipParams
from inferchip.spec.params import across_nodes

__all__ = ["BOUNDS", "OP_CLASSES", "ClassCost", "PointCost", "StepCost", "StepPlan", "busiest_chip_share",
           "compile_step", "step_cost", "step_points"]

# Rows of the plan's work array: what each rule returns, then the kernel's time.
# The first five are a ClassCost's fields in order (compute and memory become the bound times).
_TIME, _COMPUTE, _MEMORY, _NETWORK, _OVERHEAD, _FLOP, _DRAM, _LINK = range(8)


def busiest_chip_share(count: ArrayLike, dp: int) -> FloatArray:
    """Fraction of ``count`` sequences the busiest of ``dp`` chips runs when whole sequences are
    spread evenly: ``1 / min(dp, count)`` (a count below one is one sequence; 1 when dp = 1).
    E.g. 1 sequence on 8 chips: 1 (one chip runs it); 64 sequences: 1/8."""
    c = np.maximum(np.asarray(count, dtype=float), 1.0)
    share: FloatArray = 1.0 / np.minimum(float(max(dp, 1)), c)
    return share


def replica_point(dp: int, t: float, s_dec: float, kv_dec: float, pairs: float,
                  logit_rows: float | None = None,
                  prefill_chip: float | None = None) -> tuple[float, float, float, float, float, float, float]:
    """One step point as the scalar path takes it: (tokens, tokens of the whole step, decode rows, prefill
    tokens, KV tokens read by decodes, attention pairs, logit rows), each per attention data-parallel
    replica when ``dp > 1`` (decode rows spread over at most ``dp`` replicas, prefill split evenly, or
    ``prefill_chip`` prefill tokens on the busiest replica where given; ``pairs`` in the worker's form,
    ``dp`` x the busiest replica's: module doc), as :func:`step_points` shares the arrays. Units: tokens,
    rows, token pairs."""
    t_pre = max(t - s_dec, 0.0)
    rows = logit_rows if logit_rows is not None else s_dec + float(t_pre > 0)
    t_all = t
    if dp > 1:
        d_share = 1.0 / min(float(dp), max(s_dec, 1.0))
        t_pre_chip = t_pre / dp if prefill_chip is None else prefill_chip
        t = min(t, s_dec) * d_share + t_pre_chip
        s_dec, kv_dec, pairs, t_pre = s_dec * d_share, kv_dec * d_share, pairs / dp, t_pre_chip
        rows = rows * (1.0 / min(float(dp), max(rows, 1.0)))
    return t, t_all, s_dec, t_pre, kv_dec, pairs, rows


def step_points(dp: int, num_tokens: ArrayLike, num_decode_seqs: ArrayLike, decode_kv_tokens: ArrayLike,
                prefill_attn_pairs: ArrayLike, logit_rows: ArrayLike | None = None,
                prefill_chip: ArrayLike | None = None) -> StepPoints:
    """The step's counts on the busiest chip of ``dp`` attention-data-parallel chips (all of
    them when ``dp`` is 1). ``logit_rows`` defaults to the decode sequences, plus one if a
    prefill chunk is present. ``prefill_chip``: the busiest chip's prefill tokens where whole
    prompts sit unevenly on the chips (default the even share ``prefill / dp``); the routed
    experts still serve the whole step's tokens. ``prefill_attn_pairs``: ``dp`` x the busiest chip's
    own causal pairs (the module doc: with ``prefill_chip``, those of the prompts that chip holds)."""
    t = np.asarray(num_tokens, dtype=float)
    s_dec = np.asarray(num_decode_seqs, dtype=float)
    kv_dec = np.asarray(decode_kv_tokens, dtype=float)
    pairs = np.asarray(prefill_attn_pairs, dtype=float)
    t_pre = np.maximum(t - s_dec, 0.0)
    rows = s_dec + (t_pre > 0) if logit_rows is None else np.asarray(logit_rows, dtype=float)
    t_all = t
    if dp > 1:
        d_share = busiest_chip_share(s_dec, dp)
        t_pre_chip = t_pre / dp if prefill_chip is None else np.asarray(prefill_chip, dtype=float)
        t = np.minimum(t, s_dec) * d_share + t_pre_chip
        s_dec, kv_dec, pairs, t_pre = s_dec * d_share, kv_dec * d_share, pairs / dp, t_pre_chip
        rows = rows * busiest_chip_share(rows, dp)
    arrays = (t, t_all, s_dec, t_pre, kv_dec, pairs, rows)
    shapes = {a.shape for a in arrays} - {()}
    shape = shapes.pop() if len(shapes) == 1 else () if not shapes else np.broadcast_shapes(*shapes)
    return StepPoints(t[..., None], t_all[..., None], s_dec[..., None], t_pre[..., None], kv_dec[..., None],
                      pairs[..., None], rows[..., None], shape)


@dataclass(frozen=True)
class KindGroup:
    """A run of operators of one kind in the plan: its rule, its columns, its slice, the format
    its FLOP run in and its class segments (class index, start, stop within the group)."""

    rule: Rule
    table: OpTable
    start: int
    stop: int
    flop_format: str | None
    segments: tuple[tuple[int, int, int], ...]


# Above this many (points x operators) elements a step is summed group by group: the work array
# of every operator at every point would no longer fit in cache.
_WHOLE_ARRAY_LIMIT = 1 << 16


@dataclass(frozen=True)
class StepPlan:
    """A step compiled for one (sharded model, chip, formats, calibration)."""

    ctx: CostContext
    dp: int
    groups: tuple[KindGroup, ...]
    reps: FloatArray  # runs per step of each operator (its layer count)
    class_starts: npt.NDArray[np.intp]  # first operator of each class present
    class_names: tuple[str, ...]  # the classes present, in OP_CLASSES order
    flop_formats: tuple[str, ...]  # formats FLOP run in, in order of first use
    flop_ops: tuple[npt.NDArray[np.intp], ...]  # the operators computing in each of flop_formats
    source: tuple[Any, ...]  # the objects compiled, to tell whether a plan is for them
    class_of: tuple[int, ...] = ()  # each operator's position among class_names
    format_of: tuple[int, ...] = ()  # each operator's position among flop_formats (-1: no FLOP)

    @cached_property
    def scalar(self) -> ScalarPlan | None:
        """The plan in plain floats, for one point on one chip (None where it has none): built on
        first use, since a plan only ever swept as arrays never needs it."""
        return scalar_plan(self.ctx, self.groups, list(self.reps), self.class_of, self.format_of)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickled as what it was compiled from, and compiled again when unpickled (its rules'
        column builders and its compiled scalar step are closures, which do not pickle): a
        plan can travel to a worker process with the mapped model that holds it."""
        return compile_step, self.source

    def is_for(self, sm: ShardedModel, chip: ChipParams, fmt: Formats, cal: Calibration) -> bool:
        s = self.source
        return s[0] is sm and s[1] is chip and s[2] == fmt and s[3] is cal

    def cost(self, num_tokens: ArrayLike, num_decode_seqs: ArrayLike, decode_kv_tokens: ArrayLike,
             prefill_attn_pairs: ArrayLike, logit_rows: ArrayLike | None = None,
             prefill_chip: ArrayLike | None = None) -> StepCost:
        """Cost of steps with these counts (see :func:`step_cost`); one finite point on one chip
        is evaluated in plain floats (:mod:`inferchip.cost.scalar_step`, the same numbers).
        ``prefill_chip``: the busiest attention-DP chip's prefill tokens of one point, or of each point
        (an array, evaluated as arrays: :func:`step_points`)."""
        if prefill_chip is not None and np.size(prefill_chip) > 1:
            return self.evaluate(step_points(self.dp, num_tokens, num_decode_seqs, decode_kv_tokens,
                                             prefill_attn_pairs, logit_rows, prefill_chip))
        if prefill_chip is not None:
            prefill_chip = float(np.asarray(prefill_chip).reshape(-1)[0])
            t, s_dec, kv_dec, pairs = (float(np.asarray(x).reshape(-1)[0]) for x in (
                num_tokens, num_decode_seqs, decode_kv_tokens, prefill_attn_pairs))
            lr = None if logit_rows is None else float(np.asarray(logit_rows).reshape(-1)[0])
            if self.ctx.chip_shape == () and self.scalar is not None:
                point = replica_point(self.dp, t, s_dec, kv_dec, pairs, lr, prefill_chip)
                by_class, flop, dram, link = self.scalar.evaluate(point)
                return point_step_cost((), self.class_names, self.flop_formats, by_class, flop, dram, link)
            return self.evaluate(step_points(self.dp, t, s_dec, kv_dec, pairs, lr, prefill_chip))
        if self.ctx.chip_shape == ():
            one = self._scalar_cost(num_tokens, num_decode_seqs, decode_kv_tokens, prefill_attn_pairs, logit_rows)
            if one is not None:
                return one
        return self.evaluate(step_points(self.dp, num_tokens, num_decode_seqs, decode_kv_tokens,
                                         prefill_attn_pairs, logit_rows))

    def _scalar_cost(self, *counts: ArrayLike | None) -> StepCost | None:
        """:meth:`cost` of a single point through :attr:`scalar` (None where the counts are not one
        finite point each, or where the plan has no scalar form; the scalar form is built here, on
        the first single point)."""
        vals: list[float] = []
        ndim = 0
        for x in counts:
            if x is None:
                continue
            if type(x) is not float:
                a = np.asarray(x)
                if a.size != 1:
                    return None
                ndim = max(ndim, a.ndim)
                x = float(a.reshape(-1)[0])
            if not math.isfinite(x):
                return None
            vals.append(x)
        if self.scalar is None:
            return None
        return self.point_cost((1,) * ndim, *vals)

    def point_cost(self, shape: tuple[int, ...], t: float, s_dec: float, kv_dec: float, pairs: float,
                   logit_rows: float | None = None, prefill_chip: float | None = None) -> StepCost:
        """:meth:`cost` of one point given as finite floats, its arrays of ``shape`` (all of size one):
        the scalar path (or the arrays' where the plan has no scalar form). ``prefill_chip``: the busiest
        attention-DP chip's prefill tokens (:func:`step_points`)."""
        if self.scalar is None:
            lr = None if logit_rows is None else np.full(shape, logit_rows)
            pc = None if prefill_chip is None else np.full(shape, prefill_chip)
            return self.evaluate(step_points(self.dp, np.full(shape, t), s_dec, kv_dec, pairs, lr, pc))
        by_class, flop, dram, link = self.scalar.evaluate(replica_point(self.dp, t, s_dec, kv_dec, pairs, logit_rows,
                                                                        prefill_chip))
        return point_step_cost(shape, self.class_names, self.flop_formats, by_class, flop, dram, link)

    def evaluate(self, pts: StepPoints) -> StepCost:
        """Every rule over its operators, then the sums by class (time, and what bounds it), by
        FLOP format, of DRAM and of link bytes, each operator counted as often as it runs."""
        ctx = self.ctx
        shape = pts.shape if ctx.chip_shape == () else np.broadcast_shapes(pts.shape, ctx.chip_shape)
        if math.prod(shape) * len(self.reps) > _WHOLE_ARRAY_LIMIT:
            return self._evaluate_by_group(pts, shape)
        work = np.zeros((8, *shape, len(self.reps)))
        for g in self.groups:
            kc = g.rule.cost(g.table, ctx, pts)
            part = work[..., g.start:g.stop]
            for row, v in ((_COMPUTE, kc.compute_s), (_MEMORY, kc.memory_s), (_OVERHEAD, kc.overhead_s),
                           (_NETWORK, kc.network_s), (_FLOP, kc.flop), (_DRAM, kc.dram_bytes),
                           (_LINK, kc.link_bytes)):
                if isinstance(v, np.ndarray) or v != 0.0:
                    part[row] = v
        c, m = work[_COMPUTE], work[_MEMORY]
        body = np.maximum(c, m)
        compute_bound = np.where(c >= m, body, 0.0)
        work[_MEMORY] = np.where(c < m, body, 0.0)
        work[_COMPUTE] = compute_bound
        work[_TIME] = body + work[_OVERHEAD] + work[_NETWORK]
        work *= self.reps
        # Operators first: each class's sum runs over whole (quantity x point) planes at once.
        by_op = np.moveaxis(work, -1, 0)
        per_class = np.add.reduceat(by_op, self.class_starts, axis=0)
        by_class = {name: tuple(per_class[j, :5]) for j, name in enumerate(self.class_names)}
        flop = {f: np.add.reduce(by_op[ops, _FLOP], axis=0)
                for f, ops in zip(self.flop_formats, self.flop_ops, strict=False)}
        return _step_cost(shape, by_class, flop, np.add.reduce(per_class[:, _DRAM], axis=0),
                          np.add.reduce(per_class[:, _LINK], axis=0))

    def _evaluate_by_group(self, pts: StepPoints, shape: tuple[int, ...]) -> StepCost:
        """:meth:`evaluate` for large grids: each kind's operators summed into their classes at once
        (a product with their run counts, BLAS)."""
        # Sums stay as low-rank as their terms (a GEMM's time does not vary with the KV length)
        # until the end, where each becomes an array over the whole grid.
        # time, compute-bound, memory-bound, network, overhead of each class present
        acc: list[list[ArrayLike]] = [[0.0] * 5 for _ in self.class_names]
        flop: dict[str, ArrayLike] = {f: 0.0 for f in self.flop_formats}
        dram: ArrayLike = 0.0
        link: ArrayLike = 0.0
        for g in self.groups:
            kc = g.rule.cost(g.table, self.ctx, pts)
            reps = self.reps[g.start:g.stop]
            body = np.maximum(kc.compute_s, kc.memory_s)
            quantities = (body + kc.overhead_s + kc.network_s,
                          np.where(np.greater_equal(kc.compute_s, kc.memory_s), body, 0.0),
                          np.where(np.less(kc.compute_s, kc.memory_s), body, 0.0), kc.network_s, kc.overhead_s)
            for j, a, b in g.segments:
                for row, x in enumerate(quantities):
                    if isinstance(x, np.ndarray) or x != 0.0:
                        acc[j][row] = acc[j][row] + _runs_sum(x, reps, a, b)
            if g.flop_format is not None:
                flop[g.flop_format] = flop[g.flop_format] + _runs_sum(kc.flop, reps, 0, len(reps))
            if isinstance(kc.dram_bytes, np.ndarray) or kc.dram_bytes != 0.0:
                dram = dram + _runs_sum(kc.dram_bytes, reps, 0, len(reps))
            if isinstance(kc.link_bytes, np.ndarray) or kc.link_bytes != 0.0:
                link = link + _runs_sum(kc.link_bytes, reps, 0, len(reps))

        def grid(x: ArrayLike) -> FloatArray:
            a = np.asarray(x, dtype=float)
            return a if a.shape == shape else np.broadcast_to(a, shape).copy()

        by_class = {name: tuple(grid(x) for x in acc[j]) for j, name in enumerate(self.class_names)}
        flop_grid = {f: grid(v) for f, v in flop.items()}
        return _step_cost(shape, by_class, flop_grid, grid(dram), grid(link))


def _runs_sum(x: ArrayLike, reps: FloatArray, a: int, b: int) -> FloatArray:
    """Sum over operators ``a:b`` (the last axis) of ``x`` times their runs, before ``x`` is
    broadcast to the whole grid (a GEMM's time does not vary with the KV length)."""
    x = np.asarray(x)
    if x.ndim == 0 or x.shape[-1] == 1:
        return x[..., 0] * np.sum(reps[a:b]) if x.ndim else x * np.sum(reps[a:b])
    return x[..., a:b] @ reps[a:b]


def _step_cost(shape: tuple[int, ...], by_class: dict[str, tuple[FloatArray, ...]], flop: dict[str, FloatArray],
               dram: FloatArray, link: FloatArray) -> StepCost:
    """A StepCost from (time, compute-bound, memory-bound, network, overhead) per class present."""
    zero = np.zeros(shape)
    zero.setflags(write=False)
    classes: dict[str, ClassCost] = {}
    total: FloatArray | None = None
    for name in OP_CLASSES:
        if name in by_class:
            t, cb, mb, net, ov = by_class[name]
            classes[name] = ClassCost(t, cb, mb, net, ov)
            total = t if total is None else total + t
        else:
            classes[name] = ClassCost(zero, zero, zero, zero, zero)
    return StepCost(time_s=zero if total is None else total, classes=classes, flop_by_format=flop,
                    dram_bytes=dram, link_bytes=link)


def compile_step(sm: ShardedModel, chip: ChipParams, fmt: Formats, cal: Calibration) -> StepPlan:
    """Compile the step of ``sm`` on ``chip``: every operator's rule and columns, grouped (the
    operators' order and groups are ``sm``'s alone: :func:`~inferchip.cost.plan.shape.plan_shape`).

    Raises :class:`~inferchip.cost.rules.UnknownOperatorError` for an operator kind without a rule.
    """
    lay = sm.layout  # a group wider than a node crosses its global links (spec.params.across_nodes)
    ctx = cost_context(across_nodes(chip, max(lay.tp, lay.ep)), fmt, cal)
    shape = plan_shape(sm)
    groups = tuple(KindGroup(rule, rule.table(ops, ctx), start, stop, rule.flop_format(ctx), segments)
                   for rule, ops, start, stop, segments in shape.groups)
    op_format = [shape.rules[k].flop_format(ctx) for k in shape.ordered_kinds]
    reps, class_of = list(shape.reps), list(shape.class_of)
    moe_runs = sum(sum(reps[g.start:g.stop]) for g in groups if g.rule.cost is r.grouped_gemm_cost)
    if ctx.moe_token_vector_flop and moe_runs:
        # The MoE kernels' per-token vector work (rules.moe_token_vector_cost): one pseudo-operator that
        # runs as often as the grouped GEMMs, with FP32 FLOP and no time, last in the last class.
        i, last = len(reps), len(shape.class_names) - 1
        groups += (KindGroup(r.MOE_TOKEN_VECTOR, {"vector_flop_per_token": np.array([ctx.moe_token_vector_flop])},
                              i, i + 1, VECTOR_WORK_FORMAT, ((last, 0, 1),)),)
        reps, class_of, op_format = reps + [moe_runs], class_of + [last], op_format + [VECTOR_WORK_FORMAT]
    # Formats FLOP run in, in order of first use in the step (the kinds are in that order), then the pseudo-operator's.
    kind_formats = (shape.rules[k].flop_format(ctx) for k in shape.kinds)
    fmt_names = tuple(dict.fromkeys(f for f in (*kind_formats, *op_format[len(shape.reps):]) if f is not None))
    flop_ops = tuple(np.array([i for i, f2 in enumerate(op_format) if f2 == f], dtype=np.intp) for f in fmt_names)
    format_of = tuple(-1 if f is None else fmt_names.index(f) for f in op_format)
    return StepPlan(ctx=ctx, dp=sm.dp_attention, groups=groups,
                    reps=np.array(reps, dtype=float), class_starts=np.array(shape.starts, dtype=np.intp),
                    class_names=shape.class_names, flop_formats=fmt_names, flop_ops=flop_ops,
                    source=(sm, chip, fmt, cal), class_of=tuple(class_of), format_of=format_of)


def cached_step_plan(plan: StepPlan | None, sm: ShardedModel, chip: ChipParams, fmt: Formats,
                     cal: Calibration) -> StepPlan:
    """``plan`` when it was compiled for these objects, else a new one (a holder's cache)."""
    return plan if plan is not None and plan.is_for(sm, chip, fmt, cal) else compile_step(sm, chip, fmt, cal)


def step_cost(
    sm: ShardedModel,
    chip: ChipParams,
    fmt: Formats,
    cal: Calibration,
    num_tokens: ArrayLike,
    num_decode_seqs: ArrayLike,
    decode_kv_tokens: ArrayLike,
    prefill_attn_pairs: ArrayLike,
    logit_rows: ArrayLike | None = None,
) -> StepCost:
    """Cost of one step on one chip of the (largest) pipeline stage.

    ``decode_kv_tokens``: sum of the KV lengths the decoding sequences attend to;
    ``prefill_attn_pairs``: causal query-key pairs of the prefill chunks;
    ``logit_rows``: rows through the LM head (default: decode sequences, plus one if a
    prefill chunk is present). Compiles the plan each call: hold a :class:`StepPlan`
    (:func:`compile_step`) to cost many steps of one mapping.
    """
    return compile_step(sm, chip, fmt, cal).cost(num_tokens, num_decode_seqs, decode_kv_tokens,
                                                 prefill_attn_pairs, logit_rows)
