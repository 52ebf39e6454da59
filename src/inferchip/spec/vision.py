"""A vision network as data: the bundled file's schema and the typed layer records it expands into.

A bundled network (``catalog/vision/*.yaml``) is a short list of graph steps (``op`` plus its
arguments, e.g. ``resnet_stage`` with 4 blocks) that :mod:`inferchip.workload.vision.builder`
expands into :class:`VisionLayer` records; an ONNX graph is mapped to the same records. A layer
is one kernel on the chip, described by the shape the cost model needs, per frame:

* matrix work as a GEMM ``groups x (m x k) @ (k x n)`` (a convolution as an implicit GEMM:
  m = output positions, k = C_in/groups x kernel volume, n = C_out/groups);
* ``vector_ops``: non-matrix operations (epilogues, elementwise, pooling, softmax, depthwise);
* activation elements read and written, weight elements read and parameters owned.

Shapes only: no weights are stored anywhere.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from inferchip.sources import Source
from inferchip.spec.formats import NumberFormat
from inferchip.spec.stream import MEDIAN_MEASURED_SHARE

LayerOp = Literal["conv", "matmul", "attention", "depthwise", "elementwise", "norm", "pool", "resize", "gather",
                  "postprocess", "uncosted"]
MATRIX_OPS: frozenset[str] = frozenset({"conv", "matmul", "attention"})
"""Ops lowered to the matrix unit (GEMM shape used); the rest run on vector units or are gathers."""

# The frames of one call and the chips sharing them that `inferchip vision` (--batch, --count) and the Python API's
# frame_cost take: input checks (inferchip), not physics; more is a typo or another question (a fleet).
BATCH_MAX = 65536
MAX_VISION_CHIPS = 4096
GATHER_OPS: frozenset[str] = frozenset({"gather"})

NetworkFamily = Literal["classification", "detection", "segmentation", "medical-3d", "bev-3d-detection",
                        "vision-language-action", "onnx"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class VisionLayer(_Frozen):
    """One kernel of a vision network, per frame (one input sample)."""

    name: str = Field(min_length=1)
    op: LayerOp
    m: float = Field(0.0, ge=0, description="GEMM rows per frame per repeat (output positions, tokens).")
    k: float = Field(0.0, ge=0, description="GEMM reduction length (C_in/groups x kernel volume).")
    n: float = Field(0.0, ge=0, description="GEMM output columns per group (C_out/groups).")
    groups: float = Field(1.0, ge=1, description="Independent GEMMs of this shape (conv groups, attention heads).")
    weight_elems: float = Field(0.0, ge=0, description="Weight elements the kernel reads (per repeat).")
    param_elems: float = Field(0.0, ge=0, description="Parameters this layer owns (0 where weights are shared).")
    in_elems: float = Field(0.0, ge=0, description="Activation elements read per frame per repeat.")
    out_elems: float = Field(0.0, ge=0, description="Activation elements written per frame per repeat.")
    residual_elems: float = Field(0.0, ge=0, description="Of in_elems, the skip connection's tensor the epilogue adds "
                                  "(not the kernel's own input).")
    batch_norm: bool = Field(False, description="A BatchNorm follows the layer (a separate eager kernel; folded "
                             "into the epilogue by graph compilers).")
    activation: bool = Field(False, description="An elementwise activation (ReLU, SiLU) follows the layer (after "
                             "the residual add where there is one).")
    vector_ops: float = Field(0.0, ge=0, description="Non-matrix operations per frame per repeat.")
    repeats: int = Field(1, ge=1, description="Sequential executions per frame (decode steps); weights re-read.")
    fusable: bool = Field(False, description="Runs in the producer kernel's epilogue: no launch, no DRAM round trip.")
    batch_in_m: bool = Field(True, description="Frames of a batch stack along m (weight GEMM); else along groups.")
    precision: NumberFormat | None = Field(None, description="Per-layer override of the network precision.")
    onnx_op: str | None = Field(None, description="The ONNX node type this layer came from, if any.")

    @property
    def macs(self) -> float:
        """Useful multiply-accumulates per frame (matrix ops only)."""
        return self.m * self.k * self.n * self.groups * self.repeats if self.op in MATRIX_OPS else 0.0

    @model_validator(mode="after")
    def _gemm_shape(self) -> VisionLayer:
        if self.op in MATRIX_OPS and min(self.m, self.k, self.n) <= 0:
            raise ValueError(f"layer '{self.name}': a {self.op} layer needs positive m, k and n "
                             f"(got m={self.m:g}, k={self.k:g}, n={self.n:g})")
        return self


class PublishedFigure(_Frozen):
    """A published (or independently counted) figure of a network, with the tolerance a test allows."""

    value: float = Field(gt=0)
    tolerance: float = Field(gt=0, le=0.5, description="Allowed relative difference of the built network.")
    source: str = Field(min_length=1)
    scope: str | None = Field(None, description="Only layers of this graph scope (e.g. 'backbone') are compared.")


class InputSpec(_Frozen):
    channels: int = Field(ge=1)
    spatial: list[int] = Field(min_length=1, max_length=3, description="H, W (or D, H, W) of one view.")
    views: int = Field(1, ge=1, description="Images per frame (cameras of a BEV model).")


class VisionNetworkSpec(_Frozen):
    """A bundled vision network file: identity, input, sources, published figures and graph steps."""

    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    family: NetworkFamily
    input: InputSpec
    precision: NumberFormat = "int8"
    frames_per_sample: float = Field(
        1.0, gt=0, description="Network runs per benchmark sample (3D-UNet: sliding windows per volume).")
    frames_per_sample_source: str | None = None
    sources: list[Source] = Field(min_length=1)
    published: dict[Literal["params", "macs_per_frame"], PublishedFigure] = Field(default_factory=dict)
    defaults: dict[str, Any] = Field(default_factory=dict, description="Arguments every step gets unless it sets them.")
    graph: list[dict[str, Any]] = Field(min_length=1, description="Steps: {op: NAME, ...arguments}.")
    notes: str | None = None

    @model_validator(mode="after")
    def _steps_named(self) -> VisionNetworkSpec:
        for i, step in enumerate(self.graph):
            if not isinstance(step.get("op"), str):
                raise ValueError(f"graph[{i}]: every step needs an 'op' naming a builder, got {step!r}")
        return self


class VisionCalibration(_Frozen):
    """The few fitted parameters of the vision cost model, each physical in meaning."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    matrix_fraction: float = Field(
        0.6, gt=0, le=1, description="Attainable fraction of the matrix unit's dense peak in implicit-GEMM "
        "convolutions after tile quantisation (estimate: cuDNN/TensorRT int8 convs reach 50-70%).")
    cpu_matrix_fraction: float = Field(
        0.4, gt=0, le=1, description="The same on CPUs (AMX tiles / AVX-512 FMA fed by software-managed loops, "
        "under the clock an all-core matrix load sustains; estimate).")
    cpu_vector_fraction: float = Field(
        0.6, gt=0, le=1, description="Attainable fraction of a CPU's vector FMA peak (AVX2/AVX-512 fp32, the peak "
        "of a format with no matrix engine) in oneDNN/ONNX Runtime convolutions (estimate; fitted).")
    inference_overhead_s: float = Field(
        50e-6, ge=0, le=0.1, description="Fixed host time per inference call (launch, copy-in/out, LoadGen).")
    memory_bandwidth_fraction: float = Field(
        0.9 / MEDIAN_MEASURED_SHARE, gt=0, le=1, description="Attainable fraction of the chip's MEASURED streaming "
        "DRAM rate (spec.stream) for streaming layers: the earlier estimate, 0.9 of the datasheet peak (STREAM-like "
        "copies reach 85-93% of HBM/GDDR peak), re-expressed at the median measured share (0.964).")
    layer_overhead_scale: float = Field(
        0.5, ge=0, le=10, description="Multiplier on the family's per-kernel overhead (TensorRT graphs launch "
        "kernels back to back; estimate).")
    windows_per_volume: float = Field(
        64.0, ge=1, le=2000, description="Mean 128^3 sliding windows (overlap 0.5) per KiTS19 volume: a data-set "
        "unknown (vision_models.md: not read), fitted on the 3D-UNet calibration rows.")
    windows_p90_ratio: float = Field(
        1.0, ge=1, le=10, description="Windows of the KiTS19 volume at the 90th percentile of volume size over the "
        "mean windows per volume: SingleStream p90 latency is that volume's latency; a data-set unknown fitted on "
        "the 3D-UNet SingleStream calibration rows.")
    cpu_feed_columns: float = Field(
        0.0, ge=0, le=4096, description="Output columns (per group, padded to the output tile) below which a CPU "
        "matrix-engine (AMX) layer waits on its activation operand: each activation byte loaded into a tile serves "
        "at most n columns' MACs, so a layer of n columns runs at min(1, n / this) of the engine's attainable rate; "
        "this = engine MAC rate / activation bytes fed per cycle (fitted on the CPU calibration rows; 0: no bound; "
        "cost/vision/layers.py operand_feed_factor).")
    sample_host_s: float = Field(
        0.0, ge=0, le=1e-3, description="Host time per sample of a latency-scenario query (SingleStream, "
        "MultiStream, ConstantStream, fps runs) before its call is issued: the harness stages each sample on its "
        "own (NVIDIA LWIS CopySamples: one copy per sample unless the batch's samples are contiguous in host "
        "memory, and a query's samples are drawn at random) and answers each sample; fitted on the latency "
        "calibration rows (cost/vision/host.py query_host_s).")
    sram_usable_fraction: float = Field(
        0.5, gt=0, le=1, description="Share of on-chip SRAM a layer's working set may use to stay on chip.")
    fitted: bool = False
    fitted_on: str | None = None
    fit_summary: dict[str, float] = Field(default_factory=dict)

    def matrix_fraction_for(self, family: str, on_vector_units: bool = False) -> float:
        """The attainable fraction of the peak a matrix layer runs at: CPUs (``*-cpu`` families) have their own,
        one for the matrix engine (AMX tiles) and one for formats that run on the vector FMA units (fp32)."""
        if not is_cpu_family(family):
            return self.matrix_fraction
        return self.cpu_vector_fraction if on_vector_units else self.cpu_matrix_fraction


def is_cpu_family(family: str) -> bool:
    return family == "cpu" or family.endswith("-cpu")
