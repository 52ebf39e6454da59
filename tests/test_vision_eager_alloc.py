"""Eager PyTorch's fresh mappings on a CPU (cost/vision/eager_alloc.py): buffer bytes and host time by hand, their
invariants, and how ``layer_costs`` charges them (eager fp32 convolutions only, in the layer's host time)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inferchip.catalog.chips import get_chip_params
from inferchip.catalog.vision_networks import load_vision_calibration
from inferchip.cost.vision.eager_alloc import (
    FAULT_S_PER_PAGE,
    MMAP_THRESHOLD_MAX_BYTES,
    PAGE_BYTES,
    UNMAP_S_PER_PAGE,
    fresh_buffer_bytes,
    fresh_memory_s,
)
from inferchip.cost.vision.layers import layer_costs
from inferchip.workload.vision.network import load_network

ONE = np.array([1.0])
W7 = "cpu:intel-xeon-w7-2495x"



def test_fresh_buffers_by_hand():
    # a 1x1 conv from 64 x 540 x 960 to 256 x 540 x 960 fp32 with BN: input copy + blocked out + dense out + BN out
    in_e, out_e = 64 * 540 * 960, 256 * 540 * 960
    got = float(fresh_buffer_bytes(in_e, out_e, True, 4.0, 1.0))
    assert got == pytest.approx((in_e + 3 * out_e) * 4)
    assert got == pytest.approx(1.72523e9, rel=1e-5)
    # no BN: two output copies
    assert float(fresh_buffer_bytes(in_e, out_e, False, 4.0, 1.0)) == pytest.approx((in_e + 2 * out_e) * 4)
    # below glibc's 32 MiB ceiling nothing counts (a heap chunk may be reused); just above it counts
    small = 256 * 34 * 60
    assert float(fresh_buffer_bytes(small, small, True, 4.0, 1.0)) == 0.0
    edge = MMAP_THRESHOLD_MAX_BYTES / 4.0
    assert float(fresh_buffer_bytes(edge, 0.0, False, 4.0, 1.0)) == 0.0
    assert float(fresh_buffer_bytes(edge + 1, 0.0, False, 4.0, 1.0)) == pytest.approx((edge + 1) * 4)
    # batch 2 doubles every buffer and may lift one over the ceiling
    assert float(fresh_buffer_bytes(in_e, out_e, True, 4.0, 2.0)) == pytest.approx(2 * got)
    assert float(fresh_buffer_bytes(edge * 0.75, 0.0, False, 4.0, 2.0)) == pytest.approx(edge * 0.75 * 8)


def test_fresh_memory_time_by_hand():
    pages = 1.72523e9 / PAGE_BYTES
    assert pages == pytest.approx(421_200, rel=1e-4)
    got = float(fresh_memory_s(1.72523e9, 24))
    assert got == pytest.approx(pages * (FAULT_S_PER_PAGE / 24 + UNMAP_S_PER_PAGE))
    assert got == pytest.approx(0.1399, rel=2e-3)


@settings(max_examples=80, deadline=None)
@given(st.floats(0, 1e10), st.floats(0, 1e10), st.booleans(), st.sampled_from([1.0, 2.0, 4.0]), st.floats(1, 16),
       st.integers(1, 128), st.floats(1.0, 4.0))
def test_fresh_memory_invariants(in_e, out_e, bn, eb, frames, threads, grow):
    b = float(fresh_buffer_bytes(in_e, out_e, bn, eb, frames))
    assert 0.0 <= b <= (in_e + 3 * out_e) * eb * frames * (1 + 1e-12)
    # larger tensors, more frames or a BN never allocate less
    assert float(fresh_buffer_bytes(in_e * grow, out_e * grow, bn, eb, frames)) >= b
    assert float(fresh_buffer_bytes(in_e, out_e, bn, eb, frames * grow)) >= b
    assert float(fresh_buffer_bytes(in_e, out_e, True, eb, frames)) >= float(fresh_buffer_bytes(in_e, out_e, False,
                                                                                               eb, frames))
    t = float(fresh_memory_s(b, threads))
    pages = b / PAGE_BYTES
    # at least the serial munmap, at most every fault and munmap on one thread; more threads never slower
    assert pages * UNMAP_S_PER_PAGE * (1 - 1e-12) <= t <= pages * (FAULT_S_PER_PAGE + UNMAP_S_PER_PAGE) * (1 + 1e-12)
    assert float(fresh_memory_s(b, threads * 2)) <= t * (1 + 1e-12)


def test_layer_costs_charge_fresh_mappings_on_eager_convolutions_only():
    cal = load_vision_calibration()
    w7 = get_chip_params(W7)
    ssd = load_network("ssd-resnet50-cognata-8mp").arrays
    on = layer_costs(w7, ssd, ONE, "fp32", cal, eager_nchw=True)
    off = layer_costs(w7, ssd, ONE, "fp32", cal)
    extra = on.overhead_s - off.overhead_s
    assert float(extra[~ssd.conv].sum()) == 0.0 and float(extra.min()) >= 0.0
    want = fresh_memory_s(fresh_buffer_bytes(ssd.in_elems - ssd.residual_elems, ssd.out_elems, ssd.batch_norm, 4.0,
                                             1.0), 24.0)
    assert np.allclose(extra[:, 0], np.where(ssd.conv, want, 0.0))
    # an 8 MP SSD frame maps 46.4 GB afresh: 3.76 s of faults and munmap on the w7's 24 threads
    fresh = np.where(ssd.conv, fresh_buffer_bytes(ssd.in_elems - ssd.residual_elems, ssd.out_elems, ssd.batch_norm,
                                                  4.0, 1.0), 0.0)
    assert float(fresh.sum()) == pytest.approx(46.42e9, rel=1e-3)
    assert 3.0 < float(extra.sum()) < 4.5
    # compute and DRAM traffic are untouched by it
    assert np.allclose(on.matrix_s, off.matrix_s)
    # ResNet-50 at 224 x 224 has no buffer above the mmap ceiling: nothing
    r50 = load_network("resnet50-v1.5").arrays
    on50 = layer_costs(w7, r50, ONE, "fp32", cal, eager_nchw=True)
    off50 = layer_costs(w7, r50, ONE, "fp32", cal)
    assert np.allclose(on50.overhead_s, off50.overhead_s)
    # int8 on the AMX path and a GPU never pay it
    assert np.allclose(layer_costs(w7, ssd, ONE, "int8", cal, eager_nchw=True).overhead_s,
                       layer_costs(w7, ssd, ONE, "int8", cal).overhead_s)
    gpu = get_chip_params("nvidia-geforce-rtx-4090")
    assert np.allclose(layer_costs(gpu, ssd, ONE, "fp32", cal, eager_nchw=True).overhead_s,
                       layer_costs(gpu, ssd, ONE, "fp32", cal).overhead_s)
