"""A new user's tour (stop 49) of the Python API's reprs, explore's winners and page, predict --calibration,
calibrate's file, validate's header errors, review's summary and drive's power budget. Each test failed on main
b8d3deb; the Hypothesis tests fuzz the inputs of the commands touched."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from rich.console import Console

import inferchip as ic
from cli_in_process import run_main
from explore_run import explore_page
from inferchip.errors import InferchipError

DATA = Path(__file__).parent / "data"
SMALL_CASES = DATA / "validation_small.csv"
H100, L1, L8 = "nvidia-h100-sxm-80gb", "meta-llama/Llama-3.2-1B", "meta-llama/Llama-3.1-8B"


def _lines_fit(text: str, width: int = 100) -> None:
    """Every line but the first (which holds the ids, as long as the user's) within ``width`` columns."""
    lines = text.splitlines()
    assert all(len(ln) <= width for ln in lines[1:]), max(lines[1:], key=len)


# ------------------------------------------------------------------ 1. the API's reprs are summaries
def test_a_predictions_repr_is_a_short_summary_and_the_full_record_stays_reachable():
    """``repr(ic.predict(...))`` was the dataclass's: ~2,900 characters, the per-operator breakdown included."""
    p = ic.predict(H100, L8, batch=8, input_tokens=1024, output_tokens=256)
    text = repr(p)
    assert len(text) < 800, len(text)
    _lines_fit(text)
    assert text.startswith(f"<Prediction {L8} on 1 x {H100}")
    assert f"TTFT {p.ttft_s * 1e3:,.1f} ms" in text and f"TPOT {p.tpot_s * 1e3:,.3g} ms" in text
    assert "static batch 8" in text and "1,024 in / 256 out tokens" in text
    assert f"{p.memory_capacity_per_chip_bytes / 1e9:,.1f} GB" in text and "W per chip" in text
    assert str(p) == text  # print(p) shows the same
    d = p.to_dict()  # the record is whole
    assert d["breakdown"]["decode"] and d["ttft_s"] == p.ttft_s and "power_w_per_chip" in d


def test_a_settings_repr_is_a_short_summary():
    """``repr(ic.resolve_setting(...))`` printed the chip, model, calibration and assumptions whole: 46,661
    characters for Llama-3.1-8B on one H100."""
    s = ic.resolve_setting(H100, L8)
    text = repr(s)
    assert len(text) < 600, len(text)
    _lines_fit(text)
    assert text.startswith(f"<Setting {L8} on 1 x {H100}") and "w/a/kv bf16/bf16/bf16" in text
    many = repr(ic.resolve_setting(H100, "deepseek-ai/DeepSeek-R1", count=16))
    assert "candidate layout(s)" in many and "in all)" in many and len(many) < 600
    assert "(given)" in repr(ic.resolve_setting(H100, L8, count=2, tp=2))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chip=st.sampled_from([H100, "nvidia-l4", "amd-mi300x", "google-tpu-v5e", "nvidia-b200-180gb"]),
       model=st.sampled_from([L1, L8, "Qwen/Qwen3-30B-A3B"]),
       batch=st.one_of(st.none(), st.integers(1, 4096)),
       input_tokens=st.integers(1, 32_000), output_tokens=st.integers(1, 4_000),
       count=st.sampled_from([1, 2, 8, 16]))
def test_fuzz_the_prediction_repr_is_short_and_names_its_figures(chip, model, batch, input_tokens, output_tokens,
                                                                  count):
    try:
        p = ic.predict(chip, model, count=count, batch=batch, input_tokens=input_tokens, output_tokens=output_tokens)
    except InferchipError:  # does not fit, or lengths beyond the context window: refused, not summarised
        assume(False)
        return
    text = repr(p)
    assert len(text.splitlines()) <= 8 and len(text) < 900, text
    _lines_fit(text)
    assert re.search(r"TTFT [\d,.]+ ms", text) and re.search(r"end-to-end [\d,.]+ ms", text)
    assert ("TPOT" in text) == p.has_tpot or "no TPOT (one output token)" in text
    assert f"{p.input_tokens:,} in / {p.output_tokens:,} out tokens" in text


# ------------------------------------------------------------------ 2. explore: the winners at 100 columns, the page
SPACE = ("name: t\nmax_dies: 2\nparameters:\n  matrix_units: [128, 256, 512]\n  clock_ghz: [1.2, 1.8]\n"
         "  memory_units: [4, 8]\n  memory_type: [hbm3e]\n  formats: [bf16, bf16+fp8]\n")


def test_explore_names_the_winners_at_100_columns_with_every_number_whole(tmp_path, monkeypatch):
    """At 100 columns the front's leaders (13 columns) were cut: "21,0…" tok/s, "1,3…" mm2, "5,6…" USD."""
    import inferchip.interfaces.cmd_explore as ce

    con = Console(width=100, record=True, file=io.StringIO())
    monkeypatch.setattr(ce, "console", lambda *a, **k: con)
    space = tmp_path / "space.yaml"
    space.write_text(SPACE)
    code, out = run_main(["explore", str(space), "--out", str(tmp_path / "run"), "--budget", "8", "--no-page",
                          "--workers", "1", "--models", L8])
    assert code == 0, out
    text = con.export_text()
    table = text[text.index("best design on each objective"):]
    assert "…" not in table
    assert max(len(ln) for ln in table.splitlines()) <= 100
    for number in re.findall(r"\b\d{1,3}(?:,\d{3})+\b", text):  # thousands stay on one line, whole
        assert number in table
    assert re.search(r"cost USD\s+│\s+[\d,]+ │", table) and "TDP W" in table


def test_the_explore_page_draws_no_axis_for_a_parameter_the_front_holds_constant(tmp_path):
    """The parallel coordinates drew an axis for every parameter: CPU cores from -1 to 1, SRAM 28.8 to 35.2 MB,
    around the one value every design of the front has."""
    page = explore_page(tmp_path, SPACE, 8, L8)
    par = page[page.index('id="parcoords"'):]
    data = json.loads(re.search(r'Plotly\.newPlot\(\s*"parcoords",\s*(\[.*?\]),\s*\{', par, re.S).group(1))
    labels = [d["label"] for d in data[0]["dimensions"]]
    for constant in ("CPU cores", "SRAM, MB", "node, nm", "memory"):
        assert constant not in labels
    assert "matrix units" in labels or "clock, GHz" in labels  # a parameter the front varies keeps its axis
    same = re.search(r'<p id="parcoords-same">(.*?)</p>', page).group(1)
    assert "CPU cores: 0" in same and "memory: hbm3e" in same


# ------------------------------------------------------------------ 3. predict --calibration says which calibration
def test_predict_names_the_calibration_it_used(tmp_path):
    """A calibration file of one's own and the shipped one both printed nothing and gave ``"calibration":
    "fitted"`` in the JSON: the user could not see whether --calibration FILE was read."""
    mine = tmp_path / "mine.yaml"
    mine.write_text("gemm_compute_fraction: 0.5\nfitted: true\nfitted_on: my_rows.csv (3 cases); soft-L1 fit\n")
    base = ["predict", "--chip", H100, "--model", L1, "--batch", "4", "--input-tokens", "256",
            "--output-tokens", "64"]
    for extra, want in (([], "the shipped catalog/calibration.yaml (fitted)"),
                        (["--calibration", str(mine)], f"{mine}, fitted on my_rows.csv (3 cases)"),
                        (["--calibration", "none"], "none: the parameters' defaults")):
        code, out = run_main(base + extra)
        assert code == 0, out
        assert f"calibration: {want}" in " ".join(out.split()), out
        code, out = run_main(base + extra + ["--format", "json"])
        assert code == 0 and json.loads(out)["calibration_source"].startswith(want)


def test_calibrate_records_the_parameters_it_fitted_not_those_it_held(tmp_path):
    """On 4 rows calibrate held 4 of 8 parameters and its table said "4 fitted parameters", but the file it
    wrote said ``fitted_parameters: 8.0``."""
    out = tmp_path / "cal.yaml"
    code, text = run_main(["calibrate", str(SMALL_CASES), "-o", str(out), "--no-cv", "--workers", "1"])
    assert code == 0, text
    fs = yaml.safe_load(out.read_text())["fit_summary"]
    held = [k for k in fs if k.startswith("held:")]
    assert held  # the small file pins few parameters: some are held
    fitted = int(re.search(r"(\d+) fitted parameters on", text).group(1))
    assert fs["fitted_parameters"] == fitted
    assert fitted + len(held) == int(re.search(r"fitting (\d+) parameters", text).group(1))


# ------------------------------------------------------------------ 4. validate: a header that is not the format
def _case_file(tmp_path: Path, header: str, name: str = "cases.csv") -> Path:
    rows = SMALL_CASES.read_text().splitlines()
    f = tmp_path / name
    f.write_text(header + "\n" + rows[1] + "\n")
    return f


def test_validate_names_the_column_a_header_has_instead_and_a_wrong_separator(tmp_path):
    header = SMALL_CASES.read_text().splitlines()[0]
    code, out = run_main(["validate", str(_case_file(tmp_path, header.replace("accelerator", "accelerators")))])
    assert code == 2 and "column 'accelerator' is missing" in out
    assert "the header has 'accelerators'" in out  # before: only what was missing
    code, out = run_main(["validate", str(_case_file(tmp_path, header.replace("accelerator", "chip")))])
    assert code == 2 and "not of this format: 'chip'" in out
    semi = tmp_path / "semi.csv"
    semi.write_text(header.replace(",", ";") + "\n")
    code, out = run_main(["validate", str(semi)])
    assert code == 2 and "one field separated by ';'; allowed: commas" in out


COLUMNS = SMALL_CASES.read_text().splitlines()[0].split(",")


@settings(max_examples=40, deadline=None)
@given(drop=st.sampled_from(COLUMNS), new=st.text(st.characters(min_codepoint=97, max_codepoint=122), min_size=1,
                                                    max_size=12), sep=st.sampled_from([",", ";", "\t", "|"]))
def test_fuzz_a_case_file_header_with_a_renamed_column(tmp_path_factory, drop, new, sep):
    """Any column renamed to any lower-case word, the file in any separator: one ``error:`` line, exit 2, naming the
    file, the first missing column and what the header holds instead."""
    assume(new not in COLUMNS and new not in ("power_scope", "gpu_clock_mhz", "energy_basis"))
    header = sep.join(new if c == drop else c for c in COLUMNS)
    f = _case_file(tmp_path_factory.mktemp("h"), header)
    code, out = run_main(["validate", str(f)])
    assert code == 2, out
    lines = [ln for ln in out.splitlines() if ln.strip()]
    assert lines[0].startswith(f"error: {f}") and "Traceback" not in out
    text = " ".join(out.split())
    if sep != ",":
        assert f"separated by {'tabs' if sep == chr(9) else repr(sep)}" in text
    else:
        assert f"column '{drop}' is missing" in text and f"'{new}'" in text


# ------------------------------------------------------------------ 5. review and drive name what they print
def test_review_summary_says_its_cells_are_ranks_and_counts_in_the_singular(tmp_path):
    """The terminal's "Suite ranks over 1 models" and the page's "2 chips x 1 models ... 1024/1024 tokens"."""
    code, out = run_main(["review", "--chips", f"{H100},amd-mi300x", "--models", L1, "--claim", "none",
                          "--workers", "1", "--no-sensitivity", "--out", str(tmp_path / "rv")])
    assert code == 0, out
    text = " ".join(out.split())
    assert "(1 = best) over 1 model x 2 service levels" in text and "1 models" not in text
    page = (tmp_path / "rv" / "report.html").read_text()
    assert "2 chips x 1 model x 2 service levels" in page and "1,024/1,024 tokens in/out" in page


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(budget=st.floats(0.001, 7.0))
def test_fuzz_a_power_budget_below_idle_names_the_option(budget):
    """A budget under the Jetson's idle power named only the API field ``power_budget_w``, not the option."""
    code, out = run_main(["drive", "--chip", "nvidia-jetson-agx-orin-64gb", "--cameras", "2", "--fps", "10",
                          "--power-budget-w", repr(budget), "--duration", "0.2"])
    assert code == 2, out
    assert "--power-budget-w" in out and "allowed: above" in out and "Traceback" not in out
    assert len([ln for ln in out.splitlines() if ln.startswith("error:")]) == 1


@pytest.mark.parametrize("budget", ["8", "30"])
def test_a_power_budget_above_idle_runs(budget):
    code, out = run_main(["drive", "--chip", "nvidia-jetson-agx-orin-64gb", "--cameras", "2", "--fps", "10",
                          "--power-budget-w", budget, "--duration", "0.2", "--format", "json"])
    assert code == 0, out
    assert json.loads(out)["power_budget_w"] == float(budget)


# ------------------------------------------------------------------ 6. explore: one mode per run
SEARCH_OPTIONS = {"SPACE": ["SPACE"], "--budget": ["--budget", "5"], "--seed": ["--seed", "3"],
                  "--workers": ["--workers", "1"], "--ray-address": ["--ray-address", "x:1"],
                  "--page/--no-page": ["--no-page"]}
BEAT_OPTIONS = {"--silicon": ["--silicon", "deployment"], "--parts": ["--parts", "per_chip"],
                "--boundary-map": ["--boundary-map", "map.json"]}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(search=st.lists(st.sampled_from(sorted(SEARCH_OPTIONS)), unique=True, max_size=4),
       beat=st.lists(st.sampled_from(sorted(BEAT_OPTIONS)), unique=True, max_size=3), beat_mode=st.booleans())
def test_fuzz_explore_refuses_an_option_of_the_other_mode(monkeypatch, tmp_path_factory, search, beat, beat_mode):
    """``explore SPACE --target X --beat Y`` ran the beat and ignored the space file (and --budget, --seed,
    --workers, --no-page) without a word; ``explore SPACE --out D --silicon deployment`` ignored --silicon."""
    called: list[int] = []
    monkeypatch.setattr("inferchip.explore.beat.beat", lambda *a, **k: called.append(1))
    monkeypatch.setattr("inferchip.explore.run.explore", lambda *a, **k: called.append(1))
    space = tmp_path_factory.mktemp("s") / "space.yaml"
    space.write_text(SPACE)
    foreign = [o for o in (search if beat_mode else beat) if o != "SPACE" or beat_mode]
    assume(foreign)
    args = ["explore"]
    for o in (search if beat_mode else beat):
        args += [str(space)] if o == "SPACE" else SEARCH_OPTIONS.get(o, BEAT_OPTIONS.get(o, []))
    args += ["--target", "tesla-ai5", "--beat", "nvidia-l4"] if beat_mode else [str(space), "--out", "o"]
    code, out = run_main(args)
    assert code == 2 and not called, out
    line = " ".join(out.split())
    assert line.startswith("error: explore:") and "allowed: one mode per run" in line
    for o in foreign:
        assert (o if o != "SPACE" else "SPACE (the design-space file)") in line


def test_explore_names_what_is_missing():
    for args, missing in ((["explore", "x.yaml"], "--out DIR missing"), (["explore", "--out", "d"], "a space file "
                                                                                                  "missing")):
        code, out = run_main(args)
        assert code == 2 and f"explore: {missing}" in out, out


# ------------------------------------------------------------------ 7. drive's deadline curve says what its line is
def test_the_drive_curve_shows_its_lines_legend_and_what_a_miss_is(tmp_path):
    """The black line of ``drive --plot`` had a name but no legend (plotly hides a lone trace's), and the title
    did not say what a miss was (late after the next frame, or after --deadline-ms)."""
    plot = tmp_path / "curve.html"
    code, out = run_main(["drive", "--chip", "nvidia-jetson-agx-orin-64gb", "--cameras", "2", "--fps", "20",
                          "--deadline-ms", "40", "--duration", "0.2", "--plot", str(plot)])
    assert code == 0, out
    page = plot.read_text()
    fig = json.loads(re.search(r'Plotly\.newPlot\(\s*"[^"]+",\s*(\[.*?\]),\s*\{', page, re.S).group(1))
    line = [t for t in fig if t["type"] == "scatter"]
    assert line and line[0]["showlegend"] is True and line[0]["name"] == "highest fps with misses <= 1%"
    assert "a miss: a camera frame late after the next frame or after 40 ms" in page


def test_a_one_node_onnx_graph_is_one_node(tmp_path):
    """``vision`` of a one-Conv ONNX file said "1 nodes: 1 costed"."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.ones((16, 3, 3, 3), np.float32), "W")
    g = helper.make_graph([helper.make_node("Conv", ["x", "W"], ["y"], pads=[1, 1, 1, 1])], "one",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16, 8, 8])], [w])
    f = tmp_path / "one.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), str(f))
    code, out = run_main(["vision", "--chip", "nvidia-l4", "--model", str(f)])
    assert code == 0, out
    assert "1 node: 1 costed" in " ".join(out.split())


def test_serve_and_curve_name_the_calibration_they_used(tmp_path):
    """serve and curve printed the assumptions file they read but not the calibration (predict neither)."""
    mine = tmp_path / "mine.yaml"
    mine.write_text("kernel_overhead_scale: 1.2\nfitted: true\nfitted_on: rows.csv (2 cases); soft-L1 fit\n")
    for cmd, load in (("serve", ["--rate", "2", "--requests", "12"]), ("curve", [])):
        args = [cmd, "--chip", H100, "--model", L1, "--tp", "1", "--input-tokens", "64", "--output-tokens", "16",
                *load, "--calibration", str(mine)]
        code, out = run_main(args)
        assert code == 0, out
        assert f"calibration: {mine}, fitted on rows.csv (2 cases)" in " ".join(out.split())
        code, out = run_main([*args[:-2], "--format", "json"])
        assert code == 0 and json.loads(out)["calibration_source"] == "the shipped catalog/calibration.yaml (fitted)"


# ------------------------------------------------------------------ 8. ic.review: a readable result, --claim none
def test_a_review_results_repr_is_a_short_summary_and_claim_none_works_as_in_the_cli():
    """``repr(ic.review(...))`` printed every row, table and curve (142,982 characters for two chips and one
    model); ``ic.review(claim="none")``, the CLI's spelling of no claim, was "unknown chip 'none'"."""
    r = ic.review(chips=[H100, "amd-mi300x"], models=[L1])
    text = repr(r)
    assert len(text) < 1000, len(text)
    _lines_fit(text)
    assert text.startswith("<ReviewResult: 3 chips x 1 model x 2 service levels, ranked on tco")
    assert "claim (tesla-ai5): per_chip " in text and "equal_money (street) " in text
    assert r.verdict["judged_on"].endswith("over 1 model x 2 service levels")  # was "1 models"
    none = ic.review(chips=[H100, "amd-mi300x"], models=[L1], claim="none", sensitivity=False)
    assert none.claim is None and "claim (" not in repr(none) and "2 chips x 1 model" in repr(none)


# ------------------------------------------------------------------ 9. the catalogue's tables: separators, counts
def test_the_chip_table_separates_thousands_in_every_number():
    """``inferchip chips`` printed TDP "23000" and "1000" W and "21000.00" TB/s beside "62,500" TFLOP/s."""
    code, out = run_main(["chips", "--name", "cerebras-wse-3"])
    assert code == 0, out
    assert "23,000" in out and "21,000.00" in out and "23000" not in out
    assert "1 chip (dense peaks" in out  # was "1 chips"


@settings(max_examples=30, deadline=None)
@given(name=st.sampled_from(["nvidia", "amd", "cpu:", "tpu", "b200", "h100-sxm", "groq", "cerebras", "gaudi3", "l4"]),
       listing=st.sampled_from(["chips", "models"]))
def test_fuzz_catalogue_listings_count_in_words_and_separate_thousands(name, listing):
    code, out = run_main([listing, "--name", name])
    if code == 2:  # a filter the catalogue lacks: one error line naming the closest
        assert out.startswith("error:") and "Traceback" not in out
        return
    assert code == 0, out
    if out.strip().lower().startswith("no "):  # nothing meets the filter: said in words, no table
        assert "meets the filters given" in out
        return
    head = out.strip().splitlines()[0].strip()
    n = int(head.split()[0].replace(",", ""))
    assert head.split()[1].startswith("chip" if listing == "chips" else "model")
    assert head.split()[1].endswith("s") == (n != 1), head
    assert not re.search(r"(?<![\w.,-])\d{4,}(?:\.\d+)?\s*│", out), out  # a number of 4+ digits, no separator


def test_a_vision_networks_repr_is_short_and_models_says_which_gflop_it_counts():
    """``repr(ic.load_network("resnet50-v1.5"))`` printed every layer (~19,500 characters); ``models`` printed
    bevformer-tiny at 411.5 GFLOP/frame and ``vision`` at 415 GFLOP per frame, neither saying which work each counts."""
    net = ic.load_network("bevformer-tiny")
    text = repr(net)
    assert len(text) < 300 and text.startswith("<VisionNetwork bevformer-tiny")
    _lines_fit(text)
    assert f"{net.flop_per_frame / 1e9:,.3g} GFLOP per frame ({2 * net.macs_per_frame / 1e9:,.3g} of them 2 x MACs)" \
        in text
    code, out = run_main(["models", "--model-type", "vision", "--name", "bevformer-tiny"])
    assert code == 0 and "(2 x MACs)" in out and f"{2 * net.macs_per_frame / 1e9:,.1f}" in out


def test_a_chip_specs_repr_is_short_for_every_catalogue_chip():
    """``repr(ic.load_chip("nvidia-h100-sxm-80gb"))`` was pydantic's: every section and source, 4,724 characters."""
    from inferchip.catalog.chips import all_chips

    for spec in all_chips():
        text = repr(spec)
        assert text.startswith(f"<ChipSpec {spec.id}: ") and len(text) < 450, text
        _lines_fit(text)
        assert "e+" not in text and "TB/s" in text and "TDP " in text
    h100 = repr(ic.load_chip(H100))
    assert "bf16 989" in h100 and "fp8 1,979" in h100 and "80 GiB HBM3 at 3.35 TB/s" in h100 and "TDP 700 W" in h100
