"""L4: serving simulation (continuous batching, chunked prefill, paged KV cache, routing).

Consumes a step-time model through :class:`~inferchip.sim.protocol.StepModel`.
"""

from inferchip.sim.arrivals import BurstArrivals, ClosedLoopArrivals, PoissonArrivals, TraceArrivals, benchmark_clients
from inferchip.sim.disagg import simulate_disaggregated
from inferchip.sim.lengths import EmpiricalLength, FixedLength, UniformLength
from inferchip.sim.metrics import SimResult
from inferchip.sim.protocol import LinearStepModel, StepModel
from inferchip.sim.scheduler import SchedulerConfig
from inferchip.sim.search import (
    CurveResult,
    ServerSearchResult,
    max_rate_under_slo,
    pareto_flags,
    simulate_client,
    throughput_interactivity_curve,
)
from inferchip.sim.simulate import simulate
from inferchip.sim.trace import load_trace

__all__ = [
    "BurstArrivals", "ClosedLoopArrivals", "CurveResult", "EmpiricalLength", "FixedLength", "LinearStepModel",
    "PoissonArrivals", "SchedulerConfig", "ServerSearchResult", "SimResult", "StepModel", "TraceArrivals",
    "UniformLength", "benchmark_clients", "load_trace", "max_rate_under_slo", "pareto_flags", "simulate",
    "simulate_client", "simulate_disaggregated", "throughput_interactivity_curve",
]
