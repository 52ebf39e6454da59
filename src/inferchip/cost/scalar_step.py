"""The step of a compiled plan at one point, in plain Python floats.

For a single step on a single chip numpy's per-call overhead dwarfs the arithmetic: a few dozen operators, each a
handful of multiplications. :class:`ScalarPlan` holds each operator's columns as a tuple of floats (read once from the
plan's tables) and repeats the rules of :mod:`inferchip.cost.rules` operation for operation on one point, so it gives
the array path's numbers (sums may be added in another order: equal to float rounding). The per-operator twins of
the rules are in :mod:`inferchip.cost.scalar_kernels`; this module assembles and compiles them.

A plan with a rule it does not know or an array of chips has no scalar form (:func:`scalar_plan` returns None).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from inferchip.cost import rules as r
from inferchip.cost.constants import FP32_BYTES
from inferchip.cost.gemm import (
    cublas_tile_compute_s_scalar,
    gemm_waves_scalar,
    m_tile_scalar,
    moe_token_vector_kernel,
    split_k_compute_s_scalar,
)
from inferchip.cost.kernels.attention import chunked_reads_scalar
from inferchip.cost.scalar_kernels import (
    Chip,
    Kernel,
    Point,
    all_gather_kernel,
    all_reduce_kernel,
    all_to_all_kernel,
    as_float,
    attention_kernel,
    gemm_kernel,
    grouped_gemm_kernel,
    host_kernel,
    lm_head_kernel,
    m_terms,
    memory_kernel,
    point_to_point_kernel,
    reduce_scatter_kernel,
    vector_gemm_kernel,
)

ScalarRule = Callable[[tuple[float, ...], Chip, Point], Kernel]
# Each array rule's scalar twin and the table columns it reads, in order ("" : a context value).
_TWINS: dict[Any, tuple[ScalarRule, tuple[str, ...]]] = {
    r.gemm_cost: (gemm_kernel, ("n_tiles", "flop_per_wave_row", "weight_bytes", "row_bytes", "flop_per_row",
                          "attainable_flop_per_s", "k_slices", "n", "k", "cublas", "seconds_per_flop")),
    r.lm_head_cost: (lm_head_kernel, ("n_tiles", "flop_per_wave_row", "weight_bytes", "row_bytes", "flop_per_row",
                                "attainable_flop_per_s", "k_slices", "n", "k", "cublas", "seconds_per_flop")),
    r.vector_gemm_cost: (vector_gemm_kernel, ("k", "n", ":weight_bytes", ":act_bytes")),
    r.grouped_gemm_cost: (grouped_gemm_kernel, ("k", "n", "experts", "routed_fraction", "experts_total", "ep",
                                          ":weight_bytes", ":act_bytes")),
    r.attention_cost: (attention_kernel, ("decode_flop_per_kv_token", "prefill_flop_per_pair", "kv_bytes_per_token",
                                    "prefill_bytes_per_token", "decode_attainable_flop_per_s",
                                    "prefill_attainable_flop_per_s", "window?", "chunk?")),
    r.elementwise_cost: (memory_kernel, ("bytes_per_token", "overhead_s")),
    r.embedding_cost: (memory_kernel, ("bytes_per_token", "overhead_s")),
    r.host_cost: (host_kernel, ("overhead_s", "seq_overhead_s", "seq_dram_bytes", "stages")),
    r.all_reduce_cost: (all_reduce_kernel, ("elements_per_token", "group", "element_bytes")),
    r.all_to_all_cost: (all_to_all_kernel, ("elements_per_row", "group", "element_bytes", "rank_elements_per_row",
                                             "logit_rows?")),
    r.all_gather_cost: (all_gather_kernel, ("elements_per_token", "group", "element_bytes", "routing_bytes_per_token")),
    r.reduce_scatter_cost: (reduce_scatter_kernel, ("elements_per_token", "group", "element_bytes")),
    r.point_to_point_cost: (point_to_point_kernel, ("elements_per_token", "element_bytes")),
    r.moe_token_vector_cost: (moe_token_vector_kernel, ("vector_flop_per_token",)),
}


@dataclass(frozen=True)
class ScalarPlan:
    """A plan's operators as (scalar rule, columns, runs, class position, FLOP format position)."""

    chip: Chip
    ops: tuple[tuple[ScalarRule, tuple[float, ...], float, int, int], ...]
    classes: int
    formats: int
    # The plan's step as one Python function of the point (:func:`_compile`), its constants inlined:
    # ``step(tokens, all_tokens, decode_seqs, prefill_tokens, decode_kv_tokens, prefill_pairs,
    # logit_rows)`` returns one flat tuple: the step's time, then (time, compute-bound, memory-bound,
    # network, overhead) of each class present, FLOP per format, DRAM bytes and link bytes.
    # Compiling costs about as much as a hundred loop evaluations, so a plan evaluated only a few
    # times (a one-off command) keeps the loop: ``step`` starts as the loop and is compiled on
    # its COMPILE_AFTER-th call.
    step: Callable[..., tuple[float, ...]] = field(default=None, repr=False, compare=False)  # type: ignore[assignment]
    calls: list[int] = field(default_factory=lambda: [0], repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.step is None:
            object.__setattr__(self, "step", self._step_warming)

    def _step_warming(self, *p: float) -> tuple[float, ...]:
        """``step`` before it is compiled: the loop's figures as one flat tuple (the same floats)."""
        self.calls[0] += 1
        if self.calls[0] >= COMPILE_AFTER:
            object.__setattr__(self, "step", _compile(self))
        by_class, flop, dram, link = self.evaluate_loop(p)
        total = 0.0
        for acc in by_class:
            total = total + acc[0]
        return (total, *(x for acc in by_class for x in acc), *flop, dram, link)

    def evaluate(self, p: Point) -> tuple[list[list[float]], list[float], float, float]:
        """Per class present (time, compute-bound, memory-bound, network, overhead), FLOP per
        format, DRAM bytes and link bytes of the step at point ``p`` (tokens, all_tokens,
        decode_seqs, prefill_tokens, decode_kv_tokens, prefill_pairs, logit_rows), each
        operator times its runs."""
        v = self.step(*p[:7])
        n = 1 + 5 * self.classes
        return [list(v[j:j + 5]) for j in range(1, n, 5)], list(v[n:n + self.formats]), v[-2], v[-1]

    def evaluate_loop(self, p: Point) -> tuple[list[list[float]], list[float], float, float]:
        """:meth:`evaluate` operator by operator through the rules (what :func:`_compile` unrolls)."""
        by_class = [[0.0, 0.0, 0.0, 0.0, 0.0] for _ in range(self.classes)]
        flop = [0.0] * self.formats
        dram = link = 0.0
        c = self.chip
        p = (*p[:7], *m_terms(p[0], c), *m_terms(p[6], c))
        for rule, cols, reps, j, f in self.ops:
            comp, mem, over, net, fl, nb, lb = rule(cols, c, p)
            acc = by_class[j]
            if comp >= mem:
                acc[0] += (comp + over + net) * reps
                acc[1] += comp * reps
            else:
                acc[0] += (mem + over + net) * reps
                acc[2] += mem * reps
            acc[3] += net * reps
            acc[4] += over * reps
            if f >= 0:
                flop[f] += fl * reps
            dram += nb * reps
            link += lb * reps
        return by_class, flop, dram, link


COMPILE_AFTER = 16  # calls of a plan's step before it is compiled (ScalarPlan.step)
_ARGS = ("t", "t_all", "s_dec", "t_pre", "kv_d", "pr", "rows")


def _compile(plan: ScalarPlan) -> Callable[..., tuple[float, ...]]:
    """The plan's step as straight-line Python: every operator's rule written out with its columns
    and the chip's rates as constants (the operations of :meth:`ScalarPlan.evaluate_loop`, in its
    order, so the same floats), the sums kept in local variables. Rules without a written-out form
    are called (their columns and the chip bound as names). A step of a few dozen operators on one
    point then costs a few microseconds instead of a loop's tens."""
    c = plan.chip
    env: dict[str, Any] = {"ceil": math.ceil, "CHIP": c, "W": gemm_waves_scalar, "SK": split_k_compute_s_scalar,
                           "MT": m_tile_scalar, "CT": cublas_tile_compute_s_scalar, "CH": c.cublas_tiles,
                           "CR": chunked_reads_scalar}

    consts: dict[str, float] = {"0.0": 0.0}  # the constants written so far, by their text

    def k(x: float) -> str:  # a constant: a literal where one round-trips, else a bound name
        x = float(x)
        text = repr(x) if math.isfinite(x) else f"K{len(env)}"
        if not math.isfinite(x):
            env[text] = x
        consts[text] = x
        return text

    body: list[str] = []
    rules = {rule for rule, *_ in plan.ops}
    written = {gemm_kernel, lm_head_kernel, memory_kernel, host_kernel, attention_kernel}  # the others are called
    both = False  # the M terms of the tokens written, those of the logit rows are theirs where rows == t
    for m, tag in (("t", "0"), ("rows", "1")):
        if (gemm_kernel if tag == "0" else lm_head_kernel) in rules or (rules - written):
            lines = [f"x{tag} = 1.0 if 1.0 > {m} else {m}",  # max(m, 1.0), its operands in order
                     f"tm{tag} = MT({m}, {k(c.tile_m)})",  # gemm.m_tile_scalar
                     f"mt{tag} = ceil(x{tag} / tm{tag})"]
            if both:  # a decode step's rows are its tokens: the same floats
                lines = ["if rows == t:", "    tm1, mt1 = tm0, mt0", "else:", *("    " + x for x in lines)]
            body += lines
            both = True
    if rules - written:
        body.append("P = (t, t_all, s_dec, t_pre, kv_d, pr, rows, tm0, mt0, tm1, mt1)")
    # The sums the branches update start at 0.0; the others (network, overhead, FLOP, DRAM and link
    # bytes) are added up here while they only receive constants, and set on their first variable term.
    if plan.classes:
        body.append(" = ".join([f"a{j}_{i}" for j in range(plan.classes) for i in range(3)] + ["0.0"]))
    folded: dict[str, float] = {}
    live: set[str] = set()
    abw, kov = k(c.attainable_bytes_per_s), k(c.kernel_overhead_s)
    for n, (rule, cols, reps, j, f) in enumerate(plan.ops):
        col = [k(v) for v in cols]
        net = lb = "0.0"
        if rule is gemm_kernel or rule is lm_head_kernel:
            m, tm, mt = ("t", "tm0", "mt0") if rule is gemm_kernel else ("rows", "tm1", "mt1")
            if cols[9] > 0.0 and c.cublas_tiles:  # cuBLASLt's tile per shape (scalar_kernels.matrix_gemm)
                body.append(f"cp = CT({m}, {col[7]}, {col[8]}, {col[6]}, {k(c.tiles_in_flight)}, {col[5]},"
                            f" {k(2.0 * FP32_BYTES)} * {m} * {col[7]} / {abw}, CH) if {m} > 0 else 0.0")
            else:
                body.append(f"cp = SK({mt} * {col[0]}, {k(c.tiles_in_flight)}, {col[6]}, {tm}, {col[1]}, {col[5]},"
                            f" {k(2.0 * FP32_BYTES)} * {m} * {col[7]} / {abw}) if {m} > 0 else 0.0")
            if cols[10] > 0.0:  # the kernel's plateau on the useful FLOP (scalar_kernels.matrix_gemm)
                body.append(f"cp = max(cp, {m} * {col[4]} * {col[10]}) if {m} > 0 else 0.0")
            body += [f"nb = {col[2]} + {m} * {col[3]}", f"mb = nb / {abw}", f"fl = {m} * {col[4]}"]
            over = kov
        elif rule is memory_kernel:
            body += [f"nb = t * {col[0]}", f"mb = nb / {abw}"]  # no compute, no FLOP: cp = fl = 0.0
            over = col[1]
        elif rule is host_kernel:  # no compute, memory or FLOP: the first branch, its sums known
            if reps * 0.0 == 0.0 and cols[1] == 0.0 and cols[3] == 1.0:  # one stage: a whole iteration
                body.append(f"a{j}_0 += {k((0.0 + cols[0]) * reps)}")
                for acc in (f"a{j}_4",) + ((f"f{f}",) if f >= 0 else ()):
                    _fold(acc, cols[0] if acc.endswith("_4") else 0.0, reps, body, live, folded, k)
                continue
            least = k(1.0 / cols[3])  # host_kernel's share of the iterations, operation for operation
            body += ["cp = mb = fl = nb = 0.0", f"sh = 1.0 if rows >= 1.0 else (rows if rows > {least} else {least})",
                     f"o = {col[0]} * sh + {col[1]} * s_dec"]
            over = "o"
        elif rule is attention_kernel:
            dec, pre, kvb, preb, dec_att, pre_att, window, chunk = col
            body += ["kd, pp = kv_d, pr"]
            if cols[6] > 0:
                body += [f"w = s_dec * {window}", "kd = kd if kd < w else w",
                         f"w = t_pre * {window}", "pp = pp if pp < w else w"]
            if cols[7] > 0:  # a chunked layer: kernels/attention.chunked_reads_scalar, called
                body += [f"kd, pp = CR(s_dec, t_pre, kd, pp, {chunk})"]
            body += [f"df = {dec} * kd", f"pf = {pre} * pp", f"nb = kd * {kvb} + s_dec * {kvb} + t_pre * {preb}",
                     f"cp = df / {dec_att} + pf / {pre_att}", f"mb = nb / {abw}", "fl = df + pf",
                     f"o = {kov} * (float(s_dec > 0) + float(t_pre > 0))"]
            over = "o"
        else:
            env[f"R{n}"], env[f"C{n}"] = rule, cols
            body += [f"cp, mb, o, n, fl, nb, lb = R{n}(C{n}, CHIP, P)"]
            over, net, lb = "o", "n", "lb"
        # Terms known to be zero are left out (adding 0.0 changes no sum) and constant products folded.
        r, a = k(reps), f"a{j}_"
        times = "" if reps == 1.0 else f" * {r}"  # (x * 1.0 is x)
        extra = "".join(f" + {x}" for x in (over, net) if x != "0.0")
        if rule is memory_kernel and reps * 0.0 == 0.0:  # cp = 0.0: its branch adds a constant (and 0.0 * reps)
            body += ["if 0.0 >= mb:", f"    {a}0 += {k((0.0 + cols[1]) * reps)}"]
        else:
            if rule is memory_kernel:
                body += ["cp = fl = 0.0"]
            body += ["if cp >= mb:", f"    {a}0 += (cp{extra}){times}", f"    {a}1 += cp{times}"]
        body += ["else:", f"    {a}0 += (mb{extra}){times}", f"    {a}2 += mb{times}"]
        flop = "fl" if f >= 0 and rule is not memory_kernel else "0.0"
        for acc, x in ((f"{a}3", net), (f"{a}4", over), (f"f{f}", flop), ("dram", "nb"), ("link", lb)):
            v = consts.get(x)
            if v is not None:
                _fold(acc, v, reps, body, live, folded, k)
            elif acc in live:
                body.append(f"{acc} += {x}{times}")
            else:
                body.append(f"{acc} = {k(folded.get(acc, 0.0))} + {x}{times}")
                live.add(acc)
    total = " + ".join(["0.0"] + [f"a{j}_0" for j in range(plan.classes)])  # point_step_cost's sum, in its order
    def out(x: str) -> str:  # a sum's variable, or its value where it only received constants
        return x if x in live else k(folded.get(x, 0.0))

    flat = [f"a{j}_{i}" if i < 3 else out(f"a{j}_{i}") for j in range(plan.classes) for i in range(5)]
    flat += [out(f"f{j}") for j in range(plan.formats)] + [out("dram"), out("link")]
    body.append(f"return ({total}, {', '.join(flat)})")
    src = f"def step({', '.join(_ARGS)}):\n" + "\n".join("    " + line for line in body) + "\n"
    exec(compile(src, f"<inferchip scalar step of {len(plan.ops)} operators>", "exec"), env)  # noqa: S102
    fn: Callable[..., tuple[float, ...]] = env["step"]
    return fn


def _fold(acc: str, v: float, reps: float, body: list[str], live: set[str], folded: dict[str, float],
          k: Callable[[float], str]) -> None:
    """Add the constant ``v`` times ``reps`` to the sum ``acc``: left out where it is zero (adding
    0.0 changes no sum), a literal where the sum is a variable already, else kept to fold."""
    if v * reps == 0.0:
        return
    if acc in live:
        body.append(f"{acc} += {k(v * reps)}")
    else:
        folded[acc] = folded.get(acc, 0.0) + v * reps


def scalar_plan(ctx: r.CostContext, groups: Sequence[Any], reps: Sequence[float], class_of: Sequence[int],
                format_of: Sequence[int]) -> ScalarPlan | None:
    """The scalar form of a plan (its groups, run counts, each operator's class and FLOP format
    positions; -1: no FLOP), or None where it has none (a chip array, a rule without a twin)."""
    if ctx.chip_shape != ():
        return None
    chip = Chip(as_float(ctx.attainable_bytes_per_s), as_float(ctx.kernel_overhead_s), as_float(ctx.tile_m),
                 as_float(ctx.tile_n), as_float(ctx.tiles_in_flight), as_float(ctx.vector_flop_per_s),
                 as_float(ctx.peak_gemm_flop_per_s), as_float(ctx.link_bytes_per_s), as_float(ctx.link_latency_s),
                 ctx.gemm_compute_fraction, ctx.link_bandwidth_fraction, ctx.moe_imbalance,
                 as_float(ctx.link_direct_all_reduce), as_float(ctx.expert_a2a_kernel_bytes_per_s),
                 ctx.all_reduce_codec, ctx.moe_token_vector_flop, ctx.moe_mma_peak_fraction,
                 ctx.moe_stream_cap_bytes_per_s, as_float(ctx.expert_a2a_decode_floor_s),
                 as_float(ctx.expert_a2a_decode_per_peer_s), ctx.expert_popularity_log_sd,
                 ctx.expert_gemm_cap_flop_per_s, ctx.cublas_tiles)
    ops = []
    for g in groups:
        twin = _TWINS.get(g.rule.cost)
        if twin is None:
            return None
        rule, names = twin
        n = g.stop - g.start
        columns: list[list[float]] = []  # each column's value per operator (one shared value: repeated)
        for name in names:
            if name.startswith(":"):
                columns.append([float(getattr(ctx, name[1:]))] * n)
                continue
            col = g.table.get(name.rstrip("?"))
            if col is None:
                if not name.endswith("?"):
                    return None
                columns.append([0.0] * n)
                continue
            flat = col.reshape(-1).tolist()  # Python floats: float() of each element
            columns.append(flat if len(flat) == n else [float(flat[0])] * n)
        for i, cols in enumerate(zip(*columns, strict=True) if columns else [()] * n):
            k = g.start + i
            ops.append((rule, tuple(cols), float(reps[k]), class_of[k], format_of[k]))
    return ScalarPlan(chip, tuple(ops), max(class_of, default=-1) + 1, max(format_of, default=-1) + 1)
