"""ONNX Runtime's NCHWc accumulation passes on a CPU (cost/vision/cpu_cache.py, catalog/vision/cpu_caches.csv):
the table, the kernel volume and pass count read from a layer, the DRAM re-stream by hand, its invariants, and which
rows pay it (ORT fp32 CPU rows of the listed CPUs only)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.vision_rows import vision_case

from inferchip.catalog.chips import get_chip_params
from inferchip.catalog.vision_networks import load_vision_calibration
from inferchip.cost.vision.cpu_cache import (
    MIB,
    CpuCacheFileError,
    CpuCaches,
    accumulation_passes,
    kernel_volume,
    load_cpu_caches,
    restream_bytes,
)
from inferchip.cost.vision.layers import layer_costs
from inferchip.validation.vision.harness import runs_mlas_nchwc
from inferchip.validation.vision.rows import Params, build_row
from inferchip.workload.vision.network import load_network

ONE = np.array([1.0])
I9_FLAT = CpuCaches(l2_bytes_per_core=1.0 * MIB, l3_bytes=36.0 * MIB, hybrid=False, source="test")



def test_table_rows_and_sources():
    table = load_cpu_caches()
    assert set(table) == {"cpu:amd-ryzen-9-7950x", "cpu:intel-core-i9-13900k", "cpu:intel-xeon-w7-2495x"}
    assert table["cpu:amd-ryzen-9-7950x"].l2_bytes_per_core == pytest.approx(1.0 * MIB)
    assert table["cpu:intel-xeon-w7-2495x"].l3_bytes == pytest.approx(45.0 * MIB)
    assert [c for c, v in table.items() if v.hybrid] == ["cpu:intel-core-i9-13900k"]
    assert all(v.source for v in table.values())
    assert table["cpu:intel-core-i9-13900k"].work_ranges(24.0) == 96.0
    assert table["cpu:amd-ryzen-9-7950x"].work_ranges(16.0) == 16.0


@pytest.mark.parametrize(("row", "says"), [
    ("cpu:x,0,36,no,src", "l2_mib_per_core"),
    ("cpu:x,1,abc,no,src", "l3_mib"),
    ("cpu:x,1,36,maybe,src", "hybrid"),
    ("cpu:x,1,36,no,", "source"),
    ("cpu:x,nan,36,no,src", "l2_mib_per_core"),
    ("cpu:x,1,inf,no,src", "l3_mib"),
    (",1,36,no,src", "chip_id"),
    ("cpu:x,1,36,no,src\ncpu:x,2,36,no,src", "chip_id 'cpu:x' is empty or repeats"),
])
def test_bad_table_row_names_file_line_and_field(tmp_path: Path, row: str, says: str):
    path = tmp_path / "caches.csv"
    path.write_text("chip_id,l2_mib_per_core,l3_mib,hybrid,source\n" + row + "\n", encoding="utf-8")
    line = 2 + row.count("\n")  # the bad row is the last one (line 1 is the header)
    with pytest.raises(CpuCacheFileError, match=rf"caches.csv:{line}: .*{says}"):
        load_cpu_caches(path)


def test_kernel_volume_and_passes_by_hand():
    # 7x7 stem of 3 channels, 3x3 of 64, 1x1 of 256, ResNeXt's grouped 3x3 of 4 channels a group
    assert list(kernel_volume(np.array([147.0, 576.0, 256.0, 36.0]))) == [49.0, 9.0, 1.0, 9.0]
    # 3x3 of 64 channels: 8 NCHWc blocks on AVX2, 4 on AVX-512; 1x1 of 1,024: 8 batches of 128; 1x1 of 64: one
    assert list(accumulation_passes(np.array([576.0, 1024.0, 64.0]), 8.0)) == [8.0, 8.0, 1.0]
    assert list(accumulation_passes(np.array([576.0]), 16.0)) == [4.0]


def test_restream_by_hand():
    # DeepLabV3+ stride-4 3x3 conv, 64 -> 64 channels, 518,400 positions (720 x 720), 24 AVX2 threads:
    # 1,440 units, 60 rows a range, 5.53 MB block > 1 MiB and 24 blocks > 36 MiB: 7 extra passes of 2 x 132.7 MB
    m, k, n, out = np.array([518400.0]), np.array([576.0]), np.array([64.0]), np.array([518400.0 * 64])
    got = restream_bytes(m, k, n, ONE, ONE, out, block_channels=8.0, threads=24.0, caches=I9_FLAT)
    assert float(got[0]) == pytest.approx(7 * 2 * 518400 * 64 * 4)
    # the same CPU as hybrid: 96 ranges of 15 rows, 1.38 MB blocks, 24 of them fit the 36 MiB L3: nothing
    hybrid = replace(I9_FLAT, hybrid=True)
    assert float(restream_bytes(m, k, n, ONE, ONE, out, block_channels=8.0, threads=24.0, caches=hybrid)[0]) == 0.0
    # a 1x1 of 64 channels has one pass: nothing to re-stream however large
    assert float(restream_bytes(m, np.array([64.0]), n, ONE, ONE, out, block_channels=8.0, threads=24.0,
                                caches=I9_FLAT)[0]) == 0.0


@settings(max_examples=80, deadline=None)
@given(side=st.integers(1, 1500), cin=st.sampled_from([3, 16, 64, 256, 1024]), taps=st.sampled_from([1, 9, 49]),
       n=st.integers(1, 2048), b=st.integers(1, 16), threads=st.integers(1, 64),
       l2=st.floats(0.25, 8.0), l3=st.floats(8.0, 128.0), hybrid=st.booleans())
def test_restream_invariants(side, cin, taps, n, b, threads, l2, l3, hybrid):
    m, k = np.array([float(side * side)]), np.array([float(cin * taps)])
    out = np.array([float(side * side * n)])
    caches = CpuCaches(l2 * MIB, l3 * MIB, hybrid, "t")

    def extra(c: CpuCaches) -> float:
        return float(restream_bytes(m, k, np.array([float(n)]), ONE, np.array([float(b)]), out, block_channels=16.0,
                                    threads=float(threads), caches=c)[0])

    got = extra(caches)
    passes = float(accumulation_passes(k, 16.0)[0])
    assert got >= 0.0
    # at most every pass after the first reads and writes the whole output once
    assert got <= (passes - 1) * 2 * out[0] * b * 4 * (1 + 1e-12)
    # larger caches never re-stream more; finer work ranges (hybrid) never more
    assert extra(replace(caches, l2_bytes_per_core=caches.l2_bytes_per_core * 2)) <= got
    assert extra(replace(caches, l3_bytes=caches.l3_bytes * 2)) <= got
    assert extra(replace(caches, hybrid=True)) <= extra(replace(caches, hybrid=False))


def test_which_rows_run_mlas_nchwc():
    base = {"source_kind": "mlperf-inference-v5.1-closed", "accelerator": "cpu:intel-core-i9-13900k",
            "software": "onnxruntime v1.22.1", "model": "resnet50-v1.5", "precision": "fp32",
            "scenario": "single_stream", "metric": "latency_p90_ms", "value": "8.8", "unit": "ms"}
    assert runs_mlas_nchwc(vision_case(base), cpu=True)
    assert not runs_mlas_nchwc(vision_case(base, software="tf v2.19.0"), cpu=True)
    assert not runs_mlas_nchwc(vision_case(base, software="pytorch"), cpu=True)
    assert not runs_mlas_nchwc(vision_case(base, precision="int8"), cpu=True)
    assert not runs_mlas_nchwc(vision_case(base, accelerator="nvidia-l4"), cpu=False)


def test_layer_costs_charge_the_stall_in_series_only_where_it_applies():
    cal = load_vision_calibration()
    deeplab = load_network("deeplabv3plus-resnet50-os16-cognata-8mp").arrays
    w7 = get_chip_params("cpu:intel-xeon-w7-2495x")
    on = layer_costs(w7, deeplab, ONE, "fp32", cal, nchwc=True)
    off = layer_costs(w7, deeplab, ONE, "fp32", cal, nchwc=False)
    assert on.stall_s is not None and float(on.stall_s.sum()) > 0.0
    assert off.stall_s is not None and float(off.stall_s.sum()) == 0.0
    # the stall adds to the layer time (in series), and its bytes to the DRAM traffic; compute is untouched
    assert np.allclose(on.time_s, off.time_s + on.stall_s)
    assert float(on.dram_bytes.sum()) > float(off.dram_bytes.sum())
    assert np.allclose(on.matrix_s, off.matrix_s)
    # only convolutions pay it
    assert float(on.stall_s[~deeplab.conv].sum()) == 0.0
    # ResNet-50 at 224 x 224 never spills a core's L2, at batch 1 or 8, on any listed CPU
    r50 = load_network("resnet50-v1.5").arrays
    for chip in ("cpu:amd-ryzen-9-7950x", "cpu:intel-core-i9-13900k", "cpu:intel-xeon-w7-2495x"):
        c = layer_costs(get_chip_params(chip), r50, np.array([1.0, 8.0]), "fp32", cal, nchwc=True)
        assert c.stall_s is not None and float(c.stall_s.sum()) == 0.0
    # a chip not in the table (a GPU) never pays it
    l4 = layer_costs(get_chip_params("nvidia-l4"), deeplab, ONE, "fp32", cal, nchwc=True)
    assert l4.stall_s is not None and float(l4.stall_s.sum()) == 0.0


def test_row_latency_adds_the_stall_scaled_by_the_memory_fraction():
    base = {"source_kind": "mlperf-automotive-v0.5-open", "accelerator": "cpu:intel-xeon-w7-2495x",
            "software": "onnxruntime", "model": "deeplabv3plus-resnet50-os16-cognata-8mp", "precision": "fp32",
            "scenario": "single_stream", "metric": "latency_p999_ms", "value": "2481", "unit": "ms"}
    cal = load_vision_calibration()
    row = build_row(vision_case(base), cal)
    assert row.stall_s is not None and float(row.stall_s[0]) > 0.0
    p = Params(cal.matrix_fraction, cal.cpu_matrix_fraction, cal.windows_per_volume,
               cpu_vector_fraction=cal.cpu_vector_fraction, memory_bandwidth_fraction=cal.memory_bandwidth_fraction / 2)
    without = replace(row, stall_s=None)
    gap = row.latency_s(p) - without.latency_s(p)
    # half the bandwidth share: twice the stall
    assert float(gap[0]) == pytest.approx(2.0 * float(row.stall_s[0]))
    # the TensorFlow twin of the row pays nothing
    assert build_row(vision_case(base, software="tf v2.19.0"), cal).stall_s is not None
    assert float(build_row(vision_case(base, software="tf v2.19.0"), cal).stall_s.sum()) == 0.0


def _traced_kernel_volumes(network: str, monkeypatch: pytest.MonkeyPatch) -> list[tuple[float, int]]:
    """(k, the traced kernel volume) of every plain (not transposed, not offset) convolution of ``network``."""
    import math

    from inferchip.workload.vision import tracer

    seen: list[tuple[float, int]] = []
    conv, add = tracer.Tracer.conv, tracer.Tracer.add
    current: list[int] = []

    def spy_conv(self, x, out, k, *args, **kw):  # type: ignore[no-untyped-def]
        ks = [k] * len(x.spatial) if isinstance(k, int) else list(k)
        current.append(0 if kw.get("transposed") else math.prod(ks))
        try:
            return conv(self, x, out, k, *args, **kw)
        finally:
            current.pop()

    def spy_add(self, **kw):  # type: ignore[no-untyped-def]
        if kw.get("op") == "conv" and current and current[-1] and not str(kw["name"]).endswith("offsets"):
            seen.append((float(kw["k"]), current[-1]))
        return add(self, **kw)

    from inferchip.catalog.vision_networks import load_network_spec
    from inferchip.workload.vision.network import build_network

    with monkeypatch.context() as mp:
        mp.setattr(tracer.Tracer, "conv", spy_conv)
        mp.setattr(tracer.Tracer, "add", spy_add)
        build_network(load_network_spec(network))  # built afresh: load_network keeps a cache
    return seen


def test_kernel_volume_is_exact_on_every_network_an_nchwc_row_runs(monkeypatch):
    """kernel_volume reads the taps from k alone; on every network that a shipped row running MLAS NCHWc
    (runs_mlas_nchwc) costs, it agrees with the kernel the tracer built, conv by conv. A new ORT fp32 CPU row of a
    network with 5x5 or 3-D kernels (SSD-ResNet50's heads, 3D-UNet) fails here instead of miscounting passes."""
    from inferchip.spec.vision import is_cpu_family
    from inferchip.validation.vision.cases import read_vision_cases

    cases = read_vision_cases(Path(__file__).resolve().parents[1] / "src/inferchip/catalog/vision/vision_cases.csv")
    nets = sorted({c.model for c in cases
                   if runs_mlas_nchwc(c, cpu=is_cpu_family(get_chip_params(c.accelerator).family))})
    assert "deeplabv3plus-resnet50-os16-cognata-8mp" in nets and "resnet50-v1.5" in nets
    for net in nets:
        traced = _traced_kernel_volumes(net, monkeypatch)
        assert traced, net
        k = np.array([t[0] for t in traced])
        assert list(kernel_volume(k)) == [float(t[1]) for t in traced], net
    # the reading is not exact everywhere: SSD-ResNet50's 5x5 heads are read as 1x1 (docstring)
    ssd = _traced_kernel_volumes("ssd-resnet50-cognata-8mp", monkeypatch)
    assert any(v == 25 and float(kernel_volume(np.array([k]))[0]) == 1.0 for k, v in ssd)
