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


# the ``extra`` keys of a chip with a TDP and a price (``performance.predict``): every JSON answer holds them, null
# where the chip lacks the figure (README), and ``Prediction``'s attribute of one is then None
ENERGY_AND_MONEY_KEYS = (
    "power_w_per_chip", "throttled", "output_tokens_per_j", "j_per_output_token", "chip_price_usd",
    "chip_price_source", "manufacturing_cost_usd", "tco_usd_per_hour_per_chip", "usd_per_million_tokens",
    "output_tokens_per_s_per_usd_capex", "wall_power_w_per_chip",
)


@dataclass(frozen=True)
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
    ``"the weights given"`` where given, else the checkpoint's ``quantization_config`` or ``torch_dtype``."""

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
        first read (``_deferred``: a function and its arguments, which fill both in ``__dict__``); and each key of
        ``extra`` as an attribute, by the JSON answer's name (``p.usd_per_million_tokens``, ``p.power_w_per_chip``),
        None for one of :data:`ENERGY_AND_MONEY_KEYS` the chip lacks (no TDP: no power, energy or money), as the
        JSON's null."""
        d = self.__dict__
        if name in ("breakdown", "extra") and "_deferred" in d:
            fill, *args = d["_deferred"]
            fill(d, *args)  # (an error here is raised again on the next read)
            del d["_deferred"]
            return d[name]
        if name.startswith("_") or name in ("breakdown", "extra") or not ("extra" in d or "_deferred" in d):
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        extra = self.extra  # (a deferred prediction's filled here)
        if name in extra:
            return extra[name]
        if name in ENERGY_AND_MONEY_KEYS:
            return None
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

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
        object.__setattr__(self, "ttft_s", self.ttft_s + host_s)  # the record is frozen to its readers (stop 50)
        object.__setattr__(self, "e2e_latency_s", self.e2e_latency_s + host_s)

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
        own = self.__dict__
        if "_deferred" in own:  # a fast-path prediction's breakdown and extra, filled now (read below)
            self.__getattr__("extra")
        d = {k: own[k] if k in own else getattr(self, k) for k in self.__dataclass_fields__ if k != "extra"}
        d["ttft_includes_queueing"] = self.ttft_includes_queueing
        if not self.has_tpot:
            d["tpot_s"] = d["output_tokens_per_s_per_user"] = None
        d.update(self.extra)
        return d

    def __repr__(self) -> str:
        """A short summary (the dataclass's repr printed every field with the per-operator breakdown, ~2,900
        characters); every figure stays in :meth:`to_dict`, ``breakdown`` and :meth:`to_dataframe`."""
        return summary_text(self)

    def to_dataframe(self) -> pd.DataFrame:
        import pandas as pd

        rows = []
        for phase, classes in self.breakdown.items():
            for cls, v in classes.items():
                rows.append({"phase": phase, "op_class": cls, **v})
        return pd.DataFrame(rows)


def _ms(seconds: float) -> str:
    """A time in ms, three significant figures at least, thousands separated (8.47 ms, 208.4 ms, 8,878 ms)."""
    v = seconds * 1e3
    return f"{v:,.0f} ms" if v >= 1000 else f"{v:,.1f} ms" if v >= 10 else f"{v:,.3g} ms"


def _per_s(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:,.3g}"


def summary_text(p: Prediction) -> str:
    """The prediction in seven or eight lines of at most 100 columns (ids aside): what was asked, latency,
    throughput, memory, and power and money where the chip has a TDP and a price (the figures ``predict``'s table
    prints, in its units)."""
    b = f"{p.batch:,}" if float(p.batch).is_integer() else f"{p.batch:,.2f}"  # a mean over replicas: 1.33
    load = f"static batch {b}" if p.mode == "static" else f"concurrency {b} per replica"
    dp = ", attention DP" if p.attn_dp else ""
    tpot = f"TPOT {_ms(p.tpot_s)}" if p.has_tpot else "no TPOT (one output token)"
    per_user = f", {_per_s(p.output_tokens_per_s_per_user)} per user" if p.has_tpot else ""
    lines = [f"<Prediction {p.model_id} on {p.num_chips:,} x {p.chip_id}",
             f"  tp {p.tp} pp {p.pp} ep {p.ep}{dp}, {p.replicas:,} replica(s), {load}",
             f"  {p.input_tokens:,} in / {p.output_tokens:,} out tokens: TTFT {_ms(p.ttft_s)}, {tpot}, "
             f"end-to-end {_ms(p.e2e_latency_s)}",
             f"  output tok/s {_per_s(p.output_tokens_per_s)} ({_per_s(p.output_tokens_per_s_per_chip)} per "
             f"chip{per_user})",
             f"  memory {p.memory_per_chip_bytes / 1e9:,.1f} GB of {p.memory_capacity_per_chip_bytes / 1e9:,.1f} GB "
             f"per chip; w/a/kv {p.weights}/{p.activations}/{p.kv}"]
    x, money = p.extra, []
    if (w := x.get("power_w_per_chip")) is not None:
        money.append(f"board power {w:,.0f} W per chip")
        if (tpj := x.get("output_tokens_per_j")) is not None:
            money.append(f"{tpj:,.3g} output tok/J")
    if (usd := x.get("usd_per_million_tokens")) is not None:
        money.append(f"${usd:,.3g} per million output tokens (TCO)")
    if money:
        lines.append("  " + ", ".join(money))
    notes = f"{len(p.notes)} note(s) in .notes; " if p.notes else ""
    lines.append(f"  {notes}every figure: .to_dict(); time per operator class: .to_dataframe()>")
    return "\n".join(lines)


CHUNK_GIVEN = "given (chunk_tokens)"  # Setting.chunk_source of a chunk its caller stated


def setting_text(s: Any) -> str:  # (a Setting: setting/resolved.py imports this module)
    """:class:`~inferchip.performance.setting.Setting`'s repr: what was resolved, in six lines of at most 100
    columns (ids aside), the prefill chunk with where it came from; the dataclass's printed the chip, model,
    calibration and assumptions whole (~47,000 characters)."""
    f = s.formats
    lay = [f"tp {x.tp} pp {x.pp} ep {x.ep}{' attention DP' if x.attn_dp else ''} x {x.replicas:,}" for x in s.layouts]
    shown = ", ".join(lay[:3]) + (f", ... ({len(lay)} in all)" if len(lay) > 3 else "")
    layouts = f"layout {lay[0]} (given)" if s.layout_given else f"{len(lay)} candidate layout(s): {shown}"
    notes = f"; {len(s.notes)} note(s) in .notes" if s.notes else ""
    return "\n".join([
        f"<Setting {s.model.id} on {s.count:,} x {s.chip.id} ({s.estimate} estimate)",
        f"  w/a/kv {f.weights}/{f.activations}/{f.kv}, GEMMs in {s.compute_format}",
        f"  {layouts}",
        f"  calibration {'fitted' if s.calibration.fitted else 'defaults'}{notes}",
        f"  prefill chunk {s.chunk_tokens:,} tokens per step and chip: "
        + (CHUNK_GIVEN if s.chunk_source == CHUNK_GIVEN else "the default engine's on this chip (.chunk_source)"),
        "  the parts: .chip, .chip_spec, .model, .formats, .layouts, .calibration, .assumptions>"])


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
