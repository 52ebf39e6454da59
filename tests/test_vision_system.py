"""Host power from the row's CPUs, SingleStream power with one chip busy, MultiStream spread with serial host
dispatch, the KiTS19 p90 volume, and the close-call count of latency bounds: hand calculations."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inferchip.catalog.assumptions import load_assumptions
from inferchip.cost.vision.system import (
    HOST_CPU_LOAD_SHARE,
    PLATFORM_W_PER_SOCKET,
    HostCpuFileError,
    host_cpus,
    host_power_w,
    load_host_cpus,
    wall_w,
)
from inferchip.errors import InvalidSettingError
from inferchip.performance import vision_scenarios as vs
from inferchip.validation.vision.predict import multi_stream_s, system_power_w
from inferchip.validation.vision.rows import tail_frames
from inferchip.validation.vision.summary import near_bound


def test_host_power_by_hand():
    # 2 sockets x (350 W x 0.5 + 60 W) + 8 switched accelerators x 75 W = 470 + 600
    assert host_power_w(2, 350.0, 8, 75.0) == pytest.approx(2 * (350 * HOST_CPU_LOAD_SHARE + PLATFORM_W_PER_SOCKET)
                                                            + 600.0)
    assert host_power_w(1, 200.0, 0, 75.0) == pytest.approx(200 * 0.5 + 60)
    assert wall_w(1000.0, 200.0, 0.08, 0.96) == pytest.approx(1200 * 1.08 / 0.96)


def test_host_cpu_from_notes():
    assert host_cpus("x; host CPU 2x Intel(R) Xeon(R) Gold 6448Y; y") == (2, 225.0)
    assert host_cpus("host CPU 1x AMD EPYC 9124 16-Core Processor") == (1, 200.0)
    assert host_cpus("host CPU 1x Some Unlisted CPU; z") is None
    assert host_cpus("no host named") is None


def test_bad_host_cpu_file_names_line(tmp_path: Path):
    p = tmp_path / "cpus.csv"
    p.write_text("cpu,tdp_w,source\nA,350,s\nB,lots,s\n", encoding="utf-8")
    with pytest.raises(HostCpuFileError, match=r"cpus.csv:3: tdp_w"):
        load_host_cpus(p)
    p.write_text("cpu,tdp_w,source\nA,350,\n", encoding="utf-8")
    with pytest.raises(HostCpuFileError, match=r":2: needs"):
        load_host_cpus(p)


def _row(notes: str, n: int, *, switched: bool = False, dispatch_s: float = 0.0) -> SimpleNamespace:
    case = SimpleNamespace(notes=notes, num_accelerators=n)
    return SimpleNamespace(case=case, static_w=20.0, tdp_w=75.0, switched=switched, dispatch_s=dispatch_s, programs=1,
                           batches=np.array([1.0, 2.0, 4.0, 8.0]))


def test_single_stream_power_one_chip_busy_by_hand():
    a = load_assumptions()
    fan, psu = a.number("host.fan_power_fraction"), a.number("host.psu_efficiency")
    row = _row("host CPU 1x AMD EPYC 9124 16-Core Processor", 3)
    # one board at 20 + 30 W, two idle at 20 W; host 1 x (200 x 0.5 + 60) = 160 W
    assert system_power_w(row, 1, 30.0) == pytest.approx((50 + 40 + 160) * (1 + fan) / psu)  # type: ignore[arg-type]
    # a busy board is capped at its TDP: 3 x 75 W
    assert system_power_w(row, 3, 500.0) == pytest.approx((225 + 160) * (1 + fan) / psu)  # type: ignore[arg-type]
    sw = _row("host CPU 2x Intel(R) Xeon(R) Platinum 8480C", 8, switched=True)
    per_acc = a.number("host.host_per_accelerator_w")
    assert system_power_w(sw, 8, 0.0) == pytest.approx(  # type: ignore[arg-type]
        (160 + 2 * (350 * 0.5 + 60) + 8 * per_acc) * (1 + fan) / psu)


def test_multi_stream_spread_with_dispatch_by_hand():
    row = _row("", 8, dispatch_s=1e-3)
    tq = 1e-3 + 1e-3 * row.batches  # t(1) = 2 ms, t(2) = 3, t(4) = 5, t(8) = 9 ms
    # k = 1: 9 ms; k = 2: t(4) + 1 = 6; k = 3: t(3) = 4 (interpolated) + 2 = 6; k = 4: t(2) + 3 = 6; k = 8: 2 + 7
    lat, share = multi_stream_s(row, tq, 8.0, 8)  # type: ignore[arg-type]
    assert lat == pytest.approx(6e-3) and share == 4
    free = _row("", 8, dispatch_s=0.0)
    assert multi_stream_s(free, tq, 8.0, 8) == (pytest.approx(2e-3), 1)  # type: ignore[arg-type]
    assert multi_stream_s(free, tq, 8.0, 1) == (pytest.approx(9e-3), 8)  # type: ignore[arg-type]


def test_query_finish_by_hand():
    t = np.array([[1.0, 1.0, 1.0]])
    assert vs.query_finish_s(t, [0, 1, 2], 3, 0.5)[0] == pytest.approx(2.0)  # issued at 0, 0.5, 1.0
    assert vs.query_finish_s(t, [0, 0, 1], 2, 0.5)[0] == pytest.approx(2.0)  # device 0: 1 then 2; device 1: 1 + 1


def test_simulated_multi_stream_dispatch_by_hand():
    def service(b: np.ndarray) -> np.ndarray:
        return 1e-3 + 1e-3 * np.asarray(b, dtype=float)

    assert vs.multi_stream(service, devices=8, queries=8).value == pytest.approx(2.0)  # ms: one sample per device
    # 1 ms apart: batches of 3, 3, 2 issued at 0, 1, 2 ms finish at 4, 5, 5 ms (best over batch sizes)
    r = vs.multi_stream(service, devices=8, queries=8, dispatch_s=1e-3)
    assert r.value == pytest.approx(5.0) and r.batch == 3
    with pytest.raises(InvalidSettingError, match="dispatch_s"):
        vs.multi_stream(service, devices=2, dispatch_s=-1.0)


@settings(max_examples=30, deadline=None)
@given(st.floats(0.0, 5e-3), st.floats(0.0, 5e-3), st.integers(1, 8))
def test_multi_stream_latency_grows_with_dispatch(d1: float, d2: float, devices: int):
    def service(b: np.ndarray) -> np.ndarray:
        return 2e-4 + 5e-4 * np.asarray(b, dtype=float)

    lo, hi = sorted((d1, d2))
    a = vs.multi_stream(service, devices=devices, queries=4, dispatch_s=lo).value
    b = vs.multi_stream(service, devices=devices, queries=4, dispatch_s=hi).value
    assert a <= b + 1e-9
    assert a <= vs.multi_stream(service, devices=1, queries=4).value + 1e-9  # never worse than one device


def test_tail_frames_and_near_bound():
    assert tail_frames(38.0, 1.5) == pytest.approx(57.0)
    close = SimpleNamespace(p99_at_load_ms=14.0, bound_ms=15.0)
    far = SimpleNamespace(p99_at_load_ms=10.0, bound_ms=15.0)
    over = SimpleNamespace(p99_at_load_ms=16.4, bound_ms=15.0)
    assert near_bound(close) and not near_bound(far) and near_bound(over)  # type: ignore[arg-type]
    assert not near_bound(SimpleNamespace(p99_at_load_ms=None, bound_ms=15.0))  # type: ignore[arg-type]
