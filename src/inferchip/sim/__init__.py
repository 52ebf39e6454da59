"""L4: serving simulation (continuous batching, chunked prefill, paged KV cache, routing).

Consumes a step-time model through :class:`~inferchip.sim.step.protocol.StepModel`.
"""

from inferchip.sim.batching.scheduler import SchedulerConfig
from inferchip.sim.load.arrivals import (
    BurstArrivals,
    ClosedLoopArrivals,
    PoissonArrivals,
    TraceArrivals,
    benchmark_clients,
)
from inferchip.sim.load.lengths import EmpiricalLength, FixedLength, UniformLength
from inferchip.sim.load.trace import load_trace
from inferchip.sim.results.metrics import SimResult
from inferchip.sim.runs.curve import CurveResult, pareto_flags, throughput_interactivity_curve
from inferchip.sim.runs.disagg import simulate_disaggregated
from inferchip.sim.runs.search import ServerSearchResult, max_rate_under_slo, simulate_client
from inferchip.sim.runs.simulate import simulate
from inferchip.sim.step.protocol import LinearStepModel, StepModel

__all__ = [
    "BurstArrivals", "ClosedLoopArrivals", "CurveResult", "EmpiricalLength", "FixedLength", "LinearStepModel",
    "PoissonArrivals", "SchedulerConfig", "ServerSearchResult", "SimResult", "StepModel", "TraceArrivals",
    "UniformLength", "benchmark_clients", "load_trace", "max_rate_under_slo", "pareto_flags", "simulate",
    "simulate_client", "simulate_disaggregated", "throughput_interactivity_curve",
]
