"""Primitive layers of a vision network, traced on tensor shapes (no weights, no data).

A :class:`Tensor` is ``views x channels x spatial`` per frame (``spatial`` may be one axis of
tokens). Each primitive appends :class:`~inferchip.spec.vision.VisionLayer` records and returns
the output tensor's shape. Counting rules (the same as ``reference/vision_models.md``):

* Conv: MACs = output elements x C_in/groups x kernel volume; params = C_out x C_in/groups x
  kernel volume (+ C_out bias, + 2 C_out for a trainable BatchNorm's scale and shift).
* ConvTranspose: MACs = input elements x C_out/groups x kernel volume.
* Linear: MACs = output elements x in_features.

BatchNorm, activation and a residual add run in the convolution's epilogue (TensorRT-style
fusion): they are the conv layer's ``vector_ops``, not separate kernels. The conv record still says which
of them follow it (``batch_norm``, ``activation``, ``residual_elems``): a runtime that runs them as separate
kernels (eager PyTorch, :mod:`inferchip.cost.vision.eager`) pays their passes over the output.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from inferchip.errors import SpecError
from inferchip.spec.vision import VisionLayer

MAX_TRACED_LAYERS = 20_000
"""Most layers a network YAML may trace: over 40 times the largest bundled network (vla-vitb16-qwen2.5-0.5b, 429
layers); reached in about a second (stop 45's fuzz: a C2f step with ``n: 10**40`` repeats looped for ever)."""
EPILOGUE_OPS_PER_OUTPUT = 3.0  # scale, shift, activation per output element (BN folded + ReLU)


@dataclass(frozen=True)
class Tensor:
    views: int
    channels: int
    spatial: tuple[int, ...]

    @property
    def positions(self) -> int:
        return self.views * math.prod(self.spatial)

    @property
    def elems(self) -> int:
        return self.positions * self.channels


@dataclass
class Tracer:
    """Collects layers; ``where`` names the network file for error messages."""

    where: str
    layers: list[VisionLayer] = field(default_factory=list)
    tensors: dict[str, Tensor] = field(default_factory=dict)
    _count: int = 0

    def name(self, base: str) -> str:
        self._count += 1
        return f"{base}.{self._count}"

    def add(self, **kw: object) -> None:
        if len(self.layers) >= MAX_TRACED_LAYERS:
            raise SpecError(f"{self.where}: the graph traces more than {MAX_TRACED_LAYERS:,} layers (a repeat count "
                            "such as n, blocks, depth or layers too large?); allowed: at most "
                            f"{MAX_TRACED_LAYERS:,} layers (the largest bundled network traces 429)")
        self.layers.append(VisionLayer.model_validate(kw))

    def get(self, key: str) -> Tensor:
        if key not in self.tensors:
            raise SpecError(f"{self.where}: tensor '{key}' is used before it is produced; "
                            f"known: {', '.join(sorted(self.tensors)) or 'none'}")
        return self.tensors[key]

    # --- primitives ---------------------------------------------------------------------

    def conv(self, x: Tensor, out: int, k: int | list[int], stride: int = 1, groups: int = 1, dilation: int = 1,
             pad: int | None = None, bias: bool = False, bn: bool = True, residual: bool = False,
             transposed: bool = False, deformable: bool = False, act: bool | None = None,
             label: str = "conv") -> Tensor:
        """A 2-D or 3-D (transposed) convolution with its fused epilogue; 'same' padding by default.

        ``act``: an activation follows (after the residual add, if any); by default exactly when a BatchNorm
        does (the Conv-BN-ReLU / Conv-BN-SiLU unit of the reference networks; a bias-only conv is a head or a
        projection with none unless the block says so).

        ``deformable``: DCNv2 (Zhu et al., CVPR 2019): a 3x3 offset-and-mask conv (3 x kernel volume
        channels, with bias) first, then bilinear gathers of 4 taps per kernel point, then the GEMM."""
        d = len(x.spatial)
        ks = [k] * d if isinstance(k, int) else list(k)
        if len(ks) != d or x.channels % groups or out % groups:
            raise SpecError(f"{self.where}: {label}: kernel {ks} / groups {groups} do not fit input "
                            f"{x.channels}x{x.spatial} -> {out} channels")
        kvol = math.prod(ks)
        if transposed:
            sp = tuple(s * stride for s in x.spatial)
        else:
            pads = [(kk // 2) * dilation if pad is None else pad for kk in ks]
            sp = tuple((s + 2 * p - dilation * (kk - 1) - 1) // stride + 1 for s, p, kk in zip(x.spatial, pads, ks,
                                                                                                strict=True))
        if min(sp) < 1:
            raise SpecError(f"{self.where}: {label}: output spatial size {sp} is empty (input {x.spatial})")
        y = Tensor(x.views, out, sp)
        cin_g, cout_g = x.channels // groups, out // groups
        params = out * cin_g * kvol + (out if bias else 0) + (2 * out if bn else 0)
        vec = y.elems * (EPILOGUE_OPS_PER_OUTPUT + (1.0 if residual else 0.0))
        in_elems = x.elems + (y.elems if residual else 0)
        residual_elems = float(y.elems) if residual else 0.0
        epilogue = {"residual_elems": residual_elems, "batch_norm": bn, "activation": bn if act is None else act}
        if deformable:
            om = 3 * kvol
            self.add(name=self.name(f"{label}-offsets"), op="conv", m=y.positions, k=x.channels * kvol, n=om,
                     weight_elems=om * x.channels * kvol, param_elems=om * x.channels * kvol + om, in_elems=x.elems,
                     out_elems=y.positions * om, vector_ops=y.positions * om)
            self.gather(y.positions, 1, kvol, x.channels, x.elems, label=f"{label}-deform-sampling")
        depthwise = groups == x.channels and cin_g == 1 and groups > 1
        if depthwise:
            self.add(name=self.name(label), op="depthwise", weight_elems=out * kvol, param_elems=params,
                     in_elems=in_elems, out_elems=y.elems, vector_ops=vec + 2.0 * y.elems * kvol,
                     **epilogue)
        elif transposed:
            self.add(name=self.name(label), op="conv", m=x.positions, k=cin_g, n=cout_g * kvol, groups=groups,
                     weight_elems=out * cin_g * kvol, param_elems=params, in_elems=in_elems, out_elems=y.elems,
                     vector_ops=vec, **epilogue)
        else:
            self.add(name=self.name(label), op="conv", m=y.positions, k=cin_g * kvol, n=cout_g, groups=groups,
                     weight_elems=out * cin_g * kvol, param_elems=params, in_elems=in_elems, out_elems=y.elems,
                     vector_ops=vec, **epilogue)
        return y

    def linear(self, x: Tensor, out: int, bias: bool = True, residual: bool = False, rows: int | None = None,
               repeats: int = 1, shared: bool = False, act: bool = False, label: str = "linear") -> Tensor:
        """A linear layer on every position (token) of ``x``; ``rows`` overrides how many positions it sees."""
        m = x.positions if rows is None else rows
        params = 0 if shared else x.channels * out + (out if bias else 0)
        y = Tensor(x.views, out, x.spatial)
        self.add(name=self.name(label), op="matmul", m=m, k=x.channels, n=out, weight_elems=x.channels * out,
                 param_elems=params, in_elems=m * x.channels + (m * out if residual else 0), out_elems=m * out,
                 vector_ops=m * out * ((1.0 if bias else 0.0) + (1.0 if residual else 0.0) + (4.0 if act else 0.0)),
                 repeats=repeats)
        return y

    def attention(self, q: Tensor, kv_len: int, heads: int, head_dim: int, kv_heads: int | None = None,
                  repeats: int = 1, label: str = "attention") -> None:
        """Fused scaled-dot-product attention (scores and P.V; softmax in the kernel, scores stay on chip).

        Recorded as one GEMM shape ``2 heads x (S x d) @ (d x S_kv)``: the two matmuls have the same MACs.
        """
        s = q.positions
        kvh = kv_heads or heads
        self.add(name=self.name(label), op="attention", m=s, k=head_dim, n=kv_len, groups=2 * heads,
                 in_elems=s * heads * head_dim + 2 * kv_len * kvh * head_dim * q.views,
                 out_elems=s * heads * head_dim, vector_ops=5.0 * s * heads * kv_len, batch_in_m=False,
                 repeats=repeats)

    def vector(self, x: Tensor, op: str, ops_per_elem: float, out: Tensor | None = None, fusable: bool = False,
               label: str | None = None) -> Tensor:
        """A non-matrix layer (pool, norm, resize, elementwise) reading ``x`` and writing ``out``."""
        y = out or x
        self.add(name=self.name(label or op), op=op, in_elems=x.elems, out_elems=y.elems,
                 vector_ops=ops_per_elem * max(x.elems, y.elems), fusable=fusable)
        return y

    def pool(self, x: Tensor, k: int, stride: int, pad: int | None = None) -> Tensor:
        p = k // 2 if pad is None else pad
        sp = tuple((s + 2 * p - k) // stride + 1 for s in x.spatial)
        y = Tensor(x.views, x.channels, sp)
        return self.vector(x, "pool", k ** len(sp) * y.elems / max(x.elems, 1), out=y)

    def global_pool(self, x: Tensor) -> Tensor:
        return self.vector(x, "pool", 1.0, out=Tensor(x.views, x.channels, (1,) * len(x.spatial)))

    def resize(self, x: Tensor, spatial: tuple[int, ...]) -> Tensor:
        """Bilinear (or nearest) resize: 4 taps x 2 ops per output element."""
        return self.vector(x, "resize", 8.0, out=Tensor(x.views, x.channels, spatial))

    def gather(self, queries: int, heads: int, points: int, head_dim: int, source_elems: int,
               label: str = "deformable-sampling") -> None:
        """Deformable-attention / grid sampling: bilinear taps (4 corners) gathered per sampling point. ``n`` records
        the channels each sampled map carries (``head_dim``: mmcv's ``multi_scale_deformable_attn_pytorch`` samples
        value maps of (batch x heads, head_dim, H, W)); a CPU runtime's kernel parallelises over them
        (:mod:`inferchip.cost.vision.ort_gridsample`)."""
        taps = queries * heads * points * 4 * head_dim
        self.add(name=self.name(label), op="gather", in_elems=taps, out_elems=queries * heads * head_dim,
                 vector_ops=2.0 * taps, weight_elems=0.0, m=0.0, n=float(head_dim))
        del source_elems  # the sampled map's size decides SRAM residency in the cost model (not tracked yet)

    def layernorm(self, x: Tensor, params: bool = True) -> Tensor:
        y = self.vector(x, "norm", 5.0, label="layernorm")
        if params:  # scale and shift per channel, counted on the preceding record
            last = self.layers[-1]
            self.layers[-1] = last.model_copy(update={"param_elems": 2.0 * x.channels})
        return y

    def embedding(self, vocab: int, dim: int) -> None:
        """An embedding table: parameters only (a lookup, no matrix work)."""
        self.add(name=self.name("embedding"), op="elementwise", param_elems=float(vocab * dim), fusable=True)
