"""Case-file parser, scenario plans, metric conversions and the `inferchip validate` command."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from conftest import tiny_dense
from inferchip.interfaces.cli import main
from inferchip.mapping.layout import Layout
from inferchip.mapping.memory_fit import Formats
from inferchip.performance.mapped import map_model
from inferchip.performance.operating import steady_state
from inferchip.performance.phases import continuous_batch
from inferchip.spec.calibration import Calibration, DatasetLengths
from inferchip.validation.case_notes import stated_limits, stated_load_per_s
from inferchip.validation.cases import COLUMNS, CaseFileError, parse_cases, read_cases
from inferchip.validation.validate import (
    CaseResult,
    LengthDist,
    OperatingPoint,
    Plan,
    error_stats,
    metric_value,
    operating_point,
    plan_for,
)

DATA = Path(__file__).parent / "data"
HEADER = ",".join(COLUMNS)
GOOD = ("c1,x,src,nvidia-h100-sxm-80gb,1,,meta-llama/Llama-3.1-8B,fp8,fp8,,1,1,,fixed_length,1000,1000,,"
        "output_tokens_per_s_total,15270,tokens/s,note")


def _row(**over) -> str:
    values = dict(zip(COLUMNS, GOOD.split(","), strict=False))
    values.update(over)
    return ",".join(values[c] for c in COLUMNS)


def _parse(*rows: str):
    return parse_cases("\n".join([HEADER, *rows]) + "\n", "cases.csv")


# ------------------------------------------------------------------ parser
def test_a_good_row_parses_to_typed_fields():
    (c,) = _parse(GOOD)
    assert (c.num_accelerators, c.tp, c.pp, c.ep) == (1, 1, 1, None)
    assert (c.input_tokens, c.output_tokens, c.concurrency) == (1000.0, 1000.0, None)
    assert c.value == 15270.0 and c.kv_dtype is None and c.line == 2


def test_missing_column_names_line_1_and_the_column():
    header = HEADER.replace(",metric", "")
    with pytest.raises(CaseFileError) as exc:
        parse_cases(header + "\n", "cases.csv")
    # metric is the 18th column of the format: reported where it is expected.
    assert (exc.value.line, exc.value.column, exc.value.field) == (1, 18, "metric")
    assert "line 1, column 18 (metric)" in str(exc.value)


def test_bad_number_names_line_and_column_after_a_multiline_quoted_field():
    with pytest.raises(CaseFileError) as exc:
        read_cases(DATA / "validation_bad_number.csv")
    # Row 1 of data spans lines 2-3 (a quoted source with a newline): the bad row starts on line 4;
    # num_accelerators is the 5th column.
    assert (exc.value.line, exc.value.column, exc.value.field) == (4, 5, "num_accelerators")
    assert "'eight' is not a number" in str(exc.value)


@pytest.mark.parametrize("over, column, words", [
    (dict(scenario="burst"), 14, "allowed: fixed_length, offline, server, single_stream"),
    (dict(metric="tokens_per_watt"), 18, "allowed: output_tokens_per_s_total"),
    (dict(value="-3"), 19, "positive"),
    (dict(value="1e5x"), 19, "is not a number"),
    (dict(tp="2.5"), 11, "whole number"),
    (dict(unit="ms"), 20, "does not match metric output_tokens_per_s_total"),
    (dict(weight_dtype="fp9"), 8, "allowed: fp32"),
    (dict(accelerator=""), 4, "required"),
])
def test_each_fault_reports_its_column(over, column, words):
    with pytest.raises(CaseFileError) as exc:
        _parse(GOOD.replace("c1,", "c0,", 1), _row(**over))
    assert exc.value.line == 3 and exc.value.column == column
    assert words in str(exc.value)


def test_wrong_field_count_and_repeated_id_are_refused():
    with pytest.raises(CaseFileError, match=r"line 2: 20 fields, but the header has 21"):
        _parse(GOOD.rsplit(",", 1)[0])
    with pytest.raises(CaseFileError, match=r"line 3, column 1 \(case_id\): value 'c1' repeats the case of line 2"):
        _parse(GOOD, GOOD)


def test_the_shipped_case_file_parses_and_matches_the_shared_one():
    shipped = Path(__file__).parents[1] / "src" / "inferchip" / "catalog" / "validation_cases.csv"
    cases = read_cases(shipped)
    assert len(cases) == 115  # the README's row count
    assert len({c.case_id for c in cases}) == 115


# ------------------------------------------------------------------ facts from the notes
def test_limits_come_from_the_notes_else_from_the_readme_table():
    (c,) = _parse(_row(source_kind="mlperf-inference-v4.1-closed", scenario="server",
                       model="meta-llama/Llama-2-70b-chat-hf", input_tokens="",
                       notes='"latency constraint TTFT p99<=450 ms, TPOT p99<=40 ms; scenario Interactive"'))
    lim = stated_limits(c)
    assert (lim.ttft_s, lim.tpot_s, lim.source) == (0.45, 0.04, "row notes")
    (d,) = _parse(_row(case_id="x-interactive-y", source_kind="mlperf-inference-v5.1-closed", scenario="server",
                       model="meta-llama/Llama-2-70b-chat-hf", input_tokens="", notes="no limits written here"))
    lim = stated_limits(d)  # README: llama2-70b Interactive 450 ms / 40 ms, found by the word in the id
    assert (lim.ttft_s, lim.tpot_s) == (0.45, 0.04) and "README" in lim.source


def test_stated_load_patterns():
    (a,) = _parse(_row(notes='"measured at the load above (74.42 completed samples/s); mean first-token latency"'))
    (b,) = _parse(_row(notes='"online serving benchmark, request rate (QPS column) INF (saturation)"'))
    (c,) = _parse(_row(notes='"completed 74.42 samples/s (scheduled 75.10, target_qps 75)"'))
    assert stated_load_per_s(a) == 74.42
    assert stated_load_per_s(b) == math.inf
    assert stated_load_per_s(c) is None  # a throughput row's own result is not a load it was run at


# ------------------------------------------------------------------ lengths, plans and the engine
def test_lognormal_lengths_keep_the_mean_and_the_cap():
    d = LengthDist.lognormal(700.0, 1024.0)
    assert d.mean == pytest.approx(700.0, rel=1e-9)
    assert max(d.points) == 1024.0 and min(d.points) > 0
    assert d.second_moment > d.mean**2  # a real spread
    assert LengthDist.lognormal(2000.0, 1024.0).points == (1024.0,)  # mean above the cap: all at the cap


def test_fixed_lengths_reproduce_the_engines_continuous_batching(h100):
    """With one length the length-biased moments reduce to the engine's formulas exactly:
    context i + o/2, i (i+1)/2 prefill pairs per new request, b/o new requests per step."""
    mm = map_model(tiny_dense(), h100, Layout(), Formats(), Calibration())
    plan = Plan("max_throughput", LengthDist.fixed(300), LengthDist.fixed(200), queue_wait=False)
    b = np.array([1.0, 7.0, 64.0])
    met = steady_state(mm, b, plan, True)
    tpot, ttft = met.tpot_s, met.ttft_s
    ref = continuous_batch(mm, b, 300.0, 200.0)
    np.testing.assert_allclose(tpot, ref.tpot_s, rtol=1e-12)
    np.testing.assert_allclose(ttft, ref.ttft_s, rtol=1e-12)


def test_open_loop_concurrency_obeys_littles_law(h100):
    mm = map_model(tiny_dense(), h100, Layout(), Formats(), Calibration())
    plan = Plan("open_loop", LengthDist.fixed(400), LengthDist.fixed(100), rate_per_s=20.0, queue_wait=True)
    pt = operating_point(mm, plan, replicas=2)
    # Each of 2 replicas gets 10 requests/s; in flight = rate x time in system.
    assert pt.batch == pytest.approx(10.0 * pt.e2e_s, rel=0.02)
    assert not pt.saturated


def test_mlperf_plan_uses_the_calibrations_mean_input_and_the_papers_limits():
    (c,) = _parse(_row(source_kind="mlperf-inference-v4.1-closed", scenario="server",
                       model="meta-llama/Llama-2-70b-chat-hf", input_tokens="", output_tokens="290",
                       notes='"latency constraint TTFT p99<=2000 ms, TPOT p99<=200 ms"'))
    plan = plan_for(c, DatasetLengths(mean_input_tokens={"llama2-70b": 300.0}))
    assert plan.inputs.mean == pytest.approx(300.0) and plan.outputs.mean == pytest.approx(290.0)
    assert plan.max_ttft_s == pytest.approx(2.0 / 2.5) and plan.max_tpot_s == pytest.approx(0.2 / 1.15)
    assert plan.mode == "max_throughput" and plan.dataset == "llama2-70b"


def test_mlperf_llama31_8b_plan_uses_its_stated_mean_input_and_calibrate_does_not_fit_it():
    """The Llama-3.1-8B data set states its counted mean input (870.7 tokens, workload.datasets): a row is planned with
    it whatever the calibration file's lengths say, and calibrate fits no mean for it (Llama-2-70B's stays fitted)."""
    from inferchip.validation.fitting.points import DS_PREFIX, fit_parameter_names

    (c,) = _parse(_row(source_kind="mlperf-inference-v5.1-closed", scenario="server",
                       model="meta-llama/Llama-3.1-8B-Instruct", input_tokens="", output_tokens="129",
                       notes='"latency constraint TTFT p99<=2000 ms, TPOT p99<=100 ms"'))
    plan = plan_for(c, DatasetLengths(mean_input_tokens={"llama3.1-8b": 1400.0}))
    assert plan.inputs.mean == pytest.approx(870.7) and plan.dataset == "llama3.1-8b"
    assert plan.outputs.mean == pytest.approx(129.0)
    rows = [SimpleNamespace(dataset=ds) for ds in ("llama3.1-8b", "llama2-70b")]  # all the names read of a FitRow
    names = fit_parameter_names(rows, physical=[])  # type: ignore[arg-type]
    assert DS_PREFIX + "llama2-70b" in names and DS_PREFIX + "llama3.1-8b" not in names


def test_metric_conversions_by_hand():
    (c,) = _parse(GOOD)
    lay = Layout(tp=2, pp=1, replicas=4)
    pt = OperatingPoint(batch=100, ttft_s=0.2, tpot_s=0.05, e2e_s=10.0, tokens_per_s_replica=2000.0)
    plan = Plan("max_throughput", LengthDist.fixed(100), LengthDist.fixed(128), beams=4)
    assert metric_value(c, plan, pt, lay) == 8000.0  # 2000 per replica x 4 replicas
    per_acc = replace(c, metric="output_tokens_per_s_per_accelerator", num_accelerators=8)
    assert metric_value(per_acc, plan, pt, lay) == 1000.0  # 8000 over 8 accelerators
    samples = replace(c, metric="samples_per_s")
    assert metric_value(samples, plan, pt, lay) == pytest.approx(8000.0 / (128 * 4))  # 4 beams per sample
    assert metric_value(replace(c, metric="itl_ms"), plan, pt, lay) == 50.0
    assert metric_value(replace(c, metric="ttft_ms"), plan, pt, lay) == 200.0


def test_error_statistics_by_hand():
    (c,) = _parse(GOOD)  # measured 15270
    rs = [CaseResult(replace(c, value=100.0), "ok", predicted=p) for p in (90.0, 105.0, 150.0, 100.0)]
    rs.append(CaseResult(c, "unknown_id", "no such chip"))
    s = error_stats(rs)
    # APEs 10, 5, 50, 0 -> median 7.5; p90 by linear interpolation: 0,5,10,50 at 0.9*3 = 2.7 -> 10 + 0.7*40 = 38.
    assert (s["cases"], s["predicted"], s["not_predicted"]) == (5, 4, 1)
    assert s["median_ape"] == pytest.approx(7.5) and s["p90_ape"] == pytest.approx(38.0)
    assert s["max_ape"] == pytest.approx(50.0)
    assert s["within_10pct"] == pytest.approx(75.0) and s["within_25pct"] == pytest.approx(75.0)


# ------------------------------------------------------------------ the command
def test_validate_json_end_to_end(capsys):
    rc = main(["validate", str(DATA / "validation_small.csv"), "--format", "json", "--by", "scenario",
               "--calibration", "none"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    cases = {c["case_id"]: c for c in out["cases"]}
    assert len(cases) == 5  # no row dropped (an unknown chip is refused at the read: test_case_row_ids.py)
    for c in cases.values():
        assert {"case_id", "predicted", "measured", "ape", "status", "reason"} <= set(c)
        if c["status"] == "ok":
            assert c["ape"] == pytest.approx(abs(c["predicted"] / c["measured"] - 1) * 100)
            assert c["reason"] == ""
    assert (cases["small-does-not-fit"]["status"] == "does_not_fit"
            and "short by" in cases["small-does-not-fit"]["reason"])
    assert cases["small-llama2-offline-h200x8"]["replicas"] == 8  # 8 GPUs / (tp1 x pp1)
    s = out["summary"]
    assert (s["overall"]["cases"], s["overall"]["predicted"], s["overall"]["not_predicted"]) == (5, 4, 1)
    assert set(s["groups"]) == {"fixed_length", "offline", "server"}
    assert out["calibration"].startswith("none")


def test_validate_malformed_file_exits_2_with_line_and_column(capsys):
    rc = main(["validate", str(DATA / "validation_bad_number.csv")])
    assert rc == 2
    assert "line 4, column 5" in capsys.readouterr().err


def test_validate_writes_the_page_and_plots(tmp_path, capsys):
    page = tmp_path / "docs" / "validation.md"
    rc = main(["validate", str(DATA / "validation_small.csv"), "--calibration", "none", "--page", str(page)])
    assert rc == 0
    text = page.read_text()
    assert "| all cases | 5 | 4 |" in text and "small-does-not-fit" in text
    assert "| kernel_overhead_scale | 1 | [0.02, 10] | default (not fitted) |" in text  # issue 12: values and bounds
    svg = ET.parse(tmp_path / "docs" / "validation_plot.svg").getroot()
    dots = [e for e in svg.iter() if e.tag.endswith(("circle", "rect")) and e.find("{*}title") is not None]
    assert len(dots) == 4  # one marker per predicted case
    assert "plotly" in (tmp_path / "docs" / "validation_plot.html").read_text()[:200000].lower()
    html = (tmp_path / "docs" / "validation_plot.html").read_bytes()
    assert main(["validate", str(DATA / "validation_small.csv"), "--calibration", "none", "--page", str(page)]) == 0
    assert (tmp_path / "docs" / "validation_plot.html").read_bytes() == html  # regenerated byte for byte
    assert not list(tmp_path.rglob("*.tmp"))  # atomic writes leave no temporaries
