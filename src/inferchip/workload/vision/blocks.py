"""Building blocks a network file's graph steps name (``op: resnet_stage``, ``op: fpn``, ...).

Each block is a small function ``f(tracer, x, **arguments) -> Tensor`` over the primitives of
:mod:`inferchip.workload.vision.tracer`; the structure of each follows the reference code named
in the bundled file's sources (torchvision ResNet v1.5 and ResNeXt, torchvision RetinaNet/FPN,
MLCommons 3D-UNet, Ultralytics YOLOv8 C2f/SPPF/Detect, timm ViT, VainF DeepLabV3+, BEVFormer).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from inferchip.workload.vision.tracer import Tensor, Tracer

Block = Callable[..., Tensor]


def conv(tr: Tracer, x: Tensor, **kw: Any) -> Tensor:
    return tr.conv(x, **kw)


def maxpool(tr: Tracer, x: Tensor, k: int = 3, stride: int = 2, pad: int | None = None) -> Tensor:
    return tr.pool(x, k, stride, pad)


def global_pool(tr: Tracer, x: Tensor) -> Tensor:
    return tr.global_pool(x)


def linear(tr: Tracer, x: Tensor, out: int, bias: bool = True, act: bool = False) -> Tensor:
    return tr.linear(x, out, bias=bias, act=act)


def upsample(tr: Tracer, x: Tensor, to: str | None = None, factor: int = 2) -> Tensor:
    sp = tr.get(to).spatial if to else tuple(s * factor for s in x.spatial)
    return tr.resize(x, sp)


def concat(tr: Tracer, x: Tensor, with_: list[str]) -> Tensor:
    """Channel concatenation: free (producers write into one buffer)."""
    others = [tr.get(k) for k in with_]
    return Tensor(x.views, x.channels + sum(o.channels for o in others), x.spatial)


def bottleneck(tr: Tracer, x: Tensor, width: int, out: int, stride: int = 1, groups: int = 1, dilation: int = 1,
               bn: bool = True, deformable: bool = False) -> Tensor:
    """ResNet v1.5 bottleneck: 1x1, 3x3 (stride here), 1x1 with the residual add in its epilogue.

    torchvision ``Bottleneck.forward`` (pytorch/vision @f50e776b05 ``torchvision/models/resnet.py``): conv1, bn1,
    relu, conv2, bn2, relu, conv3, bn3, ``out += identity``, relu; ``downsample`` is ``conv1x1, norm_layer``."""
    if stride != 1 or x.channels != out:
        tr.conv(x, out, 1, stride=stride, bn=bn, act=False, label="downsample")  # downsample = conv, BN
    y = tr.conv(x, width, 1, bn=bn)
    y = tr.conv(y, width, 3, stride=stride, groups=groups, dilation=dilation, bn=bn, deformable=deformable)
    return tr.conv(y, out, 1, bn=bn, residual=True)


def resnet_stage(tr: Tracer, x: Tensor, blocks: int, width: int, out: int, stride: int = 1, groups: int = 1,
                 dilation: int = 1, bn: bool = True, deformable: bool = False) -> Tensor:
    for i in range(blocks):
        x = bottleneck(tr, x, width, out, stride if i == 0 else 1, groups, dilation if i else max(1, dilation // 2),
                       bn, deformable)
    return x


def fpn(tr: Tracer, x: Tensor, inputs: list[str], out: int = 256, extra: str = "none", prefix: str = "p",
        first_level: int = 3) -> Tensor:
    """torchvision FPN: 1x1 laterals, top-down nearest upsampling and add, 3x3 outputs; extra levels.

    ``extra``: ``p6p7`` (RetinaNet LastLevelP6P7 on P5), ``conv`` (mmdet ``add_extra_convs='on_output'``: one
    stride-2 3x3 conv on the last output), ``maxpool`` (P6 = stride-2 max pool of P5) or ``none``.
    Outputs are stored as tensors ``{prefix}{first_level}``, ``{prefix}{first_level + 1}``, ...
    """
    feats = [tr.get(k) for k in inputs]
    lat = [tr.conv(f, out, 1, bias=True, bn=False, label="fpn-lateral") for f in feats]
    for i in range(len(lat) - 2, -1, -1):
        tr.vector(lat[i + 1], "resize", 2.0, out=lat[i], fusable=False, label="fpn-topdown")
    outs = [tr.conv(v, out, 3, bias=True, bn=False, label="fpn-output") for v in lat]
    level = first_level
    for j, o in enumerate(outs):
        tr.tensors[f"{prefix}{level + j}"] = o
    last = outs[-1]
    if extra == "p6p7":
        p6 = tr.conv(last, out, 3, stride=2, bias=True, bn=False, label="fpn-p6")
        p7 = tr.conv(p6, out, 3, stride=2, bias=True, bn=False, label="fpn-p7")
        tr.tensors[f"{prefix}{level + len(outs)}"], tr.tensors[f"{prefix}{level + len(outs) + 1}"] = p6, p7
        return p7
    if extra == "conv":
        p6 = tr.conv(last, out, 3, stride=2, bias=True, bn=False, label="fpn-extra")
        tr.tensors[f"{prefix}{level + len(outs)}"] = p6
        return p6
    if extra == "maxpool":
        p6 = tr.pool(last, 1, 2, 0)
        tr.tensors[f"{prefix}{level + len(outs)}"] = p6
        return p6
    return last


def _shared(tr: Tracer, start: int, first: bool) -> None:
    """Weights shared across pyramid levels: parameters counted on the first level only."""
    if not first:
        for i in range(start, len(tr.layers)):
            tr.layers[i] = tr.layers[i].model_copy(update={"param_elems": 0.0})


def retina_head(tr: Tracer, x: Tensor, levels: list[str], anchors: int, classes: int, convs: int = 4,
                width: int = 256) -> Tensor:
    """torchvision RetinaNet heads (classification and box subnets), one set of weights for all levels."""
    for li, key in enumerate(levels):
        start = len(tr.layers)
        f = tr.get(key)
        for outs in (anchors * classes, anchors * 4):
            y = f
            for _ in range(convs):
                y = tr.conv(y, width, 3, bias=True, bn=False, act=True, label="head")  # conv, ReLU
            tr.conv(y, outs, 3, bias=True, bn=False, label="head-out")
        _shared(tr, start, li == 0)
    return x


def ssd_extras(tr: Tracer, x: Tensor, mids: list[int], outs: list[int], prefix: str = "f") -> Tensor:
    """SSD extra feature blocks: 1x1 to ``mid`` then 3x3 stride 2 to ``out``; maps stored as f1, f2, ..."""
    tr.tensors[f"{prefix}0"] = x
    for i, (mid, out) in enumerate(zip(mids, outs, strict=True)):
        x = tr.conv(tr.conv(x, mid, 1), out, 3, stride=2, label="extra")
        tr.tensors[f"{prefix}{i + 1}"] = x
    return x


def ssd_heads(tr: Tracer, x: Tensor, maps: list[str], defaults: list[int], classes: int, k: int = 5) -> Tensor:
    for key, nd in zip(maps, defaults, strict=True):
        f = tr.get(key)
        tr.conv(f, nd * 4, k, bias=True, bn=False, label="loc")
        tr.conv(f, nd * classes, k, bias=True, bn=False, label="conf")
    return x


def aspp(tr: Tracer, x: Tensor, out: int = 256, rates: tuple[int, ...] = (6, 12, 18)) -> Tensor:
    """DeepLabV3 ASPP: 1x1, three atrous 3x3, image pooling branch, 1x1 projection of the concatenation."""
    tr.conv(x, out, 1)
    for r in rates:
        tr.conv(x, out, 3, dilation=r)
    tr.conv(tr.global_pool(x), out, 1)
    return tr.conv(Tensor(x.views, out * (len(rates) + 2), x.spatial), out, 1, label="aspp-project")


def c2f(tr: Tracer, x: Tensor, out: int, n: int = 1, shortcut: bool = True) -> Tensor:
    """Ultralytics C2f: 1x1 to 2c, n bottlenecks of two 3x3 on c, 1x1 of the (2+n)c concatenation."""
    c = out // 2
    y = tr.conv(x, 2 * c, 1)
    h = Tensor(y.views, c, y.spatial)
    for _ in range(n):
        h = tr.conv(tr.conv(h, c, 3), c, 3, residual=shortcut)
    return tr.conv(Tensor(y.views, (2 + n) * c, y.spatial), out, 1)


def sppf(tr: Tracer, x: Tensor, out: int, k: int = 5) -> Tensor:
    c = x.channels // 2
    y = tr.conv(x, c, 1)
    for _ in range(3):
        tr.pool(y, k, 1)
    return tr.conv(Tensor(y.views, 4 * c, y.spatial), out, 1)


def yolo_detect(tr: Tracer, x: Tensor, levels: list[str], classes: int, reg_max: int = 16) -> Tensor:
    """Ultralytics Detect head: per level a box branch (2x 3x3 + 1x1 to 4 reg_max) and a class branch."""
    ch0 = tr.get(levels[0]).channels
    c2, c3 = max(16, ch0 // 4, reg_max * 4), max(ch0, min(classes, 100))
    for key in levels:
        f = tr.get(key)
        tr.conv(tr.conv(tr.conv(f, c2, 3), c2, 3), 4 * reg_max, 1, bias=True, bn=False, label="box")
        tr.conv(tr.conv(tr.conv(f, c3, 3), c3, 3), classes, 1, bias=True, bn=False, label="cls")
    tr.add(name=tr.name("dfl"), op="elementwise", param_elems=float(reg_max), fusable=True)
    return x


def transformer_layer(tr: Tracer, x: Tensor, heads: int, mlp: int, kv_len: int | None = None) -> Tensor:
    """Pre-norm ViT encoder block: LN, qkv, attention, proj (+residual), LN, MLP (GELU) (+residual)."""
    d = x.channels
    tr.layernorm(x)
    tr.linear(x, 3 * d, label="qkv")
    tr.attention(x, kv_len or x.positions // x.views, heads, d // heads)
    tr.linear(x, d, residual=True, label="proj")
    tr.layernorm(x)
    h = tr.linear(x, mlp, act=True, label="mlp-up")
    return tr.linear(h, d, residual=True, label="mlp-down")


def vit(tr: Tracer, x: Tensor, patch: int, dim: int, depth: int, heads: int, mlp: int, cls_token: bool = True,
        classes: int = 0) -> Tensor:
    """timm VisionTransformer: patch-embedding conv, class token and position embedding, blocks, final LN."""
    p = tr.conv(x, dim, patch, stride=patch, pad=0, bias=True, bn=False, label="patch-embed")
    tokens = p.positions // p.views + (1 if cls_token else 0)
    t = Tensor(p.views, dim, (tokens,))
    tr.add(name=tr.name("pos-embed"), op="elementwise", param_elems=float(tokens * dim + (dim if cls_token else 0)),
           in_elems=float(t.elems), out_elems=float(t.elems), vector_ops=float(t.elems), fusable=True)
    for _ in range(depth):
        t = transformer_layer(tr, t, heads, mlp)
    tr.layernorm(t)
    if classes:
        tr.linear(t, classes, rows=t.views, label="head")
    return t


def tokens(tr: Tracer, x: Tensor, count: int, dim: int | None = None) -> Tensor:
    """Reinterpret as ``count`` tokens of ``dim`` (default: the channels)."""
    return Tensor(1, dim or x.channels, (count,))


def llm_decoder(tr: Tracer, x: Tensor, hidden: int, layers: int, heads: int, kv_heads: int, head_dim: int,
                intermediate: int, vocab: int, text_tokens: int, output_tokens: int, qkv_bias: bool = True,
                tied_embeddings: bool = True) -> Tensor:
    """A Qwen2-style decoder: prefill of image + text tokens, then ``output_tokens`` decode steps.

    Decode steps are sequential (``repeats``): every step re-reads the weights; attention in a
    step sees the prompt plus half the generated tokens on average.
    """
    s = x.positions + text_tokens
    tr.embedding(vocab, hidden)
    for phase, rows, reps, kv in (("prefill", s, 1, s), ("decode", 1, output_tokens, s + output_tokens // 2)):
        if reps < 1 or (phase == "decode" and output_tokens == 0):
            continue
        t = Tensor(1, hidden, (rows,))
        first = phase == "prefill"
        for _ in range(layers):
            tr.add(name=tr.name(f"{phase}-rmsnorm"), op="norm", in_elems=float(t.elems), out_elems=float(t.elems),
                   vector_ops=4.0 * t.elems, repeats=reps, param_elems=float(hidden if first else 0))
            tr.linear(t, heads * head_dim + 2 * kv_heads * head_dim, bias=qkv_bias, repeats=reps, shared=not first,
                      label=f"{phase}-qkv")
            tr.attention(t, kv, heads, head_dim, kv_heads=kv_heads, repeats=reps, label=f"{phase}-attention")
            tr.linear(Tensor(1, heads * head_dim, (rows,)), hidden, bias=False, residual=True, repeats=reps,
                      shared=not first, label=f"{phase}-o")
            tr.add(name=tr.name(f"{phase}-rmsnorm"), op="norm", in_elems=float(t.elems), out_elems=float(t.elems),
                   vector_ops=4.0 * t.elems, repeats=reps, param_elems=float(hidden if first else 0))
            up = tr.linear(t, 2 * intermediate, bias=False, act=True, repeats=reps, shared=not first,
                           label=f"{phase}-gate-up")
            tr.linear(Tensor(1, intermediate, up.spatial), hidden, bias=False, residual=True, repeats=reps,
                      shared=not first, label=f"{phase}-down")
        tr.linear(Tensor(1, hidden, (1,)), vocab, bias=False, repeats=reps, shared=tied_embeddings or not first,
                  label=f"{phase}-lm-head")
    tr.add(name=tr.name("final-norm"), op="elementwise", param_elems=float(hidden), fusable=True)
    return Tensor(1, hidden, (output_tokens,))
