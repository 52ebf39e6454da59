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
"""

from __future__ import annotations

import numpy as np

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
