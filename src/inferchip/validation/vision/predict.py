"""A vision row's prediction from its row model (:class:`~inferchip.validation.vision.rows.RowModel`, built by
:func:`~inferchip.validation.vision.rows.build_row`, whose module doc states the scenario forms): throughput or
latency per scenario (:func:`predict_row`), the MultiStream spread over chips (:func:`multi_stream_s`), the Server
rate a p99 bound allows and the latency at a rate, and the system's wall power at an operating point."""

from __future__ import annotations

import math

import numpy as np

from inferchip.catalog.assumptions import load_assumptions
from inferchip.cost import energy as en
from inferchip.cost.roofline import FloatArray
from inferchip.cost.vision.host import query_host_s
from inferchip.cost.vision.system import host_cpus, host_power_w, wall_w
from inferchip.validation.vision.cases import MULTISTREAM_SAMPLES
from inferchip.validation.vision.rows import Params, RowModel

SERVER_P99_CALLS = 2.0  # p99 ~ the call in flight plus the sample's own call (greedy batching, see above)


def server_rate_per_s(b: FloatArray, t: FloatArray, bound_s: float) -> tuple[float, int]:
    """Highest rate per chip whose p99 latency (``SERVER_P99_CALLS`` x t(b)) meets ``bound_s``, and its grid index."""
    rate = np.where(SERVER_P99_CALLS * t <= bound_s, b / t, 0.0)
    k = int(np.argmax(rate))
    return float(rate[k]), k


def _single_stream_s(row: RowModel, t: FloatArray, frames: float) -> float:
    """Latency of one sample: its frames in batches of b (min over b <= frames). ``frames`` is a size of the
    data set's distribution (a mean or a percentile), not one volume's count, so the calls are frames / b
    (at least 1), continuous in ``frames`` for the fit."""
    ok = row.batches <= max(frames, 1.0)
    calls = np.maximum(frames / row.batches, 1.0)
    return float(np.min(np.where(ok, calls * t, np.inf)))


def _at(row: RowModel, values: FloatArray, batch: float) -> float:
    return float(np.interp(batch, row.batches, values))


def predict_row(row: RowModel, p: Params) -> tuple[float, dict[str, float]]:
    """The row's metric in its unit, and the operating point behind it (batch, latency, rate)."""
    c = row.case
    t = row.pipelined_s(p)  # throughput scenarios: input copies overlap the previous call's compute
    tq = row.query_s(p)  # latency scenarios: one query's copy, then its compute
    n = c.num_accelerators
    frames = row.frames(p)
    tail = row.frames(p, tail=True)  # latency percentiles (p90 and above) of one volume at a time
    info: dict[str, float] = {}
    if c.metric == "system_power_avg_w" or c.metric in ("samples_per_s", "fps") and c.scenario in ("offline",
                                                                                                   "server"):
        if c.scenario == "server" and c.latency_bound_ms[0] is not None:
            rate, k = server_rate_per_s(row.batches, t, float(c.latency_bound_ms[0]) / 1e3)
            busy = rate * t[k] / row.batches[k]
            per_chip, k_used = rate, k
        elif c.scenario in ("offline", "server"):
            thr = row.batches / t
            k_used = int(np.argmax(thr))
            per_chip, busy = float(thr[k_used]), 1.0
        else:
            k_used, busy = 0, 1.0
            per_chip = float(row.batches[0] / t[0])
        if row.dataflow and per_chip > 0:  # every b gives 1 / I: samples stream one at a time (batch 1)
            k_used, per_chip = 0, float(row.batches[0] / t[0])
        per_chip *= row.programs
        info = {"batch": float(row.batches[k_used]), "call_s": float(t[k_used]), "frames_per_s_per_chip": per_chip}
        if c.metric == "system_power_avg_w":
            if c.scenario == "single_stream":  # one chip serves the queries back to back, the others idle
                busy_chips, dyn_w = 1, float(row.e_dyn_j[0] / tq[0])
            else:
                busy_chips, dyn_w = n, busy * float(row.e_dyn_j[k_used] / t[k_used])
            return system_power_w(row, busy_chips, dyn_w), info
        return n * per_chip / frames, info
    staged = float(query_host_s(1.0, p.sample_host_s))  # one sample (a volume, a frame) staged by the host
    if c.metric == "fps":
        return 1.0 / (_single_stream_s(row, tq, frames) + staged), info
    if c.scenario == "constant_stream":
        t1 = _single_stream_s(row, tq, tail) + staged
        rate = float(c.stream_rate_per_s or 0.0) / n
        return (t1 * 1e3 if t1 * rate <= 1.0 else math.inf), {"batch": 1.0, "call_s": t1}
    if c.scenario == "multi_stream":
        lat, share = multi_stream_s(row, tq, MULTISTREAM_SAMPLES * tail, n, p.sample_host_s)
        return lat * 1e3, {"batch": float(share), "call_s": lat}
    lat = _single_stream_s(row, tq, tail) + staged
    return lat * 1e3, {"batch": 1.0, "call_s": lat}


def multi_stream_s(row: RowModel, tq: FloatArray, samples: float, chips: int,
                   sample_host_s: float = 0.0) -> tuple[float, int]:
    """Latency of one MultiStream query of ``samples`` frames and the batch per chip: spread over k <= ``chips``
    chips in batches of ceil(samples / k), issued one after another by the host (``dispatch_s`` each, after
    staging the batch's samples at ``sample_host_s`` each, :func:`query_host_s`), so the last batch starts
    (k - 1) (``dispatch_s`` + its share's staging) after the first and runs after its own staging; the k that
    finishes soonest. A share above the row's largest batch (a harness cap) runs as equal calls one after another."""
    best = (math.inf, 1)
    for k in range(1, max(1, min(chips, math.ceil(samples))) + 1):
        share = math.ceil(samples / k)
        staged = float(query_host_s(share, sample_host_s))
        calls = math.ceil(share / float(row.batches[-1]))  # a harness batch cap (harness.py): calls in turn
        lat = calls * _at(row, tq, share / calls) + staged + (k - 1) * (row.dispatch_s + staged)
        if lat < best[0] - 1e-15:
            best = (lat, share)
    return best


def system_power_w(row: RowModel, busy_chips: int, dyn_w: float) -> float:
    """Wall power: ``busy_chips`` boards at static + ``dyn_w`` (capped at TDP), the rest at static, plus the host
    of the row's CPUs (:mod:`inferchip.cost.vision.system`) or, for a CPU not in the table, the HGX host."""
    c, a = row.case, load_assumptions()
    n = c.num_accelerators
    board = row.static_w + dyn_w
    if math.isfinite(row.tdp_w):
        board = min(board, row.tdp_w)
    board *= row.programs  # each activation holds its share of the board (programs.side_by_side)
    boards = busy_chips * board + (n - busy_chips) * row.static_w * row.programs
    host = host_cpus(c.notes)
    if host is None:
        return float(en.wall_power_w(boards, n, a))
    host_w = host_power_w(host[0], host[1], n if row.switched else 0, a.number("host.host_per_accelerator_w"))
    return wall_w(boards, host_w, a.number("host.fan_power_fraction"), a.number("host.psu_efficiency"))


def server_latency_ms(row: RowModel, p: Params, rate_total_per_s: float) -> float:
    """p99 latency (greedy batching above) at a total arrival rate: 2 t(b*), b* the smallest batch of the grid
    whose throughput b / t(b) carries the load; inf when no batch up to the maximum does."""
    t = row.pipelined_s(p)
    lam = rate_total_per_s * row.frames(p) / (row.case.num_accelerators * row.programs)
    enough = row.batches / t >= lam
    if not np.any(enough):
        return math.inf
    k = int(np.argmax(enough))
    return float(SERVER_P99_CALLS * t[k] * 1e3)
