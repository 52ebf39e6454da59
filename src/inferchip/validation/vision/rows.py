"""One measured vision row as a small model of its own: the per-layer times of its chip and network over a
grid of batch sizes, computed once, and the scenario metric as a function of the calibration parameters.

Calibration parameters (few, physical): ``matrix_fraction`` (attainable share of an accelerator's
matrix-unit dense peak), ``cpu_matrix_fraction`` (the same on CPUs) and, for 3D-UNet, the mean number
of 128^3 sliding windows per KiTS19 volume (a data-set unknown, like the LLM side's MLPerf mean input
lengths). DRAM bandwidth fraction and per-call host overhead stay at the calibration file's stated
estimates (not fitted).

Scenario metrics (analytic forms; MLPerf LoadGen rules as in ``mlcommons/inference`` docs):

* Offline: samples/s = chips x max over batch b of b / t(b), per sample of ``frames`` frames.
* Server (arrivals at rate lambda per chip, greedy dynamic batching: when the chip frees, it takes what
  has queued, up to the maximum batch): in steady state the batch b* is the one that accumulates during
  its own service, b* = lambda t(b*), and a sample waits at most one call in flight before its own, so
  p99 ~ 2 t(b*). The highest rate meeting the bound L is max over b <= max batch with 2 t(b) <= L of
  b / t(b); a load above every b / t(b) on the grid is an overload (latency unbounded).
* SingleStream: one sample at a time on one chip (a sample is not split over chips); its latency (p90/p99.9)
  is t(1) (3D-UNet: the volume's windows in batches). MultiStream: one query of 8 samples, spread over k of
  the chips (k chosen to finish soonest); the host issues the k batches one after another, each issue
  costing the per-call host overhead d, so p99 = min over k of t(ceil(8 / k)) + (k - 1) d
  (:func:`~inferchip.validation.vision.predict.multi_stream_s`); a latency-scenario program runs on the cores
  its harness compiles it for
  (:mod:`inferchip.validation.vision.programs`; the whole chip unless listed). Every sample of a
  latency-scenario query is first staged by the host (the fitted ``sample_host_s``,
  :func:`inferchip.cost.vision.host.query_host_s`): once per SingleStream sample, per sample of each MultiStream
  batch before it is issued. A harness that caps the batch per call (``HARNESS_MAX_BATCH`` in
  :mod:`inferchip.validation.vision.harness`) caps every scenario's grid; a MultiStream share above it runs as
  calls in turn.
* ConstantStream (MLPerf Automotive): frames at the stated rate r, one at a time; with t(1) r <= 1 no
  frame waits (deterministic arrivals), the latency is t(1); above that the queue grows without bound.
* fps of a batch-1 run = 1 / latency.
* system power (wall): board power of the busy chips at the scenario's operating point (SingleStream: one
  chip busy, the others at idle), plus the host sized by the row's host CPUs
  (:mod:`inferchip.cost.vision.system`; the project-wide HGX host of
  :func:`inferchip.cost.energy.wall_power_w` when the CPU is not in the table).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from inferchip.catalog.assumptions import load_assumptions
from inferchip.catalog.chips import family_defaults, load_chip
from inferchip.cost.roofline import FloatArray
from inferchip.cost.vision.dataflow import (
    STREAM_REFERENCE_BATCHES,
    entry_delay_s,
    is_dataflow,
    pipeline_interval_s,
    stream_latency_s,
    stream_occupancy_s,
)
from inferchip.cost.vision.frame import call_energy_j, static_w
from inferchip.cost.vision.host import host_link, input_copy_s
from inferchip.cost.vision.layers import layer_costs, operand_feed_factor
from inferchip.errors import InferchipError, InvalidSettingError
from inferchip.spec.chip import chip_params
from inferchip.spec.vision import VisionCalibration, is_cpu_family
from inferchip.validation.vision.cases import VisionCase
from inferchip.validation.vision.harness import (
    executed_format,
    gather_format,
    gridsample_clock_hz,
    harness_max_batch,
    quantised_format,
    runs_eager_nchw,
    runs_mlas_nchwc,
    runtime_of,
)
from inferchip.validation.vision.programs import (  # noqa: F401  (re-exported: program_cores, on_cores)
    LATENCY_PROGRAM_CORES,
    on_cores,
    program_cores,
    program_count,
    shared_link_s,
    side_by_side,
)
from inferchip.validation.vision.round_trip import runtime_round_trip_s
from inferchip.workload.vision.network import load_network

GRID = STREAM_REFERENCE_BATCHES  # batch sizes of the row model (and of a dataflow chip's interval)
MAX_BATCH = 4096
WINDOWED = "3d-unet-kits19"  # the network whose sample is a volume of sliding windows


HARNESS_INFERENCE_STREAMS = {("tensorrt", "retinanet-resnext50-fpn-800"): 2}
"""Inference streams per GPU that a runtime's MLPerf harness runs a network's Offline and Server scenarios on, keyed
by (the runtime the software column names first, network). NVIDIA's TensorRT harness (LWIS) configs for RetinaNet
set ``gpu_inference_streams = 2`` in both scenarios on every system read (closed/NVIDIA/configs/retinanet/Server and
Offline ``__init__.py`` as carried by NVIDIA, Supermicro, Dell, GigaComputing in mlcommons/inference_results_v4.1 and
v5.1: H100 SXM, H100 NVL, H200, GH200, L4). ResNet-50 is not listed: its Server configs run 1 stream on some systems
(H100 SXM x1, GH200, with CUDA graphs) and 7 on others (H200 x8), and the rows do not say which; 3D-UNet runs a
different harness. A pair absent here runs 1 stream (no packing)."""


def inference_streams(case: VisionCase, *, cpu: bool, dataflow: bool) -> int:
    """Calls a row's harness keeps on concurrent inference streams per accelerator (:data:`HARNESS_INFERENCE_STREAMS`);
    1 on CPUs, dataflow chips, latency scenarios and every pair the table does not name."""
    if cpu or dataflow or case.scenario not in ("offline", "server"):
        return 1
    return HARNESS_INFERENCE_STREAMS.get((runtime_of(case), case.model), 1)


class Unexpressible(InferchipError):
    """A row the model cannot express (unknown chip or network, or a metric it has no form for)."""


def _quantised(case: VisionCase) -> str | None:
    """:func:`quantised_format`, a mixed precision the row's runtime gives no reading of reported unexpressible."""
    try:
        return quantised_format(case)
    except InvalidSettingError as exc:
        raise Unexpressible(str(exc)) from None


@dataclass(frozen=True)
class Params:
    matrix_fraction: float
    cpu_matrix_fraction: float
    windows_per_volume: float
    cpu_vector_fraction: float = 0.6
    memory_bandwidth_fraction: float = VisionCalibration().memory_bandwidth_fraction  # the stated estimate
    windows_p90_ratio: float = 1.0  # windows of the p90-sized KiTS19 volume over the mean windows per volume
    cpu_feed_columns: float = 0.0  # AMX layers below this many output columns wait on their activation operand
    sample_host_s: float = 0.0  # host time per sample of a latency-scenario query (cost/vision/host.py query_host_s)


@dataclass
class RowModel:
    case: VisionCase
    batches: FloatArray
    matrix_s: FloatArray  # (layers, batches) at the layer's ``fraction0``
    vector_s: FloatArray
    memory_s: FloatArray  # (layers, batches) at ``memory_fraction0``
    overhead_s: FloatArray  # (batches,): kernel overheads plus the per-call host overhead
    copy_s: FloatArray  # (batches,): the call's input copied over the host link
    e_dyn_j: FloatArray  # (batches,)
    static_w: float
    tdp_w: float
    fraction0: FloatArray  # (layers,)
    amx_n: FloatArray  # (layers,): output columns per group of CPU matrix-engine layers; inf elsewhere
    feed_columns0: float  # the calibration's ``cpu_feed_columns`` that ``matrix_s`` holds
    vector_fma: np.ndarray  # (layers,) bool: fp32 on a CPU's vector FMA units
    memory_fraction0: float
    cpu: bool
    windowed: bool
    dispatch_s: float = 0.0  # host time to issue one call (the calibration's per-call host overhead)
    switched: bool = False  # accelerators joined by a scale-up switch (NVSwitch): the host carries its share
    dataflow: bool = False  # a layer pipeline (cost/vision/dataflow.py): samples stream, no batching
    loaded_matrix_s: FloatArray | None = None  # (layers, batches): per call with the harness's streams packed
    stall_s: FloatArray | None = None  # (batches,): DRAM time in series with compute, at ``memory_fraction0``
    programs: int = 1  # activations of the program side by side on one chip (programs.py); the arrays are one's
    round_trip_s: float = 0.0  # a latency-scenario call's runtime round trip that pipelining hides (round_trip.py)

    def layer_fraction(self, p: Params) -> FloatArray:
        if not self.cpu:
            return np.full(self.fraction0.shape, p.matrix_fraction)
        return np.where(self.vector_fma, p.cpu_vector_fraction, p.cpu_matrix_fraction)

    def latency_s(self, p: Params, *, overlapped: bool = False) -> FloatArray:
        """Device time of one call per batch size of the grid (throttled to TDP), the input copy not included.
        With ``overlapped``: calls in flight side by side, the time per call is max(sum compute, sum memory)."""
        feed = operand_feed_factor(self.amx_n, p.cpu_feed_columns) / operand_feed_factor(self.amx_n,
                                                                                          self.feed_columns0)
        base = self.loaded_matrix_s if overlapped and self.loaded_matrix_s is not None else self.matrix_s
        matrix = base * (self.fraction0 / self.layer_fraction(p) * feed)[:, None]
        memory = self.memory_s * (self.memory_fraction0 / p.memory_bandwidth_fraction)
        compute = np.maximum(matrix, self.vector_s)
        if overlapped:
            t = np.maximum(compute.sum(axis=0), memory.sum(axis=0))
        else:
            t = np.maximum(compute, memory).sum(axis=0)
        t = t + self.overhead_s
        if self.stall_s is not None:  # MLAS NCHWc output re-streams (cost/vision/cpu_cache.py)
            t = t + self.stall_s * (self.memory_fraction0 / p.memory_bandwidth_fraction)
        if math.isfinite(self.tdp_w) and self.tdp_w > self.static_w:
            t = np.maximum(t, self.e_dyn_j / (self.tdp_w - self.static_w))
        return np.asarray(t, dtype=float)

    def query_s(self, p: Params) -> FloatArray:
        """Latency of one call on its own: the input copy over the host link, then the device time, plus the runtime's
        round trip that only a lone call waits for (:mod:`~inferchip.validation.vision.round_trip`). On a dataflow
        chip b samples stream through the pipeline: L + (b - 1) I (:func:`stream_latency_s`)."""
        t = np.asarray(self.latency_s(p) + self.copy_s + self.round_trip_s, dtype=float)
        if not self.dataflow:
            return t
        return stream_latency_s(float(t[0]), self.interval_s(p), self.batches)

    def pipelined_s(self, p: Params) -> FloatArray:
        """Time per call under load: calls in flight side by side (their compute and DRAM phases overlap) and the
        next call's input copied while this one computes. On a dataflow chip b samples hold the pipeline b I."""
        if self.dataflow:
            return stream_occupancy_s(self.interval_s(p), self.batches)
        return self._loaded_s(p)

    def _loaded_s(self, p: Params) -> FloatArray:
        return np.asarray(np.maximum(self.latency_s(p, overlapped=True), self.copy_s), dtype=float)

    def interval_s(self, p: Params) -> float:
        """Per-sample interval I of a dataflow chip (:func:`pipeline_interval_s`)."""
        return pipeline_interval_s(self.batches, self._loaded_s(p))

    def after_entry_s(self, p: Params) -> float:
        """Seconds a sample spends after its server's service in the Server simulation: on a dataflow chip the rest
        of its passage through the pipeline, L - I (:func:`entry_delay_s`); 0 elsewhere."""
        return entry_delay_s(self.fill_s(p), self.interval_s(p)) if self.dataflow else 0.0

    def fill_s(self, p: Params) -> float:
        """One sample's passage through an idle chip: the batch-1 call (copy, layers, host cost)."""
        return float(self.latency_s(p)[0] + self.copy_s[0])

    def frames(self, p: Params, *, tail: bool = False) -> float:
        """Frames (3D-UNet: 128^3 windows) per sample: the mean, or with ``tail`` those of the sample at the
        latency percentile (volume sizes vary; :func:`tail_frames`)."""
        if not self.windowed:
            return 1.0
        return tail_frames(p.windows_per_volume, p.windows_p90_ratio) if tail else p.windows_per_volume


def tail_frames(mean_windows: float, p90_ratio: float) -> float:
    """Windows of the volume at the 90th percentile of KiTS19 volume sizes: mean x (p90 / mean). A latency
    percentile of one volume at a time is the latency of the volume at that size percentile, not of the mean
    volume (every volume is queried alike, so the latency distribution is the size distribution's image)."""
    return mean_windows * p90_ratio


def build_row(case: VisionCase, cal: VisionCalibration) -> RowModel:
    """The row's model; :class:`Unexpressible` with the reason when it cannot be predicted."""
    if case.metric == "mac_utilization_fraction_min":
        raise Unexpressible("a lower bound on MAC utilisation of an unnamed network: no metric of the model")
    if case.scenario == "constant_stream" and not case.stream_rate_per_s:
        raise Unexpressible("a ConstantStream row needs its frame rate in the notes (e.g. '30 fps')")
    try:
        spec = load_chip(case.accelerator)
    except InferchipError:
        raise Unexpressible(f"line {case.line}, column accelerator: chip '{case.accelerator}' is not in the catalogue; "
                            "allowed: an id of `inferchip chips`") from None
    try:
        net = load_network(case.model)
    except InferchipError:
        raise Unexpressible(f"line {case.line}, column model: network '{case.model}' is not bundled (shapes not "
                            "published); allowed: a vision network of `inferchip models`") from None
    params = chip_params(spec, family_defaults(spec.family))
    cores = int(spec.compute.matrix_unit_count or 1)
    programs = program_count(case, cores)  # activations side by side on one chip (programs.py)
    params = side_by_side(on_cores(params, program_cores(case, cores), cores), programs)
    dataflow = is_dataflow(params.family)  # a pipeline streams samples: a stated batch does not bound its interval
    bmax = case.batch if case.batch and case.scenario in ("offline", "server") and not dataflow else MAX_BATCH
    bmax = min(bmax, harness_max_batch(case) or MAX_BATCH)
    grid = sorted({g for g in GRID if g <= bmax} | ({bmax} if bmax < MAX_BATCH else set()))
    b = np.array(grid, dtype=float)
    cpu = is_cpu_family(params.family)
    c = layer_costs(params, net.arrays, b, executed_format(case, params, cpu=cpu), cal,
                    streams=inference_streams(case, cpu=cpu, dataflow=dataflow), nchwc=runs_mlas_nchwc(case, cpu=cpu),
                    eager_nchw=runs_eager_nchw(case, cpu=cpu),
                    gridsample_clock_hz=gridsample_clock_hz(case, spec, cpu=cpu), quantised=_quantised(case),
                    gather_format=gather_format(case, cpu=cpu))
    a = load_assumptions()
    node = spec.silicon.node_nm or a.number("energy.reference_node_nm")
    static = static_w(params, a)
    tdp = float(params.tdp_w)
    e_dyn = call_energy_j(c, params, spec.memory.technology(), float(node), static, a)
    link = host_link(params.id, params.family).bytes_per_s
    return RowModel(case=case, batches=b, matrix_s=c.matrix_s, vector_s=c.vector_s, memory_s=c.memory_s,
                    overhead_s=c.overhead_s.sum(axis=0) + cal.inference_overhead_s,
                    copy_s=shared_link_s(input_copy_s(c.input_bytes_per_frame, b, link), programs),
                    e_dyn_j=e_dyn, static_w=static, tdp_w=tdp, fraction0=c.fraction, amx_n=c.amx_n,
                    feed_columns0=cal.cpu_feed_columns, vector_fma=c.vector_fma,
                    memory_fraction0=cal.memory_bandwidth_fraction, cpu=cpu,
                    windowed=case.model == WINDOWED, dispatch_s=cal.inference_overhead_s,
                    switched=int(params.max_scaleup_domain) > 1, dataflow=dataflow, loaded_matrix_s=c.loaded_matrix_s,
                    stall_s=None if c.stall_s is None else c.stall_s.sum(axis=0), programs=programs,
                    round_trip_s=runtime_round_trip_s(case, link))
