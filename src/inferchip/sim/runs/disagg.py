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

from collections.abc import Callable

from inferchip.errors import InvalidSettingError
from inferchip.sim.batching.scheduler import SchedulerConfig
from inferchip.sim.load.arrivals import ArrivalsLike
from inferchip.sim.results.metrics import SimResult
from inferchip.sim.runs.simulate import run_pools
from inferchip.sim.runs.system import KVLink, Pool
from inferchip.sim.step.protocol import StepModel


def simulate_disaggregated(
    prefill_model: StepModel,
    decode_model: StepModel,
    arrivals_spec: ArrivalsLike,
    *,
    kv_bytes_per_token: float,
    link_bandwidth_bytes_per_s: float,
    link_latency_s: float = 0.0,
    prefill_replicas: int = 1,
    decode_replicas: int = 1,
    duration_s: float | None = None,
    num_requests: int | None = None,
    seed: int = 0,
    prefill_config: SchedulerConfig | dict[str, object] | None = None,
    decode_config: SchedulerConfig | dict[str, object] | None = None,
    slo_ttft_s: float | None = None,
    slo_tpot_s: float | None = None,
    router: str = "least_loaded",
    exact_step_times: bool = False,
    max_time_s: float | None = None,
    max_drain_s: float | None = None,
    progress: Callable[[float], None] | None = None,
) -> SimResult:
    """Like :func:`~inferchip.sim.runs.simulate` with separate prefill and decode pools (the same event
    loop, :func:`~inferchip.sim.runs.simulate.run_replicas`, with a KV hand-off between the pools).

    Replica indices ``0 .. prefill_replicas - 1`` are the prefill pool, the next
    ``decode_replicas`` the decode pool (the ``replica`` column of a request names the
    last replica that served it).
    """
    for name, value in (("kv_bytes_per_token", kv_bytes_per_token),
                        ("link_bandwidth_bytes_per_s", link_bandwidth_bytes_per_s)):
        if isinstance(value, bool) or not (isinstance(value, int | float) and 0 < value < float("inf")):
            raise InvalidSettingError(f"{name}: value {value!r} must be a positive finite number")
    if isinstance(link_latency_s, bool) or not (isinstance(link_latency_s, int | float)
                                                and 0 <= link_latency_s < float("inf")):
        raise InvalidSettingError(f"link_latency_s: value {link_latency_s!r} must be a finite number >= 0 seconds")
    pools = [Pool(prefill_model, prefill_config, prefill_replicas, "prefill_"),
             Pool(decode_model, decode_config, decode_replicas, "decode_")]
    return run_pools(pools, KVLink(kv_bytes_per_token, link_bandwidth_bytes_per_s, link_latency_s), arrivals_spec,
                     duration_s=duration_s, num_requests=num_requests, seed=seed, slo_ttft_s=slo_ttft_s,
                     slo_tpot_s=slo_tpot_s, progress=progress, router=router, exact_step_times=exact_step_times,
                     max_time_s=max_time_s, max_drain_s=max_drain_s)
