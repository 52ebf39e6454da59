"""``Prediction``: what :func:`~inferchip.performance.predict.predict` returns, and the time of a
step by operator class (its ``breakdown``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from inferchip.cost.step import BOUNDS, OP_CLASSES, StepCost

if TYPE_CHECKING:  # pandas is imported where a data frame is made (a faster cold start)
    import pandas as pd


@dataclass
class Prediction:
    """One predicted setting. Times in seconds (``ttft_s``, ``tpot_s``, ``e2e_latency_s``),
    throughput in output tokens/s (whole system, per chip, per user), memory in bytes per chip,
    ``batch`` in sequences per busy replica (static) or concurrency per busy replica (continuous):
    an int where whole, else the mean (a system-wide concurrency of 12 on 8 replicas holds 1.5
    per replica; ``performance.operating.replica_load``),
    ``breakdown``: ``{prefill, decode} -> {op_class -> {time_s, share, bound}}``. ``extra`` (merged
    into :meth:`to_dict`): ``power_w_per_chip`` (W, board), ``output_tokens_per_j``,
    ``j_per_output_token``, ``usd_per_million_tokens``, ``chip_price_usd`` and the other money
    figures where the chip has a TDP and a price. ``weights_source``: where the weight format came from,
    ``"--weights"`` where given, else the checkpoint's ``quantization_config`` or ``torch_dtype``."""

    chip_id: str
    model_id: str
    num_chips: int
    tp: int
    pp: int
    ep: int
    replicas: int
    batch: float  # (an int where whole)
    mode: str
    input_tokens: int
    output_tokens: int
    ttft_s: float
    tpot_s: float
    e2e_latency_s: float
    output_tokens_per_s: float
    output_tokens_per_s_per_chip: float
    output_tokens_per_s_per_user: float
    memory_per_chip_bytes: float
    memory_breakdown_bytes: dict[str, float]
    memory_capacity_per_chip_bytes: float
    weights: str
    activations: str
    kv: str
    compute_format: str
    breakdown: dict[str, dict[str, dict[str, Any]]]
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    attn_dp: bool = False  # attention data-parallel over the tp chips (mapping.layout)
    weights_source: str = "--weights"  # where ``weights`` came from (mapping.format_defaults.weight_choice)
    activations_source: str = "--activations"  # where ``activations`` and ``kv`` came from
    kv_source: str = "--kv"  # (mapping.format_defaults.format_sources)
    # devices the runtime sees in one package (an MI250X's two GCDs): ``num_chips`` and the per-chip figures are then
    # the devices' (spec.params.runtime_device_view)
    runtime_devices_per_package: int = 1

    def __getattr__(self, name: str) -> Any:
        """``breakdown`` and ``extra`` of a prediction made by ``predict``'s fast path: figured when
        first read (``_deferred``: a function and its arguments, which fill both in ``__dict__``)."""
        d = self.__dict__
        if name not in ("breakdown", "extra") or "_deferred" not in d:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        fill, *args = d["_deferred"]
        fill(d, *args)  # (an error here is raised again on the next read)
        del d["_deferred"]
        return d[name]

    def __getstate__(self) -> dict[str, Any]:  # (pickle, copy) the figures, not how to make them
        d = self.__dict__
        if "_deferred" in d:
            fill, *args = d["_deferred"]
            fill(d, *args)
            del d["_deferred"]
        return d

    def add_request_host(self, host_s: float) -> None:
        """Count an engine's host time per request (s; ``catalog.engines.RequestHostTime``) in TTFT and E2E, as
        a client measures them (vLLM ``benchmark_serving``); the steps are unchanged."""
        if not 0.0 <= host_s < float("inf"):
            raise ValueError(f"host_s must be a finite time >= 0, got {host_s!r}")
        self.ttft_s += host_s
        self.e2e_latency_s += host_s

    @property
    def has_tpot(self) -> bool:
        """Whether a token follows the first: with one output token (the prefill's) no request has a time per
        output token or a per-user rate, which ``serve`` reports as null too."""
        return self.output_tokens > 1

    @property
    def ttft_includes_queueing(self) -> bool:
        """Whether :attr:`ttft_s` counts a wait for admission: never. A static batch's prompts start together (no
        queue); continuous batching's TTFT is the steady state's service time, the prompt's prefill chunk step(s)
        within the running batch, without the wait a benchmark client also times (vLLM ``benchmark_serving`` and
        MLPerf's Server scenario count TTFT from the request's send; ``serve --concurrency`` simulates it)."""
        return False

    def to_dict(self) -> dict[str, Any]:
        """The figures as the JSON answer gives them: ``tpot_s`` and ``output_tokens_per_s_per_user`` None where
        no token follows the first (:attr:`has_tpot`); ``ttft_includes_queueing`` (:attr:`ttft_includes_queueing`)."""
        d = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "extra"}
        d["ttft_includes_queueing"] = self.ttft_includes_queueing
        if not self.has_tpot:
            d["tpot_s"] = d["output_tokens_per_s_per_user"] = None
        d.update(self.extra)
        return d

    def to_dataframe(self) -> pd.DataFrame:
        import pandas as pd

        rows = []
        for phase, classes in self.breakdown.items():
            for cls, v in classes.items():
                rows.append({"phase": phase, "op_class": cls, **v})
        return pd.DataFrame(rows)


def whole_or_mean(x: float) -> float:
    """A per-replica load as :attr:`Prediction.batch` reports it: the int where ``x`` is whole, else
    ``x`` (a mean over the replicas, such as 1.5), never truncated."""
    return int(x) if float(x).is_integer() else float(x)


def _breakdown(cost: StepCost, index: int, pp: int) -> dict[str, dict[str, Any]]:
    """Time per step by operator class at point ``index`` of the step's arrays (scalars read there only)."""
    if cost.point is not None and index == 0:  # one point costed in floats: read them
        out = {}
        total = cost.point.time_s
        for cls, (t, *parts) in cost.point.classes.items():
            if t <= 0:
                continue
            bound = BOUNDS[parts.index(max(parts))]  # as ClassCost.bound: the first of the largest
            out[cls] = {"time_s": t * pp, "share": t / total if total else 0.0, "bound": bound}
        return out
    shape = np.shape(cost.time_s)

    def at(x: npt.ArrayLike) -> float:
        if type(x) is np.ndarray and x.shape == shape:
            return float(x.item(index))
        a = np.asarray(x)
        if a.ndim == 0:
            return float(a)
        return float(np.broadcast_to(a, shape).flat[index])

    out = {}
    total = at(cost.time_s)
    for cls in OP_CLASSES:
        cc = cost.classes[cls]
        t = at(cc.time_s)
        if t <= 0:
            continue
        parts = [at(cc.compute_bound_s), at(cc.memory_bound_s), at(cc.network_s), at(cc.overhead_s)]
        bound = BOUNDS[parts.index(max(parts))]  # as ClassCost.bound: the first of the largest
        out[cls] = {"time_s": t * pp, "share": t / total if total else 0.0, "bound": bound}
    return out
