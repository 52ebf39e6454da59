"""tools/vision/bench_ort_gridsample.py: the GridSample graph it times is the node the cost model prices
(cost/vision/ort_gridsample.py), and bad input is refused."""

from __future__ import annotations

import onnx
import pytest

from conftest import load_tool

bench = load_tool("bench_ort_gridsample")


@pytest.mark.parametrize("name", sorted(bench.SHAPES))
def test_the_timed_graph_is_one_valid_bilinear_gridsample(name):
    value, grid = bench.SHAPES[name]
    model = onnx.load_from_string(bench.gridsample_model(value, grid))
    onnx.checker.check_model(model)
    (node,) = model.graph.node
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    assert node.op_type == "GridSample" and attrs == {"mode": b"bilinear", "padding_mode": b"zeros",
                                                      "align_corners": 0}
    assert value[0] == grid[0] and grid[-1] == 2  # one grid per value map, (x, y) pairs


def test_the_cross_attention_shape_is_six_cameras_of_eight_heads():
    value, grid = bench.SHAPES["spatial cross-attention"]
    assert value[:2] == (6 * 8, 256 // 8) and grid[1] == 50 * 50  # BEVFormer-tiny: 8 heads of 256, BEV 50 x 50


def test_a_clock_that_is_not_positive_is_refused(capsys):
    with pytest.raises(SystemExit):
        bench.main(["--clock-ghz", "0"])
    assert "--clock-ghz" in capsys.readouterr().err
