"""The vision cost model: hand calculations of one layer, tile quantisation, fusion, and physical
invariants as Hypothesis properties (more bandwidth or FLOP/s is never slower; no prediction beats
the per-layer roofline bound)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import make_chip
from inferchip.catalog.assumptions import load_assumptions
from inferchip.cost.vision.frame import call_cost
from inferchip.cost.vision.layers import K_TILE_BYTES, layer_costs, roofline_bound_s
from inferchip.errors import InvalidSettingError
from inferchip.performance.vision import frame_cost
from inferchip.spec.vision import VisionCalibration, VisionLayer
from inferchip.workload.vision.model import LayerArrays, VisionNetwork
from inferchip.workload.vision.network import load_network

CAL = VisionCalibration(matrix_fraction=0.5, inference_overhead_s=0.0, memory_bandwidth_fraction=1.0,
                        layer_overhead_scale=0.0, sram_usable_fraction=1.0)
NETS = ["resnet50-v1.5", "yolov8n-640", "vit-b16-224", "bevformer-tiny", "3d-unet-kits19"]


def _one(**kw) -> LayerArrays:
    return LayerArrays.of((VisionLayer(name="l", **kw),))


def test_gemm_layer_by_hand():
    """m=k=n=1024 int8 on 128x128 tiles, 64 tiles in flight: exactly 1 wave; t = 2 m k n / (peak x 0.5)."""
    chip = make_chip(gemm_tiles_in_flight=64, sram_bytes=0.0)
    a = _one(op="matmul", m=1024, k=1024, n=1024, weight_elems=1024 * 1024, in_elems=1024 * 1024,
             out_elems=1024 * 1024)
    c = layer_costs(chip, a, np.array([1.0]), "int8", CAL)
    flop = 2 * 1024**3
    assert c.spent_flop[0, 0] == flop
    assert c.compute_s[0, 0] == pytest.approx(flop / (1978.9e12 * 0.5))
    # weights 1 MiB + activations in and out 2 MiB at 1 byte each, all in DRAM (no SRAM)
    assert c.dram_bytes[0, 0] == 3 * 1024 * 1024
    assert c.memory_s[0, 0] == pytest.approx(3 * 1024 * 1024 / 3.35e12)


def test_tile_quantisation_pads_partial_tiles():
    """m = 129 rows occupy two 128-row tiles; k = 3 (an RGB 1x1 conv) pads to one 32-byte MMA depth."""
    chip = make_chip(gemm_tiles_in_flight=1000)
    a = _one(op="conv", m=129 * 128, k=3, n=128, weight_elems=3 * 128, in_elems=3 * 129 * 128, out_elems=129 * 128)
    c = layer_costs(chip, a, np.array([1.0]), "int8", CAL)
    k_pad = K_TILE_BYTES / 1.0
    # 129 tiles of 128 x 128, in one wave of 1000: the whole wave is spent
    assert c.spent_flop[0, 0] == pytest.approx(1000 * 2 * 128 * 128 * k_pad)
    assert c.useful_flop[0, 0] == 2 * 129 * 128 * 3 * 128


def test_working_set_in_sram_stays_on_chip():
    """A middle layer whose activations fit SRAM reads only its weights from DRAM; the network's input and
    output still cross DRAM. All weights together (24,576 B) do not fit the 20 kB, so they are not resident."""
    layer = dict(op="conv", m=64, k=64, n=64, weight_elems=8192, in_elems=64 * 64, out_elems=64 * 64)
    a = LayerArrays.of(tuple(VisionLayer(name=f"l{i}", **layer) for i in range(3)))
    big = layer_costs(make_chip(sram_bytes=20e3), a, np.array([1.0]), "int8", CAL)
    none = layer_costs(make_chip(sram_bytes=0.0), a, np.array([1.0]), "int8", CAL)
    assert big.dram_bytes[1, 0] == 8192 and none.dram_bytes[1, 0] == 8192 + 2 * 64 * 64
    assert big.dram_bytes[0, 0] == big.dram_bytes[2, 0] == 8192 + 64 * 64
    assert big.sram_bytes[1, 0] > 0 and none.sram_bytes[1, 0] == 0


def test_weights_resident_when_all_fit_sram():
    """Weight-stationary: with every weight on chip, a call reads none from DRAM."""
    layer = dict(op="conv", m=64, k=64, n=64, weight_elems=8192, in_elems=64 * 64, out_elems=64 * 64)
    a = LayerArrays.of(tuple(VisionLayer(name=f"l{i}", **layer) for i in range(3)))
    c = layer_costs(make_chip(sram_bytes=1e6), a, np.array([1.0]), "int8", CAL)
    assert c.dram_bytes[1, 0] == 0 and c.dram_bytes[0, 0] == 64 * 64
    assert c.sram_bytes[1, 0] == 8192 + 2 * 64 * 64


def test_uncosted_layers_take_no_time_and_are_reported():
    layers = (VisionLayer(name="c", op="conv", m=10, k=10, n=10, in_elems=100, out_elems=100),
              VisionLayer(name="x", op="uncosted", in_elems=100, out_elems=100))
    net = VisionNetwork(id="t", name="t", family="onnx", precision="int8", layers=layers)
    c = layer_costs(make_chip(), net.arrays, np.array([1.0]), "int8", CAL)
    assert c.time_s[1, 0] == 0
    assert net.uncosted_share() == pytest.approx(0.5)


def _scaled(chip_kw: dict[str, float], net_id: str, batch: np.ndarray, precision: str) -> np.ndarray:
    chip = make_chip(**chip_kw)
    net = load_network(net_id)
    return call_cost(chip, net.arrays, batch, precision, VisionCalibration(), memory_type="HBM3", node_nm=4.0,
                     assumptions=load_assumptions()).latency_s


@settings(max_examples=25, deadline=None)
@given(net=st.sampled_from(NETS), bw=st.floats(1.01, 20.0), flops=st.floats(1.01, 20.0),
       batch=st.lists(st.integers(1, 512), min_size=1, max_size=4), precision=st.sampled_from(["int8", "fp16"]))
def test_more_bandwidth_or_flops_never_slower(net, bw, flops, batch, precision):
    b = np.array(batch, dtype=float)
    base = make_chip()
    t0 = _scaled({}, net, b, precision)
    t_bw = _scaled({"memory_bytes_per_s": base.memory_bytes_per_s * bw}, net, b, precision)
    peaks = {k: v * flops for k, v in base.peak_flop_per_s.items()}
    t_fl = _scaled({"peak_flop_per_s": peaks, "vector_flop_per_s": base.vector_flop_per_s * flops}, net, b, precision)
    assert np.all(t_bw <= t0 * (1 + 1e-12))
    assert np.all(t_fl <= t0 * (1 + 1e-12))


@settings(max_examples=25, deadline=None)
@given(net=st.sampled_from(NETS + ["retinanet-resnext50-fpn-800", "vla-vitb16-qwen2.5-0.5b"]),
       batch=st.lists(st.integers(1, 1024), min_size=1, max_size=4),
       precision=st.sampled_from(["int8", "fp8", "fp16", "fp32"]),
       frac=st.floats(0.05, 1.0), sram=st.floats(0.0, 1e9))
def test_no_prediction_beats_the_roofline_bound(net, batch, precision, frac, sram):
    chip = make_chip(sram_bytes=sram)
    a = load_network(net).arrays
    b = np.array(batch, dtype=float)
    cal = VisionCalibration(matrix_fraction=frac, memory_bandwidth_fraction=frac)
    t = call_cost(chip, a, b, precision, cal, memory_type="HBM3", node_nm=4.0, assumptions=load_assumptions())
    assert np.all(t.latency_s >= roofline_bound_s(chip, a, b, precision) * (1 - 1e-12))


def test_frame_cost_interface():
    f = frame_cost("nvidia-h100-sxm-80gb", "resnet50-v1.5", np.array([1, 8, 64]), weights="int8")
    for arr in (f.latency_s, f.energy_j, f.power_w):
        assert arr.shape == (3,) and np.all(arr > 0)
    assert np.all(np.diff(f.latency_s) > 0)  # a bigger batch takes longer per call
    assert np.all(np.diff(f.frames_per_s) >= 0)  # and is no less efficient per frame here
    assert f.flop_per_frame > 8e9 and f.bytes_per_frame > 0
    assert np.allclose(f.power_w, f.energy_j / f.latency_s)


def test_frame_cost_two_chips_split_the_batch():
    one = frame_cost("nvidia-l4", "resnet50-v1.5", np.array([16]))
    two = frame_cost("nvidia-l4", "resnet50-v1.5", np.array([16]), count=2)
    half = frame_cost("nvidia-l4", "resnet50-v1.5", np.array([8]))
    assert two.latency_s[0] == pytest.approx(half.latency_s[0])
    assert two.latency_s[0] < one.latency_s[0]


@pytest.mark.parametrize(("kw", "msg"), [({"batch": [0]}, "batch"), ({"batch": [1.5]}, "batch"),
                                         ({"batch": [1], "count": 0}, "count"),
                                         ({"batch": [1], "weights": "int3"}, "weights")])
def test_frame_cost_bad_input(kw, msg):
    with pytest.raises(InvalidSettingError, match=msg):
        frame_cost("nvidia-l4", "resnet50-v1.5", **kw)


def test_energy_counts_events():
    """Energy rises with work: a bigger batch uses more energy per call, and less static energy per frame."""
    f = frame_cost("nvidia-h100-sxm-80gb", "yolov8n-640", np.array([1, 64]))
    assert f.energy_j[1] > f.energy_j[0]
    assert f.energy_j[1] / 64 < f.energy_j[0]
