"""A new user's tour at stop 47 (branch newuser47): explore, the HTML pages, ONNX and the driving rig, a chip YAML,
a Hugging Face config.json and validate on a user's own case file. Each defect found, with the test that fails on
main 25710f1; then a fuzz of those commands' inputs: generated bad files and options, each answered by one ``error:``
line naming the field (exit 2, no traceback), with no output file left behind."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

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
