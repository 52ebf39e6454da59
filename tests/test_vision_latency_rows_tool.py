"""tools/vision/vision_latency_rows.py: which rows of a validate JSON it lists (latency scenarios, predicted, no power
rows), their order and the runtime read from the software column, and the scenario summary against the targets,
on hand-made results."""

from __future__ import annotations

import json

import pytest

from conftest import load_tool


@pytest.fixture(scope="module")
def vl():
    return load_tool("vision_latency_rows")


def result(case_id: str, scenario: str, loao: float | None, in_sample: float, *, unit: str = "ms",
           status: str = "ok") -> dict:
    return {"case_id": case_id, "scenario": scenario, "accelerator": "chip", "num_accelerators": 1,
            "model": "net", "precision": "int8", "metric": "latency_p90_ms", "unit": unit, "status": status,
            "measured": 10.0, "predicted": 10.0 * (1 + in_sample / 100), "signed_error_pct": in_sample,
            "loao_predicted": None if loao is None else 10.0 * (1 + loao / 100), "loao_signed_error_pct": loao,
            "operating_point": {"batch": 1.0}}


def test_runtime_is_the_first_named(vl):
    assert vl.runtime("TensorRT 10.8, CUDA 12.9; TensorRT 10.8") == "TensorRT 10.8"
    assert vl.runtime("onnxruntime; Python: 3.12.3") == "onnxruntime"


def test_rows_kept_and_sorted(vl):
    results = [result("a", "single_stream", 20.0, 10.0), result("b", "multi_stream", -30.0, -25.0),
               result("c", "offline", 1.0, 1.0), result("d", "single_stream", None, 5.0),
               result("e", "single_stream", 3.0, 3.0, unit="W"), result("f", "single_stream", 3.0, 3.0,
                                                                        status="unexpressible")]
    rows = vl.latency_rows(results, {"a": "TensorRT 10.8, CUDA 12.9"})
    assert [r["case_id"] for r in rows] == ["b", "d", "a"]  # by signed error; d falls back to in sample
    assert rows[2]["runtime"] == "TensorRT 10.8" and rows[0]["runtime"] == ""
    assert rows[2]["predicted"] == pytest.approx(12.0)


def test_summary_counts_against_targets(vl):
    rows = vl.latency_rows([result(str(i), "single_stream", e, e) for i, e in enumerate([-40.0, -10.0, 5.0, 20.0])],
                           {})
    s = vl.summary(rows, "single_stream")
    assert s["rows"] == 4 and s["median_ape"] == pytest.approx(15.0)  # |e| = 5, 10, 20, 40
    assert s["within_median_target"] == 2 and s["beyond_p90_target"] == 1
    assert vl.summary(rows, "multi_stream") == {"rows": 0.0}


def test_markdown_and_main(vl, tmp_path, capsys):
    after = tmp_path / "after.json"
    after.write_text(json.dumps({"vision": {"cases": [result("a", "single_stream", 20.0, 10.0)]}}))
    before = tmp_path / "before.json"
    before.write_text(json.dumps({"vision": {"cases": [result("a", "single_stream", 30.0, 10.0)]}}))
    cases = tmp_path / "cases.csv"
    cases.write_text("case_id,software\na,onnxruntime; Python\n")
    vl.main([str(after), "--before", str(before), "--cases", str(cases)])
    out = capsys.readouterr().out
    assert "### single_stream" in out and "| +20.0 | +30.0 |" in out and "| onnxruntime |" in out
    assert "0 of 1 rows within 15 %" in out


def chip_result(case_id: str, chip: str, loao: float) -> dict:
    return {**result(case_id, "single_stream", loao, loao), "accelerator": chip}


def test_chip_selected_prefix_and_negation(vl):
    assert vl.chip_selected("cpu:amd-ryzen-9-7950x", "cpu:") and not vl.chip_selected("nvidia-l4", "cpu:")
    assert vl.chip_selected("nvidia-l4", "~cpu:") and not vl.chip_selected("cpu:amd-ryzen-9-7950x", "~cpu:")


def test_what_if_zeroes_the_selected_rows(vl):
    # |e| of the four rows: cpu 40, 10; gpu 60, 20. Median of all 30, p90 54 (numpy linear).
    rows = vl.latency_rows([chip_result("a", "cpu:x", -40.0), chip_result("b", "cpu:x", 10.0),
                            chip_result("c", "gpu", 60.0), chip_result("d", "gpu", -20.0)], {})
    assert vl.summary(rows, "single_stream")["p90_ape"] == pytest.approx(54.0)
    cpu = vl.what_if(rows, "single_stream", ["cpu:"])  # |e| 0, 0, 20, 60
    assert cpu["fixed"] == 2 and cpu["median_ape"] == pytest.approx(10.0) and cpu["p90_ape"] == pytest.approx(48.0)
    tail = vl.what_if(rows, "single_stream", ["~cpu:"], tail_only=True)  # only the gpu 60 row: 40, 10, 0, 20
    assert tail["fixed"] == 1 and tail["median_ape"] == pytest.approx(15.0)
    assert tail["beyond_p90_target"] == 1  # the cpu 40 row is left
    assert vl.what_if(rows, "multi_stream", ["cpu:"]) == {"rows": 0.0, "fixed": 0.0}


def test_tail_groups_and_main_what_if(vl, tmp_path, capsys):
    results = [chip_result("a", "cpu:x", -40.0), chip_result("b", "gpu", 60.0), chip_result("c", "gpu", -36.0),
               chip_result("d", "gpu", 5.0)]
    rows = vl.latency_rows(results, {})
    assert vl.tail_groups(rows, "single_stream") == "cpu:x: -40.0; gpu: -36.0, +60.0"
    assert vl.tail_groups(rows, "multi_stream") == ""
    after = tmp_path / "after.json"
    after.write_text(json.dumps({"vision": {"cases": results}}))
    cases = tmp_path / "cases.csv"
    cases.write_text("case_id,software\n")
    vl.main([str(after), "--cases", str(cases), "--exact", "~cpu:", "--tail-only"])
    out = capsys.readouterr().out
    assert "beyond 35 % by chip: cpu:x: -40.0; gpu: -36.0, +60.0" in out
    assert "what if ~cpu: (tail only) were exact (2 rows): median 2.5 % / p90 29.5 %" in out


def test_flagged_rows_stay_in_the_figures_and_a_line_gives_them_without(vl):
    """A row validate flags (its measurement contradicts its setting) counts in the scenario's figures; the extra
    line gives the median / p90 without it, by hand: |errors| 10, 20, 90 -> without the flagged 90: 10, 20."""
    results = [result("a", "single_stream", 10.0, 10.0), result("b", "single_stream", -20.0, -20.0),
               {**result("c", "single_stream", -90.0, -90.0), "flag": "measured query waited: ..."}]
    rows = vl.latency_rows(results, {})
    assert [r["flag"] for r in rows] == ["measured query waited: ...", "", ""]
    s = vl.summary(rows, "single_stream")
    assert s["rows"] == 3 and s["median_ape"] == pytest.approx(20.0) and s["beyond_p90_target"] == 1
    n, rest = vl.without_flagged(rows, "single_stream")
    assert n == 1 and rest["rows"] == 2
    assert rest["median_ape"] == pytest.approx(15.0) and rest["p90_ape"] == pytest.approx(19.0)
    text = vl.markdown(rows)
    assert "flagged (measurement contradicts the row's setting; kept in the figures above): 1 row(s)" in text
    assert "without them median 15.0 % / p90 19.0 % (0 of 2 beyond 35 %)" in text
    assert "flagged" not in vl.markdown(vl.latency_rows(results[:2], {}))
