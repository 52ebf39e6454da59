"""A new user's tour at stop 47 (branch newuser47): explore, the HTML pages, ONNX and the driving rig, a chip YAML,
a Hugging Face config.json and validate on a user's own case file. Each defect found, with the test that fails on
main 25710f1; then a fuzz of those commands' inputs: generated bad files and options, each answered by one ``error:``
line naming the field (exit 2, no traceback), with no output file left behind."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from chip_yaml import catalogue_raw, write_chip
from inferchip.interfaces.cli import main

CATALOG = Path(__file__).resolve().parents[1] / "src" / "inferchip" / "catalog"
H100_YAML = CATALOG / "chips" / "nvidia-h100-sxm-80gb.yaml"
LLAMA_8B = CATALOG / "models" / "meta-llama__Llama-3.1-8B.json"
MIXTRAL = CATALOG / "models" / "mistralai__Mixtral-8x7B-v0.1.json"
DSV3 = CATALOG / "models" / "deepseek-ai__DeepSeek-V3.json"
CASES_HEADER = (CATALOG / "validation_cases.csv").read_text().splitlines()[0]
GOOD_CASE = ("my1,paper,me,nvidia-h100-sxm-80gb,1,vLLM 0.6,meta-llama/Llama-3.1-8B,bf16,bf16,,1,1,,fixed_length,"
             "1024,128,,output_tokens_per_s_total,2500,tokens/s,")


def run(*args: str) -> tuple[int, str, str]:
    """``inferchip ARGS`` through the CLI's own entry point (its error boundary), captured by typer's CliRunner."""
    with CliRunner().isolation() as (out, err, _):
        rc = main(list(args))
        return rc, out.getvalue().decode(), err.getvalue().decode()


def assert_one_error(rc: int, err: str, *names: str) -> None:
    """Exit 2 and one ``error:`` line on stderr that names each of ``names`` (no traceback, no internal error)."""
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert rc == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err and "internal error" not in err
    for n in names:
        assert n in lines[0], (n, lines[0])


# ------------------------------------------------------------------ 1. log axes over less than a decade
def test_a_log_axis_over_part_of_a_decade_gets_round_ticks_inside_its_data():
    """explore's page drew "output tokens/s per W" from 12 to 30 with one labelled tick (20: the 1-2-5 ticks 10 and
    50 lie outside the data) and its batch-1 TPOT axis, 4.9 to 5.3 ms, with one (5). An axis needs at least three
    labels inside its data to be read."""
    from inferchip.interfaces.report.log_ticks import label_log_axes, log_ticks

    for lo, hi in ((12.0, 30.0), (4.9, 5.3), (1.5, 2.2), (0.001, 0.0013)):
        vals, text = log_ticks(lo, hi, dense=True)
        inside = [v for v in vals if lo <= v <= hi]
        assert len(inside) >= 3, (lo, hi, vals)
        assert vals[0] <= lo and vals[-1] >= hi and len(set(text)) == len(text)
    fig = {"data": [{"x": [5e3, 2.6e4], "y": [12.0, 30.0]}],
           "layout": {"xaxis": {"type": "log"}, "yaxis": {"type": "log"}}}
    label_log_axes(fig)
    assert fig["layout"]["yaxis"]["ticktext"] == ["10", "15", "20", "25", "30"]
    assert fig["layout"]["xaxis"]["ticktext"] == ["5k", "10k", "20k", "50k"]  # three 1-2-5 ticks inside: kept


def _luminance(hex_colour: str) -> float:
    def lin(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5))
    return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)


def test_explore_page_draws_its_designs_visibly_against_the_plot_area():
    """The searched designs were #c8c8c8 dots of size 4 on plotly's #e5ecf6 plot area, a contrast of 1.4:1: on the
    page they could hardly be told from the background (WCAG 2.1 asks 3:1 of a graphic)."""
    from inferchip.interfaces.report.explore_page import DESIGN_GREY

    ratio = (_luminance("#e5ecf6") + 0.05) / (_luminance(DESIGN_GREY) + 0.05)
    assert ratio >= 3.0, ratio


def test_beat_page_labels_its_log_axes_and_gives_the_figures_the_terminal_prints(tmp_path):
    """``explore --target --beat --out`` wrote beat.html with plotly's own log ticks (memory bandwidth read "4 5 6 7
    8 9 1 2 3", cost "2 3 4 5 ... 1 ... 10"), which newuser46 replaced on explore.html only, and its table left out
    the target's figure after the change, the rival's and their unit, which the terminal prints."""
    import re

    rc, text, err = run("explore", "--target", "tesla-ai5", "--beat", "nvidia-b200-180gb", "--models",
                        "meta-llama/Llama-3.1-8B", "--parts", "per_chip", "--out", str(tmp_path))
    assert rc == 0, err
    page = (tmp_path / "beat.html").read_text()
    for axis in ("xaxis", "yaxis"):  # each log axis with its own labels (a title's braces sit inside the axis)
        found = re.search(rf'"{axis}":\{{"ticktext":\[[^\]]+\],"tickvals":\[[^\]]+\],"title":\{{[^}}]*\}},"type":"log"',
                          page)
        assert found, axis
    row = json.loads((tmp_path / "beat.json").read_text())["changes"][0]
    assert "<th>target after</th>" in page and "<th>unit</th>" in page
    assert f"<td>{row['unit']}</td>" in page and "e+0" not in page.split("<script", 1)[0]


# ------------------------------------------------------------------ 2. drive's deadline curve: fps in whole values
def test_drive_deadline_curve_labels_its_fps_axis_with_whole_values():
    """``drive --plot`` left its log fps axis to plotly, which labels 20 to 90 fps as bare leading digits ("2 3 4 5
    ... 9"): the curve's 50 fps edge read "5". The axis now carries whole values as the review's and explore's do."""
    from inferchip.interfaces.cmd_drive import curve_figure

    fps = [1.5, 3.0, 6.0, 12.0, 24.0, 48.0, 96.0]
    curve = {"miss_rate": [[0.0] * len(fps)] * 2, "fps": fps, "cameras": [1, 2], "max_fps": [48.0, 48.0],
             "threshold": 0.01}
    x = curve_figure(curve, "t").to_dict()["layout"]["xaxis"]
    assert x["type"] == "log" and "50" in x["ticktext"] and "5" in x["ticktext"]
    assert dict(zip(x["ticktext"], x["tickvals"], strict=True))["50"] == 50.0


def test_drive_curve_line_says_when_slower_rates_miss_the_deadline_too(tmp_path):
    """``drive --deadline-ms 50 --plot`` said "at 6 cameras, highest fps with misses <= 1%: 50.0" while its own curve
    had 60% of frames late at 1.5 fps (a tick waits for its last camera over 10% of a 667 ms period): a user reads
    every slower rate as safe. The line now names the slower rates that miss too; without them it is as before."""
    args = ["drive", "--chip", "nvidia-jetson-agx-orin-64gb", "--cameras", "6", "--fps", "30", "--duration", "5",
            "--plot", str(tmp_path / "c.html")]
    rc, text, err = run(*args, "--deadline-ms", "50", "--format", "json")
    assert rc == 0, err
    curve = json.loads(text)["deadline_curve"]
    i = curve["cameras"].index(6)
    slow = [f for f, m in zip(curve["fps"], curve["miss_rate"][i], strict=True)
            if f < curve["max_fps"][i] and m > curve["threshold"]]
    assert slow  # the rig's own curve: slow rates that miss
    rc, text, err = run(*args, "--deadline-ms", "50")
    line = " ".join(text.split())
    assert rc == 0 and f"misses pass 1% at slower rates too, up to {max(slow):.1f} fps" in line, line
    rc, text, err = run(*args)  # the next frame as the deadline: no slow rate misses, the line stays short
    assert rc == 0 and "highest fps with misses <= 1%: 50.0\n" in text.replace(" \n", "\n"), text


# ------------------------------------------------------------------ 3. explore's id lists
def test_explore_refuses_an_empty_model_item_and_names_the_option_of_an_unknown_model(tmp_path):
    """``explore --models ''`` (or ``a,,b``) ran the default suite of 12 workloads and the rig without a word, where
    ``review --models ''`` is refused; an unknown model id was told without the option that named it."""
    space = tmp_path / "s.yaml"
    space.write_text("parameters:\n  clock_ghz: [1.5]\n")
    for models in ("", "meta-llama/Llama-3.1-8B,,Qwen/Qwen3-32B", "meta-llama/Llama-3.1-8B,"):
        rc, _, err = run("explore", str(space), "--out", str(tmp_path / "o"), "--models", models)
        assert_one_error(rc, err, "--models", "empty item")
    rc, _, err = run("explore", str(space), "--out", str(tmp_path / "o"), "--models", "foo/bar")
    assert_one_error(rc, err, "--models: unknown model 'foo/bar'")
    rc, _, err = run("explore", "--target", "tesla-ai5", "--beat", "nvidia-b200-180gb", "--models", "foo/bar")
    assert_one_error(rc, err, "--models: unknown model 'foo/bar'")
    rc, _, err = run("explore", "--target", "tesla-ai5", "--beat", "nvidia-b200-180gb,,amd-mi355x")
    assert_one_error(rc, err, "--beat", "empty item")
    rc, _, err = run("explore", "--target", "tesla-ai5", "--beat", "nvidia-b200-180gb", "--parts", "best_per_chip")
    assert_one_error(rc, err, "--parts: best_per_chip not scored")  # the id as typed, not a Python list
    assert not (tmp_path / "o").exists()


# ------------------------------------------------------------------ 4. a config's top-k above its experts
@pytest.mark.parametrize(("base", "experts"), [(MIXTRAL, 8), (DSV3, 256)])
def test_a_config_choosing_more_experts_than_it_has_is_told_by_its_own_key(tmp_path, base, experts):
    """A config.json with ``num_experts_per_tok`` above its routed experts was refused as ``experts_per_token``, a
    name the file does not have: the error now names the config's key and the experts it has."""
    cfg = json.loads(base.read_text())
    cfg["num_experts_per_tok"] = experts + 1
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    rc, _, err = run("predict", "--chip", "nvidia-h200-sxm-141gb", "--model", str(path), "--batch", "1",
                     "--input-tokens", "16", "--output-tokens", "4")
    assert_one_error(rc, err, "config.json", f"num_experts_per_tok = {experts + 1}", f"of the {experts} routed experts")


# ------------------------------------------------------------------ 4b. a chip file copied from a catalogue chip
def test_review_of_a_chip_file_copied_from_its_rival_names_the_two_apart(tmp_path):
    """A chip architect copies the H100's YAML, gives it an id of its own and reviews it against the H100: the report
    named both "H100 SXM5 80GB" ("closest rival H100 SXM5 80GB ... 1x H100 SXM5 80GB's"), so no sentence said which
    was which. Chips a sentence would name alike are now named by their ids."""
    d = yaml.safe_load(H100_YAML.read_text())
    d["id"] = "my-chip"
    chip = tmp_path / "my-chip.yaml"
    chip.write_text(yaml.safe_dump(d))
    out = tmp_path / "rv"
    rc, text, err = run("review", "--claim", str(chip), "--chips", "nvidia-h100-sxm-80gb,amd-mi300x", "--models",
                        "meta-llama/Llama-3.1-8B-Instruct", "--no-sensitivity", "--workers", "1", "--out", str(out))
    assert rc == 0, err
    names = {c["id"]: c["name"] for c in json.loads((out / "results.json").read_text())["chips"]}
    assert names["my-chip"] != names["nvidia-h100-sxm-80gb"], names
    assert names["amd-mi300x"] == "Instinct MI300X (OAM)"  # a name no other chip shares stays the catalogue's
    assert "H100 SXM5 80GB" not in text
    # priced by its own file's price.usd since reviewchip50 (an id no catalogue chip has): before, unpriced there
    assert "priced: my-chip: 27,500 USD (25,000-30,000), the chip file's price.usd" in " ".join(text.split())


# ------------------------------------------------------------------ 5. fuzz: bad inputs, one clear line, no output
def _chip(tmp_path: Path, change: Any) -> Path:
    d = yaml.safe_load(H100_YAML.read_text())
    d["id"] = "my-chip"
    change(d)
    p = tmp_path / "my-chip.yaml"
    p.write_text(yaml.safe_dump(d))
    return p


def _config(tmp_path: Path, base: Path, change: Any) -> Path:
    d = json.loads(base.read_text())
    change(d)
    p = tmp_path / "config.json"
    p.write_text(json.dumps(d))
    return p


def _text(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def _onnx(tmp_path: Path, cut: float) -> Path:
    """A small valid ONNX graph cut to ``cut`` of its bytes."""
    pytest.importorskip("onnx")
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.ones((8, 3, 3, 3), np.float32), "W")
    g = helper.make_graph([helper.make_node("Conv", ["x", "W"], ["y"], pads=[1, 1, 1, 1])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 16, 16])], [w])
    data = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()
    p = tmp_path / "net.onnx"
    p.write_bytes(data[: int(len(data) * cut)])
    return p


def _set(section: str, key: str, value: Any) -> Any:
    return lambda d: d[section].__setitem__(key, value)


def _case(tmp_path: Path, old: str, new: str) -> Path:
    return _text(tmp_path, "mine.csv", f"{CASES_HEADER}\n{GOOD_CASE.replace(old, new, 1)}\n")


PLOT = "deadline.html"  # drive --plot: must not be left by a run that fails
PAGE = "page.md"  # validate --page: the same
SPACE_OUT = "run"  # explore --out: the same

# (name, build the command from tmp_path, what the one error line must name)
FUZZ: list[tuple[str, Any, tuple[str, ...]]] = [
    ("chip negative bandwidth", lambda t: ["drive", "--chip",
                                           str(_chip(t, _set("memory", "bandwidth_tb_per_s", -3.35))),
                                           "--cameras", "2", "--fps", "10", "--plot", str(t / PLOT)],
     ("my-chip.yaml", "memory.bandwidth_tb_per_s", "-3.35")),
    ("chip bandwidth in GB/s", lambda t: ["vision", "--chip", str(_chip(t, _set("memory", "bandwidth_tb_per_s", 3350))),
                                          "--model", "resnet50-v1.5"], ("my-chip.yaml", "GB/s")),
    ("chip capacity unit typo", lambda t: ["vision", "--chip", str(_chip(t, _set("memory", "capacity_unit", "GiBs"))),
                                           "--model", "resnet50-v1.5"], ("memory.capacity_unit", "'GiBs'", "MiB")),
    ("chip capacity in MB", lambda t: ["vision", "--chip", str(_chip(t, _set("memory", "capacity_unit", "MB"))),
                                       "--model", "resnet50-v1.5"], ("memory.capacity", "80 MB")),
    ("chip capacity as text", lambda t: ["vision", "--chip", str(_chip(t, _set("memory", "capacity", "80 GB"))),
                                         "--model", "resnet50-v1.5"], ("memory.capacity", "'80 GB'")),
    ("chip no formats", lambda t: ["vision", "--chip", str(_chip(t, _set("compute", "dense_tflops", {}))),
                                   "--model", "resnet50-v1.5"], ("compute.dense_tflops",)),
    ("chip format typo", lambda t: ["vision", "--chip",
                                    str(_chip(t, lambda d: d["compute"]["dense_tflops"].__setitem__("fp88", 2e3))),
                                    "--model", "resnet50-v1.5"], ("compute.dense_tflops", "fp88", "fp8")),
    ("chip TDP in kW", lambda t: ["vision", "--chip", str(_chip(t, _set("power", "tdp_w", 0.7))),
                                  "--model", "resnet50-v1.5"], ("power.tdp_w", "0.7")),
    ("config GQA heads not dividing", lambda t: ["predict", "--chip", "nvidia-h100-sxm-80gb", "--model",
                                                 str(_config(t, LLAMA_8B, lambda d: d.__setitem__(
                                                     "num_key_value_heads", 5))), "--batch", "1"],
     ("config.json", "num_key_value_heads = 5")),
    ("config missing layers", lambda t: ["predict", "--chip", "nvidia-h100-sxm-80gb", "--model",
                                         str(_config(t, LLAMA_8B, lambda d: d.pop("num_hidden_layers"))),
                                         "--batch", "1"], ("config.json", "num_hidden_layers is missing")),
    ("config huge vocab", lambda t: ["predict", "--chip", "nvidia-h100-sxm-80gb", "--model",
                                     str(_config(t, LLAMA_8B, lambda d: d.__setitem__("vocab_size", 10**12))),
                                     "--batch", "1"], ("config.json", "vocab_size")),
    ("config MLA without its rank", lambda t: ["predict", "--chip", "nvidia-h200-sxm-141gb", "--count", "8", "--model",
                                               str(_config(t, DSV3, lambda d: d.pop("kv_lora_rank"))), "--batch", "1"],
     ("config.json", "kv_lora_rank is missing")),
    ("space unknown parameter", lambda t: ["explore", str(_text(t, "s.yaml", "parameters:\n  clock_gz: [1.5]\n")),
                                           "--out", str(t / SPACE_OUT)], ("s.yaml", "clock_gz", "clock_ghz")),
    ("space negative clock", lambda t: ["explore", str(_text(t, "s.yaml", "parameters:\n  clock_ghz: [-1]\n")),
                                        "--out", str(t / SPACE_OUT)], ("s.yaml", "clock_ghz", "-1")),
    ("space bad range", lambda t: ["explore", str(_text(t, "s.yaml", "parameters:\n  sram_mb: {low: 9, high: 1, "
                                                                     "steps: 2}\n")),
                                   "--out", str(t / SPACE_OUT)], ("s.yaml", "sram_mb")),
    ("space unknown memory", lambda t: ["explore", str(_text(t, "s.yaml", "parameters:\n  memory_type: [hbm9]\n")),
                                        "--out", str(t / SPACE_OUT)], ("s.yaml", "memory_type", "hbm9")),
    ("cases unknown accelerator", lambda t: ["validate", str(_case(t, "nvidia-h100-sxm-80gb", "nvidia-h100-sxm-81gb")),
                                             "--page", str(t / PAGE)], ("mine.csv", "accelerator", "81gb")),
    ("cases unknown model", lambda t: ["validate", str(_case(t, "meta-llama/Llama-3.1-8B", "meta-llama/Llama-9-8B")),
                                       "--page", str(t / PAGE)], ("mine.csv", "model", "Llama-9-8B")),
    ("cases unknown scenario", lambda t: ["validate", str(_case(t, "fixed_length", "fixed-length")),
                                          "--page", str(t / PAGE)], ("mine.csv", "scenario", "fixed-length")),
    ("cases value not a number", lambda t: ["validate", str(_case(t, ",2500,", ",abc,")), "--page", str(t / PAGE)],
     ("mine.csv", "value", "abc")),
    ("cases unknown dtype", lambda t: ["validate", str(_case(t, ",bf16,bf16,", ",bf17,bf16,")),
                                       "--page", str(t / PAGE)], ("mine.csv", "weight_dtype", "bf17")),
    ("cases unit mismatch", lambda t: ["validate", str(_case(t, "tokens/s,", "tok/s,")), "--page", str(t / PAGE)],
     ("mine.csv", "unit", "tok/s")),
    ("cases unknown engine option", lambda t: ["validate", str(_case(t, "", "")), "--engine", "vllmx",
                                               "--page", str(t / PAGE)], ("--engine", "vllmx")),
    ("onnx truncated", lambda t: ["drive", "--chip", "nvidia-jetson-agx-orin-64gb", "--cameras", "2", "--fps", "10",
                                  "--model", str(_onnx(t, 0.5)), "--plot", str(t / PLOT)], ("net.onnx",)),
    ("onnx empty", lambda t: ["vision", "--chip", "nvidia-h100-sxm-80gb", "--model", str(_onnx(t, 0.0))],
     ("net.onnx", "empty")),
    ("drive unknown role", lambda t: ["drive", "--chip", "nvidia-jetson-agx-orin-64gb", "--cameras", "2", "--fps", "10",
                                      "--model", "bevformer-tiny@car", "--plot", str(t / PLOT)], ("--model", "@car")),
    ("drive fps zero", lambda t: ["drive", "--chip", "nvidia-jetson-agx-orin-64gb", "--cameras", "2", "--fps", "0",
                                  "--plot", str(t / PLOT)], ("--fps",)),
]


@pytest.mark.parametrize(("name", "build", "names"), FUZZ, ids=[f[0] for f in FUZZ])
def test_a_bad_input_is_one_error_line_naming_it_and_leaves_no_output(tmp_path, name, build, names):
    mine = tmp_path / "notes.txt"  # a file of the user's beside the outputs: never touched
    mine.write_text("keep")
    rc, out, err = run(*build(tmp_path))
    assert_one_error(rc, err, *names)
    assert not out.strip(), out  # no half table on stdout
    for left in (PLOT, PAGE, SPACE_OUT):
        assert not (tmp_path / left).exists(), left
    assert mine.read_text() == "keep"
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")], "a staging file was left"


# Generated mutations: any key of a config or chip file set to any kind of value is read or refused in one line
# naming the file; never an internal error or a traceback.
BAD_VALUES = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(10**20), max_value=10**20),
                       st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
                       st.lists(st.integers(-3, 3), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(),
                                                                                  max_size=2))
CONFIG_KEYS = ("hidden_size", "num_attention_heads", "num_key_value_heads", "num_hidden_layers", "vocab_size",
               "intermediate_size", "max_position_embeddings", "rope_scaling", "torch_dtype", "num_local_experts",
               "num_experts_per_tok", "head_dim", "sliding_window", "model_type", "tie_word_embeddings")


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from(CONFIG_KEYS), value=BAD_VALUES)
@example(key="intermediate_size", value=10_000_001)  # once two lines: Mixtral's experts take the dense width too
def test_fuzzed_config_json_is_read_or_refused_in_one_line(tmp_path, key, value):
    d = json.loads(MIXTRAL.read_text())
    d[key] = value
    path = tmp_path / "fuzz-config.json"
    path.write_text(json.dumps(d))
    rc, _, err = run("predict", "--chip", "nvidia-h200-sxm-141gb", "--count", "8", "--model", str(path),
                     "--batch", "1", "--input-tokens", "16", "--output-tokens", "4", "--format", "json")
    assert rc in (0, 2), err
    if rc == 2 and "does not fit" in err:  # a valid config too large for the chips: the error and what would fit
        assert err.startswith("error: fuzz-config does not fit") and "What would make it fit" in err, err
    elif rc == 2:
        assert_one_error(rc, err)
        assert "fuzz-config.json" in err or "--" in err, err  # the file, or the option the value collides with


CHIP_FIELDS = (("memory", "bandwidth_tb_per_s"), ("memory", "capacity"), ("memory", "capacity_unit"),
               ("memory", "memory_type"), ("power", "tdp_w"), ("compute", "dense_tflops"), ("compute", "clock_ghz"),
               ("silicon", "die_area_mm2"), ("silicon", "node_nm"), ("interconnect", "max_scaleup_domain"),
               ("sram", "capacity_mb"))


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(CHIP_FIELDS), value=BAD_VALUES)
@example(field=("memory", "bandwidth_tb_per_s"), value={})  # four "is missing" lines on main 25710f1
@example(field=("silicon", "node_nm"), value=1.903732124269293e-268)  # an internal error (OverflowError) on main
@example(field=("silicon", "node_nm"), value=43)  # the TDP floor it moves named power.tdp_w alone (stop 48's draw)
@example(field=("memory", "bandwidth_tb_per_s"), value={"\x85": 0, "\x1b[2J": 1})  # raw in the message on main
@example(field=("memory", "capacity"), value=1429)  # the price floor it moves named price.usd alone (stop 48's CI)
def test_fuzzed_chip_yaml_is_read_or_refused_in_one_line(tmp_path, field, value):
    section, key = field
    d = catalogue_raw("nvidia-h100-sxm-80gb")
    d[section][key] = value
    rc, _, err = run("vision", "--chip", write_chip(tmp_path, d, "fuzz-chip"), "--model", "resnet50-v1.5", "--format",
                     "json")
    assert rc in (0, 2), err
    if rc == 2:  # one line per problem (a mapping given for a number holds one per key), naming the file and field
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert lines[0].startswith("error: ") and "Traceback" not in err and "internal error" not in err, err
        assert all("fuzz-chip.yaml: " in ln for ln in lines), err
        assert all(ch.isprintable() for ln in err.split("\n") for ch in ln), ascii(err)  # no control character
        assert any(f"{section}." in ln or f": {section} " in ln for ln in lines), err
        # a mapping missing several required fields is one problem, one line (bandwidth_tb_per_s: {} gave four)
        assert sum(" is missing" in ln for ln in lines) <= 1, err
