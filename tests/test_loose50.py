"""Stop 50's loose ends (loose50): predict states the terms of its $ per million tokens as serve and curve do (one
text, ``output.tco_text``); a saturated serve run or one that misses its SLO says what its $ per million tokens is
not; vision marks the figures of a graph with nodes not costed as floors / ceilings in its table; lines of prose
(notes, sources, engine, money) wrap at 100 columns in a pipe; Jetson AGX Thor's INT8 peak is NVIDIA's."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper
from rich.console import Console

from cli_in_process import run_json, run_main
from inferchip.catalog.assumptions import load_assumptions
from inferchip.catalog.chips import load_chip
from inferchip.interfaces.cli_options import output as out
from inferchip.interfaces.cli_options import serving as so

H100_8B = ["--chip", "nvidia-h100-sxm-80gb", "--model", "meta-llama/Llama-3.1-8B-Instruct"]
SERVE = ["serve", *H100_8B, "--tp", "1", "--input-tokens", "512", "--output-tokens", "64"]
SATURATED = ["--rate", "100", "--requests", "300"]  # one H100 serves ~58 req/s of the 100 offered: saturated
EASY = ["--rate", "1", "--requests", "40"]
TABLE_EDGES = "┏┃┡│└┌├╭╰━─ "


def _prose(text: str) -> list[str]:
    """The lines of an output that are not a table's (a table's width is the table's, not a line of prose)."""
    return [line for line in text.splitlines() if line and line[0] not in TABLE_EDGES]


# --- (1) predict states the TCO terms of its $ per million tokens, in serve's words --------------------------------

def test_predict_states_its_money_terms_as_serve_does():
    """Failed on main: predict's JSON had no ``tco_assumptions`` and its text no ``money:`` line, while serve's and
    curve's said what the $ per million tokens assumes."""
    p = run_json(["predict", *H100_8B, "--batch", "8"])
    s = run_json([*SERVE, *EASY])
    assert p["usd_per_million_tokens"] is not None and p["tco_assumptions"]
    terms = out.tco_text("server", load_assumptions())
    assert s["tco_assumptions"] == terms  # serve's own, met and unsaturated: nothing to qualify
    assert p["tco_assumptions"] == terms.replace("the run's", "the prediction's")
    for key in ("tco.pue", "tco.system_overhead_fraction", "tco.colocation_usd_per_kw_month", "100 % utilisation"):
        assert key in p["tco_assumptions"]
    code, text = run_main(["predict", *H100_8B, "--batch", "8"])
    flat = " ".join(text.split())
    assert code == 0 and "money: " + " ".join(p["tco_assumptions"].split()) in flat


def test_predict_money_terms_follow_the_chips_system_and_the_assumptions_file(tmp_path):
    """An embedded module is priced without a data centre (no PUE, no rent): its terms say so; a user's assumptions
    file changes the terms stated."""
    thor = run_json(["predict", "--chip", "nvidia-jetson-agx-thor-t5000", "--model",
                     "meta-llama/Llama-3.1-8B-Instruct", "--batch", "1"])
    assert load_chip("nvidia-jetson-agx-thor-t5000").system == "embedded_soc"
    # (its price is its developer kit's, module and carrier: price.covers system_share, price52)
    assert thor["tco_assumptions"] == out.tco_text("embedded_soc", load_assumptions(), "the prediction's",
                                                   "system_share")
    assert thor["tco_assumptions"].startswith("TCO per chip-hour: embedded_soc")
    user = tmp_path / "a.yaml"
    user.write_text("tco:\n  pue:\n    value: 1.2\n    unit: ratio\n    source: {citation: test, kind: estimate}\n")
    p = run_json(["predict", *H100_8B, "--batch", "8", "--assumptions", str(user)])
    assert "PUE 1.2 (tco.pue)" in p["tco_assumptions"]  # the energy overhead named by what it is (claim53b)


def test_predict_without_a_price_states_no_money_terms():
    d = run_json(["predict", "--chip", "nvidia-drive-agx-thor", "--model", "meta-llama/Llama-3.1-8B-Instruct",
                  "--batch", "1"])
    assert d["usd_per_million_tokens"] is None and d["tco_assumptions"] is None
    code, text = run_main(["predict", "--chip", "nvidia-drive-agx-thor", "--model",
                           "meta-llama/Llama-3.1-8B-Instruct", "--batch", "1"])
    assert code == 0 and "money:" not in text


# --- (2) a saturated serve run, or one that misses its SLO, says what its $ per million tokens is not -------------

def test_a_saturated_run_that_misses_its_slo_qualifies_its_price():
    """Failed on main: the run's queue grows (saturated) and its p99 TTFT is seconds over a 200 ms SLO, yet its $ per
    million tokens read as any other run's, with nothing saying it is not a price at the offered load or within the
    SLO."""
    args = [*SERVE, *SATURATED, "--slo-ttft-ms", "200", "--slo-tpot-ms", "20"]
    d = run_json(args)
    assert d["saturated"] and not d["slo"]["meets"]
    assert "not at the offered load" in d["tco_assumptions"]
    assert "not a price of tokens served within it" in d["tco_assumptions"]
    code, text = run_main(args)
    row = next(line for line in text.splitlines() if "$ per million output tokens" in line and "USD" in line)
    assert code == 0 and "(saturated, SLO missed: see money)" in row
    assert "not at the offered load" in " ".join(text.split())


def test_a_run_within_its_slo_and_unsaturated_is_not_qualified():
    args = [*SERVE, *EASY, "--slo-ttft-ms", "2000", "--slo-tpot-ms", "200"]
    d = run_json(args)
    assert not d["saturated"] and d["slo"]["meets"]
    assert d["tco_assumptions"] == out.tco_text("server", load_assumptions())
    code, text = run_main(args)
    assert code == 0 and "see money" not in text


@given(saturated=st.one_of(st.none(), st.booleans()), meets=st.one_of(st.none(), st.booleans()))
def test_the_price_is_qualified_exactly_when_saturated_or_the_slo_is_missed(saturated, meets):
    """Each reason is said once, in the money line and in the table's mark; none where neither holds (no SLO given:
    ``meets`` None, nothing missed)."""
    summary = {"saturated": saturated, "slo": None if meets is None else {"meets": meets}}
    caveat, mark = so.money_caveat(summary), so.money_mark(summary)
    missed = meets is False
    assert (caveat is None) == (mark is None) == (not saturated and not missed)
    assert (caveat or "").count("not at the offered load") == (1 if saturated else 0)
    assert (caveat or "").count("not a price of tokens served within it") == (1 if missed else 0)
    assert ("saturated" in (mark or "")) == bool(saturated) and ("SLO missed" in (mark or "")) == missed


# --- (3) vision marks the figures of a graph with nodes not costed -------------------------------------------------

def _graph(tmp_path: Path, custom: bool) -> Path:
    F = TensorProto.FLOAT
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c1"], name="conv1", pads=[1, 1, 1, 1])]
    if custom:
        nodes.append(helper.make_node("MyCustomOp", ["c1"], ["y"], name="custom1", domain="com.me"))
    out_name = nodes[-1].output[0]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", F, [1, 3, 64, 64])],
                          [helper.make_tensor_value_info(out_name, F, None)],
                          [numpy_helper.from_array(np.zeros((8, 3, 3, 3), dtype=np.float32), "w1")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.me", 1)])
    path = tmp_path / ("custom.onnx" if custom else "plain.onnx")
    onnx.save(m, str(path))
    return path


def _rows(text: str) -> list[list[str]]:
    return [[c.strip() for c in line.strip("│").split("│")] for line in text.splitlines()
            if line.startswith("│") and line.strip("│ ")[:1].isdigit()]


def test_vision_table_marks_floors_where_nodes_are_not_costed(tmp_path):
    """Failed on main: the table printed the latency, frames/s and mJ/frame of a graph whose custom node counts 0 s
    as plain figures; only a note said a node was not costed."""
    code, text = run_main(["vision", "--chip", "nvidia-l4", "--model", str(_graph(tmp_path, True)), "--batch", "1,4"])
    rows = _rows(text)
    assert code == 0 and len(rows) == 2
    for _batch, latency, fps, mj, _power, _bound in rows:
        assert latency.startswith(">= ") and fps.startswith("<= ") and mj.startswith(">= ")
    assert "are floors and the frames per second a ceiling" in " ".join(text.split())
    code, text = run_main(["vision", "--chip", "nvidia-l4", "--model", str(_graph(tmp_path, False)), "--batch", "1,4"])
    assert code == 0 and all(">=" not in c and "<=" not in c for r in _rows(text) for c in r)
    assert "are floors" not in text


def test_vision_json_figures_are_unchanged_by_the_marks(tmp_path):
    d = run_json(["vision", "--chip", "nvidia-l4", "--model", str(_graph(tmp_path, True)), "--batch", "1"])
    assert isinstance(d["points"][0]["latency_s"], float) and any("are floors" in n for n in d["notes"])


# --- (4) prose lines wrap at 100 columns in a pipe -----------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ["predict", *H100_8B, "--batch", "8"],
    [*SERVE, *SATURATED, "--slo-ttft-ms", "200", "--slo-tpot-ms", "20"],
    ["curve", *H100_8B, "--tp", "1", "--input-tokens", "512", "--output-tokens", "64"],
    ["vision", "--chip", "nvidia-drive-agx-thor", "--model", "resnet50-v1.5"],
    ["drive", "--chip", "nvidia-drive-agx-thor", "--cameras", "8", "--fps", "30", "--duration", "1"],
])
def test_prose_lines_fit_100_columns_in_a_pipe(args, monkeypatch):
    """Failed on main: predict's chunk note was 527 columns, its sources line 331, vision's and drive's notes up to
    189 and curve's 562 (serve's were wrapped at rich's 80, and its tables are wider)."""
    monkeypatch.delenv("COLUMNS", raising=False)
    code, text = run_main(args)
    lines = _prose(text)
    assert code == 0 and any(line.startswith(("note:", "money:")) for line in lines)
    assert max(len(line.rstrip()) for line in lines) <= out.TEXT_WIDTH
    if args[0] in ("predict", "serve"):  # the money terms are wrapped, not dropped
        assert any(line.startswith("money: TCO per chip-hour") for line in lines)


WORD = st.text(st.characters(whitelist_categories=("L", "N", "P", "S")), min_size=1, max_size=30)


@given(words=st.lists(WORD, min_size=1, max_size=60), label=st.sampled_from([None, "note", "money"]),
       columns=st.sampled_from([None, "", "abc", "0", "60", "100", "140"]))
@example(words=["a" * 30] * 10, label="note", columns=None)
@example(words=["[yellow]x[/]", "[bold]"], label=None, columns="60")
def test_print_text_wraps_every_line_within_the_width_and_keeps_every_word(words, label, columns):
    """Whatever the words (markup-like brackets included, printed as given), every line fits the width (COLUMNS
    where it is a positive number, else 100) and the words come back in order."""
    import os

    saved = os.environ.get("COLUMNS")
    try:
        if columns is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = columns
        width = out.text_width()
        buf = io.StringIO()
        out.print_text(Console(file=buf, width=out.PIPE_WIDTH), " ".join(words), label)
    finally:
        if saved is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = saved
    assert width == (int(columns) if columns and columns.isdigit() and int(columns) > 0 else 100)
    text = buf.getvalue()
    assert all(len(line.rstrip()) <= width for line in text.splitlines())
    want = ([f"{label}:"] if label else []) + words
    assert "".join(text.split()) == "".join("".join(want).split())


# --- (5) Jetson AGX Thor's INT8 peak: NVIDIA's figure, no fallback; DRIVE Thor's fallback is stated ---------------

def test_jetson_thor_int8_peak_is_nvidias_figure_and_runs_without_a_fallback():
    """Failed on main: the chip file had no int8 peak, so an int8 network ran on its fp8 units with a note. NVIDIA's
    T5000 table lists INT8 1,035 TOPS with sparsity: 517.5 dense, the catalogue's convention."""
    spec = load_chip("nvidia-jetson-agx-thor-t5000")
    peaks = spec.compute.dense_tflops
    assert peaks["int8"].central == pytest.approx(1035 / 2) == peaks["fp8"].central
    assert any("introducing-nvidia-jetson-thor" in (s.url or "") for s in spec.sources)
    v = run_json(["vision", "--chip", "nvidia-jetson-agx-thor-t5000", "--model", "resnet50-v1.5"])
    assert not any("no int8 matrix peak" in n for n in v["notes"])


def test_drive_thor_states_its_int8_fallback_in_every_command():
    """NVIDIA publishes no INT8 figure for DRIVE AGX Thor (its headline is 'up to 2,000 TOPS', format and sparsity
    unstated): an int8 network runs at its fp8 estimate, and vision, drive and predict say so."""
    assert "int8" not in load_chip("nvidia-drive-agx-thor").compute.dense_tflops
    v = run_json(["vision", "--chip", "nvidia-drive-agx-thor", "--model", "resnet50-v1.5"])
    assert any("no int8 matrix peak: computed at fp8" in n for n in v["notes"])
    d = run_json(["drive", "--chip", "nvidia-drive-agx-thor", "--cameras", "2", "--fps", "10", "--duration", "1",
                  "--model", "resnet50-v1.5@camera"])
    assert any("no int8 matrix peak: computed at fp8" in n for n in d["notes"])
    p = run_json(["predict", "--chip", "nvidia-drive-agx-thor", "--model", "meta-llama/Llama-3.1-8B-Instruct",
                  "--batch", "1", "--weights", "int8", "--activations", "int8"])
    assert p["compute_format"] == "fp8" and any("no int8 units: GEMMs run at fp8" in n for n in p["notes"])
