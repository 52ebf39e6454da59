"""A new user's ONNX graphs, HF configs and explore runs at stop 44 (branch newuser44), each defect with its fix:

* a depthwise ConvTranspose (``group`` = input channels, one output channel per group) was priced from its
  output, stride^2 times its multiply-adds (x4 at stride 2);
* a graph whose weights are ``Constant`` nodes (tf2onnx, torch.onnx without constant folding) was read as
  activation products: 0 parameters, and the weights counted as traffic per frame (x batch);
* a ``config.json`` without ``num_key_value_heads`` was read as multi-head attention with no word (the KV cache
  x4 for a GQA-8 model of 32 heads);
* an explore space with ``memory_units: 0`` printed five numpy RuntimeWarnings and scored the driving rig as
  fitting with an infinite latency;
* ``explore --target --beat`` printed the target's and the rival's figures with no unit (tokens/s per chip,
  USD per million tokens, USD, tokens/s per W in one column) and in exponent form (1.631e+04).

Every expectation is counted by hand in the test. Graphs are built with ``onnx.helper`` (nothing downloaded).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from cli_in_process import run_main
from inferchip.workload.vision.network import load_network

F = TensorProto.FLOAT
MODELS = Path(__file__).resolve().parents[1] / "src" / "inferchip" / "catalog" / "models"


def _w(name: str, *shape: int) -> onnx.TensorProto:
    return numpy_helper.from_array(np.ones(shape, dtype=np.float32), name)


def _save(path: Path, nodes, inputs, inits) -> Path:
    g = helper.make_graph(nodes, "g", inputs, [helper.make_tensor_value_info(nodes[-1].output[0], F, None)], inits)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


# --- ONNX: depthwise ConvTranspose ------------------------------------------------------------------------------

@pytest.mark.parametrize("stride", [1, 2, 3])
def test_depthwise_conv_transpose_is_priced_from_its_input(tmp_path, stride):
    # 64 channels of 28 x 28, one 2 x 2 kernel each (group 64, weight [64, 1, 2, 2]): each input element is
    # scattered through its 4 taps: 64 * 28 * 28 * 4 = 200,704 multiply-adds = 401,408 ops, at any stride
    # (before the fix: from the output, 64 * (28 s)^2 * 4 * 2 = 401,408 s^2)
    x = helper.make_tensor_value_info("x", F, [1, 64, 28, 28])
    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], strides=[stride, stride], kernel_shape=[2, 2],
                            group=64)
    net = load_network(str(_save(tmp_path / "dw.onnx", [node], [x], [_w("w", 64, 1, 2, 2)])))
    (layer,) = net.layers
    assert layer.op == "depthwise"
    assert layer.vector_ops == 2 * 64 * 28 * 28 * 4
    assert net.flop_per_frame == pytest.approx(2 * 64 * 28 * 28 * 4)


def test_depthwise_conv_is_still_priced_from_its_output(tmp_path):
    # a forward depthwise conv, 3 x 3 at stride 2 with pads 1: 64 x 14 x 14 outputs x 9 taps = 112,896 MACs
    x = helper.make_tensor_value_info("x", F, [1, 64, 28, 28])
    node = helper.make_node("Conv", ["x", "w"], ["y"], strides=[2, 2], pads=[1, 1, 1, 1], group=64)
    (layer,) = load_network(str(_save(tmp_path / "dc.onnx", [node], [x], [_w("w", 64, 1, 3, 3)]))).layers
    assert layer.vector_ops == 2 * 64 * 14 * 14 * 9


# --- ONNX: weights held in Constant nodes ------------------------------------------------------------------------

def _fc(tmp_path: Path, constant: bool) -> Path:
    x = helper.make_tensor_value_info("x", F, [1, 64, 256])
    if constant:
        value = numpy_helper.from_array(np.ones((256, 512), dtype=np.float32), "wc")
        nodes = [helper.make_node("Constant", [], ["w"], value=value), helper.make_node("MatMul", ["x", "w"], ["y"])]
        return _save(tmp_path / "const.onnx", nodes, [x], [])
    return _save(tmp_path / "init.onnx", [helper.make_node("MatMul", ["x", "w"], ["y"])], [x], [_w("w", 256, 512)])


def test_constant_node_weights_are_weights(tmp_path):
    const, init = load_network(str(_fc(tmp_path, True))), load_network(str(_fc(tmp_path, False)))
    (c,) = [x for x in const.layers]
    assert c.op == "matmul" and c.param_elems == 256 * 512 and c.weight_elems == 256 * 512
    assert c.in_elems == 64 * 256  # the activation only: the weight is not read per frame as an input
    assert const.params == init.params == 256 * 512
    assert const.flop_per_frame == init.flop_per_frame == 2 * 64 * 256 * 512


def test_constant_node_weights_price_as_initializers_through_the_cli(tmp_path):
    answers = []
    for constant in (True, False):
        code, out = run_main(["vision", "--chip", "nvidia-h100-sxm-80gb", "--model", str(_fc(tmp_path, constant)),
                              "--batch", "1,64", "--format", "json"])
        assert code == 0, out
        answers.append(json.loads(out))
    const, init = answers
    assert const["params"] == init["params"] == 256 * 512
    assert const["dram_bytes_per_frame"] == init["dram_bytes_per_frame"]
    assert [p["latency_s"] for p in const["points"]] == pytest.approx([p["latency_s"] for p in init["points"]])


# --- HF config without num_key_value_heads ------------------------------------------------------------------------

def _config(tmp_path: Path, drop: str | None) -> Path:
    cfg = {k: v for k, v in json.loads((MODELS / "mistralai__Mistral-7B-v0.1.json").read_text()).items()
           if not k.startswith("_") and k != drop}
    path = tmp_path / f"cfg-{drop}.json"
    path.write_text(json.dumps(cfg))
    return path


def test_a_config_without_kv_heads_says_it_is_read_as_multi_head(tmp_path):
    from inferchip.catalog.models import load_model

    spec = load_model(str(_config(tmp_path, "num_key_value_heads")))
    assert spec.num_kv_heads == spec.num_heads == 32
    said = [d for d in spec.doubts if "num_key_value_heads is not stated" in d]
    assert said and "32 KV heads" in said[0]
    stated = load_model(str(_config(tmp_path, None)))
    assert stated.num_kv_heads == 8 and not [d for d in stated.doubts if "num_key_value_heads" in d]


def test_the_kv_heads_note_reaches_predict(tmp_path):
    code, out = run_main(["predict", "--chip", "nvidia-h100-sxm-80gb", "--model",
                          str(_config(tmp_path, "num_key_value_heads")), "--batch", "1", "--input-tokens", "1000",
                          "--output-tokens", "100", "--format", "json"])
    assert code == 0, out
    notes = json.loads(out)["notes"]
    assert any("num_key_value_heads is not stated" in n for n in notes)


@pytest.mark.parametrize("name", sorted(p.name for p in MODELS.glob("*.json")))
def test_no_bundled_config_gets_the_kv_heads_note(name):
    from inferchip.catalog.models import load_model

    spec = load_model(str(MODELS / name))
    assert not [d for d in spec.doubts if "num_key_value_heads is not stated" in d]


# --- explore: a design without DRAM --------------------------------------------------------------------------------

def test_a_design_without_dram_is_scored_without_warnings_and_does_not_run_the_rig():
    from inferchip.catalog.assumptions import load_assumptions
    from inferchip.explore.designs import designs_from_index
    from inferchip.explore.evaluate import DRIVING, default_suite, evaluate
    from inferchip.spec.design_space import DesignSpace

    sp = DesignSpace.from_dict({"parameters": {"memory_units": [0, 4], "sram_mb": [16, 256]}})
    ch = designs_from_index(sp, sp.grid(), load_assumptions())  # C order: sram_mb before memory_units
    suite = default_suite(["meta-llama/Llama-3.1-8B-Instruct", DRIVING])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # before the fix: divide by zero / invalid value RuntimeWarnings
        m = evaluate(suite, ch)
    no_dram = ch.params["memory_units"].astype(float) == 0
    assert sorted(no_dram.tolist()) == [False, False, True, True]
    rig = len(suite.workload_ids) - 1
    assert np.all(m["fits"][no_dram, rig] == 0) and np.all(np.isinf(m["frame_latency_s"][no_dram, rig]))
    assert np.all(m["fits"][no_dram, :rig] == 0) and np.all(m["tokens_per_s_per_chip"][no_dram, :rig] == 0)
    assert np.all(m["fits"][~no_dram, rig] == 1) and np.all(np.isfinite(m["frame_latency_s"][~no_dram, rig]))


# --- explore --target --beat: units ----------------------------------------------------------------------------

def test_every_claim_objective_names_its_unit():
    from inferchip.explore.claim_parts import CLAIM_OBJECTIVES

    units = {k: o.unit for k, o in CLAIM_OBJECTIVES.items()}
    assert units == {"per_chip": "output tokens/s per chip", "performance_per_watt": "output tokens/s per W of TDP",
                     "equal_money": "USD per million output tokens", "lowest_cost_silicon": "USD per chip",
                     "latency_interactive": "output tokens/s per chip"}


def test_beat_prints_and_writes_each_figure_with_its_unit(tmp_path):
    code, out = run_main(["explore", "--target", "tesla-ai5", "--beat", "nvidia-l4", "--models",
                          "meta-llama/Llama-3.1-8B-Instruct", "--out", str(tmp_path / "o")])
    assert code == 0, out
    assert "unit" in out and "USD per" in out and "e+0" not in out  # the table may wrap a unit over two lines
    res = json.loads((tmp_path / "o" / "beat.json").read_text())
    from inferchip.explore.claim_parts import CLAIM_OBJECTIVES

    assert res["units"] == {k: CLAIM_OBJECTIVES[k].unit for k in res["units"]} and res["units"]
    assert all(c["unit"] == CLAIM_OBJECTIVES[c["objective"]].unit for c in res["changes"])


@pytest.mark.parametrize(("x", "shown"), [(16311.096, "16,311"), (1000.0, "1,000"), (687.53, "687.5"),
                                          (0.012749, "0.01275"), (14.174, "14.17")])
def test_beat_figures_read_with_separators_not_exponents(x, shown):
    from inferchip.interfaces.cmd_explore import _figure

    assert _figure(x) == shown


# --- vision/drive with several chips: whose power ---------------------------------------------------------------

def test_vision_power_on_several_chips_is_labelled_and_split_per_chip():
    code, out = run_main(["vision", "--chip", "nvidia-l4", "--model", "resnet50-v1.5", "--batch", "8", "--count", "4",
                          "--format", "json"])
    assert code == 0, out
    (p,) = json.loads(out)["points"]
    assert p["power_w_per_chip"] == pytest.approx(p["power_w"] / 4)
    code, out = run_main(["vision", "--chip", "nvidia-l4", "--model", "resnet50-v1.5", "--batch", "8", "--count", "4"])
    assert code == 0 and "all 4 chips" in out
    code, out = run_main(["vision", "--chip", "nvidia-l4", "--model", "resnet50-v1.5", "--batch", "8"])
    assert code == 0 and "all 1" not in out


def test_drive_power_on_several_chips_is_labelled():
    base = ["drive", "--chip", "tesla-ai4-hw4", "--cameras", "8", "--fps", "36", "--duration", "1",
            "--power-budget-w", "100"]
    code, out = run_main([*base, "--count", "2"])
    assert code == 0 and "average power (all 2 chips)" in out and "power budget (all 2 chips)" in out
    code, out = run_main(base)
    assert code == 0 and "(all" not in out


# --- drive: several ONNX graphs with different dynamic axes -----------------------------------------------------

def _dyn_graphs(tmp_path: Path) -> tuple[Path, Path]:
    cnn = _save(tmp_path / "cnn.onnx", [helper.make_node("Conv", ["x", "w"], ["y"], strides=[2, 2])],
                [helper.make_tensor_value_info("x", F, ["N", 3, 64, 64])], [_w("w", 8, 3, 3, 3)])
    fc = _save(tmp_path / "fc.onnx", [helper.make_node("MatMul", ["t", "w"], ["y"])],
               [helper.make_tensor_value_info("t", F, ["N", "S", 64])], [_w("w", 64, 64)])
    return cnn, fc


def test_drive_sizes_each_onnx_graph_from_its_own_axes(tmp_path):
    cnn, fc = _dyn_graphs(tmp_path)
    base = ["drive", "--chip", "tesla-ai4-hw4", "--cameras", "2", "--fps", "10", "--duration", "1",
            "--model", f"{cnn}@camera", "--model", f"{fc}@rig", "--format", "json"]
    code, out = run_main([*base, "--dim", "N=1", "--dim", "S=16"])  # before: 'cnn.onnx has no such dynamic axis S'
    assert code == 0, out
    assert [n["name"] for n in json.loads(out)["networks"]] == [str(cnn), str(fc)]
    code, out = run_main([*base, "--dim", "N=1", "--dim", "Q=16"])
    assert code == 2 and "--dim Q: no --model ONNX file has such a dynamic axis" in out
    assert f"{cnn}: N" in out and f"{fc}: N, S" in out
    code, out = run_main([*base, "--dim", "N=1"])
    assert code == 2 and "dynamic axis S has no size" in out


# --- ONNX: a QDQ graph's weights (DequantizeLinear of an int8 initializer) -------------------------------------

def _qdq(tmp_path: Path, quantized: bool, kind: str) -> Path:
    s = numpy_helper.from_array(np.array(0.1, np.float32), "s")
    z = numpy_helper.from_array(np.array(0, np.int8), "z")
    if kind == "conv":
        x, shape = helper.make_tensor_value_info("x", F, [1, 64, 56, 56]), (64, 64, 3, 3)
        layer = helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])
    else:
        x, shape = helper.make_tensor_value_info("x", F, [1, 64, 256]), (256, 512)
        layer = helper.make_node("MatMul", ["x", "w"], ["y"])
    if not quantized:
        return _save(tmp_path / f"f_{kind}.onnx", [layer], [x], [_w("w", *shape)])
    wq = numpy_helper.from_array(np.ones(shape, np.int8), "wq")
    dq = helper.make_node("DequantizeLinear", ["wq", "s", "z"], ["w"])
    return _save(tmp_path / f"q_{kind}.onnx", [dq, layer], [x], [wq, s, z])


@pytest.mark.parametrize("kind", ["conv", "matmul"])
def test_a_qdq_weight_is_folded_into_its_layer(tmp_path, kind):
    """Before: the weight's DequantizeLinear was an elementwise layer run per frame (its weight read and written per
    frame, x batch), it took the place of the first layer (so the conv's graph input was not read from DRAM: 237,568
    bytes against 401,408), and a MatMul reading its output was an activation product. Now the constant node is
    folded, as onnxruntime and TensorRT fold it, and the QDQ graph costs what the float graph costs."""
    q, f = load_network(str(_qdq(tmp_path, True, kind))), load_network(str(_qdq(tmp_path, False, kind)))
    assert [x.op for x in q.layers] == [x.op for x in f.layers] == (["conv"] if kind == "conv" else ["matmul"])
    assert q.params == f.params and q.flop_per_frame == f.flop_per_frame
    assert "1 folded (constants only" in q.notes[0]
    answers = []
    for path in (_qdq(tmp_path, True, kind), _qdq(tmp_path, False, kind)):
        code, out = run_main(["vision", "--chip", "nvidia-jetson-agx-orin-64gb", "--model", str(path), "--batch",
                              "1,16", "--format", "json"])
        assert code == 0, out
        answers.append(json.loads(out))
    assert answers[0]["dram_bytes_per_frame"] == answers[1]["dram_bytes_per_frame"]
    q_lat, f_lat = ([p["latency_s"] for p in a["points"]] for a in answers)
    assert q_lat == pytest.approx(f_lat)


def test_a_node_reading_an_activation_is_never_folded(tmp_path):
    # Reshape(activation, constant shape) stays what it was (free), and Resize(activation, constant scales) is costed
    x = helper.make_tensor_value_info("x", F, [1, 8, 16, 16])
    scales = numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales")
    net = load_network(str(_save(tmp_path / "r.onnx", [helper.make_node("Resize", ["x", "", "scales"], ["y"])], [x],
                                 [scales])))
    assert [x.op for x in net.layers] == ["resize"] and "folded" not in net.notes[0]


# --- vision on a chip that states no SRAM ------------------------------------------------------------------------

# B300 states an estimate since catalog46, and every catalogue chip since sram47 (Rubin, MI455X, Tesla AI4 / AI5 / AI6):
# a user's copy of a catalogue chip with its sram section taken out is the chip that states none
@pytest.mark.parametrize("chip", ["nvidia-rubin-288gb", "tesla-ai4-hw4", "tesla-ai5"])
def test_a_chip_without_sram_says_its_traffic_is_all_dram(chip, tmp_path):
    """Before: a chip whose YAML states no sram.capacity_mb was priced with no on-chip memory at all, with no word
    (YOLOv8n on an H200: 41.1 MB of DRAM traffic per frame, against 1.23 MB on the H100 of the same GH100 die)."""
    from chip_yaml import catalogue_raw, write_chip
    from inferchip.performance.vision import frame_cost

    raw = catalogue_raw(chip)
    raw.pop("sram")
    f = frame_cost(write_chip(tmp_path, raw, f"{chip}-no-sram"), "yolov8n-640", 1)
    assert any("states no on-chip SRAM (sram.capacity_mb)" in n for n in f.notes)
    said = next(n for n in f.notes if "states no on-chip SRAM" in n)
    assert chip not in said  # a sentence names the chip by its catalogue name, not its id (the review's report)
    h100 = frame_cost("nvidia-h100-sxm-80gb", "yolov8n-640", 1)
    assert not any("states no on-chip SRAM" in n for n in h100.notes)


@pytest.mark.parametrize("chip", ["nvidia-h200-sxm-141gb", "nvidia-h100-nvl-94gb"])
def test_the_gh100_parts_state_the_h100s_sram(chip):
    """H200 and H100 NVL carry the H100 SXM5's GH100 with 132 SMs: the same L2 and shared memory. Before, their YAMLs
    stated none and YOLOv8n read 41.1 MB of DRAM per frame on them, 1.23 MB on the H100."""
    from inferchip.catalog.chips import load_chip
    from inferchip.performance.vision import frame_cost

    assert load_chip(chip).sram.capacity_mb == load_chip("nvidia-h100-sxm-80gb").sram.capacity_mb
    f, h100 = frame_cost(chip, "yolov8n-640", 1), frame_cost("nvidia-h100-sxm-80gb", "yolov8n-640", 1)
    assert f.bytes_per_frame == h100.bytes_per_frame == 1_228_800  # 640 x 640 x 3 int8 bytes: the input frame
    assert not any("states no on-chip SRAM" in n for n in f.notes)


# --- explore: how many designs are feasible, and why none -------------------------------------------------------

def _space(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "space.yaml"
    path.write_text(text)
    return path


def test_explore_says_when_no_design_is_feasible_and_why(tmp_path):
    """Before: a space whose every design needs more chiplets than max_dies printed '2 designs ... rows' and a Pareto
    page with an empty front, with no word."""
    space = _space(tmp_path, "name: big\nmax_dies: 1\nparameters:\n  matrix_units: [65536]\n"
                             "  matrix_unit_dim: [128, 256]\n")
    code, out = run_main(["explore", str(space), "--out", str(tmp_path / "run"), "--budget", "2", "--workers", "1",
                          "--no-page"])
    assert code == 0, out
    assert "feasible: 0 of 2 designs; on the Pareto front: 0" in out
    assert "No design is feasible" in out and "max_dies 1" in out and "chiplets" in out


def test_explore_counts_the_feasible_designs_and_the_front(tmp_path):
    space = _space(tmp_path, "name: small\nparameters:\n  memory_units: [2, 4]\n")
    code, out = run_main(["explore", str(space), "--out", str(tmp_path / "run"), "--budget", "2", "--workers", "1",
                          "--no-page"])
    assert code == 0, out
    assert "feasible: 2 of 2 designs; on the Pareto front:" in out and "No design is feasible" not in out


# --- HF config: torch_dtype and dtype that disagree --------------------------------------------------------------

def _dtypes(tmp_path: Path, **keys: str) -> Path:
    cfg = {k: v for k, v in json.loads((MODELS / "mistralai__Mistral-7B-v0.1.json").read_text()).items()
           if not k.startswith("_") and k != "torch_dtype"} | keys
    path = tmp_path / "dtypes.json"
    path.write_text(json.dumps(cfg))
    return path


def test_torch_dtype_and_dtype_that_disagree_are_refused(tmp_path):
    """Before: torch_dtype float16 beside dtype bfloat16 (newer transformers write dtype) priced fp16, no word."""
    args = ["predict", "--chip", "nvidia-h100-sxm-80gb", "--batch", "1", "--input-tokens", "100",
            "--output-tokens", "10", "--format", "json"]
    code, out = run_main([*args, "--model", str(_dtypes(tmp_path, torch_dtype="float16", dtype="bfloat16"))])
    assert code == 2 and "torch_dtype 'float16' and dtype 'bfloat16' disagree" in out and "--weights" in out
    code, out = run_main([*args, "--model", str(_dtypes(tmp_path, torch_dtype="float16", dtype="bfloat16")),
                          "--weights", "bf16"])
    assert code == 0 and json.loads(out)["weights"] == "bf16"
    for keys in ({"torch_dtype": "float16", "dtype": "float16"}, {"dtype": "float16"}):
        code, out = run_main([*args, "--model", str(_dtypes(tmp_path, **keys))])
        assert code == 0 and json.loads(out)["weights"] == "fp16", out


# --- serve/curve JSON: the layout the run simulated ---------------------------------------------------------------

def test_serve_and_curve_json_name_the_layout_they_ran():
    """Before: the text's title named the searched layout (tp=2 pp=1 ep=2, 4 replicas), the JSON had only
    num_replicas: an analyst reading the JSON could not tell the layout."""
    base = ["--chip", "nvidia-l4", "--count", "2", "--model", "meta-llama/Llama-3.2-1B", "--input-tokens", "256",
            "--output-tokens", "64", "--format", "json"]

    def layout(d: dict) -> dict:
        return {k: d[k] for k in ("tp", "pp", "ep", "attn_dp", "num_replicas")}

    code, out = run_main(["serve", *base, "--concurrency", "4", "--requests", "40"])
    assert code == 0, out
    d = json.loads(out)
    assert d["tp"] * d["pp"] * d["num_replicas"] == d["num_chips"] == 2
    code, out = run_main(["serve", *base, "--concurrency", "4", "--requests", "40", "--tp", "2"])
    assert code == 0 and layout(json.loads(out)) == {"tp": 2, "pp": 1, "ep": 1, "attn_dp": False, "num_replicas": 1}
    code, out = run_main(["curve", *base, "--tp", "2"])
    assert code == 0 and layout(json.loads(out)) == {"tp": 2, "pp": 1, "ep": 1, "attn_dp": False, "num_replicas": 1}
    code, out = run_main(["serve", *base[:-2], "--concurrency", "4", "--requests", "40"])
    assert code == 0 and "other" not in out  # the text shows the layout in its title, not as an unknown figure


# --- ONNX: Einsum ------------------------------------------------------------------------------------------------

def _einsum(tmp_path: Path, equation: str, a: list[int], b: list[int], weight: bool = False) -> Path:
    inputs = [helper.make_tensor_value_info("a", F, a)]
    inits = [_w("b", *b)] if weight else []
    if not weight:
        inputs.append(helper.make_tensor_value_info("b", F, b))
    node = helper.make_node("Einsum", ["a", "b"], ["y"], equation=equation)
    return _save(tmp_path / "e.onnx", [node], inputs, inits)


def test_an_attention_einsum_is_costed_as_its_product(tmp_path):
    """Before: Einsum was never costed ('no node of the graph does any work that can be costed')."""
    net = load_network(str(_einsum(tmp_path, "bhqd,bhkd->bhqk", [1, 8, 64, 32], [1, 8, 64, 32])))
    (layer,) = net.layers
    assert layer.op == "attention"
    assert net.flop_per_frame == 2 * 8 * 64 * 64 * 32  # groups b*h, q x d times d x k


def test_an_einsum_that_contracts_nothing_is_an_elementwise_product(tmp_path):
    net = load_network(str(_einsum(tmp_path, "bchw,bchw->bchw", [1, 4, 32, 32], [1, 4, 32, 32])))
    (layer,) = net.layers
    assert layer.op == "elementwise" and layer.vector_ops == 4 * 32 * 32  # one multiply per output element


def test_an_einsum_with_a_weight_prices_as_the_matmul_it_is(tmp_path):
    e = load_network(str(_einsum(tmp_path, "bsd,de->bse", [1, 64, 256], [256, 512], weight=True)))
    m = load_network(str(_fc(tmp_path, False)))  # MatMul [1, 64, 256] x [256, 512] with an initializer
    (le,), (lm,) = e.layers, m.layers
    assert (le.op, le.m, le.k, le.n, le.weight_elems) == (lm.op, lm.m, lm.k, lm.n, lm.weight_elems)
    assert e.params == m.params == 256 * 512 and e.flop_per_frame == m.flop_per_frame


@pytest.mark.parametrize(("equation", "a", "b"), [("...d,...d->...", [4, 8], [4, 8]), ("ii,ij->j", [8, 8], [8, 4]),
                                                  ("ab,bc->c", [2, 3], [3, 5])])
def test_an_einsum_outside_that_reading_stays_uncosted_and_named(tmp_path, equation, a, b):
    path = _einsum(tmp_path, equation, a, b)
    code, out = run_main(["vision", "--chip", "nvidia-l4", "--model", str(path)])
    assert code == 2 and "not costed: Einsum x1" in out
