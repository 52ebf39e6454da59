"""Vision physics terms added for the latency tails: the input copy over the host link, per-layer launch
overhead, tile quantisation at batch 1, the CPU's per-format attainable fraction (fp32 on the vector FMA
units vs int8 on the matrix engine), and Server pass/fail at a stated load. Hand calculations."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import make_chip
from inferchip.catalog.assumptions import load_assumptions
from inferchip.cost.vision.frame import call_cost
from inferchip.cost.vision.host import (
    PCIE_DMA_EFFICIENCY,
    HostLinkFileError,
    host_link,
    input_copy_s,
    load_host_links,
)
from inferchip.cost.vision.layers import layer_costs
from inferchip.performance import vision_scenarios as vs
from inferchip.spec.vision import VisionCalibration, VisionLayer
from inferchip.validation.vision.cases import parse_vision_cases
from inferchip.validation.vision.fit import fit
from inferchip.validation.vision.predict import predict_row
from inferchip.validation.vision.rows import Params, build_row
from inferchip.workload.vision.model import LayerArrays

CAL = VisionCalibration(matrix_fraction=0.5, cpu_matrix_fraction=0.3, cpu_vector_fraction=0.7,
                        inference_overhead_s=0.0, memory_bandwidth_fraction=1.0, layer_overhead_scale=0.0,
                        sram_usable_fraction=1.0)
FRAME_8MP = 3 * 2160 * 3840  # elements of one 8 MP RGB frame


def test_8mp_frame_copy_by_hand():
    """An 8 MP frame is 24.88 MB in int8 and 49.77 MB in fp16; over PCIe Gen4 x16 (31.5 GB/s per direction
    after 128b/130b coding, at the DMA efficiency) that is ~1 ms and ~2 ms."""
    link = 31.5e9 * PCIE_DMA_EFFICIENCY
    int8 = input_copy_s(FRAME_8MP * 1.0, np.array([1.0]), link)[0]
    fp16 = input_copy_s(FRAME_8MP * 2.0, np.array([1.0]), link)[0]
    assert FRAME_8MP == 24_883_200
    assert int8 == pytest.approx(24_883_200 / (31.5e9 * PCIE_DMA_EFFICIENCY))
    assert 0.9e-3 < int8 < 1.1e-3 and fp16 == pytest.approx(2 * int8)
    assert input_copy_s(FRAME_8MP, np.array([4.0]), link)[0] == pytest.approx(4 * int8)  # batch of 4 frames


def test_host_links_of_the_table():
    """PCIe cards cross their link; CPUs read the frame in place; unified-memory SoCs copy nothing; a chip
    missing from the table gets PCIe Gen4 x16 and says so."""
    assert host_link("nvidia-l4", "nvidia-ada").bytes_per_s == pytest.approx(31.5e9 * PCIE_DMA_EFFICIENCY)
    assert host_link("nvidia-h100-pcie-80gb", "nvidia-hopper").bytes_per_s == pytest.approx(63e9 * PCIE_DMA_EFFICIENCY)
    assert host_link("cpu:intel-xeon-6980p", "x86-cpu").bytes_per_s == float("inf")
    assert host_link("nvidia-jetson-agx-orin-64gb", "nvidia-ampere").bytes_per_s == float("inf")
    for car_chip in ("tesla-fsd-hw3", "tesla-ai4-hw4", "tesla-ai5"):  # camera SoCs: the ISP writes frames to DRAM
        assert host_link(car_chip, "tesla").bytes_per_s == float("inf") and not host_link(car_chip, "").note
    unknown = host_link("made-up-card", "nvidia-ada")
    assert unknown.note and unknown.bytes_per_s == pytest.approx(31.5e9 * PCIE_DMA_EFFICIENCY)
    assert np.all(input_copy_s(1e6, np.array([1.0, 8.0]), float("inf")) == 0.0)


def test_host_links_file_rejects_a_bad_rate(tmp_path: Path):
    p = tmp_path / "links.csv"
    p.write_text("chip_id,link,gb_per_s_per_direction,source\nx,PCIe,fast,somewhere\n")
    with pytest.raises(HostLinkFileError, match="gb_per_s_per_direction"):
        load_host_links(p)


def test_call_latency_adds_the_copy_and_pipelining_hides_it():
    """One call's latency = copy + device time; under load the copy overlaps: max(device, copy) per call."""
    chip = make_chip(id="nvidia-l4", family="nvidia-ada", sram_bytes=0.0)
    a = LayerArrays.of((VisionLayer(name="c", op="conv", m=2160 * 3840 // 64, k=3 * 64, n=64, weight_elems=3 * 64 * 64,
                                    in_elems=FRAME_8MP, out_elems=2160 * 3840),))
    b = np.array([1.0, 8.0])
    c = call_cost(chip, a, b, "int8", CAL, memory_type="HBM3", node_nm=4.0, assumptions=load_assumptions())
    copy = FRAME_8MP * b / (31.5e9 * PCIE_DMA_EFFICIENCY)
    assert np.allclose(c.input_copy_s, copy)
    device = layer_costs(chip, a, b, "int8", CAL).time_s.sum(axis=0)
    assert np.all(c.latency_s >= device + copy - 1e-12)
    assert np.all(c.pipelined_s >= copy) and np.all(c.pipelined_s <= c.latency_s)


def test_overlapped_calls_by_hand():
    """Two int8 GEMMs on 1 POP/s and 1 TB/s: 4096^3 (137.4 us compute, 50.3 MB = 50.3 us DRAM) and
    65536x1024x128 (17.2 us compute, 75.9 MB = 75.9 us DRAM). One call alone: 137.4 + 75.9 = 213.3 us; calls in
    flight side by side: max(154.6, 126.2) = 154.6 us each."""
    chip = make_chip(id="x", family="generic", sram_bytes=0.0, gemm_tiles_in_flight=1, tdp_w=float("nan"),
                     memory_bytes_per_s=1e12, peak_flop_per_s={"int8": 1e15}, vector_flop_per_s=1e15)
    cal = CAL.model_copy(update={"matrix_fraction": 1.0})
    # 1024-aligned GEMMs (no padding): flop = 2 m k n; bytes = m k + k n + m n at 1 B
    def gemm(m, k, n):
        return VisionLayer(name=f"g{m}", op="matmul", m=m, k=k, n=n, weight_elems=k * n, in_elems=m * k,
                           out_elems=m * n)
    a = LayerArrays.of((gemm(4096, 4096, 4096), gemm(65536, 1024, 128)))
    lc = layer_costs(chip, a, np.array([1.0]), "int8", cal)
    c = call_cost(chip, a, np.array([1.0]), "int8", cal, memory_type="HBM3", node_nm=4.0,
                  assumptions=load_assumptions())
    comp = np.array([2 * 4096**3, 2 * 65536 * 1024 * 128]) / 1e15
    mem = np.array([3 * 4096**2, 65536 * 1024 + 1024 * 128 + 65536 * 128]) / 1e12
    assert np.allclose(lc.compute_s[:, 0], comp) and np.allclose(lc.memory_s[:, 0], mem)
    assert c.latency_s[0] - c.input_copy_s[0] == pytest.approx(comp[0] + mem[1])
    assert c.pipelined_s[0] == pytest.approx(max(comp.sum(), mem.sum(), c.input_copy_s[0]))
    assert c.pipelined_s[0] < c.latency_s[0]


def test_launch_overhead_per_layer():
    """Each costed, non-fusable layer pays the family kernel overhead x scale; fused layers pay nothing."""
    chip = make_chip(kernel_overhead_s=4e-6)
    layers = [VisionLayer(name=f"l{i}", op="conv", m=64, k=64, n=64, weight_elems=4096, in_elems=4096,
                          out_elems=4096) for i in range(5)]
    layers.append(VisionLayer(name="act", op="elementwise", in_elems=4096, out_elems=4096, vector_ops=4096,
                              fusable=True))
    cal = CAL.model_copy(update={"layer_overhead_scale": 0.5})
    c = layer_costs(chip, LayerArrays.of(tuple(layers)), np.array([1.0]), "int8", cal)
    assert c.overhead_s.sum() == pytest.approx(5 * 4e-6 * 0.5)


def test_batch_one_spatial_tiles_are_quantised():
    """At batch 1 a conv with 100 output positions still fills whole 128-row tiles: spent >= useful, and the
    spent FLOP are those of ceil(100/128) x ceil(n/128) tiles (in a wave) at the padded depth."""
    chip = make_chip(gemm_tiles_in_flight=1)
    a = LayerArrays.of((VisionLayer(name="c", op="conv", m=100, k=256, n=200, weight_elems=256 * 200,
                                    in_elems=100 * 256, out_elems=100 * 200),))
    c = layer_costs(chip, a, np.array([1.0]), "int8", CAL)
    assert c.useful_flop[0, 0] == 2 * 100 * 256 * 200
    assert c.spent_flop[0, 0] == pytest.approx(2 * (1 * 128) * 256 * (2 * 128))


def _cpu(**over):
    return make_chip(id="cpu:test", family="x86-cpu", peak_flop_per_s={"fp32": 4e12, "int8": 128e12},
                     vector_flop_per_s=4e12, gemm_tiles_in_flight=1e6, **over)


@pytest.mark.parametrize(("fmt", "peak", "fraction"), [("fp32", 4e12, 0.7), ("int8", 128e12, 0.3)])
def test_cpu_format_uses_its_own_peak_and_fraction(fmt, peak, fraction):
    """On a CPU an fp32 conv runs on the vector FMA units (fp32 peak x cpu_vector_fraction); an int8 conv on the
    matrix engine (AMX peak x cpu_matrix_fraction)."""
    chip = _cpu()
    a = LayerArrays.of((VisionLayer(name="c", op="matmul", m=1024, k=1024, n=1024, weight_elems=1024 ** 2,
                                    in_elems=1024 ** 2, out_elems=1024 ** 2),))
    c = layer_costs(chip, a, np.array([1.0]), fmt, CAL)
    assert c.matrix_s[0, 0] == pytest.approx(c.spent_flop[0, 0] / (peak * fraction))
    assert bool(c.vector_fma[0]) == (fmt == "fp32")


def test_gpu_fp32_keeps_the_accelerator_fraction():
    a = LayerArrays.of((VisionLayer(name="c", op="matmul", m=512, k=512, n=512, weight_elems=512 ** 2,
                                    in_elems=512 ** 2, out_elems=512 ** 2),))
    c = layer_costs(make_chip(), a, np.array([1.0]), "fp32", CAL)
    assert not c.vector_fma[0] and c.fraction[0] == 0.5


def test_server_at_rate_by_hand():
    """A constant 1 ms service at batch 1 (no batching gain): at 100/s almost nobody queues, p99 ~ 1 ms; at
    2,000/s the queue grows without bound and the 15 ms bound fails."""
    def service(b):
        return np.asarray(b, dtype=float) * 1e-3

    low = vs.server_at_rate(service, rate_per_s=100.0, latency_bound_s=0.015, max_batch=1, queries=2000)
    assert low.passed and 1.0 <= low.value < 3.0 and low.metric == "latency_p99_ms"
    high = vs.server_at_rate(service, rate_per_s=2000.0, latency_bound_s=0.015, max_batch=1, queries=2000)
    assert not high.passed and high.value > 15.0


@settings(max_examples=20, deadline=None)
@given(st.floats(0.05, 0.95))
def test_server_rate_found_passes_at_that_rate(frac):
    """A rate below the one :func:`server` finds within the bound passes at that rate (same seeded arrivals)."""
    def service(b):
        return 2e-3 + np.asarray(b, dtype=float) * 0.2e-3

    best = vs.server(service, latency_bound_s=0.015, max_batch=32, queries=1000)
    at = vs.server_at_rate(service, rate_per_s=best.samples_per_s * frac, latency_bound_s=0.015, max_batch=32,
                           queries=1000)
    assert at.value <= 15.0 * (1 + 1e-9) or frac > 0.9


def test_fit_recovers_the_two_cpu_fractions():
    """Synthetic CPU rows (fp32 on the vector units, int8 on AMX) plus GPU rows, 'measured' at known fractions:
    the fit gives both CPU fractions back separately."""
    cols = ("case_id,source_kind,source,accelerator,num_accelerators,system_name,software,model,input_shape,"
            "precision,scenario,batch,metric,value,unit,notes").split(",")
    lines = [",".join(cols)]
    specs = [("cpu:intel-xeon-platinum-8592+", "int8", "resnet50-v1.5"), ("cpu:intel-xeon-6980p", "int8",
             "retinanet-resnext50-fpn-800"), ("cpu:amd-ryzen-9-7950x", "fp32", "resnet50-v1.5"),
             ("cpu:intel-core-i9-13900k", "fp32", "retinanet-resnext50-fpn-800"), ("nvidia-l4", "int8",
             "resnet50-v1.5"), ("nvidia-h100-sxm-80gb", "int8", "retinanet-resnext50-fpn-800")]
    for i, (acc, prec, model) in enumerate(specs):
        for scen, metric, unit in (("offline", "samples_per_s", "samples/s"), ("single_stream", "latency_p90_ms",
                                                                                 "ms")):
            buf = io.StringIO()
            row = dict(case_id=f"c{i}{scen}", source_kind="mlperf-inference-v5.0-closed", source="s",
                       accelerator=acc, num_accelerators="1", system_name="x", software="y", model=model,
                       input_shape="z", precision=prec, scenario=scen, batch="", metric=metric, value="1",
                       unit=unit, notes="n")
            csv.writer(buf, lineterminator="").writerow([row[c] for c in cols])
            lines.append(buf.getvalue())
    cal = VisionCalibration()
    rows = [build_row(c, cal) for c in parse_vision_cases("\n".join(lines) + "\n")]
    truth = Params(matrix_fraction=0.55, cpu_matrix_fraction=0.25, windows_per_volume=64.0, cpu_vector_fraction=0.7)
    synthetic = [replace(r, case=replace(r.case, value=predict_row(r, truth)[0])) for r in rows]
    got = fit(synthetic).params
    assert got.cpu_vector_fraction == pytest.approx(0.7, rel=0.03)
    assert got.cpu_matrix_fraction == pytest.approx(0.25, rel=0.03)
    assert got.matrix_fraction == pytest.approx(0.55, rel=0.03)


def test_frame_cost_says_when_the_host_link_is_assumed():
    from inferchip.catalog.chips import load_chip
    from inferchip.performance.vision import frame_cost

    spec = load_chip("nvidia-l4").model_copy(update={"id": "made-up-l4"})
    f = frame_cost(spec, "resnet50-v1.5", [1], weights="int8")
    assert any("host_links.csv" in n for n in f.notes)
    g = frame_cost("nvidia-l4", "resnet50-v1.5", [1], weights="int8")
    assert not any("host_links.csv" in n for n in g.notes)
    assert g.input_copy_s is not None and g.input_copy_s[0] == pytest.approx(150528 / (31.5e9 * PCIE_DMA_EFFICIENCY))


@pytest.mark.parametrize(("cpu", "fmt", "k_padded", "columns"),
                         [(True, "int8", 64, 128), (False, "int8", 32, 128), (True, "fp32", 32, 32)])
def test_amx_reduction_depth_is_64_bytes(cpu, fmt, k_padded, columns):
    """A 3x3x3 conv of one input channel (k = 27) on 1024 output positions, 32 output channels. On AMX an int8
    tile multiply reduces 64 bytes (64 elements), so k pads to 64; a GPU MMA reduces 32 bytes (k -> 32); an fp32
    layer on a CPU's vector units keeps the 32-byte depth (8 fp32 elements: 27 -> 32). 1024 rows fill 8 tiles of
    128, the 32 columns one 128-column tile: one full wave of 8 tiles in flight. The fp32 layer on the vector units
    is not tiled (layers.py ``thread_partitioned_flop``): 32 rows x one 32-column filter set = 32 units, 4 on each
    of the 8 threads, its 32 columns unpadded."""
    cpu_kw = dict(id="cpu:test", family="x86-cpu", peak_flop_per_s={"fp32": 4e12, "int8": 128e12},
                  vector_flop_per_s=4e12)
    chip = make_chip(gemm_tiles_in_flight=8, **(cpu_kw if cpu else {}))
    a = LayerArrays.of((VisionLayer(name="c", op="conv", m=1024, k=27, n=32, weight_elems=27 * 32,
                                    in_elems=1024 * 27, out_elems=1024 * 32),))
    c = layer_costs(chip, a, np.array([1.0]), fmt, CAL)
    assert c.spent_flop[0, 0] == pytest.approx(2 * 1024 * k_padded * columns)
    assert c.useful_flop[0, 0] == 2 * 1024 * 27 * 32


def test_operand_feed_factor_by_hand():
    """feed_columns 128: a 32-column layer waits 4x on its activations, 64 columns 2x, 128 and 256 not at all; layers
    off the matrix engine (inf columns) and a zero width are never slowed."""
    from inferchip.cost.vision.layers import operand_feed_factor
    got = operand_feed_factor(np.array([32.0, 64.0, 128.0, 256.0, np.inf]), 128.0)
    assert got.tolist() == [4.0, 2.0, 1.0, 1.0, 1.0]
    assert operand_feed_factor(np.array([16.0, np.inf]), 0.0).tolist() == [1.0, 1.0]


@pytest.mark.parametrize(("cpu", "fmt", "factor"), [(True, "int8", 4.0), (True, "fp32", 1.0), (False, "int8", 1.0)])
def test_operand_feed_slows_narrow_amx_layers_only(cpu, fmt, factor):
    """A 32-column int8 conv on AMX with cpu_feed_columns 128 takes 4x the multiply time (1024 rows in 32 x 32 tiles:
    no padding); the same layer in fp32 on a CPU's vector units, or on a GPU, is unaffected."""
    cpu_kw = dict(id="cpu:test", family="x86-cpu", peak_flop_per_s={"fp32": 4e12, "int8": 128e12},
                  vector_flop_per_s=4e12, gemm_tile_m=32, gemm_tile_n=32)
    chip = make_chip(gemm_tiles_in_flight=32, **(cpu_kw if cpu else {}))
    a = LayerArrays.of((VisionLayer(name="c", op="conv", m=1024, k=256, n=32, weight_elems=256 * 32,
                                    in_elems=1024 * 256, out_elems=1024 * 32),))
    base = layer_costs(chip, a, np.array([1.0]), fmt, CAL)
    fed = layer_costs(chip, a, np.array([1.0]), fmt, CAL.model_copy(update={"cpu_feed_columns": 128.0}))
    assert fed.matrix_s[0, 0] == pytest.approx(factor * base.matrix_s[0, 0])
    assert fed.spent_flop[0, 0] == base.spent_flop[0, 0]
