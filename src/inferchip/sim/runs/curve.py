"""The throughput-interactivity curve: closed loops of 1, 2, 4, ... users up to the memory limit (KV capacity /
(input + output) per replica), output tokens/s per chip against output tokens/s per user (1 / mean TPOT), with a
Pareto-front flag (SemiAnalysis InferenceMAX / NVIDIA style).

Identical replicas under least-loaded routing (:mod:`inferchip.sim.runs.router`) are run as one. A closed loop of
``c = q * R`` clients on ``R`` replicas starts with the clients dealt out ``q`` to a replica (every replica's load is
equal, the lowest index wins each tie), and a client whose request finishes sends its next one to the least-loaded
replica, which is the one it left (one request fewer) unless another also has a request fewer; so every replica
holds ``q`` clients' requests (give or take the ones between a finish and the next arrival) and, with fixed lengths,
runs the same steps at the same times as the others. ``c < R`` clients keep ``c`` replicas busy with one client each
and leave ``R - c`` idle. So a point is one replica's run at ``q`` (or 1) clients, its totals (tokens/s, requests/s,
preemptions, energy) times the busy replicas, the idle replicas' idle power added, its per-request figures as they
are (:func:`replicated_summary`). With fixed lengths (``--range-ratio 1``) the throughputs, means and energy equal
the full run's (tests/test_curve_replicas.py: to 1e-9); its percentiles interpolate between the same order
statistics (one copy's samples against R copies'). With drawn lengths each replica of the full run draws its own
lengths, so the two agree in distribution, not draw for draw (the test bounds the difference at 8 replicas). A
concurrency that is neither below ``R`` nor a multiple of it, another router, or a single replica: the full run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pandas is imported where a data frame is made (a faster cold start)
    import pandas as pd

from inferchip.errors import InvalidSettingError, labelled
from inferchip.sim.batching.scheduler import SchedulerConfig
from inferchip.sim.load import lengths
from inferchip.sim.load.arrivals import ClosedLoopArrivals
from inferchip.sim.results.metrics import SimResult
from inferchip.sim.runs.search import ENERGY_FIELDS, simulate_client
from inferchip.sim.runs.system import as_scheduler_config
from inferchip.sim.step.protocol import BoolArray, FloatArray, StepModel, check_step_model
from inferchip.sim.step.steptime import StepTimer

POINT_FIELDS = ("output_tokens_per_s", "output_tokens_per_s_per_chip", "output_tokens_per_s_per_user",
                "requests_per_s", "ttft_s_mean", "ttft_s_p50", "ttft_s_p90", "ttft_s_p99", "tpot_s_mean",
                "tpot_s_p50", "tpot_s_p90", "tpot_s_p99", "e2e_s_p50", "preemptions", "percentile_requests",
                "first_wave_requests", "warmup_requests")
SLO_STATISTICS = ("p99", "p90", "p50", "mean")
"""What an SLO on a curve point is judged by: a percentile of the run's per-request TTFT and TPOT (each point
carries ``ttft_s_<stat>`` and ``tpot_s_<stat>``), or their mean."""
DEFAULT_SLO_STATISTIC = "p99"
"""MLPerf Inference LoadGen judges a Server run by the 99th percentile of TTFT and of TPOT over its requests
(``loadgen/mlperf.conf``: ``*.Server.target_latency_percentile = 99``, with ``use_token_latencies`` for the LLM
benchmarks), and vLLM's ``benchmark_serving`` reports the 99th by default (``--metric-percentiles 99``)."""


@dataclass(frozen=True)
class CurveResult:
    """Points of :func:`throughput_interactivity_curve`, one per concurrency. ``replicas_simulated``: the replicas
    each point's run held (1 where identical replicas were run as one: the module doc)."""

    points: list[dict[str, Any]]
    memory_limit_concurrency: int
    replicas_simulated: int = 1
    running_cap_concurrency: int | None = None
    """The scheduler's running-batch cap (``max_num_seqs``, attention-DP ranks included) times the replicas: the
    most clients that run at once; None where the sweep was given its concurrencies."""
    slo: dict[str, Any] | None = None
    """The SLO the points were judged against (``ic.curve``'s ``slo_ttft_s`` / ``slo_tpot_s`` at ``slo_percentile``,
    :func:`inferchip.sim.runs.slo.mark_points`: the limits, statistic, rule, points meeting it and the best of them;
    each point's ``meets_slo``), None where no limit was given."""

    def cap_note(self) -> str | None:
        """A note where the running-batch cap, not memory, ended the default sweep, else None."""
        cap = self.running_cap_concurrency
        if cap is None or cap >= self.memory_limit_concurrency:
            return None
        return (f"the sweep stops at {cap:,} clients, the running-batch cap (max_num_seqs, per replica and "
                f"attention-DP rank, times the replicas), short of the {self.memory_limit_concurrency:,} that memory "
                "holds: more clients than the cap only queue for a slot (throughput flat, TTFT rising)")

    def to_dataframe(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(self.points)

    def __repr__(self) -> str:  # the dataclass's printed every point's 18 figures: ~7,000 characters for 12 points
        users = [p["concurrency"] for p in self.points]
        best = max((p["output_tokens_per_s_per_chip"] for p in self.points), default=float("nan"))
        span = f"{min(users):,} to {max(users):,} users" if users else "no point"
        slo = "" if self.slo is None else (
            f", {self.slo['points_meeting']} within the SLO" + ("" if self.slo["best_concurrency"] is None else
                                                                f" (best: {self.slo['best_concurrency']:,} users)"))
        return (f"<CurveResult {len(self.points)} points, {span}, at most {best:,.0f} output tok/s per chip{slo}; "
                f"every figure: .to_dataframe(), .pareto_front(){'' if self.slo is None else ', .slo'}>")

    def pareto_front(self) -> pd.DataFrame:
        df = self.to_dataframe()
        return df[df["pareto"]].reset_index(drop=True)


def pareto_flags(x: Sequence[float] | FloatArray, y: Sequence[float] | FloatArray) -> BoolArray:
    """True where no other point is at least as good on both axes and better on one (both maximised);
    the one front rule of :func:`inferchip.spec.pareto.pareto_mask` (a non-finite point is off the front
    and beats nothing)."""
    from inferchip.spec.pareto import pareto_mask

    points = np.column_stack([np.asarray(x, dtype=float).ravel(), np.asarray(y, dtype=float).ravel()])
    return pareto_mask(points, minimize=[False, False])


def slo_marks(points: Sequence[dict[str, Any]], slo_ttft_s: float | None, slo_tpot_s: float | None,
              statistic: str = DEFAULT_SLO_STATISTIC) -> tuple[list[bool], int | None]:
    """(per point: its TTFT and TPOT at ``statistic`` within the limits given, None: no limit; the index of the point
    with the most ``output_tokens_per_s_per_chip`` among them, the first on a tie, None where none meets them).

    ``statistic`` (:data:`SLO_STATISTICS`): a percentile of the point's per-request TTFT and TPOT, read from its
    ``ttft_s_<statistic>`` and ``tpot_s_<statistic>`` (p99 by default, :data:`DEFAULT_SLO_STATISTIC`), or ``mean``.
    A point without a TPOT at the statistic (every output one token: vLLM's goodput counts such a request within any
    TPOT limit, ``one_token_tpot_note``) is within the TPOT limit; one without a TTFT meets no TTFT limit."""
    for name, value in (("slo_ttft_s", slo_ttft_s), ("slo_tpot_s", slo_tpot_s)):
        if value is not None and not (isinstance(value, (int, float)) and not isinstance(value, bool)
                                      and 0 < value < float("inf")):
            raise InvalidSettingError(f"{name}: value {value!r} must be a positive finite number of seconds")
    if statistic not in SLO_STATISTICS:
        raise InvalidSettingError(f"statistic: value {statistic!r} is not one of {', '.join(SLO_STATISTICS)}")
    marks = []
    for p in points:
        ttft, tpot = float(p[f"ttft_s_{statistic}"]), float(p[f"tpot_s_{statistic}"])
        ok = slo_ttft_s is None or ttft <= slo_ttft_s  # NaN: False
        ok = ok and (slo_tpot_s is None or np.isnan(tpot) or tpot <= slo_tpot_s)
        marks.append(bool(ok))
    best = None
    for i, (p, ok) in enumerate(zip(points, marks, strict=True)):
        y = float(p["output_tokens_per_s_per_chip"])
        if ok and np.isfinite(y) and (best is None or y > points[best]["output_tokens_per_s_per_chip"]):
            best = i
    return marks, best


def default_concurrencies(limit: int, replicas: int = 1, one_replica: bool = False) -> list[int]:
    """1, 2, 4, ... up to ``limit`` (the limit itself included); ``one_replica``: 1, 2, 4, ... below ``replicas``,
    then ``replicas`` times 1, 2, 4, ... up to the limit (the points one replica's run gives: the module doc)."""
    if not one_replica or replicas <= 1 or limit < replicas:
        out = [1 << i for i in range(limit.bit_length()) if 1 << i <= limit]
        return out if out[-1] == limit else [*out, limit]
    below = [1 << i for i in range(replicas.bit_length()) if 1 << i < replicas]
    return below + [replicas * q for q in default_concurrencies(max(1, limit // replicas))]


def per_replica(concurrency: int, replicas: int) -> tuple[int, int] | None:
    """(clients per busy replica, busy replicas) of a closed loop of ``concurrency`` clients on ``replicas``
    identical least-loaded replicas, or None where the replicas' loads differ (neither below nor a multiple)."""
    if concurrency <= replicas:
        return 1, concurrency
    return (concurrency // replicas, replicas) if concurrency % replicas == 0 else None


def replicated_summary(one: SimResult, busy: int, replicas: int) -> dict[str, Any]:
    """The summary of ``replicas`` identical replicas, ``busy`` of them running ``one``'s run and the rest idle
    (the module doc): totals times ``busy``, per-request figures as they are, per-chip figures over all chips, the
    idle replicas' idle power over the window (energy window) and over the run (energy)."""
    if not 1 <= busy <= replicas or one.num_replicas != 1:
        raise InvalidSettingError(f"replicated_summary: busy {busy!r} must be in 1..{replicas!r}, of a 1-replica run")
    s = replace(one, window_copies=busy).summary()
    chips = one.num_chips * replicas
    for k in ("output_tokens_per_s", "requests_per_s", "input_tokens_per_s", "goodput_requests_per_s",
              "preemptions"):
        s[k] = s[k] * busy
    s["output_tokens_per_s_per_chip"] = s["output_tokens_per_s"] / chips
    s["num_replicas"], s["num_chips"] = replicas, chips
    if "energy_window_j" in s and one.replica_idle_power_w is not None:
        idle_w = float(one.replica_idle_power_w[0]) * (replicas - busy)
        span = s["window_end_s"] - s["window_start_s"]
        ends = one.steps["start_s"] + one.steps["duration_s"]
        t0 = float(one.requests["arrival_s"].min())
        s["energy_j"] = s["energy_j"] * busy + idle_w * max((float(ends.max()) if ends.size else t0) - t0, 0.0)
        e_win = s["energy_window_j"] * busy + idle_w * span
        tokens = s["output_tokens_per_s"] * span
        s["energy_window_j"], s["power_w_per_chip"] = e_win, e_win / span / chips if span > 0 else float("nan")
        s["output_tokens_per_j"] = tokens / e_win if e_win > 0 else float("nan")
        s["j_per_output_token"] = e_win / tokens if tokens > 0 else float("nan")
    return s


def throughput_interactivity_curve(
    step_model: StepModel,
    input_tokens: Any,
    output_tokens: Any,
    *,
    concurrencies: list[int] | None = None,
    requests_per_user: int = 8,
    seed: int = 0,
    scheduler_config: SchedulerConfig | dict[str, object] | None = None,
    replicas: int = 1,
    router: str = "least_loaded",
    think_time_s: float = 0.0,
    progress: Callable[[float], None] | None = None,
    request_host_s: float = 0.0,
    one_replica: bool = True,
    warmups_per_user: int = 0,
) -> CurveResult:
    """Output tokens/s per chip against output tokens/s per user for closed loops of users.

    Default concurrencies: :func:`default_concurrencies` up to the memory limit
    ``replicas * (kv_capacity_tokens // (mean input + mean output))`` or the running-batch cap
    ``max_num_seqs * replicas``, whichever is less (beyond the cap a client only queues: stop 45's tour).
    Each point runs ``requests_per_user`` requests per user. ``request_host_s``: an engine's host time per
    request, as :func:`simulate_client`. ``one_replica``
    (least-loaded routing, more than one replica): identical replicas run as one where every point allows it
    (:func:`per_replica`; the module doc); False: every replica simulated. ``warmups_per_user``: each point's first
    that many requests a user (its users times that, in the order sent: 1 is the first wave) run but are not read
    by its percentiles (:func:`~inferchip.sim.runs.simulate.simulate`'s ``warmup_requests``); fewer than
    ``requests_per_user``.
    """
    if (isinstance(warmups_per_user, bool) or not isinstance(warmups_per_user, int | np.integer)
            or not 0 <= warmups_per_user < requests_per_user):  # (a numpy integer too, as simulate's warmup_requests)
        raise InvalidSettingError(f"{labelled('warmups_per_user')}: value {warmups_per_user!r}; allowed: a whole "
                                  f"number from 0 to {requests_per_user - 1:,} (fewer than the {requests_per_user:,} "
                                  "requests a user)")
    warmups_per_user = int(warmups_per_user)
    check_step_model(step_model)
    cfg = as_scheduler_config(scheduler_config, int(getattr(step_model, "ranks", 1) or 1))
    in_spec = lengths.as_length(input_tokens, "input_tokens")
    out_spec = lengths.as_length(output_tokens, "output_tokens")
    limit = lengths.memory_limit_concurrency(step_model.kv_capacity_tokens, replicas, in_spec, out_spec)
    as_one = one_replica and replicas > 1 and router == "least_loaded"
    cap: int | None = None
    if concurrencies is None:
        cap = cfg.max_num_seqs * replicas
        concurrencies = default_concurrencies(min(limit, cap), replicas, as_one)
    elif not concurrencies or any(isinstance(c, bool) or int(c) != c or c < 1 for c in concurrencies):
        raise InvalidSettingError(f"concurrencies: value {concurrencies!r} must be whole numbers >= 1")
    as_one = as_one and all(per_replica(int(c), replicas) is not None for c in concurrencies)
    points = []
    timer = StepTimer(step_model)  # one cache of step times for every point
    runs: dict[int, SimResult] = {}  # one replica's run per clients per replica

    def run(clients: int, reps: int) -> SimResult:
        spec = ClosedLoopArrivals(concurrency=clients, think_time_s=think_time_s, input_tokens=in_spec,
                                  output_tokens=out_spec)
        return simulate_client(step_model, spec, request_host_s, num_requests=clients * requests_per_user, seed=seed,
                               scheduler_config=cfg, replicas=reps, router=router, step_timer=timer,
                               warmup_requests=clients * warmups_per_user)

    for i, c in enumerate(concurrencies):
        if as_one:
            q, busy = per_replica(int(c), replicas) or (0, 0)
            if q not in runs:
                runs[q] = run(q, 1)
            s = replicated_summary(runs[q], busy, replicas)
        else:
            s = run(int(c), replicas).summary()
        points.append({"concurrency": int(c), **{k: s[k] for k in POINT_FIELDS},
                       **{k: s[k] for k in ENERGY_FIELDS if k in s}})  # step models that price energy
        if progress is not None:
            progress((i + 1) / len(concurrencies))
    flags = pareto_flags([p["output_tokens_per_s_per_chip"] for p in points],
                         [p["output_tokens_per_s_per_user"] for p in points])
    for p, f in zip(points, flags, strict=True):
        p["pareto"] = bool(f)
    return CurveResult(points=points, memory_limit_concurrency=limit, replicas_simulated=1 if as_one else replicas,
                       running_cap_concurrency=cap)
