"""A new user's tour at stop 48 (branch newuser48): the public Python API as the README documents it, serve and curve
with SLOs, layouts, MoE/MLA models and models that do not fit, cost with broken chip files, calibrate on a small case
file, interrupting the commands that write files, and the output read at 100 columns. Each defect found, with the test
that fails on main 213873c; then fuzzes of the Python API (``ic.predict``, ``ic.serve``) and of ``cost``'s chip
file: any value is answered, or refused with the documented exception type (the CLI: one ``error:`` line)."""

from __future__ import annotations

import inspect
import io
import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from rich.console import Console
from typer.testing import CliRunner

import inferchip as ic
from chip_yaml import catalogue_raw, write_chip
from inferchip.errors import InferchipError, InvalidSettingError
from inferchip.interfaces.cli import main

SMALL_CASES = Path(__file__).parent / "data" / "validation_small.csv"
H100, L1, L8 = "nvidia-h100-sxm-80gb", "meta-llama/Llama-3.2-1B", "meta-llama/Llama-3.1-8B"


def run(*args: str) -> tuple[int, str, str]:
    """``inferchip ARGS`` through the CLI's own entry point (its error boundary), captured by typer's CliRunner."""
    with CliRunner().isolation() as (out, err, _):
        rc = main(list(args))
        return rc, out.getvalue().decode(), err.getvalue().decode()


def rendered(table: Any, width: int) -> str:
    con = Console(width=width, record=True, file=io.StringIO())
    con.print(table)
    return con.export_text()


# ------------------------------------------------------------------ 1. the Python API refuses what the CLI refuses
def test_predict_refuses_a_fractional_batch_as_the_cli_does():
    """``ic.predict(batch=2.5)`` answered with ``batch`` 2 but the TTFT of 2.5 prompts (0.066 s between 2's 0.054 and
    3's 0.079) on main; ``--batch 2.5`` is refused there. A whole float (2.0, numpy's 3) is still a batch."""
    for _ in range(2):  # the first call and a repeated one (predict keeps recent settings and skips its checks)
        with pytest.raises(InvalidSettingError, match=r"batch= must be a whole number of sequences, got 2\.5"):
            ic.predict(H100, L8, batch=2.5, input_tokens=1024, output_tokens=128)
    with pytest.raises(InvalidSettingError, match="whole number"):
        ic.ask(1024, 128, batch=1.5)
    a = ic.predict(H100, L8, batch=2, input_tokens=1024, output_tokens=128)
    b = ic.predict(H100, L8, batch=2.0, input_tokens=1024, output_tokens=128)
    assert a.batch == b.batch == 2 and a.ttft_s == b.ttft_s


@pytest.mark.parametrize(("kwargs", "name"), [({"weights": 8}, "weights"), ({"kv": ["fp8"]}, "kv"),
                                              ({"activations": 16.0}, "activations")])
def test_a_format_that_is_no_name_is_refused_naming_the_option(kwargs, name):
    """``weights=8`` was ``AttributeError: 'int' object has no attribute 'strip'`` on main."""
    with pytest.raises(InvalidSettingError) as err:
        ic.predict(H100, L8, **kwargs)
    assert name in str(err.value) and "allowed: fp32" in str(err.value)


@pytest.mark.parametrize(("kwargs", "name"), [({"calibration": True}, "calibration"),
                                              ({"assumptions": 5}, "assumptions"),
                                              ({"calibration": ["cal.yaml"]}, "calibration"),
                                              ({"output_tokens": None}, "output_tokens="),
                                              ({"input_tokens": None}, "input_tokens=")])
def test_a_file_or_length_argument_of_the_wrong_type_is_named(kwargs, name):
    """Raw TypeErrors on main (pathlib's "expected str, bytes or os.PathLike", "unsupported operand ... NoneType")."""
    with pytest.raises(InvalidSettingError, match=re.escape(name)):
        ic.predict(H100, L1, **kwargs)


def test_predict_setting_names_an_argument_of_the_wrong_kind():
    """``ic.predict_setting("x", q)`` was ``AttributeError: 'str' object has no attribute 'derived'``."""
    s = ic.resolve_setting(H100, L1, tp=1)
    with pytest.raises(InvalidSettingError, match=r"setting = 'x' \(str\); allowed: a Setting"):
        ic.predict_setting("x", ic.ask(1024, 128))  # type: ignore[arg-type]
    with pytest.raises(InvalidSettingError, match=r"q = \(1024, 128\) \(tuple\); allowed: a Question"):
        ic.predict_setting(s, (1024, 128))  # type: ignore[arg-type]


def test_review_refuses_one_string_for_its_list_of_chips():
    """``ic.review(chips="nvidia-h100-sxm-80gb")`` iterated the id letter by letter: "unknown chip 'n'"."""
    with pytest.raises(InvalidSettingError, match=r"chips = 'nvidia-h100-sxm-80gb' is one string"):
        ic.review(chips=H100, models=[L1])  # type: ignore[arg-type]


@pytest.mark.parametrize("first", ["import inferchip.review.inputs", "ic.review"])
def test_ic_review_and_the_review_package_are_one_object_in_either_order(first):
    """``ic.review(...)`` was "'module' object is not callable" once a module of the package ``inferchip.review`` had
    been imported (Python binds the package to that name), and after ``ic.review`` was read the package's modules
    were gone ("'function' object has no attribute 'inputs'": test_cli_reliability's monkeypatch after test_api)."""
    import os
    import subprocess
    import sys

    code = (f"import inferchip as ic\n{first}\nimport inferchip.review.inputs\n"
            "assert callable(ic.review) and ic.review.inputs.ReviewConfig\n"
            "try:\n    ic.review(chips='x')\nexcept ic.review.inputs.InvalidSettingError as e:\n    print(e)\n")
    env = {**os.environ, "PYTHONPATH": str(Path(ic.__file__).resolve().parents[1])}  # this tree's package
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0 and "is one string" in done.stdout, done.stderr[-600:]


def test_serve_from_python_defaults_and_names_what_the_cli_does():
    """README: one default per option; ``inferchip serve`` takes 1,024 output tokens, ``ic.serve`` took 256. Its
    summary now names the chip, model and layout as the CLI's JSON does (it had none of them)."""
    assert inspect.signature(ic.serve).parameters["output_tokens"].default == 1024
    args = ["--chip", H100, "--model", L1, "--tp", "1", "--rate", "2", "--requests", "12", "--format", "json"]
    rc, out, err = run("serve", *args)
    assert rc == 0, err
    cli = json.loads(out)
    api = ic.serve(H100, L1, tp=1, rate_per_s=2.0, num_requests=12)
    for key in ("chip_id", "model_id", "tp", "pp", "ep", "attn_dp", "num_replicas", "ttft_s_mean", "tpot_s_mean"):
        assert api[key] == cli[key], key


# ------------------------------------------------------------------ 2. serve and curve read as a user reads them
def test_curve_names_its_layout_in_the_title_as_serve_and_predict_do():
    """README: the JSON's ``tp``/``pp``/``ep``/``attn_dp`` are "the layout the text's title names"; curve's title
    named none (DeepSeek-R1 on 8 H200 ran tp=8 ep=8 attention-DP, said only in the JSON)."""
    rc, out, err = run("curve", "--chip", H100, "--model", L1, "--count", "2", "--input-tokens", "64",
                       "--output-tokens", "8")
    assert rc == 0, err
    rc, js, _ = run("curve", "--chip", H100, "--model", L1, "--count", "2", "--input-tokens", "64",
                    "--output-tokens", "8", "--format", "json")
    d = json.loads(js)
    assert f"(tp={d['tp']} pp={d['pp']} ep={d['ep']}" in " ".join(out.split()), out[:400]
    assert f"{d['num_replicas']} replica(s)" in " ".join(out.split())


def test_serve_keeps_its_sources_out_of_the_table():
    """The chunk's and the cap's source (a 300-character sentence) sat in a right-aligned cell: in a pipe every row
    of the table was padded to ~350 columns. They are a line below the table now, said once when they agree."""
    rc, out, err = run("serve", "--chip", H100, "--model", L1, "--tp", "1", "--rate", "2", "--requests", "12")
    assert rc == 0, err
    table = [ln for ln in out.splitlines() if ln.startswith("  ")]
    assert table and max(len(ln) for ln in table) <= 100, max(table, key=len)
    assert "prefill chunk and running-batch cap from: the vllm engine record's" in " ".join(out.split())


def test_cost_all_fits_100_columns_without_cutting_an_id_or_a_number():
    """``cost --all`` on a 100-column terminal cut ids and numbers to "amd-…" and "$5,…" (README: never cut)."""
    from inferchip.catalog.assumptions import load_assumptions
    from inferchip.catalog.chips import all_chips
    from inferchip.cost.chip_cost import chip_cost
    from inferchip.interfaces.cmd_cost import _all_table

    costs = [chip_cost(spec, load_assumptions(None), "central") for spec in all_chips()]
    text = rendered(_all_table(costs), 100)
    assert "…" not in text
    assert max(len(ln) for ln in text.splitlines()) <= 100
    cells = " ".join(text.split())
    for c in costs:
        if c.manufacturing_cost_usd is not None:
            assert f"{c.manufacturing_cost_usd:,.0f}" in cells, c.chip_id
        if len(c.chip_id) <= 18:  # the longest ids fold onto a second line; the others stand whole
            assert f" {c.chip_id} " in f" {cells} ", c.chip_id


def test_curve_table_fits_100_columns_with_every_figure_on_one_line():
    """At 100 columns the header "concurrency" was cut ("concur…") and each "9.78 ms" folded over two lines."""
    from inferchip.interfaces.cli_options.tables import curve_table

    rec = {"concurrency": 2048, "output_tokens_per_s_per_user": 7.1, "output_tokens_per_s_per_chip": 1753.4,
           "ttft_s_mean": 1.8846, "ttft_s_p50": 0.00978, "tpot_s_mean": 0.1416, "power_w_per_chip": 527.0,
           "output_tokens_per_j": 3.33, "usd_per_million_tokens": 53.197, "output_tokens_per_s_per_usd_capex": 0.0566,
           "pareto": True}
    text = rendered(curve_table([rec], "t"), 100)
    assert "…" not in text and max(len(ln) for ln in text.splitlines()) <= 100
    row = next(ln for ln in text.splitlines() if "2,048" in ln)
    for figure in ("7.1", "1,753.4", "1,884.6", "9.78", "141.6", "527", "3.330", "53.197", "0.0566", "*"):
        assert figure in row, (figure, row)
    assert "ms" in text.split("2,048")[0]  # the unit is in the header


def test_predict_separates_thousands_in_its_counts():
    """"concurrency per replica 2560" and "1024 / 1024 tokens" beside "23,651 tok/s" in the same table."""
    rc, out, err = run("predict", "--chip", H100, "--model", L8, "--input-tokens", "2048", "--output-tokens",
                       "1024", "--max-throughput")
    assert rc == 0, err
    assert "2,048 / 1,024 tokens" in out


# ------------------------------------------------------------------ 3. an interrupted validate --page
def test_an_interrupted_page_leaves_the_earlier_page_and_plots_whole(tmp_path, monkeypatch):
    """The page and its two plots were three writes in a row: Ctrl-C while the HTML plot was drawn left the new SVG
    plot beside the old page (found with SIGINT 1.0 s into `validate tests/data/validation_small.csv --page`)."""
    from inferchip.interfaces.report import validation_page

    page = tmp_path / "page.md"
    page.write_text("OLD PAGE\n")
    (tmp_path / "page_plot.svg").write_text("OLD SVG\n")
    (tmp_path / "mine.txt").write_text("mine\n")

    def interrupted(_results: Any) -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr(validation_page, "plot_html", interrupted)
    rc, _, err = run("validate", str(SMALL_CASES), "--page", str(page), "--workers", "1", "--server-model",
                     "analytic")
    assert rc == 130, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.txt", "page.md", "page_plot.svg"]  # no temp left
    assert page.read_text() == "OLD PAGE\n" and (tmp_path / "page_plot.svg").read_text() == "OLD SVG\n"


def test_write_all_replaces_every_file_or_none(tmp_path, monkeypatch):
    """``atomic_io.write_all``: a rename that fails leaves no temporary file and says what was replaced."""
    import os

    from inferchip import atomic_io
    from inferchip.errors import OutputError

    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    atomic_io.write_all([(a, "A1"), (b, "B1")])
    assert (a.read_text(), b.read_text()) == ("A1", "B1")
    real = os.replace

    def fail_second(src: str, dst: Any) -> None:
        if Path(dst) == b:
            raise OSError(28, "No space left on device")
        real(src, dst)

    monkeypatch.setattr(atomic_io.os, "replace", fail_second)
    with pytest.raises(OutputError, match="already replaced: .*a.txt"):
        atomic_io.write_all([(a, "A2"), (b, "B2")])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt"] and b.read_text() == "B1"


# ------------------------------------------------------------------ 4. fuzz: the Python API and cost's chip file
ANY_VALUE = st.one_of(st.none(), st.booleans(), st.integers(-(10**20), 10**20),
                      st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=6),
                      st.lists(st.integers(0, 3), max_size=2),
                      st.sampled_from(["fp8", "bf16", "central", "low", 1, 2, 4, 8, 0.5, 16]))
PREDICT_KEYS = ("count", "weights", "activations", "kv", "tp", "pp", "ep", "attn_dp", "input_tokens",
                "output_tokens", "batch", "max_ttft_s", "max_tpot_s", "estimate", "chunk_tokens", "calibration",
                "assumptions")


@settings(max_examples=60, deadline=None)
@given(kwargs=st.dictionaries(st.sampled_from(PREDICT_KEYS), ANY_VALUE, min_size=1, max_size=2))
@example(kwargs={"batch": 2.5})  # answered on main, with the wrong batch
@example(kwargs={"weights": 8})  # AttributeError on main
@example(kwargs={"output_tokens": None})  # TypeError on main
@example(kwargs={"batch": 2, "assumptions": True})  # TypeError on main
@example(kwargs={"count": 10**12})  # searched layouts for minutes (a fresh-clone run's draw); the CLI's bound now
def test_fuzzed_predict_arguments_answer_or_raise_the_documented_error(kwargs):
    """README: ``ic.predict`` raises InvalidSettingError (a bad argument, naming it) or DoesNotFitError; any other
    exception is a defect. An answer's batch is the batch asked."""
    try:
        p = ic.predict(H100, L1, **kwargs)
    except InferchipError as exc:
        assert str(exc).strip()
        return
    if kwargs.get("batch") is not None:
        assert p.batch == kwargs["batch"]


LONG_RUN = {"input_tokens": 256, "output_tokens": 64, "concurrency": 16, "num_requests": 16, "duration_s": 5.0,
            "rate_per_s": 50.0}
SERVE_KEYS = ("rate_per_s", "concurrency", "input_tokens", "output_tokens", "num_requests", "duration_s", "seed",
              "range_ratio", "slo_ttft_s", "slo_tpot_s", "chunk_tokens")


@settings(max_examples=40, deadline=None)
@given(kwargs=st.dictionaries(st.sampled_from(SERVE_KEYS), ANY_VALUE, min_size=1, max_size=3))
@example(kwargs={"concurrency": 2, "output_tokens": "x"})  # TypeError in the simulator on main
@example(kwargs={"concurrency": 2, "range_ratio": "x"})  # TypeError on main
def test_fuzzed_serve_arguments_answer_or_raise_the_documented_error(kwargs):
    kwargs.setdefault("num_requests", 4)  # a short run where the fuzz leaves the count valid
    if kwargs.get("rate_per_s") is None and kwargs.get("concurrency") is None:
        kwargs["rate_per_s"] = 1.0
    for key, most in LONG_RUN.items():  # a valid but long run is not what is tested: sizes capped, not removed
        v = kwargs.get(key)
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and v > most:
            kwargs[key] = most
    try:
        run_ = ic.serve(ic.resolve_setting(H100, L1, tp=1), **kwargs)
    except InferchipError as exc:
        assert str(exc).strip()
        return
    assert run_["chip_id"] == H100 and run_["num_completed"] >= 0


COST_FIELDS = (("silicon", "die_area_mm2"), ("silicon", "node_nm"), ("silicon", "compute_die_count"),
               ("silicon", "process_node"), ("price", "cloud_usd_per_hour"), ("price", "usd"))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(COST_FIELDS), value=ANY_VALUE)
@example(field=("silicon", "die_area_mm2"), value=0)
@example(field=("silicon", "die_area_mm2"), value=1e9)
@example(field=("price", "usd"), value=-5)
@example(field=("silicon", "node_nm"), value=43.0)  # refused by the TDP floor the node sets, naming silicon.node_nm
def test_fuzzed_cost_chip_file_is_costed_or_refused_in_one_line(tmp_path, field, value):
    """``inferchip cost --chip FILE`` with any value in a silicon or price field: costed (exit 0), or one ``error:``
    line per problem naming the file and the field (exit 2), never a traceback."""
    section, key = field
    d = catalogue_raw(H100)
    d[section][key] = value
    rc, out, err = run("cost", "--chip", write_chip(tmp_path, d, "fuzz-cost-chip"), "--format", "json")
    assert rc in (0, 2), err
    if rc == 0:
        got = json.loads(out)
        assert got["chip_id"] == "fuzz-cost-chip"
        cost = got["manufacturing_cost_usd"]
        assert cost is None or (math.isfinite(cost) and cost > 0)
        return
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert lines[0].startswith("error: ") and "Traceback" not in err and "internal error" not in err, err
    assert all("fuzz-cost-chip.yaml: " in ln for ln in lines), err
    assert any(f"{section}." in ln for ln in lines), err  # a node the TDP floor refuses: its message names the node


def test_serve_does_not_fit_counts_one_token_in_the_singular():
    """serve's fit check is the least a run holds (one sequence of one token): its error said 'at 1 tokens'."""
    rc, out, err = run("serve", "--chip", H100, "--model", "meta-llama/Llama-3.1-70B", "--tp", "1",
                       "--concurrency", "4")
    text = out + err
    assert rc != 0 and "does not fit" in text
    assert "at 1 token," in text and "at 1 tokens" not in text


def test_activations_alone_too_big_names_the_chunk_that_fits():
    """review48's left item: on a Groq LPU (230 MB a chip) the activations of the vendor stack's step alone exceed the
    chip, and the advice named a wider tp only; a smaller --chunk-tokens bounds the step too. The chunk it names makes
    the activations fit: the error it then gives no longer names them."""
    args = ("predict", "--chip", "groq-lpu-v1", "--model", L8, "--batch", "1")
    rc, out, err = run(*args)
    text = " ".join((out + err).split())
    assert rc != 0 and "alone exceed" in text
    m = re.search(r"a smaller prefill chunk at this tp \(--chunk-tokens ([\d,]+) or fewer\)", text)
    assert m, text
    rc2, out2, err2 = run(*args, "--chunk-tokens", m.group(1).replace(",", ""))
    assert rc2 != 0 and "alone exceed" not in " ".join((out2 + err2).split())


def test_predict_names_the_chunk_source_once():
    """The vLLM device rule behind the default chunk (~330 characters) was printed in the activations line and again
    in the chunk note; the line now points to the note, and names --chunk-tokens where the user gave it."""
    rc, out, err = run("predict", "--chip", H100, "--model", L8, "--batch", "8")
    flat = " ".join((out + err).split())
    assert rc == 0 and flat.count("arg_utils.py") == 1, flat
    assert "(its source: the chunk note below)" in flat
    rc, out, err = run("predict", "--chip", H100, "--model", L8, "--batch", "8", "--chunk-tokens", "4096")
    assert rc == 0 and "chunk 4,096 from --chunk-tokens" in " ".join((out + err).split())


def test_cost_says_a_node_below_every_class_is_costed_at_the_smallest(tmp_path: Path):
    """newuser48's left item: a 1.5 nm chip took the 2 nm wafer price and D0 with only '2 nm class' beside them; the
    breakdown now says the node is below every tabulated class and costed as the smallest. A tabulated node (the
    H100's 4 nm takes the 5 nm class) says nothing of the kind."""
    data = catalogue_raw(H100)
    data["silicon"]["node_nm"] = 1.5
    rc, out, err = run("cost", "--chip", write_chip(tmp_path, data, "my-1p5nm-part"), "--format", "json")
    assert rc == 0, err
    text = json.dumps(json.loads(out))
    assert text.count("1.5 nm is costed as 2 nm") == 2, text[:2000]
    rc, out, err = run("cost", "--chip", H100, "--format", "json")
    assert rc == 0 and "5 nm class" in out and "is costed as" not in out
