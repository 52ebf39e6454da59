"""Per-request records of one simulation, stored column-wise (one Python list per field).

Times are seconds of simulated time; NaN means "did not happen" (never scheduled, no
first token, not finished). A request is *rejected* when it can never fit the replica:
its prompt plus output exceeds the KV cache, or, without chunked prefill, its prompt plus
output exceeds the step token budget (a recompute after preemption prefills both; vLLM
likewise requires ``max_num_batched_tokens >= max_model_len`` without chunked prefill).
"""

from __future__ import annotations

import math
from typing import TypedDict

import numpy as np

from inferchip.sim.step.protocol import BoolArray, FloatArray, IntArray

NAN = math.nan


class RequestColumns(TypedDict):
    """The request table as arrays, one per field (:meth:`RequestTable.arrays`)."""

    arrival_s: FloatArray
    input_tokens: IntArray
    output_tokens: IntArray
    replica: IntArray
    first_scheduled_s: FloatArray
    first_token_s: FloatArray
    finish_s: FloatArray
    num_preemptions: IntArray
    rejected: BoolArray


class RequestTable:
    __slots__ = (
        "arrival_s",
        "finish_s",
        "first_scheduled_s",
        "first_token_s",
        "input_tokens",
        "num_preemptions",
        "output_tokens",
        "rejected",
        "replica",
    )

    def __init__(self) -> None:
        self.arrival_s: list[float] = []
        self.input_tokens: list[int] = []
        self.output_tokens: list[int] = []
        self.replica: list[int] = []
        self.first_scheduled_s: list[float] = []
        self.first_token_s: list[float] = []
        self.finish_s: list[float] = []
        self.num_preemptions: list[int] = []
        self.rejected: list[bool] = []

    def add(self, arrival_s: float, input_tokens: int, output_tokens: int) -> int:
        """Record a new request; returns its id (0, 1, 2, ... in arrival order)."""
        self.arrival_s.append(arrival_s)
        self.input_tokens.append(input_tokens)
        self.output_tokens.append(output_tokens)
        self.replica.append(-1)
        self.first_scheduled_s.append(NAN)
        self.first_token_s.append(NAN)
        self.finish_s.append(NAN)
        self.num_preemptions.append(0)
        self.rejected.append(False)
        return len(self.arrival_s) - 1

    def __len__(self) -> int:
        return len(self.arrival_s)

    def arrays(self) -> RequestColumns:
        return {
            "arrival_s": np.asarray(self.arrival_s, dtype=float),
            "input_tokens": np.asarray(self.input_tokens, dtype=np.int64),
            "output_tokens": np.asarray(self.output_tokens, dtype=np.int64),
            "replica": np.asarray(self.replica, dtype=np.int64),
            "first_scheduled_s": np.asarray(self.first_scheduled_s, dtype=float),
            "first_token_s": np.asarray(self.first_token_s, dtype=float),
            "finish_s": np.asarray(self.finish_s, dtype=float),
            "num_preemptions": np.asarray(self.num_preemptions, dtype=np.int64),
            "rejected": np.asarray(self.rejected, dtype=bool),
        }
