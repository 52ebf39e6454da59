"""A simulation's step log: each replica's log as it runs (:class:`ReplicaLog`, a step a row in typed arrays) and
the log of all replicas, one array per field (:class:`StepLog`, :func:`step_log`), which
:class:`~inferchip.sim.results.metrics.SimResult` keeps and reads (utilisation, energy, KV use)."""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from typing import Literal, NotRequired, TypedDict

import numpy as np

from inferchip.sim.step.protocol import FloatArray, IntArray


class ReplicaLog(TypedDict):
    """One replica's step log as it runs, a step a row (:data:`LOG_FIELDS`: :func:`new_replica_log`)."""

    start_s: array[float]
    duration_s: array[float]
    num_tokens: array[int]
    num_decode_seqs: array[int]
    decode_kv_tokens: array[int]
    prefill_tokens: array[int]
    emitted_tokens: array[int]
    kv_used_blocks: array[int]
    running: array[int]
    waiting: array[int]
    preemptions: array[int]


def new_replica_log() -> ReplicaLog:
    """An empty :class:`ReplicaLog`: seconds as doubles ('d'), counts as 64-bit integers ('q')."""
    return {"start_s": array("d"), "duration_s": array("d"), "num_tokens": array("q"), "num_decode_seqs": array("q"),
            "decode_kv_tokens": array("q"), "prefill_tokens": array("q"), "emitted_tokens": array("q"),
            "kv_used_blocks": array("q"), "running": array("q"), "waiting": array("q"), "preemptions": array("q")}


class StepLog(TypedDict):
    """The step log of all replicas, one array per field: :data:`LOG_FIELDS` in their order, then the columns
    :func:`~inferchip.sim.runs.run_result.build_result` adds (``energy_j`` only where the step model prices energy)."""

    start_s: FloatArray
    duration_s: FloatArray
    num_tokens: IntArray
    num_decode_seqs: IntArray
    decode_kv_tokens: IntArray
    prefill_tokens: IntArray
    emitted_tokens: IntArray
    kv_used_blocks: IntArray
    running: IntArray
    waiting: IntArray
    preemptions: IntArray
    replica: IntArray
    kv_capacity_blocks: IntArray
    step: IntArray
    prefill_attn_pairs: IntArray
    energy_j: NotRequired[FloatArray]


def step_log(logs: Sequence[ReplicaLog], *, replica: IntArray, kv_capacity_blocks: IntArray,
             step: IntArray, prefill_attn_pairs: IntArray) -> StepLog:
    """The :class:`StepLog` of replicas' logs (concatenated in replica order) and the columns given."""

    def seconds(name: Literal["start_s", "duration_s"]) -> FloatArray:
        return np.concatenate([np.frombuffer(log[name], dtype=np.float64) for log in logs]).copy()

    def counts(name: Literal["num_tokens", "num_decode_seqs", "decode_kv_tokens", "prefill_tokens", "emitted_tokens",
                             "kv_used_blocks", "running", "waiting", "preemptions"]) -> IntArray:
        return np.concatenate([np.frombuffer(log[name], dtype=np.int64) for log in logs]).copy()

    return {
        "start_s": seconds("start_s"), "duration_s": seconds("duration_s"), "num_tokens": counts("num_tokens"),
        "num_decode_seqs": counts("num_decode_seqs"), "decode_kv_tokens": counts("decode_kv_tokens"),
        "prefill_tokens": counts("prefill_tokens"), "emitted_tokens": counts("emitted_tokens"),
        "kv_used_blocks": counts("kv_used_blocks"), "running": counts("running"), "waiting": counts("waiting"),
        "preemptions": counts("preemptions"), "replica": replica, "kv_capacity_blocks": kv_capacity_blocks,
        "step": step, "prefill_attn_pairs": prefill_attn_pairs,
    }


# (field, array typecode) of the step log, in its order: "d" seconds as doubles, "q" counts as 64-bit integers
LOG_FIELDS = tuple((name, col.typecode) for name, col in new_replica_log().items() if isinstance(col, array))
