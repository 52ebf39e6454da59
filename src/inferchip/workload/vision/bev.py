"""BEVFormer's transformer (Li et al., ECCV 2022; ``projects/mmdet3d_plugin/bevformer`` of the
reference code): encoder layers of temporal self-attention and spatial cross-attention over the
camera features, both multi-scale deformable attention, and a DETR-style decoder.

Deformable attention is recorded as its linear projections (matrix unit) plus a memory-bound
gather of bilinear taps (:meth:`Tracer.gather`).
"""

from __future__ import annotations

import math

from inferchip.errors import SpecError
from inferchip.workload.vision.tracer import Tensor, Tracer


def deformable_attention(tr: Tracer, queries: int, query_dim: int, values: int, dim: int, heads: int, levels: int,
                         points: int, label: str, query_rows: int | None = None) -> None:
    """MSDeformableAttention: value projection, sampling offsets and weights from the query, gather, output."""
    rows = query_rows or queries
    tr.linear(Tensor(1, dim, (values,)), dim, label=f"{label}-value")
    q = Tensor(1, query_dim, (rows,))
    tr.linear(q, heads * levels * points * 2, label=f"{label}-offsets")
    tr.linear(q, heads * levels * points, label=f"{label}-weights")
    tr.gather(rows, heads, levels * points, dim // heads, values * dim, label=f"{label}-sampling")
    tr.linear(Tensor(1, dim, (queries,)), dim, residual=True, label=f"{label}-out")


def bev_encoder(tr: Tracer, x: Tensor, bev: list[int], layers: int, dim: int = 256, heads: int = 8, ffn: int = 512,
                tsa_points: int = 4, sca_points: int = 8, cameras_hit: float | str = 2.0,
                feats: list[str] | None = None) -> Tensor:
    """Encoder: per layer TSA (2-frame BEV queue) + LN, SCA over the views + LN, FFN + LN.

    ``cameras_hit``: camera views the spatial cross-attention samples per BEV query: the views a query's pillar
    projects into (1-2 for nuScenes' overlapping rig, an estimate) where the code gathers only the hitting queries
    per camera, all views where it samples every query in every camera (the network's YAML says which, with sources):
    ``"all"`` is the input's view count, so a network rebuilt at a rig's cameras (``network.at_views``) samples all.
    ``feats``: the image feature levels attended to (default: ``x`` alone).
    """
    if isinstance(cameras_hit, str):
        if cameras_hit != "all":
            raise SpecError(f"bev_encoder: cameras_hit = {cameras_hit!r}; allowed: a positive number of camera views "
                            "or 'all' (every view of the input)")
        cameras_hit = float(x.views)
    if not cameras_hit > 0:
        raise SpecError(f"bev_encoder: cameras_hit = {cameras_hit!r}: must be a positive number of camera views")
    q = math.prod(bev)
    maps = [tr.get(k) for k in feats] if feats else [x]
    img = sum(f.positions for f in maps)
    levels = len(maps)
    tr.add(name=tr.name("bev-embedding"), op="elementwise", param_elems=float(q * dim), fusable=True)
    t = Tensor(1, dim, (q,))
    for _ in range(layers):
        # temporal self-attention: offsets and weights from [prev BEV, query] (2 dim), 2 queues of samples
        deformable_attention(tr, q, 2 * dim, 2 * q, dim, heads, 2, tsa_points, "tsa")
        tr.layernorm(t)
        deformable_attention(tr, q, dim, img, dim, heads, levels, sca_points, "sca",
                             query_rows=int(q * cameras_hit))
        tr.layernorm(t)
        h = tr.linear(t, ffn, act=True, label="ffn-up")
        tr.linear(h, dim, residual=True, label="ffn-down")
        tr.layernorm(t)
    return t


def detr_decoder(tr: Tracer, x: Tensor, layers: int, queries: int = 900, dim: int = 256, heads: int = 8,
                 ffn: int = 512, points: int = 4, levels: int = 1, classes: int = 10, code_size: int = 10) -> Tensor:
    """Decoder: per layer self-attention over the object queries, deformable cross-attention on the BEV map,
    FFN, and the classification and box-regression branches (run on every layer's output)."""
    bev_tokens = x.positions
    tr.add(name=tr.name("query-embedding"), op="elementwise", param_elems=float(queries * 2 * dim), fusable=True)
    t = Tensor(1, dim, (queries,))
    for _ in range(layers):
        tr.linear(t, 3 * dim, label="self-qkv")
        tr.attention(t, queries, heads, dim // heads, label="self-attention")
        tr.linear(t, dim, residual=True, label="self-out")
        tr.layernorm(t)
        deformable_attention(tr, queries, dim, bev_tokens, dim, heads, levels, points, "cross")
        tr.layernorm(t)
        h = tr.linear(t, ffn, act=True, label="ffn-up")
        tr.linear(h, dim, residual=True, label="ffn-down")
        tr.layernorm(t)
        for outs in (classes, code_size):
            h = tr.linear(tr.linear(t, dim, act=True, label="branch"), dim, act=True, label="branch")
            tr.linear(h, outs, label="branch-out")
    return t
