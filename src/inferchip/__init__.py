"""inferchip: model AI inference chips before silicon exists.

Predict latency, throughput, memory fit, energy and cost of LLM inference on any
accelerator, and check every prediction against published measurements.
"""

__version__ = "0.1.0"
