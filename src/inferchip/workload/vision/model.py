"""A vision network as the cost model sees it: layer records and the same quantities as numpy arrays."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from inferchip.errors import SpecError
from inferchip.spec.vision import GATHER_OPS, MATRIX_OPS, VisionLayer, VisionNetworkSpec

FloatArray = npt.NDArray[np.float64]

UNIT_MATRIX, UNIT_VECTOR, UNIT_GATHER, UNIT_NONE = 0, 1, 2, 3

@dataclass(frozen=True)
class LayerArrays:
    """Per-layer quantities per frame, one entry per layer (the cost model's input)."""

    m: FloatArray
    k: FloatArray
    n: FloatArray
    groups: FloatArray
    weight_elems: FloatArray
    in_elems: FloatArray
    out_elems: FloatArray
    vector_ops: FloatArray
    repeats: FloatArray
    fusable: npt.NDArray[np.bool_]
    batch_in_m: npt.NDArray[np.bool_]
    unit: npt.NDArray[np.int64]
    precision: tuple[str | None, ...]
    conv: npt.NDArray[np.bool_]  # the layer is a convolution (op ``conv``): CPU runtimes run it as a direct conv
    residual_elems: FloatArray  # of in_elems, the skip connection's tensor the epilogue adds
    batch_norm: npt.NDArray[np.bool_]  # a BatchNorm follows the layer
    activation: npt.NDArray[np.bool_]  # an activation follows the layer (after the residual add)

    @classmethod
    def of(cls, layers: tuple[VisionLayer, ...]) -> LayerArrays:
        def col(name: str) -> FloatArray:
            return np.array([float(getattr(x, name)) for x in layers], dtype=float)

        unit = np.array([UNIT_MATRIX if x.op in MATRIX_OPS else UNIT_GATHER if x.op in GATHER_OPS
                         else UNIT_NONE if x.op == "uncosted" else UNIT_VECTOR for x in layers], dtype=np.int64)
        return cls(m=col("m"), k=col("k"), n=col("n"), groups=col("groups"), weight_elems=col("weight_elems"),
                   in_elems=col("in_elems"), out_elems=col("out_elems"), vector_ops=col("vector_ops"),
                   repeats=col("repeats"), fusable=np.array([x.fusable for x in layers], dtype=bool),
                   batch_in_m=np.array([x.batch_in_m for x in layers], dtype=bool), unit=unit,
                   precision=tuple(x.precision for x in layers), conv=np.array([x.op == "conv" for x in layers],
                                                                                dtype=bool),
                   residual_elems=col("residual_elems"),
                   batch_norm=np.array([x.batch_norm for x in layers], dtype=bool),
                   activation=np.array([x.activation for x in layers], dtype=bool))


@dataclass(frozen=True)
class VisionNetwork:
    """A network as the cost model sees it. ``macs_per_frame`` counts matrix work only."""

    id: str
    name: str
    family: str
    precision: str
    layers: tuple[VisionLayer, ...]
    frames_per_sample: float = 1.0
    sources: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    spec: VisionNetworkSpec | None = None
    file: str | None = None
    """The user's file it was read from (a network YAML or an ONNX graph); None for a bundled network."""
    arrays: LayerArrays = field(init=False, repr=False)

    def __repr__(self) -> str:  # the dataclass's printed every layer and the bundled spec: ~19,500 characters
        return (f"<VisionNetwork {self.named}: {self.family}, {len(self.layers):,} layers, {self.params / 1e6:,.1f} M "
                f"parameters\n  {self.flop_per_frame / 1e9:,.3g} GFLOP per frame ({2 * self.macs_per_frame / 1e9:,.3g} "
                f"of them 2 x MACs), {self.precision}; the layers: .layers>")

    @property
    def named(self) -> str:
        """How a message names it: the file a user gave, else the bundled id."""
        return f"{self.file} ({self.id})" if self.file and self.file != self.id else self.id

    def __post_init__(self) -> None:
        if not self.layers:
            raise SpecError(f"{self.id}: a network needs at least one layer")
        object.__setattr__(self, "arrays", LayerArrays.of(self.layers))

    @property
    def params(self) -> float:
        return float(sum(x.param_elems for x in self.layers))

    @property
    def macs_per_frame(self) -> float:
        return float(sum(x.macs for x in self.layers))

    @property
    def flop_per_frame(self) -> float:
        """Matrix FLOP (2 per MAC) plus vector operations, per frame."""
        a = self.arrays
        return float(2.0 * self.macs_per_frame + np.sum(a.vector_ops * a.repeats))

    def macs_in(self, prefix: str) -> float:
        return float(sum(x.macs for x in self.layers if x.name.startswith(prefix)))

    def params_in(self, prefix: str) -> float:
        return float(sum(x.param_elems for x in self.layers if x.name.startswith(prefix)))

    def uncosted_share(self) -> float:
        """Share of the activation traffic (elements in + out) in layers that could not be costed."""
        a = self.arrays
        traffic = (a.in_elems + a.out_elems) * a.repeats
        total = float(np.sum(traffic))
        return float(np.sum(traffic[a.unit == UNIT_NONE]) / total) if total > 0 else 0.0
