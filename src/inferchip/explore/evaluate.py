"""Score many chips on a workload suite at once: throughput per chip, per watt, per dollar, latency, fit.

A workload is a model at a service level (the review's suite, :mod:`inferchip.review.inputs`).
For each chip and model every tensor-parallel size up to the chip's board (powers of two up to
:data:`MAX_TP`, pipeline 1, experts over the tp chips) is scored on the tables of
:mod:`inferchip.explore.tables`; the service level's best layout and concurrency are kept, as
``predict``'s max-throughput search does (on a fixed concurrency grid, without its last
"largest batch that fits" point). Throughput per watt is per watt of TDP; per dollar, per
dollar of manufacturing cost (or price where a real chip has no cost model).

The default suite also holds the driving workload (:mod:`inferchip.explore.driving`: BEVFormer-tiny
on an 8-camera rig at 36 fps; the model id :data:`DRIVING` in a ``--models`` list adds it to another
suite). Its column carries ``frame_latency_s`` (p99 frame latency, also in ``latency_s``),
``frames_per_j`` and ``meets_slo`` (within the frame deadline); the token metrics are NaN there,
and the frame metrics NaN in the language workloads' columns. Designs only: a catalogue chip has no
SRAM, node and memory type in :class:`~inferchip.explore.designs.Chips`, so its driving column is NaN.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from inferchip.explore.designs import Chips
from inferchip.explore.driving import DrivingWorkload, drive_metrics
from inferchip.explore.tables import KINDS, WorkloadTable, build_table, kind_time_s
from inferchip.mapping.layout import tp_splits_heads
from inferchip.mapping.memory_fit import Formats
from inferchip.spec.calibration import Calibration
from inferchip.spec.model import ModelSpec

MAX_TP = 8
METRICS = ("tokens_per_s_per_chip", "tokens_per_s_per_w", "tokens_per_s_per_usd", "tpot_s", "ttft_s",
           "latency_s", "batch", "tp", "fits", "meets_slo", "frame_latency_s", "frames_per_j")
# Suite objectives: name -> (metric, direction); each is a geometric mean over the suite's workloads.
OBJECTIVES = {"throughput_per_chip": ("tokens_per_s_per_chip", "max"),
              "throughput_per_w": ("tokens_per_s_per_w", "max"),
              "throughput_per_usd": ("tokens_per_s_per_usd", "max"), "latency": ("latency_s", "min")}
# ... and, when the suite holds the driving workload, camera frames per joule on its rig (0 if it misses)
DRIVING_OBJECTIVES = {"driving_frames_per_j": ("frames_per_j", "max")}
ALL_OBJECTIVES = {**OBJECTIVES, **DRIVING_OBJECTIVES}
DRIVING = "drive"  # the driving workload's id in a list of models
DRIVING_CHUNK = 1024  # designs per driving evaluation (its arrays are layers x designs: kept in cache)
ZERO_FLOOR = 1e-6  # a workload a design cannot serve counts as this in a geometric mean of throughputs
NO_LATENCY_S = 1e3  # ... and as this in one of latencies


@dataclass
class Suite:
    """Models and service levels, and the tables built for them (per model, tp and tile)."""

    models: list[ModelSpec]
    slos: list[tuple[str, float | None, float | None]]  # (name, max TTFT s, max TPOT s) per model, see workloads
    slo_limits: dict[tuple[str, str], tuple[float | None, float | None]]
    formats: Formats
    calibration: Calibration
    tables: dict[tuple[str, int, int], WorkloadTable] = field(default_factory=dict)
    driving: DrivingWorkload | None = None
    links: np.ndarray = field(default_factory=lambda: np.zeros(0))
    tiles: np.ndarray = field(default_factory=lambda: np.zeros(0, int))

    @property
    def workload_ids(self) -> list[str]:
        ids = [f"{m.id}|{s}" for m in self.models for s, _, _ in self.slos]
        return ids + ([self.driving.workload_id] if self.driving is not None else [])

    def prepare(self, tiles: np.ndarray, links: np.ndarray) -> None:
        """Build the tables the chips need (new tiles or link bandwidths rebuild what lacks them)."""
        links = np.union1d(self.links, np.asarray(links, float)[np.asarray(links, float) > 0])
        rebuild = len(links) != len(self.links)
        self.links = links
        self.tiles = np.union1d(self.tiles, np.asarray(tiles, int))
        for m in self.models:
            for tp in _tps(m):
                for tile in self.tiles:
                    key = (m.id, tp, int(tile))
                    if rebuild or key not in self.tables:
                        self.tables[key] = build_table(m, tp, int(tile), links, self.formats, self.calibration)


def default_suite(models: list[str] | None = None) -> Suite:
    """The review's models (``DEFAULT_MODELS``), both service levels, fp8 weights and KV, and the
    driving rig; a ``models`` list names its models, with :data:`DRIVING` for the rig."""
    from inferchip.catalog.calibration_file import load_calibration
    from inferchip.catalog.models import load_model
    from inferchip.errors import UnknownIdError
    from inferchip.performance.setting import resolve_formats
    from inferchip.review.inputs import DEFAULT_MODELS, SERVICE_LEVELS, service_level
    from inferchip.workload.params import total_params

    names = list(models) if models else [*DEFAULT_MODELS, DRIVING]
    driving = DrivingWorkload() if DRIVING in names else None
    specs = []
    for name in names:
        if name == DRIVING:
            continue
        try:
            specs.append(load_model(name))
        except UnknownIdError as err:  # say which option named it, as --target and --beat do
            err.args = (f"--models: {err}",)
            raise
    limits = {}
    for m in specs:
        for s in SERVICE_LEVELS:
            lv = service_level(s, float(total_params(m)))
            limits[(m.id, s)] = (lv.max_ttft_s, lv.max_tpot_s)
    return Suite(specs, [(s, None, None) for s in SERVICE_LEVELS], limits, resolve_formats("fp8", None, None),
                 load_calibration(None), driving=driving)


def _tps(m: ModelSpec) -> list[int]:
    """Tensor-parallel sizes scored: powers of two up to MAX_TP that split the heads (as candidate_layouts)."""
    return [tp for tp in (1, 2, 4, 8) if tp <= MAX_TP and tp_splits_heads(m, tp)]


def _step_times(t: WorkloadTable, ch: Chips, cal: Calibration) -> np.ndarray:
    """Step time (designs x 2G points: decode then prefill), s."""
    n_pts = 2 * len(t.batch)
    bw = ch.attainable_bytes_per_s(cal.memory_bandwidth_fraction)
    peaks = {"fp8": np.where(ch.peak_fp8 > 0, ch.peak_fp8, ch.peak_bf16), "bf16": ch.peak_bf16, "vector": ch.vector}
    out = np.zeros((len(ch), n_pts))
    # a design without DRAM (memory_units 0) has bw 0: its times are inf/NaN, and its capacity 0 fits no batch, so
    # the caller never reads them (no warning for it)
    with np.errstate(divide="ignore", invalid="ignore"):
        for k in KINDS:
            out += kind_time_s(t.kinds[k], peaks[k], bw, n_pts)
        out += t.d_only[None, :] / bw[:, None] + t.overhead_s[None, :]
    if t.tp > 1:
        j = np.minimum(np.searchsorted(t.link_bytes_per_s, ch.link_bytes_per_s), len(t.link_bytes_per_s) - 1)
        if not np.array_equal(t.link_bytes_per_s[j], ch.link_bytes_per_s):
            raise AssertionError("a link bandwidth without a table: call Suite.prepare first")
        out += t.network_s[:, j].T
    return out


PERF_FIELDS = ("peak_bf16", "peak_fp8", "vector", "memory_bytes_per_s", "usable_bytes", "link_bytes_per_s", "tile",
               "chips_per_board", "feasible")


def evaluate(suite: Suite, ch: Chips) -> dict[str, np.ndarray]:
    """Every metric of :data:`METRICS` as a (chips x workloads) array.

    Chips that differ only in what performance does not read (SRAM, node: area, power and cost)
    share one performance evaluation; per watt and per dollar use each chip's own TDP and cost."""
    suite.prepare(np.unique(ch.tile), np.unique(ch.link_bytes_per_s))
    key = np.stack([np.asarray(getattr(ch, f), float) for f in PERF_FIELDS], axis=1)
    _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
    perf = _performance(suite, ch.take(first))
    out = {k: v[inverse.reshape(-1)] for k, v in perf.items()}
    out["tokens_per_s_per_w"] = out["tokens_per_s_per_chip"] / ch.tdp_w[:, None]
    out["tokens_per_s_per_usd"] = out["tokens_per_s_per_chip"] / ch.cost_usd[:, None]
    for k in ("frame_latency_s", "frames_per_j"):
        out[k] = np.full(out["tokens_per_s_per_chip"].shape, np.nan)
    if suite.driving is not None:
        col = _driving_column(suite.driving, ch)
        out = {k: np.concatenate([v, col[k][:, None]], axis=1) for k, v in out.items()}
    return out


def _driving_column(w: DrivingWorkload, ch: Chips) -> dict[str, np.ndarray]:
    """Every metric of the driving workload's column (NaN where it does not apply, or for a chip
    without design parameters)."""
    n = len(ch)
    col = {k: np.full(n, np.nan) for k in METRICS}
    if "node_nm" not in ch.params:
        return col
    lat, fpj, ok, runs = np.full(n, np.nan), np.full(n, np.nan), np.zeros(n, bool), np.zeros(n, bool)
    for s in range(0, n, DRIVING_CHUNK):
        sub = ch.take(slice(s, s + DRIVING_CHUNK))
        m = drive_metrics(w, sub, sub.params["node_nm"].astype(float), sub.params["memory_type"].astype(str))
        lat[s:s + DRIVING_CHUNK], fpj[s:s + DRIVING_CHUNK] = m["frame_latency_s"], m["frames_per_j"]
        ok[s:s + DRIVING_CHUNK], runs[s:s + DRIVING_CHUNK] = m["meets_deadline"], m["runs"]
    # fits: the design can run the network at all (a design without DRAM cannot read the frames it needs)
    col.update(frame_latency_s=lat, latency_s=lat, frames_per_j=fpj, meets_slo=ok.astype(float),
               fits=(ch.feasible & runs).astype(float), batch=np.ones(n), tp=np.ones(n))
    return col


def _performance(suite: Suite, ch: Chips) -> dict[str, np.ndarray]:
    n, w = len(ch), len(suite.models) * len(suite.slos)  # the language workloads (driving: evaluate)
    out = {k: np.zeros((n, w)) for k in METRICS}
    out["latency_s"][:] = np.inf
    cal = suite.calibration
    budget = ch.usable_bytes * cal.memory_utilization_fraction
    col = 0
    for m in suite.models:
        best = [dict(tput=np.zeros(n), tpot=np.full(n, np.nan), ttft=np.full(n, np.nan), b=np.zeros(n),
                     tp=np.zeros(n), ok=np.zeros(n, bool)) for _ in suite.slos]
        fits = np.zeros(n, bool)
        latency = np.full(n, np.inf)
        for tp in _tps(m):
            usable = ch.feasible & (ch.chips_per_board >= tp) & ((tp == 1) | (ch.link_bytes_per_s > 0))
            if not usable.any():
                continue
            for tile in np.unique(ch.tile):
                sel = usable & (ch.tile == tile)
                if not sel.any():
                    continue
                t = suite.tables[(m.id, tp, int(tile))]
                sub = ch.take(sel)
                times = _step_times(t, sub, cal)
                g = len(t.batch)
                tpot, ttft = times[:, :g], times[:, g:] * t.prefill_chunks
                free = budget[sel] - t.weights_bytes - t.activation_bytes
                bmax = t.dp * np.floor(np.maximum(free, 0.0) / t.kv_bytes_per_seq)
                fit_b = t.batch[None, :] <= bmax[:, None]
                fits[sel] |= bmax >= 1
                lat1 = np.where(fit_b[:, 0], tpot[:, 0], np.inf)
                latency[sel] = np.minimum(latency[sel], lat1)
                per_chip = t.batch[None, :] / tpot / tp
                for s_i, (slo, _, _) in enumerate(suite.slos):
                    max_ttft, max_tpot = suite.slo_limits[(m.id, slo)]
                    ok = fit_b.copy()
                    if max_tpot is not None:
                        ok &= tpot <= max_tpot
                    if max_ttft is not None:
                        ok &= ttft <= max_ttft
                    score = np.where(ok, per_chip, -1.0)
                    k = np.argmax(score, axis=1)
                    r = np.arange(len(k))
                    got = score[r, k]
                    bst = best[s_i]
                    better = got > bst["tput"][sel]
                    idx = np.flatnonzero(sel)[better]
                    kb = k[better]
                    rb = r[better]
                    bst["tput"][idx] = got[better]
                    bst["tpot"][idx] = tpot[rb, kb]
                    bst["ttft"][idx] = ttft[rb, kb]
                    bst["b"][idx] = t.batch[kb]
                    bst["tp"][idx] = tp
                    bst["ok"][idx] = True
        for s_i in range(len(suite.slos)):
            bst = best[s_i]
            out["tokens_per_s_per_chip"][:, col] = bst["tput"]
            out["tpot_s"][:, col] = bst["tpot"]
            out["ttft_s"][:, col] = bst["ttft"]
            out["latency_s"][:, col] = latency
            out["batch"][:, col] = bst["b"]
            out["tp"][:, col] = bst["tp"]
            out["fits"][:, col] = fits
            out["meets_slo"][:, col] = bst["ok"]
            col += 1
    return out


def driving_columns(metrics: dict[str, np.ndarray]) -> np.ndarray:
    """Which workload columns are the driving workload's (bool per column): those without a token
    figure for any chip (a language workload's column holds 0 tokens/s where a chip cannot serve it)."""
    t = metrics["tokens_per_s_per_chip"]
    if t.shape[0] == 0:
        return np.zeros(t.shape[1], bool)
    return np.asarray(np.all(np.isnan(t), axis=0))


def suite_objectives(metrics: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Geometric means over the language workloads (a workload not served counts as
    :data:`ZERO_FLOOR` / :data:`NO_LATENCY_S`), one value per chip per objective of :data:`OBJECTIVES`;
    with a driving column, also :data:`DRIVING_OBJECTIVES` (frames per joule, 0 when it misses the
    deadline, floored like a throughput)."""
    drive = driving_columns(metrics)
    out = {}
    for name, (metric, direction) in OBJECTIVES.items():
        v = np.nan_to_num(metrics[metric][:, ~drive], nan=0.0, posinf=NO_LATENCY_S)
        v = np.maximum(v, ZERO_FLOOR) if direction == "max" else np.minimum(v, NO_LATENCY_S)
        out[name] = np.exp(np.mean(np.log(v), axis=1))
    if drive.any():
        for name, (metric, _) in DRIVING_OBJECTIVES.items():
            v = metrics[metric][:, drive]
            out[name] = np.where(np.all(np.isnan(v), axis=1), np.nan,
                                 np.exp(np.mean(np.log(np.maximum(np.nan_to_num(v, nan=0.0), ZERO_FLOOR)), axis=1)))
    return out
