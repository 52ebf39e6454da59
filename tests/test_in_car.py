"""The review's in-car section (the driving rig on the in-car chips, the frame-deadline part judged on it
with a seeded Monte Carlo) and ``inferchip drive --dim`` for an ONNX graph's dynamic axes."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from cli_in_process import run_main
from inferchip.catalog.chips import family_defaults, load_chip
from inferchip.performance.vision_drive import IN_CAR_CHIPS
from inferchip.review.claim_file import verdict
from inferchip.review.in_car import (
    VISION_LATENCY_APE_PCT,
    RigBase,
    RigChip,
    RigSetting,
    in_car_section,
    rig_holds,
    rig_monte_carlo,
    spec_at,
    vision_sigma,
)
from inferchip.spec.chip import chip_params

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def section():
    return in_car_section(load_chip("tesla-ai5"), "frame deadlines", "p99", 1000, 7)


def test_the_rig_runs_the_five_in_car_chips(section):
    assert [r["chip"] for r in section.rows] == list(IN_CAR_CHIPS)
    for r in section.rows:
        assert "error" not in r, r
        assert 0 < r["latency_p50_ms"] <= r["latency_p99_ms"]
        assert 0 <= r["deadline_miss_rate"] <= 1 and 0 < r["utilisation"]
        assert r["energy_per_frame_j"] > 0 and r["average_power_w"] > 0
        assert r["p99_ms_p5"] <= r["p99_ms_p95"]
    # shares of samples: one fastest chip per sample (ties aside), and only a chip that keeps the rig
    assert sum(r["p_fastest"] for r in section.rows) == pytest.approx(1.0, abs=0.01)
    assert all(r["p_fastest"] <= r["p_keeps_deadline"] for r in section.rows)


def test_the_part_follows_its_probability_rule(section):
    p = section.part
    assert p["part"] == "frame_deadlines" and p["judged"]
    assert 0 <= p["probability"] <= 1 and p["verdict"] == verdict(p["probability"])
    ai5 = next(r for r in section.rows if r["chip"] == "tesla-ai5")
    assert p["probability"] == pytest.approx(ai5["p_fastest"])  # the part holds where AI5 is fastest in time


def test_seeded_reproducibility(section):
    again = in_car_section(load_chip("tesla-ai5"), "frame deadlines", "p99", 1000, 7, ledger=False)
    assert again.part == section.part and again.rows == section.rows
    other = in_car_section(load_chip("tesla-ai5"), "frame deadlines", "p99", 1000, 8, ledger=False)
    assert [r["p99_ms_p5"] for r in other.rows] != [r["p99_ms_p5"] for r in section.rows]


def test_the_ledger_names_the_rig_choices(section):
    choices = {e["choice"]: e for e in section.ledger}
    assert {"in-car networks", "in-car camera count", "in-car frame rate", "model error (in-car rig)"} <= set(choices)
    for e in section.ledger:
        alt = e["verdicts_if_flipped"]["frame_deadlines"]
        assert alt["verdict"] == verdict(alt["probability"])
        assert e["flips"] == (["frame_deadlines"] if alt["verdict"] != section.part["verdict"] else [])


def _base(p99: list[float], ranges: dict[int, dict[str, tuple[float, float, float]]] | None = None,
          corners: dict[int, dict[tuple[str, str], float]] | None = None, claim: int = 0) -> RigBase:
    chips = []
    for i, v in enumerate(p99):
        c = RigChip(f"c{i}", False, {"chip": f"c{i}", "latency_p99_ms": v})
        c.ranges = (ranges or {}).get(i, {})
        c.corner_p99_ms = (corners or {}).get(i, {})
        chips.append(c)
    return RigBase(RigSetting(), chips, claim)


def test_holds_only_for_the_fastest_chip_within_the_deadline():
    p99 = np.array([[10.0, 10.0, 30.0, 10.0], [12.0, 9.0, 40.0, 10.0], [50.0, 50.0, 50.0, 50.0]])
    holds, keeps, leader = rig_holds(p99, 0, 27.8)
    assert holds.tolist() == [True, False, False, True]  # faster; slower; over the deadline; a tie counts
    assert keeps[2].tolist() == [False] * 4  # chip 2 never keeps the rig and never leads
    assert leader.tolist() == [1, 1, -1, 1]


def test_monte_carlo_moves_between_central_and_its_corners():
    base = _base([10.0, 20.0], ranges={0: {"peak compute": (1.0, 2.0, 4.0)}},
                 corners={0: {("peak compute", "low"): 16.0, ("peak compute", "high"): 7.0}})
    p99 = rig_monte_carlo(base, 4000, 3, model_error=False)
    assert np.all(p99[1] == 20.0)  # no ranges, no model error: the central figure
    assert p99[0].min() >= 7.0 - 1e-9 and p99[0].max() <= 16.0 + 1e-9
    assert (p99[0] < 10.0).any() and (p99[0] > 10.0).any()
    assert np.array_equal(p99, rig_monte_carlo(base, 4000, 3, model_error=False))
    spread = np.log(rig_monte_carlo(base, 4000, 3)[1] / 20.0)
    assert spread.std() == pytest.approx(vision_sigma(), rel=0.1)  # the validated latency error


def test_a_chip_that_cannot_run_a_corner_is_lost_beyond_the_midpoint():
    base = _base([10.0], ranges={0: {"memory bandwidth": (1.0, 2.0, 3.0)}},
                 corners={0: {("memory bandwidth", "low"): math.inf, ("memory bandwidth", "high"): 8.0}})
    p99 = rig_monte_carlo(base, 2000, 0, model_error=False)[0]
    assert np.isinf(p99).any() and np.isfinite(p99).any()


def test_spec_at_sets_an_estimate_to_one_end():
    spec = load_chip("tesla-ai5")
    r = spec.estimated_fields()["memory.bandwidth_tb_per_s"]
    low = spec_at(spec, {"memory.bandwidth_tb_per_s": r.low})
    assert chip_params(low, family_defaults(spec.family)).memory_bytes_per_s == pytest.approx(r.low * 1e12)
    assert spec.estimated_fields()["memory.bandwidth_tb_per_s"].central == r.central  # the original is untouched


def test_vision_error_matches_the_validation_page():
    page = (ROOT / "docs" / "validation.md").read_text()
    m = re.search(r"^\| SingleStream [^|]*\| \d+ \| [\d.]+% \| [\d.]+% \| \d+ \| ([\d.]+)% \| ([\d.]+)% \|", page, re.M)
    assert m and (float(m.group(1)), float(m.group(2))) == VISION_LATENCY_APE_PCT
    drive = (ROOT / "docs" / "drive.md").read_text()  # the user-facing description quotes the same figures
    assert f"median {VISION_LATENCY_APE_PCT[0]} %, p90 {VISION_LATENCY_APE_PCT[1]} % APE" in drive.replace("\n", " ")


# ------------------------------------------------------------------ drive --dim
def _onnx(tmp_path: Path) -> Path:
    """conv 3->16 3x3 on an image whose height is a dynamic axis."""
    w = numpy_helper.from_array(np.zeros((16, 3, 3, 3), dtype=np.float32), "w")
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, "height", 256])
    g = helper.make_graph(nodes, "g", [x], [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w])
    path = tmp_path / "cam.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def test_drive_sizes_an_onnx_dynamic_axis_with_dim(tmp_path):
    path = _onnx(tmp_path)
    base = ["drive", "--chip", "nvidia-l4", "--cameras", "2", "--fps", "10", "--duration", "2", "--format", "json",
            "--model", f"{path}@camera"]
    runs = {}
    for h in (64, 1024):
        code, text = run_main([*base, "--dim", f"height={h}"])
        assert code == 0, text
        runs[h] = json.loads(text)
    assert [(n["name"], n["role"]) for n in runs[64]["networks"]] == [(str(path), "camera")]
    # sixteen times the pixels: more work per frame, so each frame takes longer and costs more energy
    assert runs[1024]["latency_ms"]["p50"] > runs[64]["latency_ms"]["p50"]
    assert runs[1024]["energy_per_frame_j"] > runs[64]["energy_per_frame_j"]


@pytest.mark.parametrize("extra, word", [
    ([], "--dim"),  # the dynamic axis has no size
    (["--dim", "width=4"], "width"),  # no such axis
    (["--dim", "height=0"], "--dim"),
])
def test_drive_dim_errors(tmp_path, extra, word):
    code, text = run_main(["drive", "--chip", "nvidia-l4", "--cameras", "2", "--fps", "10", "--model",
                       str(_onnx(tmp_path)), *extra])
    assert code != 0 and word in text and "Traceback" not in text


def test_drive_dim_without_an_onnx_model_is_refused():
    code, text = run_main(["drive", "--chip", "nvidia-l4", "--cameras", "2", "--fps", "10", "--dim", "height=64"])
    assert code != 0 and "ONNX files only" in " ".join(text.split()) and "Traceback" not in text


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.5, 80.0), min_size=2, max_size=6), st.floats(0.1, 1.0))
def test_a_faster_claimed_chip_never_loses_the_part(p99s, factor):
    """Physical monotonicity: cutting the claimed chip's p99 (all else equal) can only keep or win the part."""
    p99 = np.array(p99s)[:, None]
    faster = p99.copy()
    faster[0] *= factor
    before = rig_holds(p99, 0, 27.8)[0][0]
    after = rig_holds(faster, 0, 27.8)[0][0]
    assert after or not before
