"""What the serving simulator needs from the step-time model (L3, ``inferchip.cost``).

The simulator only asks how long one engine iteration of a replica takes for a given
batch; :class:`LinearStepModel` is a transparent stand-in used by tests and examples.

Energy is optional (:class:`EnergyStepModel`): a step model that also has
``step_power_w(...)`` (same four inputs, vectorised: average power of the whole replica
during the step, W: every chip's dynamic energy / step time plus its busy static power,
at most TDP) and ``idle_power_w`` (watts of the whole replica while it has no step to
run) makes :class:`~inferchip.sim.results.metrics.SimResult` report energy, power per chip and
tokens per joule. A step's energy is its power times its logged duration, so it stays
consistent with the (rounded, see :mod:`inferchip.sim.step.steptime`) step time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, TypeGuard, runtime_checkable

import numpy as np
import numpy.typing as npt

from inferchip.errors import InvalidSettingError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
StepInputs = IntArray | FloatArray  # whole-number step inputs, as int64 (the timer's keys) or float64


@runtime_checkable
class StepModel(Protocol):
    """Time of one engine iteration of a replica (all its chips), vectorised over arrays of equal shape."""

    def step_time_s(
        self,
        num_tokens: StepInputs,
        num_decode_seqs: StepInputs,
        decode_kv_tokens: StepInputs,
        prefill_attn_pairs: StepInputs,
    ) -> FloatArray: ...

    # num_tokens: tokens processed this step = prefill-chunk tokens + one per decoding sequence
    # num_decode_seqs: sequences decoding one token this step
    # decode_kv_tokens: sum over decoding sequences of their KV length (tokens already cached)
    # prefill_attn_pairs: sum over prefill chunks of chunk_len * (cached_len + (chunk_len + 1) / 2)
    #                     (causal query-key pairs)
    @property
    def kv_capacity_tokens(self) -> int: ...  # tokens of KV cache the replica can hold (from the memory-fit model)

    @property
    def num_chips(self) -> int: ...  # chips in one replica (for per-chip throughput)


@runtime_checkable
class EnergyStepModel(StepModel, Protocol):
    """A :class:`StepModel` that also prices the energy of its steps (optional members)."""

    def step_power_w(
        self,
        num_tokens: StepInputs,
        num_decode_seqs: StepInputs,
        decode_kv_tokens: StepInputs,
        prefill_attn_pairs: StepInputs,
    ) -> FloatArray: ...

    # W of the replica (all chips) during the step: dynamic energy / step time + busy static power.
    @property
    def idle_power_w(self) -> float: ...  # W of the replica (all chips) while it runs no step


def has_energy(model: object) -> TypeGuard[EnergyStepModel]:
    """Whether ``model`` prices energy (has ``step_power_w`` and ``idle_power_w``; its StepModel members
    are checked by :func:`check_step_model`)."""
    return callable(getattr(model, "step_power_w", None)) and getattr(model, "idle_power_w", None) is not None


def check_step_model(model: object) -> None:
    """Raise InvalidSettingError unless ``model`` has the StepModel members with usable values."""
    if not callable(getattr(model, "step_time_s", None)):
        raise InvalidSettingError(f"step model {type(model).__name__} has no step_time_s(...) method")
    for name in ("kv_capacity_tokens", "num_chips"):
        value = getattr(model, name, None)
        if (isinstance(value, bool) or not isinstance(value, int | np.integer | float | np.floating)
                or not float(value).is_integer() or float(value) < 1):
            raise InvalidSettingError(
                f"step model {type(model).__name__}: field '{name}' is {value!r}; it must be a whole number >= 1"
            )
    if has_energy(model):
        idle = model.idle_power_w
        ok = isinstance(idle, int | float | np.integer | np.floating) and not isinstance(idle, bool)
        if not ok or not np.isfinite(float(idle)) or float(idle) < 0:
            raise InvalidSettingError(
                f"step model {type(model).__name__}: field 'idle_power_w' is {idle!r}; it must be a finite "
                "number >= 0 W"
            )


@dataclass(frozen=True)
class LinearStepModel:
    """Step time linear in each input: a transparent stand-in for tests and examples.

    ``t = fixed_s + per_token_s * num_tokens + per_decode_seq_s * num_decode_seqs
    + per_kv_token_s * decode_kv_tokens + per_attn_pair_s * prefill_attn_pairs``.
    Each coefficient reads as a cost: weight reads (fixed), GEMM work per token, per
    sequence overhead, KV reads per cached token, causal attention work per query-key pair.
    It is no prediction of any chip; the real model is ``inferchip.cost``.
    """

    fixed_s: float = 0.0
    per_token_s: float = 0.0
    per_decode_seq_s: float = 0.0
    per_kv_token_s: float = 0.0
    per_attn_pair_s: float = 0.0
    kv_capacity_tokens: int = 1_000_000
    num_chips: int = 1

    def step_time_s(
        self,
        num_tokens: StepInputs,
        num_decode_seqs: StepInputs,
        decode_kv_tokens: StepInputs,
        prefill_attn_pairs: StepInputs,
    ) -> FloatArray:
        return (
            self.fixed_s
            + self.per_token_s * np.asarray(num_tokens, dtype=float)
            + self.per_decode_seq_s * np.asarray(num_decode_seqs, dtype=float)
            + self.per_kv_token_s * np.asarray(decode_kv_tokens, dtype=float)
            + self.per_attn_pair_s * np.asarray(prefill_attn_pairs, dtype=float)
        )
