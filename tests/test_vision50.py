"""Stop 50's driving-stack tour of `vision` and `drive`: one JSON name for a frame's energy, ONNX nodes that cannot
be costed named by type and node name, a dynamic shape refused with the graph input's name, and drive's deadline
verdict saying by how much it holds and what binds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

import inferchip as ic
from cli_in_process import run_json, run_main
from inferchip.cost.vision.frame import SPLIT_PARTS
from inferchip.errors import InvalidSettingError, SpecError
from inferchip.performance.vision_drive import drive
from inferchip.sim.vision.rig import RigLoad, Stage, simulate_rig
from inferchip.workload.vision.onnx_import import NAMED_NODES, import_onnx

F = TensorProto.FLOAT


def _w(name: str, *shape: int) -> onnx.TensorProto:
    return numpy_helper.from_array(np.zeros(shape, dtype=np.float32), name)


def _save(tmp_path: Path, nodes, inputs, inits=(), opsets=(("", 17),), name: str = "g.onnx") -> Path:
    outs = [helper.make_tensor_value_info(nodes[-1].output[0], F, None)]
    g = helper.make_graph(nodes, "g", inputs, outs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets])
    path = tmp_path / name
    onnx.save(m, str(path))
    return path


def _cnn(tmp_path: Path, dims=(1, 3, 32, 32)) -> Path:
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             helper.make_node("Conv", ["r1", "w2"], ["y"], name="conv2", pads=[1, 1, 1, 1])]
    return _save(tmp_path, nodes, [helper.make_tensor_value_info("x", F, list(dims))],
                 [_w("w1", 8, 3, 3, 3), _w("w2", 8, 8, 3, 3)], name="cnn.onnx")


# --- one name for a frame's energy --------------------------------------------------------------------------------

def test_vision_and_drive_name_a_frames_energy_alike():
    """vision's JSON said energy_j_per_frame where drive's (and the review's in-car rows) say energy_per_frame_j; since
    stop 51 (frame51) vision's, a call's energy over its frames, is call_energy_per_frame_j, and energy_per_frame_j is
    only drive's (per camera frame at the rig's rate, idle included: tests/test_frame51.py)."""
    v = run_json(["vision", "--chip", "nvidia-jetson-agx-orin-64gb", "--model", "resnet50-v1.5", "--batch", "1,8"])
    d = run_json(["drive", "--chip", "nvidia-jetson-agx-orin-64gb", "--cameras", "2", "--fps", "10", "--duration",
                  "1", "--model", "resnet50-v1.5@camera"])
    for p in v["points"]:
        assert "energy_j_per_frame" not in p
        assert "energy_per_frame_j" not in p
        assert p["call_energy_per_frame_j"] == pytest.approx(p["power_w"] * p["latency_s"] / p["batch"], rel=1e-9)
    assert "energy_per_frame_j" in d and "energy_j_per_frame" not in d


def test_no_shipped_file_keeps_the_old_energy_name():
    root = Path(__file__).resolve().parents[1]
    hits = [p for base in ("src", "docs/drive.md", "docs/vision.md", "README.md", "benchmarks")
            for p in ([root / base] if (root / base).is_file() else (root / base).rglob("*"))
            if p.is_file() and p.suffix in (".py", ".md", ".yaml", ".csv") and "energy_j_per_frame" in p.read_text()]
    assert hits == []


# --- ONNX nodes that cannot be costed: type and node name ---------------------------------------------------------

def test_uncosted_nodes_are_named_by_type_and_node(tmp_path):
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
             helper.make_node("MyCustomOp", ["c1"], ["cu"], name="custom1", domain="com.me"),
             helper.make_node("Conv", ["cu", "w2"], ["y"], name="conv2", pads=[1, 1, 1, 1])]
    path = _save(tmp_path, nodes, [helper.make_tensor_value_info("x", F, [1, 3, 16, 16])],
                 [_w("w1", 8, 3, 3, 3), _w("w2", 8, 8, 3, 3)], opsets=(("", 17), ("com.me", 1)))
    net = import_onnx(path)
    note = next(n for n in net.notes if n.startswith("not costed, sizes unknown"))
    assert "MyCustomOp x1 ('custom1')" in note and "Conv x1 ('conv2')" in note
    code, out = run_main(["vision", "--chip", "nvidia-l4", "--model", str(path)])
    assert code == 0 and "'custom1'" in out


def test_uncosted_sized_nodes_name_their_nodes_and_count_the_rest(tmp_path):
    """Sized but unpriced (a custom domain op with known shapes is still 'sizes unknown'; an Einsum is sized):
    the first NAMED_NODES names, then how many more."""
    n = NAMED_NODES + 2
    nodes = [helper.make_node("Conv", ["x", "w1"], ["e0"], name="conv1", pads=[1, 1, 1, 1])]
    for i in range(n):
        nodes.append(helper.make_node("Einsum", [f"e{i}", f"e{i}"], [f"e{i + 1}"], name=f"ein{i}",
                                      equation="...hw,...hw->...hw"))
    path = _save(tmp_path, nodes, [helper.make_tensor_value_info("x", F, [1, 3, 16, 16])], [_w("w1", 8, 3, 3, 3)])
    note = next(x for x in import_onnx(path).notes if x.startswith("not costed: "))
    assert f"Einsum x{n} ('ein0', 'ein1', 'ein2', +2 more)" in note


def test_a_nameless_uncosted_node_is_named_by_its_index(tmp_path):
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("Einsum", ["c1", "c1"], ["y"], equation="...hw,...hw->...hw")]
    path = _save(tmp_path, nodes, [helper.make_tensor_value_info("x", F, [1, 3, 8, 8])], [_w("w1", 4, 3, 3, 3)])
    note = next(x for x in import_onnx(path).notes if x.startswith("not costed: "))
    assert "Einsum x1 ('node 1')" in note


def test_an_all_uncosted_graph_names_its_nodes(tmp_path):
    nodes = [helper.make_node("MyOp", ["x"], ["y"], name="mine", domain="com.acme")]
    path = _save(tmp_path, nodes, [helper.make_tensor_value_info("x", F, [1, 4])], opsets=(("", 17), ("com.acme", 1)))
    with pytest.raises(SpecError, match=r"not costed: MyOp x1 \('mine'\)"):
        import_onnx(path)


# --- dynamic shapes: refused with the input's name ----------------------------------------------------------------

def test_a_dynamic_shape_is_refused_naming_the_graph_input(tmp_path):
    path = _cnn(tmp_path, ("N", 3, "H", "W"))
    with pytest.raises(InvalidSettingError, match=r"graph input 'x' \[N, 3, H, W\]: dynamic axes H, N, W have no "
                                                  r"size; give each as a keyword of load_network, here "
                                                  r"load_network\(.*, H=SIZE, N=SIZE, W=SIZE\)"):  # the API's
        import_onnx(path)
    code, out = run_main(["vision", "--chip", "nvidia-l4", "--model", str(path), "--dim", "N=1"])
    assert code == 2 and "graph input 'x' [N, 3, H, W]: dynamic axes H, W have" in out and "Traceback" not in out
    code, out = run_main(["drive", "--chip", "nvidia-l4", "--cameras", "2", "--fps", "10", "--duration", "1",
                          "--model", str(path), "--dim", "N=1"])
    assert code == 2 and "graph input 'x'" in out and "--dim H=SIZE --dim W=SIZE" in out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@example(dims=["C", "N", "C"], given_names={"N"})  # an axis named twice: the input was named twice, half-sized
@given(st.lists(st.sampled_from(["N", "C", "H", "W", 1, 3, 16]), min_size=1, max_size=4),
       st.sets(st.sampled_from(["N", "C", "H", "W"])))
def test_fuzz_dynamic_axes_either_run_or_name_the_input(tmp_path, dims, given_names):
    """Any mix of fixed and named axes on one input, any subset sized: the import runs, or refuses with an error
    that names the input and every unsized axis (never a traceback, never a silent size)."""
    path = _save(tmp_path, [helper.make_node("Relu", ["x"], ["y"], name="r")],
                 [helper.make_tensor_value_info("x", F, list(dims))])
    named = {d for d in dims if isinstance(d, str)}
    sizes = {k: 2 for k in given_names}
    try:
        import_onnx(path, sizes)
    except InvalidSettingError as exc:
        text = str(exc)
        if set(sizes) - named:
            assert "no such dynamic axis" in text
        else:
            assert f"graph input 'x' [{', '.join(map(str, dims))}]:" in text  # once, as the file writes it
            assert all(f"{m}=SIZE" in text for m in named - set(sizes)) and "--dim" not in text  # the keywords
    except SpecError as exc:  # a graph with no costed node (a lone Relu is costed; never expected here)
        pytest.fail(str(exc))
    else:
        assert named <= set(sizes) and set(sizes) <= named


# --- the deadline verdict: by how much, and what binds ------------------------------------------------------------

CHIPS = ("tesla-ai4-hw4", "tesla-ai5", "nvidia-jetson-agx-orin-64gb", "nvidia-drive-agx-thor", "nvidia-h100-sxm-80gb",
         "nvidia-l4", "untetherai-speedai240-slim", "cpu:intel-xeon-6980p", "amd-mi250x")


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(CHIPS), st.sampled_from(["resnet50-v1.5", "bevformer-tiny", "yolov8n-640", "vit-b16-224"]),
       st.lists(st.integers(1, 64), min_size=1, max_size=3, unique=True), st.integers(1, 4))
def test_fuzz_a_calls_time_split_sums_to_its_latency(chip, net, batch, count):
    """FrameCost.time_split_s: every part >= 0, the parts those of SPLIT_PARTS, summing to latency_s (a dataflow
    chip's streamed latency and a TDP-stretched call included)."""
    f = ic.frame_cost(chip, net, batch, count=count)
    assert f.time_split_s is not None and set(f.time_split_s) == set(SPLIT_PARTS)
    parts = np.array([f.time_split_s[k] for k in SPLIT_PARTS])
    assert np.all(parts >= -1e-15)
    np.testing.assert_allclose(parts.sum(axis=0), f.latency_s, rtol=1e-9)


def _stage(name: str, per_camera: bool, t_s: float, top: int) -> Stage:
    lat = np.concatenate(([0.0], t_s * np.arange(1, top + 1) ** 0.5))
    return Stage(name, per_camera, lat, np.concatenate(([0.0], np.full(top, 20.0))))


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 12), st.floats(5.0, 120.0), st.floats(0.0, 1.0), st.sampled_from(["tick", "frame"]),
       st.floats(1e-4, 0.05), st.booleans(), st.one_of(st.none(), st.floats(1.0, 200.0)))
def test_fuzz_the_rig_latency_split_sums_to_the_mean(cameras, fps, spread, batching, t_s, with_rig, deadline_ms):
    """Camera wait + queueing + work = the mean frame latency, each part >= 0; the verdict's margin is the deadline
    (the tighter of the frame period and the deadline given) less the p99."""
    stages = [_stage("det", True, t_s, cameras)] + ([_stage("bev", False, t_s, 1)] if with_rig else [])
    load = RigLoad(cameras, fps, duration_s=max(2.0, 20 / fps), phase_spread=spread, batching=batching,
                   deadline_s=None if deadline_ms is None else deadline_ms / 1e3)
    s = simulate_rig(load, tuple(stages), idle_w=5.0).summary()
    sp = s["latency_split_ms"]
    assert min(sp.values()) >= 0
    assert sum(sp.values()) == pytest.approx(s["latency_ms"]["mean"], rel=1e-6, abs=1e-9)
    v = s["deadline_verdict"]
    period_ms = 1e3 / fps
    want = min(period_ms, deadline_ms) if deadline_ms is not None else period_ms
    assert v["deadline_ms"] == pytest.approx(want)
    assert v["set_by"] == ("deadline" if deadline_ms is not None and deadline_ms < period_ms else "next_frame")
    assert v["margin_ms"] == pytest.approx(want - s["latency_ms"]["p99"])


def test_the_verdict_says_what_binds_compute_memory_or_the_camera_pipeline():
    """A BEV network on an Orin is bound by DRAM, a detector on an H100 by its compute; free-running cameras at a low
    rate wait for the tick's last camera; a rig the chip cannot keep up with is its work, not 'queueing'."""
    mem = drive("nvidia-jetson-agx-orin-64gb", 8, 10, ["bevformer-tiny@rig"], duration_s=2)
    assert mem["binds"]["part"] == "service" and mem["binds"]["by"] == "memory"
    assert mem["service_split"]["bevformer-tiny"]["memory"] > 0.5
    comp = drive("nvidia-h100-sxm-80gb", 8, 30, ["ssd-resnet50-cognata-8mp@camera"], duration_s=2)
    assert comp["binds"]["by"] == "compute" and comp["binds"]["network"] == "ssd-resnet50-cognata-8mp"
    cams = drive("nvidia-jetson-agx-orin-64gb", 8, 10, ["yolov8n-640@camera"], duration_s=5, phase_spread=1.0)
    assert cams["binds"]["part"] == "camera_wait" and "camera pipeline" in cams["binds"]["text"]
    over = drive("nvidia-jetson-agx-orin-64gb", 12, 30, ["bevformer-small@rig"], duration_s=2)
    assert over["deadline_verdict"]["margin_ms"] < 0
    assert over["binds"]["part"] == "service" and "queue grows" in over["binds"]["text"]


def test_drive_table_states_the_verdict_within_100_columns():
    code, out = run_main(["drive", "--chip", "tesla-ai4-hw4", "--cameras", "12", "--fps", "36", "--duration", "2",
                          "--model", "resnet50-v1.5@camera", "--model", "bevformer-tiny@rig", "--deadline-ms", "20"])
    assert code == 0, out
    assert "p99 against the deadline" in out and "(20.00 ms, --deadline-ms)" in out
    assert "mean latency: camera wait, queue, work" in out and "what binds" in out
    table = [line for line in out.splitlines() if line[:1] in "┌│└├"]
    assert table and max(len(line) for line in table) <= 100
    d = run_json(["drive", "--chip", "tesla-ai4-hw4", "--cameras", "12", "--fps", "36", "--duration", "2",
                  "--model", "resnet50-v1.5@camera", "--model", "bevformer-tiny@rig", "--deadline-ms", "20"])
    assert set(d["service_split"]) == {"resnet50-v1.5", "bevformer-tiny"}
    assert d["service_split"]["resnet50-v1.5"]["batch"] == 12
    assert d["binds"]["text"] and d["deadline_verdict"]["set_by"] == "deadline"


# --- vision's table and JSON say what binds each batch; the drive verdict of an uncosted graph is a floor ----------

def test_vision_points_say_what_binds_them():
    d = run_json(["vision", "--chip", "nvidia-jetson-agx-orin-64gb", "--model", "bevformer-tiny", "--batch", "1,4"])
    for p in d["points"]:
        assert sum(p["time_split_s"].values()) == pytest.approx(p["latency_s"], rel=1e-9)
        assert p["binds"]["by"] == max(p["time_split_s"], key=p["time_split_s"].get)
    assert d["points"][0]["binds"]["by"] == "memory"  # 2.2 GB a frame over LPDDR5
    code, out = run_main(["vision", "--chip", "nvidia-jetson-agx-orin-64gb", "--model", "bevformer-tiny"])
    assert code == 0 and "bound by" in out and "memory-bound" in out


def test_a_drive_verdict_on_a_graph_with_uncosted_nodes_says_it_is_a_floor(tmp_path):
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
             helper.make_node("MyCustomOp", ["c1"], ["y"], name="custom1", domain="com.me")]
    path = _save(tmp_path, nodes, [helper.make_tensor_value_info("x", F, [1, 3, 64, 64])], [_w("w1", 8, 3, 3, 3)],
                 opsets=(("", 17), ("com.me", 1)))
    d = run_json(["drive", "--chip", "tesla-ai4-hw4", "--cameras", "8", "--fps", "30", "--duration", "1",
                  "--model", f"{path}@camera"])
    assert d["deadline_verdict"]["floor_of"] == [str(path)] and "a floor" in d["binds"]["text"]
    clean = run_json(["drive", "--chip", "tesla-ai4-hw4", "--cameras", "8", "--fps", "30", "--duration", "1",
                      "--model", "yolov8n-640@camera"])
    assert clean["deadline_verdict"]["floor_of"] == [] and "a floor" not in clean["binds"]["text"]


@pytest.mark.parametrize(("args", "shown"), [
    (["--fps", "0"], "above 0 up to 10,000"),
    (["--fps", "8", "--deadline-ms", "-1"], "above 0 up to 1,000,000,000"),
    (["--fps", "8", "--duration", "0"], "from 0.001 up to 86,400"),
])
def test_drive_bounds_are_written_with_separators_not_exponents(args, shown):
    code, out = run_main(["drive", "--chip", "tesla-ai4-hw4", "--cameras", "8", *args])
    assert code == 2 and shown in out and "e+" not in out


def test_a_large_system_is_titled_with_separators():
    code, out = run_main(["vision", "--chip", "amd-mi250x", "--model", "resnet50-v1.5", "--count", "4096"])
    flat = " ".join(out.split())
    assert code == 0 and "4,096 x amd-mi250x (8,192 runtime devices)" in flat and "all 8,192 devices" in flat
    assert max(len(line) for line in out.splitlines() if line[:1] in "┏┃┡│└") <= 100


def test_drive_table_of_three_networks_fits_100_columns():
    """The networks row named all of them on one line: 133 columns in a pipe for a detector, a BEV network and a VLA."""
    code, out = run_main(["drive", "--chip", "tesla-ai5", "--cameras", "12", "--fps", "60", "--duration", "1",
                          "--model", "ssd-resnet50-cognata-8mp@camera", "--model", "bevformer-tiny@rig",
                          "--model", "vla-vitb16-qwen2.5-0.5b@rig"])
    assert code == 0, out
    table = [line for line in out.splitlines() if line[:1] in "┌│└├"]
    assert max(len(line) for line in table) <= 100
    assert all(n in out for n in ("ssd-resnet50-cognata-8mp (camera)", "bevformer-tiny (rig)",
                                  "vla-vitb16-qwen2.5-0.5b (rig)"))


def test_vision_says_when_a_call_leaves_chips_idle():
    code, out = run_main(["vision", "--chip", "nvidia-jetson-agx-orin-64gb", "--model", "yolov8n-640", "--count", "4",
                          "--batch", "1,2,4"])
    flat = " ".join(out.split())
    assert code == 0 and "batch 1, 2: fewer frames than the 4 chips, so 3, 2 of them sit idle" in flat
    d = run_json(["vision", "--chip", "amd-mi250x", "--model", "yolov8n-640", "--batch", "1,2"])
    assert any("batch 1: fewer frames than the 2 devices, so 1 of them sit idle" in n for n in d["notes"])
