"""The explore suite's driving workload (inferchip.explore.driving) against the vision cost model it
vectorises, and its physics."""

from __future__ import annotations

import numpy as np
import pytest

from inferchip.catalog.assumptions import load_assumptions
from inferchip.catalog.vision_networks import load_vision_calibration
from inferchip.cost.vision.frame import call_cost
from inferchip.explore.designs import designs_from_index
from inferchip.explore.driving import PRECISION, DrivingWorkload, drive_metrics, probe_chip
from inferchip.spec.design_space import DesignSpace

A = load_assumptions()


@pytest.fixture(scope="module")
def rig():
    return DrivingWorkload()


def _designs(n: int, seed: int):
    sp = DesignSpace.from_dict({"parameters": {
        "matrix_units": [4, 16, 64, 256], "matrix_unit_dim": [16, 32, 128], "clock_ghz": [1.0, 2.0],
        "sram_mb": [0, 8, 64, 256], "formats": ["bf16", "bf16+fp8"], "memory_type": ["lpddr5x", "hbm3"],
        "memory_units": [2, 8], "node_nm": [5, 7]}})
    rng = np.random.default_rng(seed)
    idx = np.stack([rng.integers(0, s, n) for s in sp.shape], axis=1)
    return designs_from_index(sp, idx, A)


def test_matches_the_vision_cost_model_design_by_design(rig):
    ch = _designs(12, 0)
    m = drive_metrics(rig, ch, ch.params["node_nm"].astype(float), ch.params["memory_type"].astype(str))
    cal = load_vision_calibration()
    for i in range(len(ch)):
        chip = probe_chip(int(ch.tile[i]), sram_bytes=float(ch.params["sram_mb"][i]) * 1e6,
                          peak=float(ch.peak_bf16[i]), bandwidth=float(ch.memory_bytes_per_s[i]),
                          vector=float(ch.vector[i]), tdp_w=float(ch.tdp_w[i]), fp8=bool(ch.peak_fp8[i] > 0))
        c = call_cost(chip, rig.arrays(), np.array([1.0]), PRECISION, cal,  # type: ignore[arg-type]
                      memory_type=str(ch.params["memory_type"][i]), node_nm=float(ch.params["node_nm"][i]),
                      assumptions=A)
        assert m["service_s"][i] == pytest.approx(float(c.latency_s[0]), rel=1e-9)
        static_w = A.number("energy.static_power_fraction_of_tdp") * float(ch.tdp_w[i])
        assert float(c.energy_j[0]) == pytest.approx(m["dynamic_j"][i] + static_w * float(c.latency_s[0]), rel=1e-9)


def test_more_bandwidth_or_compute_is_never_slower(rig):
    from dataclasses import replace

    ch = _designs(40, 1)
    node, mt = ch.params["node_nm"].astype(float), ch.params["memory_type"].astype(str)
    base = drive_metrics(rig, ch, node, mt)["service_s"]
    for field in ("memory_bytes_per_s", "peak_bf16", "vector"):
        faster = replace(ch, **{field: getattr(ch, field) * 2.0})
        faster.params = ch.params
        assert np.all(drive_metrics(rig, faster, node, mt)["service_s"] <= base * (1 + 1e-12)), field


def test_a_design_that_cannot_keep_up_misses_and_scores_zero_frames_per_joule(rig):
    ch = _designs(40, 2)
    m = drive_metrics(rig, ch, ch.params["node_nm"].astype(float), ch.params["memory_type"].astype(str))
    slow = m["service_s"] > 1.0 / rig.fps
    assert np.all(~m["meets_deadline"][slow]) and np.all(m["frames_per_j"][slow] == 0)
    assert np.all(np.isinf(m["frame_latency_s"][slow]))
    ok = ~slow & ch.feasible
    assert np.allclose(m["frames_per_j"][ok], rig.cameras / m["energy_per_tick_j"][ok])


def test_the_driving_column_joins_the_suite_without_touching_the_language_objectives():
    from inferchip.explore.evaluate import DRIVING, default_suite, evaluate, suite_objectives

    model = "meta-llama/Llama-3.1-8B-Instruct"
    with_rig, without = default_suite([model, DRIVING]), default_suite([model])
    assert with_rig.workload_ids == [*without.workload_ids, DrivingWorkload().workload_id]
    ch = _designs(30, 3)
    m1, m0 = evaluate(with_rig, ch), evaluate(without, ch)
    assert all(v.shape == (len(ch), len(with_rig.workload_ids)) for v in m1.values())
    o1, o0 = suite_objectives(m1), suite_objectives(m0)
    assert "driving_frames_per_j" in o1 and "driving_frames_per_j" not in o0
    for k, v in o0.items():
        assert np.array_equal(o1[k], v), k
    rig = drive_metrics(DrivingWorkload(), ch, ch.params["node_nm"].astype(float), ch.params["memory_type"].astype(str))
    assert np.array_equal(m1["frames_per_j"][:, -1], rig["frames_per_j"])
    assert np.all(np.isnan(m1["frames_per_j"][:, :-1])) and np.all(np.isnan(m1["tokens_per_s_per_chip"][:, -1]))
