"""Eager PyTorch's layout reorders around each fp32 convolution on a CPU (cost/vision/eager.py): the bytes by hand,
their invariants, which rows pay them (PyTorch fp32 CPU rows only) and how ``layer_costs`` charges them (in series,
convolutions only, the cached share excluded)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.vision_rows import vision_case

from inferchip.catalog.chips import get_chip_params
from inferchip.catalog.vision_networks import load_vision_calibration
from inferchip.cost.vision.eager import PASSES_PER_REORDER, epilogue_pass_bytes, reorder_bytes
from inferchip.cost.vision.layers import layer_costs
from inferchip.spec.stream import attainable_memory_bytes_per_s
from inferchip.spec.vision import VisionLayer
from inferchip.validation.vision.harness import runs_eager_nchw
from inferchip.workload.vision.model import LayerArrays
from inferchip.workload.vision.network import load_network

ONE = np.array([1.0])
W7 = "cpu:intel-xeon-w7-2495x"
SSD = "ssd-resnet50-cognata-8mp"



def test_reorder_bytes_by_hand():
    # 64 x 540 x 960 fp32 in (132.7 MB), 256 x 540 x 960 out (530.8 MB): each read once and written once
    in_elems, out_elems = 64 * 540 * 960, 256 * 540 * 960
    got = float(reorder_bytes(np.array(in_elems), np.array(out_elems), np.array(4.0), np.array(1.0)))
    assert got == pytest.approx(2 * (in_elems + out_elems) * 4)
    assert got == pytest.approx(1.327104e9)
    # two frames move twice the bytes
    assert float(reorder_bytes(np.array(in_elems), np.array(out_elems), np.array(4.0), np.array(2.0))) == \
        pytest.approx(2 * got)


@settings(max_examples=60, deadline=None)
@given(st.floats(0, 1e9), st.floats(0, 1e9), st.sampled_from([1.0, 2.0, 4.0]), st.floats(1, 64),
       st.floats(1.0, 4.0))
def test_reorder_invariants(in_e, out_e, eb, frames, grow):
    base = float(reorder_bytes(np.array(in_e), np.array(out_e), np.array(eb), np.array(frames)))
    assert base >= 0.0
    # never less than one read and one write of the output, never more than the passes over in + out
    assert base >= 2.0 * out_e * eb * frames * (1 - 1e-12)
    assert base <= PASSES_PER_REORDER * (in_e + out_e) * eb * frames * (1 + 1e-12)
    # more elements or frames never move fewer bytes
    assert float(reorder_bytes(np.array(in_e * grow), np.array(out_e), np.array(eb), np.array(frames))) >= base
    assert float(reorder_bytes(np.array(in_e), np.array(out_e), np.array(eb), np.array(frames * grow))) >= base


def test_which_rows_run_eager_nchw():
    base = {"source_kind": "mlperf-automotive-v0.5-open", "accelerator": W7, "software": "pytorch; Python: 3.12.3",
            "model": SSD, "precision": "fp32", "scenario": "single_stream", "metric": "latency_p999_ms",
            "value": "7878", "unit": "ms"}
    assert runs_eager_nchw(vision_case(base), cpu=True)
    assert not runs_eager_nchw(vision_case(base, software="onnxruntime"), cpu=True)
    assert not runs_eager_nchw(vision_case(base, software="tf v2.19.0"), cpu=True)
    assert not runs_eager_nchw(vision_case(base, precision="int8"), cpu=True)
    assert not runs_eager_nchw(vision_case(base, accelerator="nvidia-geforce-rtx-4090"), cpu=False)


def test_layer_costs_charge_the_reorders_in_series_on_convolutions_only():
    cal = load_vision_calibration()
    ssd = load_network(SSD).arrays
    w7 = get_chip_params(W7)
    on = layer_costs(w7, ssd, ONE, "fp32", cal, eager_nchw=True)
    off = layer_costs(w7, ssd, ONE, "fp32", cal, eager_nchw=False)
    assert on.stall_s is not None and off.stall_s is not None
    assert float(off.stall_s.sum()) == 0.0
    # in series: the layer time grows by exactly the stall and the fresh mappings' host time (eager_alloc.py, in
    # overhead_s); compute is untouched
    assert np.allclose(on.time_s, off.time_s + on.stall_s + (on.overhead_s - off.overhead_s))
    assert np.allclose(on.matrix_s, off.matrix_s)
    # the stall is the extra DRAM bytes at the attainable bandwidth
    bw = float(attainable_memory_bytes_per_s(w7.memory_bytes_per_s, w7.memory_stream_share,
                                             cal.memory_bandwidth_fraction))
    extra = on.dram_bytes - off.dram_bytes
    assert np.allclose(on.stall_s, extra / bw)
    # only convolutions pay it, and never more than the full reorder traffic of the convolutions
    assert float(on.stall_s[~ssd.conv].sum()) == 0.0
    four, one = np.full(ssd.in_elems.shape, 4.0), np.ones_like(ssd.in_elems)
    full = float((reorder_bytes(ssd.in_elems - ssd.residual_elems, ssd.out_elems, four, one)
                  + epilogue_pass_bytes(ssd.out_elems, ssd.residual_elems, ssd.batch_norm, ssd.activation, four,
                                        one))[ssd.conv].sum())
    assert 0.0 < float(extra.sum()) <= full * (1 + 1e-9)
    # an 8 MP frame's activations leave the caches: most of the reorder traffic crosses DRAM
    assert float(extra.sum()) > 0.5 * full


def test_no_reorders_off_the_vector_units_or_on_a_gpu():
    cal = load_vision_calibration()
    ssd = load_network(SSD).arrays
    # int8 on a CPU runs on the matrix engine path (or int8 vector kernels), not the fp32 oneDNN reorders
    spr = get_chip_params("cpu:intel-xeon-platinum-8592+")
    int8 = layer_costs(spr, ssd, ONE, "int8", cal, eager_nchw=True)
    assert int8.stall_s is not None and float(int8.stall_s.sum()) == 0.0
    gpu = layer_costs(get_chip_params("nvidia-geforce-rtx-4090"), ssd, ONE, "fp32", cal, eager_nchw=True)
    assert gpu.stall_s is not None and float(gpu.stall_s.sum()) == 0.0


def test_the_skip_tensor_is_not_reordered():
    """A bottleneck's last conv reads its skip tensor for the residual add (``in_elems`` counts it); eager PyTorch
    adds it in a separate pass, so only the kernel's own input and output are reordered."""
    cal = load_vision_calibration()
    w7 = get_chip_params(W7)
    shape = dict(op="conv", m=540 * 960, k=64, n=256, weight_elems=64 * 256, out_elems=256 * 540 * 960)
    plain = LayerArrays.of((VisionLayer(name="c", in_elems=64 * 540 * 960, **shape),))
    skip = LayerArrays.of((VisionLayer(name="c", in_elems=(64 + 256) * 540 * 960, residual_elems=256 * 540 * 960,
                                       **shape),))
    assert float(skip.residual_elems[0]) == 256 * 540 * 960
    on_plain = layer_costs(w7, plain, ONE, "fp32", cal, eager_nchw=True)
    off_plain = layer_costs(w7, plain, ONE, "fp32", cal)
    on_skip = layer_costs(w7, skip, ONE, "fp32", cal, eager_nchw=True)
    off_skip = layer_costs(w7, skip, ONE, "fp32", cal)
    extra_plain = float((on_plain.dram_bytes - off_plain.dram_bytes).sum())
    extra_skip = float((on_skip.dram_bytes - off_skip.dram_bytes).sum())
    # both reorder the same 1.327 GB; the skip layer adds its separate in-place add (read out and skip, write
    # out: 3 x 530.8 MB) and keeps no more of it cached than the plain one
    assert extra_plain > 0.0
    assert extra_skip <= (1.327104e9 + 3 * 530.8416e6) * (1 + 1e-9)
    assert extra_plain <= 1.327104e9 * (1 + 1e-9)


def test_the_tracer_marks_the_bottleneck_skip():
    r50 = load_network("resnet50-v1.5")
    last = [x for x in r50.layers if x.residual_elems > 0]
    # 16 bottlenecks, each adds its skip in the last 1x1 conv's epilogue: the skip is the conv's own output size
    assert len(last) == 16
    assert all(x.op == "conv" and x.residual_elems == x.out_elems and x.in_elems > x.residual_elems for x in last)


def test_epilogue_pass_bytes_by_hand():
    # a bottleneck's last 1x1 conv at 270 x 480, 1,024 channels (530.8 MB fp32) with BN, the skip add and ReLU:
    # BN reads + writes, add_ reads out and skip and writes out, relu_ reads + writes = 7 x 530.8 MB
    out = 1024 * 270 * 480
    got = float(epilogue_pass_bytes(np.array(out), np.array(out), np.array(True), np.array(True), np.array(4.0),
                                    np.array(1.0)))
    assert got == pytest.approx(7 * out * 4)
    assert got == pytest.approx(3.7158912e9)
    # the downsample conv: BN only (2 x), a head conv (bias, no BN, no ReLU): nothing
    assert float(epilogue_pass_bytes(np.array(out), np.array(0.0), np.array(True), np.array(False), np.array(4.0),
                                     np.array(1.0))) == pytest.approx(2 * out * 4)
    assert float(epilogue_pass_bytes(np.array(out), np.array(0.0), np.array(False), np.array(False),
                                     np.array(4.0), np.array(1.0))) == 0.0


@settings(max_examples=60, deadline=None)
@given(st.floats(0, 1e9), st.floats(0, 1e9), st.booleans(), st.booleans(), st.sampled_from([1.0, 2.0, 4.0]),
       st.floats(1, 64), st.floats(1.0, 4.0))
def test_epilogue_pass_invariants(out_e, res_e, bn, act, eb, frames, grow):
    def f(o, r, b, a, fr):
        return float(epilogue_pass_bytes(np.array(o), np.array(r), np.array(b), np.array(a), np.array(eb),
                                         np.array(fr)))
    base = f(out_e, res_e, bn, act, frames)
    assert base >= 0.0
    # at most BN 2 + add 2 (+ the skip) + activation 2 passes over the output
    assert base <= (6.0 * out_e + res_e) * eb * frames * (1 + 1e-12)
    # more elements or frames never move fewer bytes; each extra kernel never moves fewer
    assert f(out_e * grow, res_e, bn, act, frames) >= base
    assert f(out_e, res_e * grow, bn, act, frames) >= base
    assert f(out_e, res_e, bn, act, frames * grow) >= base
    assert f(out_e, res_e, True, act, frames) >= base
    assert f(out_e, res_e, bn, True, frames) >= base


def test_the_tracer_marks_bn_relu_and_the_downsample():
    """From the traced network, as torchvision's Bottleneck runs them: conv1 / conv2 carry BN + ReLU, conv3 BN +
    add + ReLU, the downsample conv BN only; the SSD's 5 x 5 heads (bias, no BN) carry neither."""
    r50 = load_network("resnet50-v1.5").layers
    down = [x for x in r50 if x.name.startswith("downsample")]
    assert len(down) == 4 and all(x.batch_norm and not x.activation for x in down)
    last = [x for x in r50 if x.residual_elems > 0]
    assert all(x.batch_norm and x.activation for x in last)
    convs = [x for x in r50 if x.op == "conv"]
    assert sum(x.batch_norm for x in convs) == len(convs) == 53  # stem + 16 x 3 + 4 downsample
    assert sum(x.activation for x in convs) == 49
    heads = [x for x in load_network(SSD).layers if x.name.startswith(("loc", "conf"))]
    assert len(heads) == 14 and not any(x.batch_norm or x.activation for x in heads)


def test_layer_costs_charge_the_epilogue_passes_on_the_w7_ssd():
    """The eager stall grows by the BN / add / ReLU passes over each conv's output (the cached share excluded):
    the SSD's convolutions at 8 MP pay 60.9 GB of them per frame before the cache share."""
    ssd = load_network(SSD)
    a = ssd.arrays
    total = float(epilogue_pass_bytes(a.out_elems, a.residual_elems, a.batch_norm, a.activation, 4.0, 1.0).sum())
    assert total == pytest.approx(60.94e9, rel=1e-3)
    cal = load_vision_calibration()
    w7 = get_chip_params(W7)
    # the same network with no BN / activation flags (the add kept) pays the reorders and the adds only
    bare = LayerArrays.of(tuple(x.model_copy(update={"batch_norm": False, "activation": False}) for x in ssd.layers))
    bn_act = float(epilogue_pass_bytes(a.out_elems, 0.0, a.batch_norm, a.activation, 4.0, 1.0).sum())
    on = layer_costs(w7, a, ONE, "fp32", cal, eager_nchw=True)
    on_bare = layer_costs(w7, bare, ONE, "fp32", cal, eager_nchw=True)
    off = layer_costs(w7, a, ONE, "fp32", cal)
    assert on.stall_s is not None and on_bare.stall_s is not None
    extra = float((on.dram_bytes - on_bare.dram_bytes).sum())
    # never more than the BN + ReLU traffic; at 8 MP most of it leaves the caches
    assert 0.5 * bn_act < extra <= bn_act * (1 + 1e-9)
    assert float(on.time_s.sum()) > float(on_bare.time_s.sum()) > float(off.time_s.sum())
    # the compute is untouched: only the stall grows
    assert np.allclose(on.matrix_s, on_bare.matrix_s)
