"""Under tick batching a camera network's frames of a tick run at the call size that serves them soonest, not
always at batch = cameras: SSD-ResNet50 at 8 MP on AI5 takes 4.8 ms at batch 1 and 69 ms at batch 8 (a batch of 8
spills its activations out of on-chip SRAM), so a tick of 8 frames runs as 8 calls of 1 (38 ms), not one of 8."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import inferchip as ic
from inferchip.sim.vision.rig import RigLoad, Stage, simulate_rig


def _stage(latency_s: list[float]) -> Stage:
    lat = np.array([0.0, *latency_s])
    return Stage("net", True, lat, np.where(lat > 0, 50.0, 0.0))


def _serve_s(stage: Stage, samples: int, c: int) -> float:
    full, rest = divmod(samples, c)
    return full * float(stage.latency_s[c]) + (float(stage.latency_s[rest]) if rest else 0.0)


@settings(max_examples=200, deadline=None)
@given(lat=st.lists(st.floats(1e-4, 1.0), min_size=1, max_size=12), samples=st.integers(1, 24),
       cap=st.integers(1, 16))
def test_the_call_size_serves_the_frames_soonest(lat, samples, cap):
    stage = _stage(lat)
    c = stage.call_size(samples, cap)
    assert 1 <= c <= min(cap, stage.max_batch, samples)
    best = min(_serve_s(stage, samples, k) for k in range(1, min(cap, stage.max_batch, samples) + 1))
    assert _serve_s(stage, samples, c) <= best * (1 + 1e-9)
    assert stage.job(samples, cap, 0.0)[0] == pytest.approx(_serve_s(stage, samples, c))


def test_a_batch_that_costs_no_more_per_frame_is_kept_whole():
    assert _stage([0.01, 0.015, 0.02, 0.025]).call_size(4, 4) == 4  # sub-linear: one call
    assert _stage([0.01, 0.02, 0.03, 0.04]).call_size(4, 4) == 4  # linear: ties go to the largest, as before


def test_a_super_linear_batch_is_split():
    stage = _stage([0.005, 0.013, 0.031, 0.069])  # per frame 5, 6.5, 7.75, 17 ms
    assert stage.call_size(4, 4) == 1
    res = simulate_rig(RigLoad(4, 10.0, duration_s=1.0), (stage,), idle_w=0.0)
    assert res.summary()["busy_per_cycle_s"] == pytest.approx(4 * 0.005)


def test_drive_runs_the_8mp_detector_on_ai5_at_its_fastest_call_size():
    r = ic.drive("tesla-ai5", 8, 36.0, models=["ssd-resnet50-cognata-8mp@camera"], duration_s=0.5)
    one = ic.frame_cost("tesla-ai5", "ssd-resnet50-cognata-8mp", [1, 8]).latency_s
    assert one[1] > 8 * one[0]  # the premise: batch 8 is slower per frame than batch 1 there
    (net,) = r["networks"]
    assert net["calls_per_cycle"] == 8 and net["busy_per_cycle_s"] == pytest.approx(8 * one[0])
    assert r["service_split"]["ssd-resnet50-cognata-8mp"]["batch"] == 1
