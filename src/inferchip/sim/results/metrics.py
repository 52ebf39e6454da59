"""Serving metrics of a simulation: the summary figures of its per-request record and its step log (:mod:`.step_log`).

Definitions (vLLM ``benchmarks/serve.py`` and MLPerf LoadGen conventions):

* TTFT: arrival -> first output token; E2E: arrival -> last output token.
* TPOT per request: ``(e2e - ttft) / (output_tokens - 1)`` (undefined for 1-token outputs).
* ITL: every gap between two consecutive tokens of a request, over all requests.
* Percentiles (and means) of TTFT, TPOT, E2E and queueing, and SLO attainment, read every finished request of
  the run (``percentile_requests``), as ``benchmark_serving`` reads a run of ``num_prompts`` requests: a
  closed loop's first wave (``first_wave_requests``: each client's first request, all sent at the
  start) is included, so at many clients and few requests a client the p99 TTFT is that wave's. With
  ``warmup_requests`` N (:func:`~inferchip.sim.runs.simulate.simulate`'s), the first N requests sent run and load
  the engine but are not read (``warmup_requests`` in the summary; ``first_wave_requests`` then counts the wave's
  requests that are read): the steady tail. ITL reads every step's gap but the warm-up requests' tokens (the
  steady tail too), and throughputs their window (below).
* Throughputs count what happens inside a *measurement window* (:meth:`SimResult.window_s`)
  to leave out the start-up ramp and the final drain: for Poisson and trace arrivals the
  second half of the arrival period; for a closed loop from the moment the first
  ``concurrency`` requests have finished until the last request is sent; for a burst
  (offline) from the first arrival to the last finish. With too few finishes in that
  window the whole run (first arrival to last finish) is used.
* Goodput: requests per second finishing in the window that met every SLO given.
* Energy (step models that price it, :class:`~inferchip.sim.step.protocol.EnergyStepModel`):
  each step's energy is the step model's power for it (dynamic energy / time + busy
  static power, at most TDP) times its duration; a replica with no step to run draws its
  idle power. ``energy_j`` covers the whole run (first arrival to the last step's end,
  every replica); ``energy_window_j``, ``power_w_per_chip`` and ``output_tokens_per_j`` cover the
  measurement window, like the throughputs (a step straddling a window edge counts in proportion to
  its time inside): window tokens = ``energy_window_j`` x ``output_tokens_per_j``.
* Saturated: the arrival period ended with the number of requests in the system
  growing well beyond random fluctuation while completions fell short of arrivals, or
  the run hit its time cap with requests unfinished: a queue growing without bound.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from inferchip.sim.results.request import RequestColumns
from inferchip.sim.results.step_log import StepLog
from inferchip.sim.step.protocol import BoolArray, FloatArray, IntArray

if TYPE_CHECKING:  # pandas is imported where a data frame is made (a faster cold start)
    import pandas as pd

PERCENTILES = (50, 90, 99)
STEADY_STATE_START_FRACTION = 0.5  # open loop: measure over the second half of the arrival period
MIN_WINDOW_REQUESTS = 20  # fewer finishes in the window than this: measure over the whole run
SATURATION_COMPLETION_RATIO = 0.95  # completions below this share of arrivals (second half) ...
SATURATION_GROWTH_SIGMAS = 3.0  # ... and in-system growth above this many Poisson sigmas


def weighted_percentile(values: npt.ArrayLike, weights: npt.ArrayLike, q: float) -> float:
    """Smallest value whose cumulative weight reaches ``q`` percent (inverted CDF): :func:`weighted_quantile`."""
    return weighted_quantile(values, weights, q / 100.0)


def weighted_quantile(values: npt.ArrayLike, weights: npt.ArrayLike, q: float) -> float:
    """The ``q`` quantile (a fraction) of ``values`` each standing for ``weights`` requests: the smallest value
    whose cumulative weight reaches ``q`` of the total (numpy's ``inverted_cdf`` method where every weight is 1;
    ``benchmark_serving.py`` interpolates linearly, a difference below one request's step in the sorted list).
    NaN for no values or no weight."""
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile {q} outside [0, 1]")
    x, wt = np.asarray(values, dtype=float), np.asarray(weights, dtype=float)
    if x.size == 0 or wt.sum() <= 0:
        return math.nan
    order = np.argsort(x, kind="stable")
    cum = np.cumsum(wt[order])
    idx = int(np.searchsorted(cum, q * cum[-1], side="left"))
    return float(x[order][min(idx, x.size - 1)])


def _stats(prefix: str, values: FloatArray, out: dict[str, Any]) -> None:
    values = values[np.isfinite(values)]
    out[f"{prefix}_mean"] = float(values.mean()) if values.size else math.nan
    for p in PERCENTILES:
        out[f"{prefix}_p{p}"] = float(np.percentile(values, p)) if values.size else math.nan


@dataclass(frozen=True)
class SimResult:
    """Everything one :func:`~inferchip.sim.runs.simulate` run produced. Times in seconds of simulated time."""

    requests: RequestColumns  # per-request columns (see RequestTable)
    steps: StepLog  # step log of all replicas, with 'replica' and 'kv_capacity_blocks' columns
    itl_extra_s: FloatArray  # token gaps longer than one step (after preemptions)
    itl_skip_per_step: IntArray  # per step row: decode tokens whose gap is in itl_extra_s
    num_replicas: int
    num_chips: int  # all chips of all replicas
    arrival_kind: str
    concurrency: int | None
    hit_time_cap: bool
    slo_ttft_s: float | None = None
    slo_tpot_s: float | None = None
    step_model_evaluations: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    replica_idle_power_w: tuple[float, ...] | None = None  # per replica, W (None: the step model prices no energy)
    request_host_s: float = 0.0  # an engine's host time per request before the scheduler (search.simulate_client)
    window_copies: int = 1  # identical replicas this run stands for (sim.runs.curve); the window test counts theirs
    warmup_requests: int = 0  # the first requests sent (issue order) that run but are not read (sim.runs.simulate)

    @property
    def counted(self) -> BoolArray:
        """Per request: finished and read by the percentiles (not among the first ``warmup_requests`` sent)."""
        ok = self.finished.copy()
        ok[:self.warmup_requests] = False
        return ok

    # ------------------------------------------------------------------ per request
    @property
    def ttft_s(self) -> FloatArray:
        """Client-side time to first token (s): the request's wait and prefill, plus ``request_host_s``."""
        return self.requests["first_token_s"] - self.requests["arrival_s"] + self.request_host_s

    @property
    def e2e_s(self) -> FloatArray:
        """Client-side end-to-end latency (s), ``request_host_s`` included."""
        return self.requests["finish_s"] - self.requests["arrival_s"] + self.request_host_s

    @property
    def tpot_s(self) -> FloatArray:
        out = self.requests["output_tokens"].astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            tpot = (self.requests["finish_s"] - self.requests["first_token_s"]) / (out - 1)
        return np.where(out > 1, tpot, math.nan)

    @property
    def finished(self) -> BoolArray:
        return np.isfinite(self.requests["finish_s"])

    def meets_slo(self) -> BoolArray:
        """Per request: finished and within every SLO given (a 1-token output has no TPOT to miss)."""
        ok = self.finished.copy()
        if self.slo_ttft_s is not None:
            ok &= self.ttft_s <= self.slo_ttft_s
        if self.slo_tpot_s is not None:
            tpot = self.tpot_s
            ok &= np.isnan(tpot) | (tpot <= self.slo_tpot_s)
        return ok

    def to_dataframe(self) -> pd.DataFrame:
        """One row per request, unit-suffixed columns."""
        r = self.requests
        import pandas as pd

        return pd.DataFrame({
            "request_id": np.arange(r["arrival_s"].size), "replica": r["replica"],
            "arrival_s": r["arrival_s"], "input_tokens": r["input_tokens"], "output_tokens": r["output_tokens"],
            "first_scheduled_s": r["first_scheduled_s"], "first_token_s": r["first_token_s"],
            "finish_s": r["finish_s"], "queue_s": r["first_scheduled_s"] - r["arrival_s"], "ttft_s": self.ttft_s,
            "tpot_s": self.tpot_s, "e2e_s": self.e2e_s, "num_preemptions": r["num_preemptions"],
            "rejected": r["rejected"], "meets_slo": self.meets_slo(),
        })

    def steps_dataframe(self) -> pd.DataFrame:
        """One row per engine step of every replica."""
        import pandas as pd

        return pd.DataFrame(self.steps)

    # ------------------------------------------------------------------ ITL
    def itl_samples(self) -> tuple[FloatArray, FloatArray]:
        """(gap_s, count): each step's duration with the tokens that waited exactly that long, plus long gaps; with
        ``warmup_requests``, a step's tokens of those requests left out (:meth:`warmup_decoding`): the steady tail's
        gaps, as TTFT, TPOT and E2E read it."""
        s = self.steps
        weights = (s["num_decode_seqs"] - self.itl_skip_per_step).astype(float)
        if self.warmup_requests:
            weights = np.maximum(weights - self.warmup_decoding(), 0.0)
        keep = weights > 0
        values = np.concatenate([s["duration_s"][keep], self.itl_extra_s])
        return values, np.concatenate([weights[keep], np.ones(self.itl_extra_s.size)])

    def warmup_decoding(self) -> FloatArray:
        """Per step row, the warm-up requests (the first ``warmup_requests`` sent) that take a decode token at its
        end: those on its replica whose first token came before it and whose last at or after it (one token a step
        while running; a warm-up request preempted is counted through its preemption, so the tail then reads up to
        that many fewer tokens of a step, never a warm-up's)."""
        r, s, n = self.requests, self.steps, self.warmup_requests
        ends, out = s["start_s"] + s["duration_s"], np.zeros(len(s["duration_s"]))
        for replica in np.unique(s["replica"]):
            rows, mine = s["replica"] == replica, r["replica"][:n] == replica
            first, last = np.sort(r["first_token_s"][:n][mine]), np.sort(r["finish_s"][:n][mine])
            out[rows] = np.searchsorted(first, ends[rows]) - np.searchsorted(last, ends[rows])  # first < end <= last
        return out

    # ------------------------------------------------------------------ windows
    def window_s(self) -> tuple[float, float]:
        """(start, end) of the measurement window, see the module docstring."""
        r = self.requests
        valid = ~r["rejected"]
        arrival = r["arrival_s"][valid]
        finish = r["finish_s"][valid]
        if arrival.size == 0:
            return 0.0, 0.0
        done = np.sort(finish[np.isfinite(finish)])
        whole = (float(arrival.min()), float(done[-1]) if done.size else float(arrival.max()))
        first, last = float(arrival.min()), float(arrival.max())
        if self.arrival_kind == "closed_loop" and self.concurrency and done.size >= self.concurrency:
            start, end = float(done[self.concurrency - 1]), last
        elif self.arrival_kind in ("poisson", "trace"):
            start, end = first + (last - first) * STEADY_STATE_START_FRACTION, last
        else:
            return whole
        in_window = np.count_nonzero((done > start) & (done <= end)) * self.window_copies  # each copy's finishes
        if end <= start or in_window < MIN_WINDOW_REQUESTS:
            return whole
        return start, end

    def ramp_s(self) -> float | None:
        """Open loop: the first part of the arrival period (:data:`STEADY_STATE_START_FRACTION` of it), which the
        measurement window and :meth:`queue_growing` skip as the ramp; None for a closed loop or a burst. A stable
        system's requests in flight climb for about one end-to-end latency after the first arrival (Little's law:
        L = rate x E2E is reached only then). A ramp shorter than the fastest request's time in the running batch
        (``service_s_min``: first scheduled to last token; the first requests', on a system still empty, so no
        overload lengthens it) ends before any request could finish: the window then holds the ramp, and
        :func:`inferchip.sim.runs.slo.judge_run` judges nothing."""
        if self.arrival_kind not in ("poisson", "trace"):
            return None
        arrival = self.requests["arrival_s"][~self.requests["rejected"]]
        if arrival.size == 0:
            return None
        return float(arrival.max() - arrival.min()) * STEADY_STATE_START_FRACTION

    def saturated(self) -> bool:
        """The time cap stopped the run with requests unfinished, or :meth:`queue_growing`."""
        return self.hit_time_cap or self.queue_growing()

    def queue_growing(self) -> bool:
        """Open loop: over the second half of the arrival period, completions fell short of arrivals
        and the requests in the system grew beyond random fluctuation."""
        if self.arrival_kind not in ("poisson", "trace"):
            return False
        r = self.requests
        valid = ~r["rejected"]
        arrival, finish = r["arrival_s"][valid], r["finish_s"][valid]
        if arrival.size == 0:
            return False
        first, last = float(arrival.min()), float(arrival.max())
        mid = first + (last - first) * STEADY_STATE_START_FRACTION
        arrived = np.count_nonzero((arrival > mid) & (arrival <= last))
        completed = np.count_nonzero((finish > mid) & (finish <= last))
        in_system_mid = np.count_nonzero((arrival <= mid) & ~(finish <= mid))
        in_system_end = np.count_nonzero((arrival <= last) & ~(finish <= last))
        growth = in_system_end - in_system_mid
        return bool(
            arrived >= MIN_WINDOW_REQUESTS
            and completed < SATURATION_COMPLETION_RATIO * arrived
            and growth > SATURATION_GROWTH_SIGMAS * math.sqrt(arrived)
        )

    # ------------------------------------------------------------------ summary
    def summary(self) -> dict[str, Any]:
        """Flat dict of figures with unit-suffixed keys (``*_s``, ``*_per_s``, ``*_fraction``)."""
        r = self.requests
        out: dict[str, Any] = {
            "num_requests": int(r["arrival_s"].size),
            "num_completed": int(np.count_nonzero(self.finished)),
            "num_rejected": int(np.count_nonzero(r["rejected"])),
            "num_unfinished": int(np.count_nonzero(~self.finished & ~r["rejected"])),
        }
        fin = self.counted
        # the requests every percentile below reads: all that finished, a closed loop's first wave (one request a
        # client, sent at the start) included, as benchmark_serving reads a run of num_prompts requests, less the
        # first warmup_requests sent (run, not read); each copy's
        out["percentile_requests"] = int(np.count_nonzero(fin)) * self.window_copies
        out["warmup_requests"] = self.warmup_requests * self.window_copies
        out["first_wave_requests"] = (max(self.concurrency - self.warmup_requests, 0) * self.window_copies
                                      if self.arrival_kind == "closed_loop" and self.concurrency else None)
        _stats("ttft_s", self.ttft_s[fin], out)
        _stats("tpot_s", self.tpot_s[fin], out)
        itl, w = self.itl_samples()
        out["itl_s_mean"] = float(np.average(itl, weights=w)) if w.sum() > 0 else math.nan
        for p in PERCENTILES:
            out[f"itl_s_p{p}"] = weighted_percentile(itl, w, p)
        _stats("e2e_s", self.e2e_s[fin], out)
        _stats("queue_s", (r["first_scheduled_s"] - r["arrival_s"])[fin], out)
        start, end = self.window_s()
        span = end - start
        s = self.steps
        ends = s["start_s"] + s["duration_s"]
        in_win = (ends > start) & (ends <= end)
        done_in = self.finished & (r["finish_s"] > start) & (r["finish_s"] <= end)
        chips = self.num_chips

        def rate(count: float | np.integer | np.floating) -> float:
            return float(count) / span if span > 0 else math.nan

        out["window_start_s"], out["window_end_s"] = start, end
        out["ramp_s"] = self.ramp_s()
        service = (r["finish_s"] - r["first_scheduled_s"])[fin]  # a request's time in the running batch, no wait
        service = service[np.isfinite(service)]
        out["service_s_min"] = float(service.min()) if service.size else math.nan
        out["requests_per_s"] = rate(np.count_nonzero(done_in))
        out["output_tokens_per_s"] = rate(s["emitted_tokens"][in_win].sum())
        out["output_tokens_per_s_per_chip"] = out["output_tokens_per_s"] / chips
        out["input_tokens_per_s"] = rate(r["input_tokens"][done_in].sum())
        tpot_mean = out["tpot_s_mean"]
        out["output_tokens_per_s_per_user"] = 1.0 / tpot_mean if tpot_mean > 0 else math.nan
        meets = self.meets_slo()
        out["goodput_requests_per_s"] = rate(np.count_nonzero(meets & done_in))
        out["slo_attainment_fraction"] = float(meets[fin].mean()) if fin.any() else math.nan
        out["preemptions"] = int(s["preemptions"].sum())
        busy_s = float(s["duration_s"].sum())
        kv_frac = s["kv_used_blocks"] / s["kv_capacity_blocks"]
        out["kv_cache_used_fraction_mean"] = float(np.sum(kv_frac * s["duration_s"]) / busy_s) if busy_s else 0.0
        out["kv_cache_used_fraction_max"] = float(kv_frac.max()) if kv_frac.size else 0.0
        out["running_seqs_mean"] = float(np.sum(s["running"] * s["duration_s"]) / busy_s) if busy_s else 0.0
        finish = r["finish_s"][self.finished]
        out.update(self.energy_summary(start, end, out["output_tokens_per_s"]))
        out["makespan_s"] = float(finish.max() - r["arrival_s"].min()) if finish.size else math.nan
        out["num_steps"] = int(s["start_s"].size)
        out["num_replicas"] = self.num_replicas
        out["num_chips"] = chips
        out["saturated"] = self.saturated()
        out["hit_time_cap"] = self.hit_time_cap
        out["step_model_evaluations"] = self.step_model_evaluations
        return out

    def energy_summary(self, start_s: float, end_s: float, output_tokens_per_s: float) -> dict[str, float]:
        """``energy_j`` (whole run), ``energy_window_j``, ``power_w_per_chip``, ``output_tokens_per_j`` and
        ``j_per_output_token`` (measurement window ``start_s``..``end_s``); empty when no energy is priced."""
        s = self.steps
        if self.replica_idle_power_w is None or "energy_j" not in s:
            return {}
        idle_w = np.asarray(self.replica_idle_power_w, dtype=float)
        nrep = idle_w.size
        rep = s["replica"]  # replica indices are 0 .. n-1, in the order of replica_idle_power_w
        starts, dur, e = s["start_s"], s["duration_s"], s["energy_j"]
        ends = starts + dur
        arrival = self.requests["arrival_s"]
        t0 = float(arrival.min()) if arrival.size else 0.0
        t1 = max(float(ends.max()) if ends.size else t0, t0)
        busy = np.bincount(rep, weights=dur, minlength=nrep)[:nrep]
        energy = float(e.sum() + np.sum(idle_w * np.maximum(t1 - t0 - busy, 0.0)))
        span = end_s - start_s
        if span <= 0:
            return {"energy_j": energy, "energy_window_j": math.nan, "power_w_per_chip": math.nan,
                    "output_tokens_per_j": math.nan, "j_per_output_token": math.nan}
        inside = np.clip(np.minimum(ends, end_s) - np.maximum(starts, start_s), 0.0, None)
        frac = np.divide(inside, dur, out=np.zeros_like(inside), where=dur > 0)
        busy_in = np.bincount(rep, weights=inside, minlength=nrep)[:nrep]
        e_win = float(np.sum(e * frac) + np.sum(idle_w * np.maximum(span - busy_in, 0.0)))
        power = e_win / span / self.num_chips
        tokens = output_tokens_per_s * span
        return {
            "energy_j": energy, "energy_window_j": e_win,
            "power_w_per_chip": power,
            "output_tokens_per_j": tokens / e_win if e_win > 0 else math.nan,
            "j_per_output_token": e_win / tokens if tokens > 0 else math.nan,
        }

    def timeline(self, num_bins: int = 200) -> pd.DataFrame:
        """Time-binned KV-cache use, running and waiting sequences, preemptions and output tokens/s.

        Step quantities are averaged over time inside each bin (idle time counts as zero);
        ``kv_cache_used_fraction`` is the mean over replicas, the counts are sums over replicas.
        """
        s = self.steps
        ends = s["start_s"] + s["duration_s"]
        t_end = float(ends.max()) if ends.size else 0.0
        edges = np.linspace(0.0, t_end, num_bins + 1) if t_end > 0 else np.array([0.0, 1.0])
        width = np.diff(edges)

        def binned_mean(values: FloatArray) -> FloatArray:
            total = np.zeros(edges.size - 1)
            for rep in range(self.num_replicas):
                if not (m := s["replica"] == rep).any():
                    continue
                knots_t = np.column_stack([s["start_s"][m], ends[m]]).ravel()
                cum = np.cumsum(values[m] * s["duration_s"][m])
                knots_f = np.column_stack([cum - values[m] * s["duration_s"][m], cum]).ravel()
                total += np.diff(np.interp(edges, knots_t, knots_f, left=0.0, right=float(cum[-1])))
            return total / width

        idx = np.clip(np.searchsorted(edges, ends, side="left") - 1, 0, edges.size - 2)
        import pandas as pd

        return pd.DataFrame({
            "time_s": (edges[:-1] + edges[1:]) / 2,  # bin centres
            "kv_cache_used_fraction": binned_mean(s["kv_used_blocks"] / s["kv_capacity_blocks"]) / self.num_replicas,
            "running_seqs": binned_mean(s["running"].astype(float)),
            "waiting_requests": binned_mean(s["waiting"].astype(float)),
            "preemptions": np.bincount(idx, weights=s["preemptions"], minlength=edges.size - 1),
            "output_tokens_per_s": np.bincount(idx, weights=s["emitted_tokens"], minlength=edges.size - 1) / width,
        })
