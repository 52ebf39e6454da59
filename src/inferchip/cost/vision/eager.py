"""DRAM traffic of eager PyTorch's layout reorders around every fp32 convolution on a CPU (NCHW tensors).

PyTorch runs an fp32 ``Conv2d`` on an x86 CPU through oneDNN (``ConvBackend::Mkldnn``; ATen
``native/mkldnn/Conv.cpp`` ``_mkldnn_convolution``, pytorch/pytorch @80c7571699). For a tensor that is not
channels-last (``mkldnn_conv_use_channels_last`` false: a model that never calls ``to(memory_format=
torch.channels_last)``), the convolution is built with oneDNN's own blocked layouts: ``_mkldnn_convolution_out``
hands the plain NCHW input to ``ideep::convolution_forward::compute_v3(..., is_channels_last=false)``, which
reorders it to the blocked source layout the primitive chose (nChw16c on AVX-512, nChw8c on AVX2), computes into a
blocked ``ideep::tensor y``, and the function returns ``mkldnn_to_dense(MKLDNNTensor(y, ...))``: a second reorder
of the output back to plain NCHW. In eager mode nothing carries the blocked layout from one layer to the next, so
every convolution pays both reorders, each a separate memory-bound pass (read one layout, write the other) in series
with the convolution itself.

The MLPerf Automotive reference SSD runs this way: ``backend_deploy.py`` builds the model, calls ``model.eval()``
and runs ``self.model(img)`` on the NCHW frame under ``torch.no_grad()`` with no layout conversion, no
``torch.compile`` and no IPEX (mlcommons/mlperf_automotive @2041224814 ``automotive/2d-object-detection/
backend_deploy.py``).

Per convolution: 2 x (input + output) elements x element bytes (:func:`reorder_bytes`); the input is the
kernel's own (``in_elems - residual_elems``: a bottleneck's skip tensor is added by a separate eager ``add``, not
reordered). The share of it that
stays in the caches is the share of the layer's activation traffic the cost model already keeps on chip
(``kept`` in :func:`inferchip.cost.vision.layers.layer_costs`); the rest crosses DRAM in series with the compute
(``LayerCosts.stall_s``). Weight reorders (once per call, the network's weights: 110 MB for SSD-ResNet50) are not
counted. oneDNN's first-convolution kernels may read a 3-channel plain input directly; the one input reorder this
overcounts on an 8 MP frame is 0.2 GB of the 47 GB the SSD's convolutions reorder.

Eager mode also runs what a graph compiler folds into the convolution's epilogue as separate ATen CPU kernels
(:func:`epilogue_pass_bytes`), each reading and writing its whole dense NCHW tensor:

* ``nn.BatchNorm2d`` in eval: ``batch_norm_cpu_transform_input_template`` allocates ``output =
  at::empty_like(input)`` and ``batch_norm_cpu_inference_contiguous_stub`` writes ``input * alpha(c) + beta(c)``
  into it (pytorch/pytorch @4aef9dcfdd ``aten/src/ATen/native/Normalization.cpp``): one read and one write of the
  conv's output.
* ``nn.ReLU(inplace=True)``: ``relu_`` is ``at::clamp_min_(self, 0)`` (pytorch/pytorch @44a0764df4
  ``aten/src/ATen/native/Activation.cpp``), an in-place elementwise kernel: one read and one write.
* The residual ``out += identity``: an in-place ``add_``: reads ``out`` and the skip tensor, writes ``out``.

torchvision's ResNet ``Bottleneck.forward`` runs conv1, bn1, relu, conv2, bn2, relu, conv3, bn3, ``out +=
identity``, relu, and its ``downsample`` is conv, BN (pytorch/vision @f50e776b05 ``torchvision/models/resnet.py``);
which conv carries which comes from the traced network (``VisionLayer.batch_norm``, ``activation``,
``residual_elems``). The same cached share as the reorders stays on chip; the rest is in series with the compute.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from inferchip.cost.roofline import FloatArray

PASSES_PER_REORDER = 2.0
"""A reorder reads every element in one layout and writes it in the other: 2 passes over the tensor."""


def reorder_bytes(in_elems: FloatArray, out_elems: FloatArray, elem_bytes: FloatArray,
                  frames: FloatArray) -> FloatArray:
    """Bytes moved per call by the two layout reorders around one convolution: the input NCHW -> blocked and the
    output blocked -> NCHW, each read once and written once:
    ``PASSES_PER_REORDER x (in_elems + out_elems) x elem_bytes x frames``.

    Hand check: a 64 x 540 x 960 fp32 input (132.7 MB) to a 1x1 conv with 256 output channels (530.8 MB) at one
    frame: 2 x (132.7 + 530.8) MB = 1.327 GB."""
    total = (np.asarray(in_elems, dtype=float) + np.asarray(out_elems, dtype=float)) * np.asarray(elem_bytes,
                                                                                                 dtype=float)
    return np.asarray(PASSES_PER_REORDER * total * np.asarray(frames, dtype=float), dtype=float)


def epilogue_pass_bytes(out_elems: npt.ArrayLike, residual_elems: npt.ArrayLike, batch_norm: npt.ArrayLike,
                        activation: npt.ArrayLike, elem_bytes: npt.ArrayLike, frames: npt.ArrayLike) -> FloatArray:
    """Bytes moved per call by the separate eager kernels after one convolution: BatchNorm (read + write the
    output) if ``batch_norm``, the residual ``add_`` (read the output and the skip, write the output) if
    ``residual_elems`` > 0, the activation (read + write in place) if ``activation``:
    ``(2 bn out + [2 out + residual if residual] + 2 act out) x elem_bytes x frames``.

    Hand check: a bottleneck's last 1x1 conv at 270 x 480 with 1,024 channels (132.7 M elements, 530.8 MB fp32)
    with BN, a 530.8 MB skip and ReLU, one frame: (2 + 3 + 2) x 530.8 MB = 3.716 GB; the downsample conv (BN
    only): 1.062 GB."""
    out = np.asarray(out_elems, dtype=float)
    res = np.asarray(residual_elems, dtype=float)
    passes = (2.0 * out * np.asarray(batch_norm, dtype=float) + np.where(res > 0, 2.0 * out + res, 0.0)
              + 2.0 * out * np.asarray(activation, dtype=float))
    return np.asarray(passes * np.asarray(elem_bytes, dtype=float) * np.asarray(frames, dtype=float), dtype=float)
