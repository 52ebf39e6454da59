"""The system a serving run simulates, as the simulator takes it: pools of identical replicas (the whole system, or
the prefill and decode pools of a disaggregated one), the link a prefilled request's KV cache crosses between them,
and their scheduler configurations checked (a dict of a config's fields or None read here). The run itself is
:mod:`inferchip.sim.runs.simulate`'s."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from pydantic import ValidationError

from inferchip.errors import InvalidSettingError
from inferchip.sim.batching.replica import Replica
from inferchip.sim.batching.scheduler import SchedulerConfig, rank_scheduler
from inferchip.sim.load import lengths
from inferchip.sim.results.request import RequestTable
from inferchip.sim.step.protocol import StepModel
from inferchip.sim.step.steptime import StepTimer

ReplicaFactory = Callable[[int, StepTimer, SchedulerConfig, int, RequestTable], Replica]  # called as Replica is
_T = TypeVar("_T")


def validated(value: object, check: Callable[[object], _T], what: str) -> _T:
    """``value`` checked by a pydantic model's or TypeAdapter's validator; failures raise InvalidSettingError."""
    try:
        return check(value)
    except ValidationError as exc:
        raise InvalidSettingError(f"{what}: {lengths.describe(exc)}") from None


def as_scheduler_config(value: SchedulerConfig | dict[str, object] | None, ranks: int = 1) -> SchedulerConfig:
    """A SchedulerConfig from a config, a dict of its fields or None (the defaults per attention-DP rank)."""
    if value is None:
        return rank_scheduler(ranks)
    if isinstance(value, SchedulerConfig):
        return value
    return validated(value, SchedulerConfig.model_validate, "scheduler_config")


@dataclass(frozen=True)
class Pool:
    """Identical replicas of one step model: the whole system, or the prefill or decode pool of a
    disaggregated one. ``name`` prefixes its options in messages ("" or "prefill_", "decode_")."""

    model: StepModel
    config: SchedulerConfig | dict[str, object] | None
    replicas: int
    name: str = ""
    step_timer: StepTimer | None = None
    replica_factory: ReplicaFactory | None = None  # None: Replica
    router: str = ""  # how a request picks one of its replicas (sim.runs.router); "": the run's router


@dataclass(frozen=True)
class KVLink:
    """The link a prefilled request's KV cache crosses to the decode pool (links do not contend)."""

    kv_bytes_per_token: float
    bandwidth_bytes_per_s: float
    latency_s: float = 0.0

    def transfer_s(self, prompt_tokens: int) -> float:
        return self.latency_s + prompt_tokens * self.kv_bytes_per_token / self.bandwidth_bytes_per_s
