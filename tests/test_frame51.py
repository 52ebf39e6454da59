"""One meaning per name in vision and drive outputs (stop 51, frame51).

``energy_per_frame_j`` is joules per camera frame at the rig's rate, idle included (drive only); a call's energy over
its frames is ``call_energy_per_frame_j`` (vision); the rig's average power at the frame rate is ``average_power_w``
and ``power_w`` is a call's power (vision, FrameCost). A rig's energy per cycle (a frame of every camera) is the sum
of its networks' calls plus the idle rest of the cycle, and the average power is that x fps: checked here against
hand calculations."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inferchip.interfaces.cli import main
from inferchip.sim.vision.rig import RigLoad, Stage, simulate_rig
from inferchip.sim.vision.rig_energy import rig_cycle


def _stage(name: str, per_camera: bool, latency_s: list[float], power_w: list[float]) -> Stage:
    """A stage from per-batch tables given for batch 1.. (index 0 unused)."""
    return Stage(name, per_camera, np.array([0.0, *latency_s]), np.array([0.0, *power_w]))


DET = _stage("det", True, [1e-3, 1.5e-3, 2e-3], [40.0, 50.0, 60.0])  # batch 1, 2, 3
PLAN = _stage("plan", False, [4e-3], [30.0])


def _run(args: list[str]) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    return code, out.getvalue() + err.getvalue()


def test_tick_batching_energy_per_cycle_by_hand():
    # 5 cameras at 20 fps, calls of at most 3 frames: det at batch 3 then batch 2, then plan once; idle 10 W
    load = RigLoad(5, 20.0, duration_s=1.0, max_batch=3, seed=4)
    s = simulate_rig(load, (DET, PLAN), idle_w=10.0).summary()
    det_j = 2e-3 * 60.0 + 1.5e-3 * 50.0  # 0.195 J in two calls
    plan_j = 4e-3 * 30.0  # 0.12 J
    busy_s = 2e-3 + 1.5e-3 + 4e-3
    idle_j = 10.0 * (0.05 - busy_s)  # the rest of the 50 ms cycle
    nets = {n["name"]: n for n in s["network_energy"]}
    assert nets["det"]["energy_per_cycle_j"] == pytest.approx(det_j, rel=1e-12)
    assert nets["det"]["calls_per_cycle"] == 2 and nets["det"]["samples_per_cycle"] == 5
    assert nets["plan"]["energy_per_cycle_j"] == pytest.approx(plan_j, rel=1e-12)
    assert s["idle_energy_per_cycle_j"] == pytest.approx(idle_j, rel=1e-12)
    assert s["rig_energy_per_cycle_j"] == pytest.approx(det_j + plan_j + idle_j, rel=1e-12)  # 0.74 J
    assert s["average_power_w"] == pytest.approx((det_j + plan_j + idle_j) * 20.0, rel=1e-12)  # 14.8 W
    assert s["energy_per_frame_j"] == pytest.approx((det_j + plan_j + idle_j) / 5, rel=1e-12)
    assert s["cycle_s"] == pytest.approx(0.05) and s["busy_per_cycle_s"] == pytest.approx(busy_s)


def test_frame_batching_runs_one_frame_a_call():
    load = RigLoad(5, 20.0, duration_s=1.0, batching="frame")
    s = simulate_rig(load, (DET, PLAN), idle_w=10.0).summary()
    nets = {n["name"]: n for n in s["network_energy"]}
    assert nets["det"]["calls_per_cycle"] == 5
    assert nets["det"]["energy_per_cycle_j"] == pytest.approx(5 * 1e-3 * 40.0, rel=1e-12)
    assert s["rig_energy_per_cycle_j"] == pytest.approx(0.2 + 0.12 + 10.0 * (0.05 - 5e-3 - 4e-3), rel=1e-12)


def test_a_rig_the_chip_cannot_keep_runs_at_the_chips_pace():
    # at 200 fps a cycle's 5 ms period is shorter than its 7.5 ms of work (det at batch 3 and 2, then plan)
    load = RigLoad(5, 200.0, duration_s=0.5, max_batch=3)
    s = simulate_rig(load, (DET, PLAN), idle_w=10.0).summary()
    busy_s, work_j = 7.5e-3, 0.195 + 0.12
    assert s["cycle_s"] == pytest.approx(busy_s) and s["idle_energy_per_cycle_j"] == pytest.approx(0.0, abs=1e-15)
    assert s["average_power_w"] == pytest.approx(work_j / busy_s, rel=1e-12)  # 42 W: busy all the time, not x fps
    assert s["average_power_w"] < s["rig_energy_per_cycle_j"] * 200.0


def test_a_throttled_cycle_by_hand():
    # one camera network at 50 W over 10 W idle, 2 ms a call at batch 1; the budget sets clock s: each call takes
    # 2 ms / s at 10 + 40 s^3 W, so its energy is 2 ms x (10 / s + 40 s^2)
    det = _stage("det", True, [2e-3], [50.0])
    load = RigLoad(1, 100.0, duration_s=1.0)
    free = simulate_rig(load, (det,), idle_w=10.0).summary()["average_power_w"]
    assert free == pytest.approx((2e-3 * 50.0 + 10.0 * 8e-3) * 100.0)  # 18 W
    s = simulate_rig(load, (det,), idle_w=10.0, power_budget_w=14.0).summary()
    k = s["clock_fraction"]
    assert k == pytest.approx((4.0 / 8.0) ** 0.5)  # idle + D s^2 = 14 W with D = 40 W x 0.2 = 8 W
    call_j = 2e-3 * (10.0 / k + 40.0 * k * k)
    assert s["network_energy"][0]["energy_per_cycle_j"] == pytest.approx(call_j, rel=1e-12)
    assert s["rig_energy_per_cycle_j"] == pytest.approx(call_j + 10.0 * (0.01 - 2e-3 / k), rel=1e-12)
    assert s["average_power_w"] == pytest.approx(14.0, rel=1e-12)


@settings(max_examples=40, deadline=None)
@given(cameras=st.integers(1, 12), fps=st.floats(1, 400), batching=st.sampled_from(("tick", "frame")),
       cap=st.integers(1, 12), idle=st.floats(0, 50), ms=st.floats(0.05, 10), seed=st.integers(0, 2**32))
def test_cycle_sums_hold_and_do_not_depend_on_the_seed(cameras, fps, batching, cap, idle, ms, seed):
    b = np.arange(13)
    det = Stage("det", True, np.where(b > 0, ms * 1e-3 * (0.5 + 0.5 * b), 0.0), np.where(b > 0, idle + 5.0 * b, 0))
    plan = Stage("plan", False, np.array([0.0, 1e-3]), np.array([0.0, idle + 3.0]))
    load = RigLoad(cameras, fps, duration_s=max(1.0, 2 / fps), seed=seed, batching=batching, max_batch=cap)
    s = simulate_rig(load, (det, plan), idle_w=idle).summary()
    nets = sum(n["energy_per_cycle_j"] for n in s["network_energy"])
    assert s["rig_energy_per_cycle_j"] == pytest.approx(nets + s["idle_energy_per_cycle_j"], rel=1e-12)
    assert s["idle_energy_per_cycle_j"] >= 0 and s["cycle_s"] >= 1 / fps * (1 - 1e-12)
    assert s["average_power_w"] * s["cycle_s"] == pytest.approx(s["rig_energy_per_cycle_j"], rel=1e-12)
    assert s["energy_per_frame_j"] * cameras == pytest.approx(s["rig_energy_per_cycle_j"], rel=1e-12)
    if s["busy_per_cycle_s"] <= 1 / fps:  # the chip keeps the rate: power = energy per cycle x fps
        assert s["average_power_w"] == pytest.approx(s["rig_energy_per_cycle_j"] * fps, rel=1e-9)
    other = rig_cycle((det, plan), RigLoad(cameras, fps, duration_s=max(1.0, 2 / fps), seed=seed + 1,
                                           batching=batching, max_batch=cap), idle)
    assert other.rig_energy_per_cycle_j == pytest.approx(s["rig_energy_per_cycle_j"], rel=1e-12)


def test_drive_and_vision_agree_on_a_calls_energy():
    """drive's per-network energy per cycle is vision's call energy at the batch the rig runs it at: 4 cameras of
    ResNet-50 on an Orin are one call of 4 frames a tick."""
    code, text = _run(["vision", "--chip", "nvidia-jetson-agx-orin-64gb", "--model", "resnet50-v1.5", "--batch", "4",
                       "--weights", "fp16", "--format", "json"])
    assert code == 0, text
    v = json.loads(text)["points"][0]
    assert "energy_per_frame_j" not in v
    code, text = _run(["drive", "--chip", "nvidia-jetson-agx-orin-64gb", "--cameras", "4", "--fps", "36",
                       "--duration", "2", "--model", "resnet50-v1.5@camera", "--weights", "fp16", "--format", "json"])
    assert code == 0, text
    d = json.loads(text)
    assert "power_w" not in d and "network_energy" not in d
    net = d["networks"][0]
    assert net["calls_per_cycle"] == 1 and net["samples_per_cycle"] == 4
    assert net["energy_per_cycle_j"] == pytest.approx(v["call_energy_per_frame_j"] * 4, rel=1e-9)
    assert net["busy_per_cycle_s"] == pytest.approx(v["latency_s"], rel=1e-9)
    assert d["rig_energy_per_cycle_j"] == pytest.approx(net["energy_per_cycle_j"] + d["idle_energy_per_cycle_j"])
    assert d["average_power_w"] == pytest.approx(d["rig_energy_per_cycle_j"] * 36, rel=1e-9)
    assert d["energy_per_frame_j"] > v["call_energy_per_frame_j"]  # the idle rest of the cycle is counted


def test_drive_table_shows_the_cycle_by_network():
    code, out = _run(["drive", "--chip", "nvidia-jetson-agx-orin-64gb", "--cameras", "8", "--fps", "36",
                      "--duration", "2", "--model", "yolov8n-640@camera", "--model", "bevformer-tiny@rig"])
    flat = " ".join(out.split())
    assert code == 0, out
    assert "energy per cycle (8 frames)" in flat and "idle rest of the cycle" in flat
    assert "yolov8n-640 (8 frames in 1 call)" in flat and "bevformer-tiny (1 call)" in flat
    assert "average power at the rig's rate" in flat


@pytest.mark.parametrize("weights", ["int8", "fp16"])
def test_drive_table_names_the_number_format(weights):
    """vision's title says the number format; drive's said cameras, rate, chip, duration, seed and batching only, so a
    run at --weights fp16 read like one at the int8 default."""
    code, out = _run(["drive", "--chip", "nvidia-jetson-agx-orin-64gb", "--cameras", "8", "--fps", "36",
                      "--duration", "1", "--model", "yolov8n-640@camera", "--weights", weights])
    assert code == 0, out
    assert f"on 1 x nvidia-jetson-agx-orin-64gb ({weights}, 1 s, seed 0, tick batching)" in " ".join(out.split())


def test_the_api_gives_the_rig_and_a_calls_energy_by_their_names():
    import inferchip as ic

    f = ic.frame_cost("nvidia-jetson-agx-orin-64gb", "yolov8n-640", [1, 8])
    np.testing.assert_allclose(f.call_energy_per_frame_j, f.power_w * f.latency_s / f.batch, rtol=1e-12)
    df = f.to_dataframe()
    assert df["call_energy_per_frame_j"].tolist() == pytest.approx(f.call_energy_per_frame_j.tolist())
    assert f.to_dict()["call_energy_per_frame_j"] == pytest.approx(f.call_energy_per_frame_j.tolist())
    rig = ic.drive("nvidia-jetson-agx-orin-64gb", cameras=8, fps=36, models=["yolov8n-640@camera"], deadline_ms=30,
                   duration_s=1.0)
    assert "drive" in ic.__all__ and "power_w" not in rig
    assert rig["chip_id"] == "nvidia-jetson-agx-orin-64gb" and rig["num_chips"] == 1 and rig["weights"] == "int8"
    net = rig["networks"][0]
    assert net["energy_per_cycle_j"] == pytest.approx(float(f.energy_j[1]), rel=1e-9)  # one call of 8 frames
    assert rig["rig_energy_per_cycle_j"] == pytest.approx(net["energy_per_cycle_j"] + rig["idle_energy_per_cycle_j"])
    assert rig["average_power_w"] == pytest.approx(rig["rig_energy_per_cycle_j"] * 36, rel=1e-9)
    assert rig["energy_per_frame_j"] == pytest.approx(rig["rig_energy_per_cycle_j"] / 8, rel=1e-12)


def test_the_api_rig_is_the_json_record_and_refuses_bad_input_by_name():
    import inferchip as ic
    from inferchip.errors import InvalidSettingError

    args = ["--chip", "nvidia-l4", "--cameras", "3", "--fps", "20", "--duration", "1", "--model",
            "resnet50-v1.5@camera", "--weights", "fp16", "--count", "2", "--format", "json"]
    code, text = _run(["drive", *args])
    assert code == 0, text
    rig = ic.drive("nvidia-l4", 3, 20.0, ["resnet50-v1.5@camera"], weights="fp16", count=2, duration_s=1.0)
    assert json.loads(json.dumps(rig)) == json.loads(text)
    with pytest.raises(InvalidSettingError, match="cameras"):
        ic.drive("nvidia-l4", 0, 20.0)
    with pytest.raises(InvalidSettingError, match="fps"):
        ic.drive("nvidia-l4", 2, float("nan"))


def test_drive_does_not_send_a_user_to_an_option_it_lacks(tmp_path):
    """An ONNX graph whose batch axis is sized above 1 got the note "--dim N=1 with --batch 8 gives per-image
    figures" in drive too, which has no --batch (it batches its cameras' frames, up to --max-batch)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.zeros((16, 3, 3, 3), dtype=np.float32), "w")
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 64, 64])
    g = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])], "g", [x],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w])
    path = tmp_path / "cam.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    code, out = _run(["drive", "--chip", "nvidia-l4", "--cameras", "8", "--fps", "36", "--duration", "1",
                      "--model", f"{path}@camera", "--dim", "N=8", "--format", "json"])
    assert code == 0, out
    note = next(n for n in json.loads(out)["notes"] if "has a first axis of 8" in n)
    assert "with --batch" not in note and "--dim N=1 gives per-image figures" in note and "`drive`'s cameras" in note
