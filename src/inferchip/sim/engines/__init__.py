"""Serving engines seen by the simulator: the engine's step (CUDA-graph padding, MTP verify
tokens) and a closed-loop benchmark run as vLLM's ``benchmark_serving`` does it."""

from inferchip.sim.engines.bench import BenchFigures, closed_loop_run, mtp_output_steps
from inferchip.sim.engines.engine_step import EngineStepModel, padded_batch
from inferchip.sim.load.lengths import uniform_length

__all__ = ["BenchFigures", "EngineStepModel", "closed_loop_run", "mtp_output_steps", "padded_batch",
           "uniform_length"]
