"""``ic.sweep``'s static batches as columns: ``FastLayout.static`` (:mod:`inferchip.performance.fast_path`),
its ``_prediction`` and ``Prediction.to_dict`` written over arrays of batch sizes at one pair of lengths.

A sweep of a million points spent ~35 us a point building a :class:`~inferchip.performance.prediction.Prediction`
and its dict, against ~1 us pricing its two steps. :func:`static_columns` does the same operations on numpy arrays,
in the same order (IEEE arithmetic: each element the float the scalar code computes), and answers the figures as
columns, one element a point that fits. The steps are priced as ``ic.sweep`` primed them
(:func:`~inferchip.performance.fast_sweep.prime`): the same blocks of :data:`PRIME_BLOCK` questions, each block's
distinct step points in the order ``prime`` met them, one :func:`~inferchip.cost.step_rows.step_rows` call a block,
so that each step's figures are those ``static`` found primed, to the last bit (attention data parallelism, which
the sweep never primed: its steps one by one on the scalar path, as ``static`` prices them, the figures on arrays).
Where a value would take the scalar code's checks (a negative or NaN figure, a free memory that is not finite),
None: the caller asks point by point, as before.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import numpy.typing as npt

from inferchip.cost import tco
from inferchip.cost.energy import host_wall_power_w
from inferchip.cost.roofline import FloatArray
from inferchip.cost.step_rows import step_rows
from inferchip.performance.fast_best import best_concurrencies
from inferchip.performance.fast_sweep import PRIME_BLOCK
from inferchip.units import HOURS_PER_YEAR, KILO, MEGA, SECONDS_PER_HOUR

if TYPE_CHECKING:
    from inferchip.performance.fast_path import FastLayout

Column = FloatArray | npt.NDArray[np.int64] | npt.NDArray[np.bool_] | float | int | bool | str | None
"""A column over a block's fitting points: an array (one element a point) or one value for every point."""


class StaticColumns(NamedTuple):
    """:func:`static_columns` of a vector of static batches at one pair of lengths."""

    fits: npt.NDArray[np.bool_]  # per batch: it fits memory (FastLayout.static_steps: not DOES_NOT_FIT)
    columns: dict[str, Column]  # ``Prediction.to_dict()``'s scalars, over the batches that fit, in its key order


def _activations(fast: FastLayout, step_tokens: FloatArray) -> FloatArray:
    """:meth:`FastLayout.activations` of each step."""
    small = step_tokens * fast.act_per_token + np.minimum(step_tokens, 4096.0) * fast.act_logits
    return np.where(step_tokens >= fast.chunk_tokens, fast.chunk_act, small)


def _fits(fast: FastLayout, b: FloatArray, i: float, o: float) -> npt.NDArray[np.bool_] | None:
    """``FastLayout.static_steps``'s memory test of each batch (True: it fits); None where ``max_batch`` is None
    for some batch (``static`` answers None: the general path)."""
    ctx = i + o * o / (1.0 if 1.0 > o else o)
    step_tokens = b * i
    if len(fast.kv_terms) == 1 and fast.kv_terms[0][1] is None:  # max_batch's two forms, as it picks them
        per_seq = 0.0 + fast.kv_terms[0][0] * (ctx + 0.0) * fast.kv_bytes
    else:
        per_seq = fast.kv_one(ctx + 0.0) * fast.dp
    smaller = fast.budget - fast.weights - _activations(fast, step_tokens) * fast.kv_activations
    free = np.where(step_tokens < fast.chunk_tokens, smaller, fast.free_bytes)
    if not (per_seq > 0 and math.isfinite(per_seq) and bool(np.isfinite(free).all())):
        return None
    bmax = fast.dp * np.floor(np.where(0.0 > free, 0.0, free) / per_seq)
    fits: npt.NDArray[np.bool_] = ~(b > bmax)
    return fits


def _steps(fast: FastLayout, b: FloatArray, i: float, o: float) -> tuple[FloatArray, FloatArray, FloatArray]:
    """``static_steps``'s prefill and decode points (7 columns each) and prefill chunks of batches that fit."""
    pp = fast.pp
    n_chunks = np.ceil(b * i / fast.replica_chunk_tokens)
    n_chunks = np.where(1.0 > n_chunks, 1.0, n_chunks)
    pairs = i * (0.0 + (i + 1.0) / 2.0) * b / n_chunks
    t, s_dec = b * i / n_chunks / pp, b / pp
    zero = np.zeros_like(b)
    t_pre = t - 0.0
    pre = np.stack((t, t, zero, np.where(0.0 > t_pre, 0.0, t_pre), zero, pairs / pp, b / n_chunks / pp), axis=1)
    dec = np.stack((s_dec, s_dec, s_dec, zero, b * (i + o / 2.0) / pp, zero, s_dec + 0.0), axis=1)
    return pre, dec, n_chunks


def _first_rows(rows: FloatArray, key: FloatArray,
                several_chunks: bool) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """The index of the first of each distinct row of ``rows`` (a point, 7 floats), ascending, and each row's
    distinct row's rank among them. ``key``: the batch, which fixes the row (one batch: one row); distinct batches
    give distinct rows, but prefill rows of distinct batches split into different chunk counts may be equal
    (``several_chunks``): their rows are then compared."""
    if several_chunks:  # rows compared, float by float
        _, first, inverse = np.unique(rows, axis=0, return_index=True, return_inverse=True)
    else:
        _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return first[order], rank[np.reshape(inverse, -1)]


def _priced(fast: FastLayout, b: FloatArray, pre: FloatArray, dec: FloatArray,
            n_chunks: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The step rows of one primed block of batches ``b``: its distinct points in ``prime``'s order (each
    question's prefill point, then its decode point, a point met before skipped; a prefill point never equals a
    decode point, which decodes), priced in one :func:`step_rows` call."""
    pre_first, pre_rank = _first_rows(pre, b, bool((n_chunks > 1.0).any()))
    dec_first, dec_rank = _first_rows(dec, b, False)
    met = np.concatenate((2 * pre_first, 2 * dec_first + 1))  # where prime met each distinct point
    order = np.argsort(met, kind="stable")
    points = np.concatenate((pre[pre_first], dec[dec_first]))[order]
    where = np.empty_like(order)
    where[order] = np.arange(len(order))  # a distinct point's row in the priced block
    rows = step_rows(fast.plan, list(points.T))
    return rows[where[pre_rank]], rows[where[len(pre_first) + dec_rank]]


def _power(fast: FastLayout, v: FloatArray, t: FloatArray) -> tuple[FloatArray, FloatArray, Any, FloatArray] | None:
    """``fast_compiled.power_function``'s (time, W, throttled, J) of each step row; None where a figure is negative
    or NaN (the scalar code sends it to ``ChipEconomy.step_power_of``, which refuses it)."""
    eco = fast.economy
    if eco is None:
        return None
    e: FloatArray | float = 0.0
    for n, j in enumerate(fast.flop_j):
        x = v[:, fast.flop_at + n]
        if not bool((x >= 0).all()):
            return None
        e = e + x * j
    x, y = v[:, -2], v[:, -1]
    if not bool((x >= 0).all() and (y >= 0).all() and (t >= 0).all()):
        return None
    u = eco.units
    e = e + x * u.per_byte_dram_j
    e = e + y * u.per_byte_link_j
    e_dyn = np.asarray(e * fast.pp)
    if not bool((e_dyn >= 0).all()):
        return None
    s, tdp = eco.static_w, eco.tdp_w
    with np.errstate(divide="ignore", invalid="ignore"):
        p_dyn = np.where(t > 0, e_dyn / t, np.where(e_dyn > 0, math.inf, 0.0))
    throttled = p_dyn + s > tdp
    t = np.where(throttled, np.maximum(t, e_dyn / (tdp - s)), t)
    return t, np.where(throttled, tdp, p_dyn + s), throttled, e_dyn + s * t


def _energy_and_money(fast: FastLayout, per_chip: FloatArray, power: FloatArray, throttled: Column
                      ) -> dict[str, Column] | None:
    """The power, energy and money columns of points that deliver ``per_chip`` tokens/s a chip at ``power`` W a chip
    (the static and the most-throughput points' same fields; None where :func:`_money` refuses)."""
    money = _money(fast, per_chip, power)
    if money is None:
        return None
    return {"power_w_per_chip": power, "throttled": throttled, "output_tokens_per_j": per_chip / power,
            "j_per_output_token": power / per_chip, **fast.money_fields, **money}


def _money(fast: FastLayout, tps: FloatArray, power: FloatArray) -> dict[str, Column] | None:
    """``ChipEconomy.money_per_token`` of each point (None where its checks would refuse a value)."""
    eco = fast.economy
    if eco is None:
        return None
    capital, capex = eco.capital_usd, eco.capex_usd_per_h
    if capital is None or capex is None:
        return {"tco_usd_per_hour_per_chip": None, "usd_per_million_tokens": None,
                "output_tokens_per_s_per_usd_capex": None}
    h = eco.host
    n = float(max(fast.num_chips, h.min_accelerators))
    board = power * n
    if not bool((board >= 0).all()):
        return None
    p = wall = host_wall_power_w(board, n, h.idle_w, h.per_accelerator_w, h.fan_power_fraction,
                                 h.psu_efficiency) / n
    per_h = capex + p / KILO * eco.pue * eco.usd_per_kwh + (
        p / KILO * eco.colocation_usd_per_kw_month * tco.MONTHS_PER_YEAR / HOURS_PER_YEAR)
    if not bool((p >= 0).all() and (tps >= 0).all() and (per_h >= 0).all()):
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        usd = np.where(tps > 0, per_h / (SECONDS_PER_HOUR * tps) * MEGA, math.inf)
    return {"tco_usd_per_hour_per_chip": per_h, "usd_per_million_tokens": usd,
            "output_tokens_per_s_per_usd_capex": tps / capital if capital > 0 else np.full(len(tps), math.inf),
            "wall_power_w_per_chip": wall}


def static_columns(fast: FastLayout, batches: FloatArray, i: float, o: float) -> StaticColumns | None:
    """The static batches ``batches`` (per replica) at ``i`` input and ``o`` output tokens on ``fast``, priced in
    blocks of :data:`PRIME_BLOCK` from the first (as ``ic.sweep`` primes them from where it starts priming): which
    fit, and ``Prediction.to_dict()``'s figures of those that do. Attention data parallelism: each batch's two
    steps on the scalar path, as ``static`` prices them (a sweep never primed them), the rest on arrays. None where
    the float path does not apply (a value the scalar code would check)."""
    b = np.asarray(batches, dtype=float)
    fits = _fits(fast, b, i, o)
    if fits is None:
        return None
    b_fit = b[fits]
    if fast.dp != 1:  # attention DP: each step on the scalar path, as static prices it (never primed)
        pre_v, dec_v, n_chunks = _dp_steps(fast, b_fit, i, o)
    else:
        pre_at, dec_at, n_chunks = _steps(fast, b_fit, i, o)
        pre_parts, dec_parts = [], []
        block = np.cumsum(fits)  # fitting points before each block's end: the block's rows in pre_at / dec_at
        for a in range(0, len(b), PRIME_BLOCK):
            lo = int(block[a - 1]) if a else 0
            hi = int(block[min(a + PRIME_BLOCK, len(b)) - 1])
            if hi > lo:
                pre, dec = _priced(fast, b_fit[lo:hi], pre_at[lo:hi], dec_at[lo:hi], n_chunks[lo:hi])
                pre_parts.append(pre)
                dec_parts.append(dec)
        pre_v = np.concatenate(pre_parts) if pre_parts else np.empty((0, _width(fast)))
        dec_v = np.concatenate(dec_parts) if dec_parts else np.empty((0, _width(fast)))
    cols = _figures(fast, b_fit, i, o, pre_v, dec_v, n_chunks)
    return None if cols is None else StaticColumns(fits, cols)


def _width(fast: FastLayout) -> int:
    """The scalar step's tuple length: time, five figures a class, FLOP by format, DRAM and link bytes."""
    return 1 + 5 * len(fast.class_names) + len(fast.flop_formats) + 2


def _dp_steps(fast: FastLayout, b: FloatArray, i: float, o: float) -> tuple[FloatArray, FloatArray, FloatArray]:
    """``FastLayout.static``'s attention-DP steps of each batch (:meth:`FastLayout.dp_static_steps`, one scalar step
    each, in its order) and their prefill chunks, as arrays."""
    width = _width(fast)
    steps = [fast.dp_static_steps(x, i, o) for x in b.tolist()]
    return (np.array([s[0] for s in steps], dtype=float).reshape(-1, width),
            np.array([s[1] for s in steps], dtype=float).reshape(-1, width),
            np.array([s[2] for s in steps], dtype=float))


def _figures(fast: FastLayout, b: FloatArray, i: float, o: float, pre: FloatArray, dec: FloatArray,
             n_chunks: FloatArray) -> dict[str, Column] | None:
    """``FastLayout.static`` then ``_prediction`` / ``_fill`` and ``Prediction.to_dict`` of the points (batches
    ``b`` that fit, their step rows ``pre`` and ``dec``): the same operations on arrays."""
    pp = fast.pp
    ttft = n_chunks * (pp * pre[:, 0]) * (2 * pp - 1) / pp
    tpot = pp * dec[:, 0]
    steps = o - 1.0
    e2e = ttft + (0.0 if 0.0 > steps else steps) * tpot
    tps_replica = b * o / e2e
    pre_step_s = ttft / n_chunks
    kv_cache = fast.kv_one(i + o) * b
    act = _activations(fast, b * i)
    num_chips, replicas, batch, out = fast.num_chips, fast.replicas, b.astype(np.int64), round(o)
    tput = tps_replica * replicas
    with np.errstate(divide="ignore"):
        per_user = np.where(tpot > 0, 1.0 / tpot, math.inf)
    extra: dict[str, Column] = {"calibration": fast.calibration}
    if fast.economy is not None:
        dec_pw, pre_pw = _power(fast, dec, tpot), _power(fast, pre, pre_step_s)
        if dec_pw is None or pre_pw is None:
            return None
        tpot, _, throttled, dec_e = dec_pw
        pre_t, _, pre_thr, pre_e = pre_pw
        ttft = pre_t * n_chunks
        steps_i = out - 1 if out > 1 else 0
        e2e = ttft + steps_i * tpot
        power = (pre_e * n_chunks + steps_i * dec_e) / e2e
        tput = batch * out / e2e * replicas
        with np.errstate(divide="ignore"):
            per_user = 1.0 / tpot
        energy = _energy_and_money(fast, tput / num_chips, power, throttled | pre_thr)
        if energy is None:
            return None
        extra.update(energy)
    h = fast.head
    has_tpot = out > 1
    return {"chip_id": h[0], "model_id": h[1], "num_chips": num_chips, "tp": h[2], "pp": h[3], "ep": h[4],
            "replicas": replicas, "batch": batch, "mode": "static", "input_tokens": round(i), "output_tokens": out,
            "ttft_s": ttft, "tpot_s": tpot if has_tpot else None, "e2e_latency_s": e2e, "output_tokens_per_s": tput,
            "output_tokens_per_s_per_chip": tput / num_chips,
            "output_tokens_per_s_per_user": per_user if has_tpot else None,
            "memory_per_chip_bytes": fast.weights + kv_cache + act, "memory_capacity_per_chip_bytes": fast.capacity,
            "weights": h[5], "activations": h[6], "kv": h[7], "compute_format": h[8], "attn_dp": fast.layout.attn_dp,
            "weights_source": h[9], "activations_source": h[10], "kv_source": h[11],
            "runtime_devices_per_package": h[12], "ttft_includes_queueing": False, **extra}


def best_columns(fast: FastLayout, i: FloatArray, o: FloatArray) -> StaticColumns | None:
    """``FastLayout.max_throughput`` (most throughput, continuous batching) of the questions ``i``, ``o`` (input and
    output tokens, one element a question) on arrays: which fit (its memory limit at least one sequence), and
    ``Prediction.to_dict()``'s figures of those that do. The concurrency is the one ``max_throughput`` picks; its two
    steps are priced at once (:func:`~inferchip.cost.step_rows.step_rows`: the scalar step to float rounding, so
    the figures equal the per-question ones to ~1e-12 relative). None where ``max_throughput`` does not apply."""
    if fast.dp > 1:
        return None
    i, o = np.asarray(i, dtype=float), np.asarray(o, dtype=float)
    ctx = i + o * o / np.where(1.0 > o, 1.0, o)  # max_batch(ctx), no step: the free bytes of a full chunk
    per_seq = _kv_one(fast, ctx + 0.0) + np.zeros_like(i)  # (dp = 1: max_batch's two forms the same operations)
    free = fast.free_bytes
    if not (bool((per_seq > 0).all() and np.isfinite(per_seq).all()) and math.isfinite(free)):
        return None
    bmax = fast.dp * np.floor((0.0 if 0.0 > free else free) / per_seq)
    fits = ~(bmax < 1)
    i, o, bmax = i[fits], o[fits], bmax[fits]
    pp = fast.pp
    b = best_concurrencies(fast, bmax, i, o) if len(i) else bmax
    e_o = np.maximum(o, 1.0)
    new = b / e_o / 1
    mctx = i + o * o / (2.0 * e_o)
    mpp = i * (0.0 + (i + 1.0) / 2.0)
    t, s_dec = (b + new * i) / pp, b / pp
    t_pre = np.maximum(t - s_dec, 0.0)
    chunk = np.minimum(i, float(fast.chunk_tokens))
    n_chunks = np.ceil(i / fast.chunk_tokens)
    pairs = chunk * (0.0 + (chunk + 1.0) / 2.0) + new * mpp
    t2 = (b + chunk) / pp
    dec_at = (t, t, s_dec, t_pre, b * mctx / pp, new * mpp / pp, s_dec + (t_pre > 0))
    pre_at = (t2, t2, s_dec, np.maximum(t2 - s_dec, 0.0), b * mctx / pp, pairs / pp, (b + 1.0) / pp)
    dec, pre = (np.concatenate([step_rows(fast.plan, [x[a:a + PRIME_BLOCK] for x in at])
                                for a in range(0, len(b), PRIME_BLOCK)] or [np.empty((0, _width(fast)))])
                for at in (dec_at, pre_at))
    tpot = pp * dec[:, 0]
    ttft = n_chunks * (pp * pre[:, 0])
    cols = _continuous(fast, b, i, o, ttft, tpot, pre, dec)
    return None if cols is None else StaticColumns(fits, cols)


def _continuous(fast: FastLayout, b: FloatArray, i: FloatArray, o: FloatArray, ttft: FloatArray, tpot: FloatArray,
                pre: FloatArray, dec: FloatArray) -> dict[str, Column] | None:
    """``max_throughput``'s ``_prediction`` (continuous), ``_fill`` and ``to_dict`` of the points on arrays."""
    e2e = ttft + np.maximum(o - 1.0, 0.0) * tpot
    num_chips, replicas, batch, out = fast.num_chips, fast.replicas, b.astype(np.int64), np.rint(o).astype(np.int64)
    tput = b / tpot * replicas
    with np.errstate(divide="ignore"):
        per_user = np.where(tpot > 0, 1.0 / tpot, math.inf)
    extra: dict[str, Column] = {"calibration": fast.calibration}
    if fast.economy is not None:
        got = _power(fast, dec, tpot)
        if got is None:
            return None
        tpot, power, throttled, _ = got
        e2e = ttft + np.where(out > 1, out - 1, 0) * tpot
        tput = batch / tpot * replicas
        with np.errstate(divide="ignore"):
            per_user = 1.0 / tpot
        energy = _energy_and_money(fast, tput / num_chips, power, throttled)
        if energy is None:
            return None
        extra.update(energy)
    kv_cache = _kv_one(fast, i + o) * b
    has_tpot = out > 1
    h = fast.head
    return {"chip_id": h[0], "model_id": h[1], "num_chips": num_chips, "tp": h[2], "pp": h[3], "ep": h[4],
            "replicas": replicas, "batch": batch, "mode": "continuous", "input_tokens": np.rint(i).astype(np.int64),
            "output_tokens": out, "ttft_s": ttft, "tpot_s": np.where(has_tpot, tpot, np.nan), "e2e_latency_s": e2e,
            "output_tokens_per_s": tput, "output_tokens_per_s_per_chip": tput / num_chips,
            "output_tokens_per_s_per_user": np.where(has_tpot, per_user, np.nan),
            "memory_per_chip_bytes": fast.weights + kv_cache + fast.chunk_act,
            "memory_capacity_per_chip_bytes": fast.capacity,
            "weights": h[5], "activations": h[6], "kv": h[7], "compute_format": h[8], "attn_dp": fast.layout.attn_dp,
            "weights_source": h[9], "activations_source": h[10], "kv_source": h[11],
            "runtime_devices_per_package": h[12], "ttft_includes_queueing": False, **extra}


def _kv_one(fast: FastLayout, ctx: FloatArray) -> FloatArray:
    """``FastLayout.kv_one`` (dp = 1) of each context."""
    out: FloatArray | float = 0.0
    for c, window in fast.kv_terms:
        out = out + c * (ctx if window is None else np.minimum(ctx, window)) * fast.kv_bytes
    return np.asarray(out)
