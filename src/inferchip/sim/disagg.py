"""Disaggregated serving: a prefill pool and a decode pool with a KV-cache transfer between them.

A request is prefilled on a prefill replica, which returns its first token (TTFT ends
there, as in DistServe, Splitwise and NVIDIA Dynamo). Its KV cache, ``input_tokens *
kv_bytes_per_token`` bytes, then crosses the link in ``link_latency_s + bytes /
link_bandwidth_bytes_per_s`` and the request queues at a decode replica, which decodes
the remaining ``output_tokens - 1`` tokens. The transfer delays the second token, so it
shows in TPOT. Each pool has its own step model, scheduler settings and router; links are
assumed not to contend (one transfer does not slow another).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from pydantic import TypeAdapter

from inferchip.errors import InvalidSettingError
from inferchip.sim.arrivals import ArrivalSpec, make_source
from inferchip.sim.engine import EventQueue, Priority
from inferchip.sim.kv_cache import blocks_for
from inferchip.sim.metrics import SimResult
from inferchip.sim.protocol import check_step_model
from inferchip.sim.replica import Replica
from inferchip.sim.request import RequestTable
from inferchip.sim.router import Router
from inferchip.sim.scheduler import SchedulerConfig
from inferchip.sim.simulate import PROGRESS_STEP_FRACTION, as_scheduler_config, build_result, time_cap_s, validated
from inferchip.sim.steptime import StepTimer

_ARRIVALS = TypeAdapter(ArrivalSpec)


def simulate_disaggregated(
    prefill_model: Any,
    decode_model: Any,
    arrivals_spec: Any,
    *,
    kv_bytes_per_token: float,
    link_bandwidth_bytes_per_s: float,
    link_latency_s: float = 0.0,
    prefill_replicas: int = 1,
    decode_replicas: int = 1,
    duration_s: float | None = None,
    num_requests: int | None = None,
    seed: int = 0,
    prefill_config: SchedulerConfig | dict | None = None,
    decode_config: SchedulerConfig | dict | None = None,
    slo_ttft_s: float | None = None,
    slo_tpot_s: float | None = None,
    router: str = "least_loaded",
    exact_step_times: bool = False,
    max_time_s: float | None = None,
    max_drain_s: float | None = None,
    progress: Callable[[float], None] | None = None,
) -> SimResult:
    """Like :func:`~inferchip.sim.simulate` with separate prefill and decode pools.

    Replica indices ``0 .. prefill_replicas - 1`` are the prefill pool, the next
    ``decode_replicas`` the decode pool (the ``replica`` column of a request names the
    last replica that served it).
    """
    check_step_model(prefill_model)
    check_step_model(decode_model)
    for name, value in (("kv_bytes_per_token", kv_bytes_per_token),
                        ("link_bandwidth_bytes_per_s", link_bandwidth_bytes_per_s)):
        if not (isinstance(value, int | float) and value > 0):
            raise InvalidSettingError(f"{name}: value {value!r} must be a positive number")
    if not (isinstance(link_latency_s, int | float) and link_latency_s >= 0):
        raise InvalidSettingError(f"link_latency_s: value {link_latency_s!r} must be >= 0 seconds")
    for name, value in (("prefill_replicas", prefill_replicas), ("decode_replicas", decode_replicas)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidSettingError(f"{name}: value {value!r} must be a whole number >= 1")
    cfg_p, cfg_d = as_scheduler_config(prefill_config), as_scheduler_config(decode_config)
    spec = arrivals_spec if not isinstance(arrivals_spec, dict) else validated(arrivals_spec, _ARRIVALS, "arrivals")
    source = make_source(spec, duration_s, num_requests, seed)
    table = RequestTable()
    timer_p = StepTimer(prefill_model, exact=exact_step_times)
    timer_d = StepTimer(decode_model, exact=exact_step_times)
    pre = [Replica(i, timer_p, cfg_p, int(prefill_model.kv_capacity_tokens), table) for i in range(prefill_replicas)]
    dec = [Replica(prefill_replicas + j, timer_d, cfg_d, int(decode_model.kv_capacity_tokens), table)
           for j in range(decode_replicas)]
    route_p, route_d = Router(router, pre), Router(router, dec)
    reps = pre + dec

    def too_big(inp: int, out: int) -> bool:
        """Never fits: the prompt in a prefill replica, or prompt + output - 1 tokens in a decode replica."""
        if blocks_for(inp, cfg_p.block_size_tokens) > pre[0].pool.total_blocks:
            return True
        if not cfg_p.enable_chunked_prefill and inp > cfg_p.max_num_batched_tokens:
            return True
        return out > 1 and blocks_for(inp + out - 1, cfg_d.block_size_tokens) > dec[0].pool.total_blocks

    if source.closed_loop and too_big(source.max_input_tokens, source.max_total_tokens - source.max_input_tokens):
        raise InvalidSettingError(
            f"a request of up to {source.max_input_tokens} input + "
            f"{source.max_total_tokens - source.max_input_tokens} output tokens never fits a prefill or decode replica"
        )
    cap_s = time_cap_s(source, spec, max_time_s, max_drain_s)
    transfers = EventQueue()  # KV caches on their way to the decode pool: (time, (request, first token time))
    hit_cap = False
    total = source.expected_total
    reported = 0.0
    while True:
        t_arr = source.peek_time_s()
        t_kv = transfers.peek_time_s()
        t_event = min(t_arr, t_kv)
        if t_event >= cap_s:
            t_event = math.inf
        best = None
        s1 = s2 = math.inf
        for rep in reps:
            if rep.n_running or rep.waiting or rep.swapped:
                s = rep.clock_s
                if s < s1:
                    best, s1, s2 = rep, s, s1
                elif s < s2:
                    s2 = s
        if best is None or s1 >= t_event:
            if t_event == math.inf:
                hit_cap = best is not None
                break
            if t_kv <= t_arr:  # a KV cache lands in the decode pool
                _, (rid, first_token_s) = transfers.pop()
                route_d.choose().enqueue_prefilled(rid, table.input_tokens[rid], table.output_tokens[rid], t_kv,
                                                   first_token_s)
                continue
            t, inp, out = source.pop()
            rid = table.add(t, inp, out)
            if too_big(inp, out):
                table.rejected[rid] = True
                source.on_finish(t)
            else:
                route_p.choose().enqueue(rid, inp, 1, t)  # the prefill pool produces the first token only
            if progress is not None and total and len(table) / total - reported >= PROGRESS_STEP_FRACTION:
                reported = len(table) / total
                progress(min(reported, 1.0))
            continue
        if s1 >= cap_s:
            hit_cap = True
            break
        in_prefill_pool = best.index < prefill_replicas
        for t_fin, rid in best.run_until(min(t_event, cap_s, s2), stop_on_finish=True, min_steps=1):
            if in_prefill_pool and table.output_tokens[rid] > 1:
                transfer_s = link_latency_s + table.input_tokens[rid] * kv_bytes_per_token / link_bandwidth_bytes_per_s
                transfers.push(t_fin + transfer_s, Priority.ARRIVAL, (rid, t_fin))
            else:
                source.on_finish(t_fin)
    if progress is not None:
        progress(1.0)
    chips = prefill_replicas * int(prefill_model.num_chips) + decode_replicas * int(decode_model.num_chips)
    return build_result(spec, table, reps, [timer_p, timer_d], chips, hit_cap, slo_ttft_s, slo_tpot_s,
                        {"prefill_replicas": prefill_replicas, "decode_replicas": decode_replicas,
                         "prefill_config": cfg_p.model_dump(), "decode_config": cfg_d.model_dump()})
