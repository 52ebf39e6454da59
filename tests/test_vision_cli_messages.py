"""What a new user of ``inferchip vision`` and ``inferchip drive`` reads: notes the cost model makes reach the
drive output, an unknown ``@role`` is named, an HTML plot is never written under another suffix, the
listing an unknown network points to exists, and small graphs do not show as 0.0 GFLOP."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from cli_in_process import run_main
from inferchip.interfaces.fmt import sig

F = TensorProto.FLOAT
DRIVE = ["drive", "--chip", "nvidia-jetson-agx-orin-64gb", "--cameras", "2", "--fps", "10", "--duration", "1"]


def _graph_with_einsum(tmp_path: Path) -> Path:
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"]),
             helper.make_node("Einsum", ["c", "c"], ["e"], equation="...hw,...hw->...hw")]  # outside what is costed
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", F, [1, 4, 32, 32])],
                          [helper.make_tensor_value_info("e", F, None)],
                          [numpy_helper.from_array(np.zeros((4, 4, 1, 1), np.float32), "w")])
    path = tmp_path / "einsum.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def test_drive_reports_the_nodes_it_could_not_cost(tmp_path):
    path = _graph_with_einsum(tmp_path)
    code, text = run_main([*DRIVE, "--model", f"{path}@camera", "--format", "json"])
    assert code == 0, text
    notes = json.loads(text)["notes"]
    assert any("einsum.onnx" in n and "not costed: Einsum x1" in n for n in notes), notes


def test_drive_reports_a_precision_fallback():
    """Orin has no fp4 matrix unit: the cost model computes at another format and drive says so."""
    code, text = run_main([*DRIVE, "--model", "resnet50-v1.5", "--weights", "fp4", "--format", "json"])
    assert code == 0, text
    assert any("no fp4 matrix peak" in n for n in json.loads(text)["notes"])


@pytest.mark.parametrize("model", ["resnet50-v1.5@cam", "resnet50-v1.5@foo", "bevformer-tiny@RIG"])
def test_drive_unknown_role_is_named(model):
    code, text = run_main([*DRIVE, "--model", model])
    assert code == 2 and "unknown role" in text and "@camera, @rig" in text, text


CURVE = ["curve", "--chip", "nvidia-l4", "--model", "meta-llama/Llama-3.1-8B-Instruct"]


@pytest.mark.parametrize("cmd", [DRIVE, CURVE])
@pytest.mark.parametrize("name", ["c.png", "c.svg", "c"])
def test_plot_refuses_a_name_that_is_not_html(tmp_path, cmd, name):
    target = tmp_path / name
    code, text = run_main([*cmd, "--plot", str(target)])
    assert code == 2 and "ending in .html" in text and not target.exists(), text


def test_unknown_network_points_to_a_command_that_exists():
    code, text = run_main(["vision", "--chip", "nvidia-l4", "--model", "resnet-50"])
    assert code == 2 and "See `inferchip models`" in text, text
    listed, _ = run_main(["models"])
    assert listed == 0
    code, text = run_main(["vision", "--chip", "nvidia-l4", "--model", "missing-net.yaml"])
    assert code == 2 and "no such network YAML file" in text, text


def test_vision_title_shows_small_work_with_significant_digits(tmp_path):
    code, text = run_main(["vision", "--chip", "nvidia-l4", "--model", str(_graph_with_einsum(tmp_path))])
    assert code == 0, text
    # 2 x (32 x 32 positions x 4 x 4 channels) matrix FLOP + 4,096 output elements' vector ops = 36,864
    assert "0.0 GFLOP" not in text and "0.0000369 GFLOP" in text


@given(st.floats(1e-12, 1e12))
def test_sig_keeps_three_significant_figures(x):
    text = sig(x)
    assert "e" not in text
    assert abs(float(text.replace(",", "")) / x - 1) <= 0.005 + 1e-12


@pytest.mark.parametrize("args, want", [
    (["--cameras", "1000", "--fps", "10000", "--duration", "10"], "to at most 5 s at 1000 cameras x 10000 fps"),
    (["--cameras", "10", "--fps", "0.5", "--duration", "1"], "run at least 1/fps = 2 s"),
])
def test_drive_duration_limits_name_the_option(args, want):
    code, text = run_main(["drive", "--chip", "nvidia-l4", *args])
    assert code == 2 and "--duration" in text and "duration_s" not in text and want in text, text  # as typed


def test_chip_without_tdp_says_what_the_power_is():
    """A chip with no published TDP still gets a dynamic-energy power figure: the note says that, not that
    power is unavailable beside a power column."""
    from inferchip.catalog.chips import load_chip
    from inferchip.performance.vision import frame_cost

    spec = load_chip("nvidia-drive-agx-thor")
    assert spec.power.tdp_w is None
    f = frame_cost(spec, "resnet50-v1.5", np.array([1.0]), weights="fp8")
    assert np.all(f.power_w > 0)
    assert not any("unavailable" in n for n in f.notes)
    assert any("publishes no TDP: power and energy are the network's dynamic energy only" in n for n in f.notes)


@pytest.mark.parametrize("batch", ["1,,2", ",8", "8,", " , "])
def test_vision_batch_list_with_an_empty_item_is_refused(batch):
    """`--batch 1,,2` is a typo, not the list 1,2: it is refused naming the option and the value."""
    code, text = run_main(["vision", "--chip", "nvidia-l4", "--model", "resnet50-v1.5", "--batch", batch])
    assert code == 2, text
    assert "--batch" in text and "empty item" in text


def test_vision_batch_list_of_whole_numbers_still_runs():
    code, text = run_main(["vision", "--chip", "nvidia-l4", "--model", "resnet50-v1.5", "--batch", "1, 8"])
    assert code == 0, text
