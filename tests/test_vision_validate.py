"""Validation of vision rows: the reader's errors, every row answered (unexpressible ones with the reason),
the row model against frame_cost (twins), the scenario forms by hand, the fit recovering known parameters,
and the CLI beside LLM rows."""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from inferchip.catalog.vision_networks import load_vision_calibration
from inferchip.interfaces.cli import app
from inferchip.performance.vision import frame_cost
from inferchip.spec.vision import VisionCalibration
from inferchip.validation.cases import CaseFileError
from inferchip.validation.vision.cases import parse_vision_cases, read_vision_cases
from inferchip.validation.vision.fit import fit
from inferchip.validation.vision.predict import predict_row, server_rate_per_s
from inferchip.validation.vision.rows import Params, build_row
from inferchip.validation.vision.summary import summarize_vision
from inferchip.validation.vision.validate import params_of, validate_vision

DATA = Path(__file__).parent / "data"
SUBSET = DATA / "vision_cases_subset.csv"
HEADER = ("case_id,source_kind,source,accelerator,num_accelerators,system_name,software,model,input_shape,"
          "precision,scenario,batch,metric,value,unit,notes")


def _row(**over) -> str:
    base = dict(case_id="c1", source_kind="mlperf-inference-v4.1-closed", source="s", accelerator="nvidia-l4",
                num_accelerators="1", system_name="x", software="trt", model="resnet50-v1.5", input_shape="224",
                precision="int8", scenario="offline", batch="8", metric="samples_per_s", value="1000",
                unit="samples/s", notes="n")
    base.update(over)
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow([base[k] for k in HEADER.split(",")])
    return buf.getvalue()


@pytest.mark.parametrize(("over", "words"), [
    ({"scenario": "burst"}, "line 2, column 11 (scenario): value 'burst' not allowed; allowed: offline"),
    ({"metric": "speed"}, "(metric): value 'speed' not allowed"),
    ({"value": "fast"}, "(value): value 'fast' is not a number"),
    ({"value": "-3"}, "(value): value '-3' must be a positive number"),
    ({"num_accelerators": "1.5"}, "(num_accelerators)"),
    ({"batch": "nan"}, "(batch)"),
])
def test_reader_errors_name_line_column_and_allowed(over, words):
    with pytest.raises(CaseFileError) as exc:
        parse_vision_cases(HEADER + "\n" + _row(**over) + "\n", "f.csv")
    assert words in str(exc.value)


def test_reader_missing_column_and_repeat():
    with pytest.raises(CaseFileError, match="missing column"):
        parse_vision_cases("case_id,value\nx,1\n", "f.csv")
    with pytest.raises(CaseFileError, match="repeats"):
        parse_vision_cases(HEADER + "\n" + _row() + "\n" + _row() + "\n", "f.csv")


def test_precision_and_bounds_read_from_the_row():
    c = parse_vision_cases(HEADER + "\n" + _row(precision="float8", scenario="server",
                                                 notes="server: target latency 15 ms at p99") + "\n")[0]
    assert c.precision == "fp8" and c.latency_bound_ms == (15.0, "stated in the row")
    d = parse_vision_cases(HEADER + "\n" + _row(precision="weights int8, inputs fp32", scenario="server",
                                                 model="retinanet-resnext50-fpn-800") + "\n")[0]
    assert d.precision == "int8" and d.latency_bound_ms[0] == 100.0


@pytest.mark.parametrize(("software", "precision", "executed"), [
    ("TensorRT 8.5.1.7 with the repo's custom plugins (nv_half), CUDA 11.6", "fp32", "tf32"),
    ("TensorRT 8.5.1.7 with MMDeploy plugins", "fp32/int8 PTQ max per-tensor", "tf32"),
    ("TensorRT 10.2.0, CUDA 12.4", "int8", "int8"),
    ("onnxruntime v1.22.1; Python: 3.10.12", "fp32", "tf32"),  # ORT's CUDA provider on an NVIDIA GPU
    ("PyTorch (README install: torch 1.12.1+cu116)", "fp32", "fp32"),
    ("reference implementation (README: ONNX backend, PyTorch also; TensorRT not used)", "fp32", "fp32"),
])
def test_fp32_rows_run_by_tensorrt_execute_as_tf32(software, precision, executed):
    from inferchip.catalog.chips import family_defaults, load_chip
    from inferchip.spec.chip import chip_params
    from inferchip.validation.vision.harness import executed_format
    c = parse_vision_cases(HEADER + "\n" + _row(accelerator="nvidia-geforce-rtx-3090", software=software,
                                                 precision=precision) + "\n")[0]
    spec = load_chip("nvidia-geforce-rtx-3090")
    assert c.precision == ("fp32" if precision.startswith("fp32") else precision)  # the stated format
    assert executed_format(c, chip_params(spec, family_defaults(spec.family)), cpu=False) == executed


def test_tf32_rows_are_faster_on_tensor_cores_and_unchanged_without_them():
    """An fp32 TensorRT engine on an RTX 3090 runs on the TF32 tensor cores (same peak as the CUDA cores, ~8x less
    energy per FLOP than the A100-derived SIMT figure), so a power-limited Offline run is not throttled as hard as
    the CUDA-core fp32 run (a PyTorch row); a CPU has no TF32 units, so its TensorRT-labelled row costs the same as
    fp32."""
    cal = load_vision_calibration()
    p = params_of(cal)

    def rate(acc: str, software: str) -> float:
        c = parse_vision_cases(HEADER + "\n" + _row(accelerator=acc, software=software, precision="fp32",
                                                      batch="64") + "\n")[0]
        return predict_row(build_row(c, cal), p)[0]

    assert rate("nvidia-geforce-rtx-3090", "TensorRT 8.5") > 1.2 * rate("nvidia-geforce-rtx-3090", "pytorch 2.7")
    # ONNX Runtime's CUDA provider runs fp32 as TF32 too (validation/vision/harness.py): the same call as TensorRT's
    assert rate("nvidia-geforce-rtx-3090", "onnxruntime") == pytest.approx(rate("nvidia-geforce-rtx-3090",
                                                                                "TensorRT 8.5"), rel=1e-12)
    assert rate("cpu:intel-xeon-w7-2495x", "TensorRT 8.5") == pytest.approx(rate("cpu:intel-xeon-w7-2495x",
                                                                                 "onnxruntime"), rel=1e-12)


@pytest.fixture(scope="module")
def subset_results():
    cases = read_vision_cases(SUBSET)
    return cases, validate_vision(cases, load_vision_calibration(), loao=False)


def test_every_row_is_answered(subset_results):
    cases, results = subset_results
    assert [r.case.case_id for r in results] == [c.case_id for c in cases]
    by = {r.case.case_id: r for r in results}
    assert by["test-unknown-chip-row"].status == "unexpressible"
    assert "chip 'acme-npu-9000' is not in the catalogue" in by["test-unknown-chip-row"].reason
    assert "is not bundled" in by["tesla-hw3-fsd-computer-2300fps"].reason
    ok = [r for r in results if r.status == "ok"]
    assert len(ok) >= 9 and all(r.predicted and r.predicted > 0 and math.isfinite(r.predicted) for r in ok)
    s = summarize_vision(results)
    assert set(s["unexpressible"]) == {"test-unknown-chip-row", "tesla-hw3-fsd-computer-2300fps"}


def test_row_model_equals_frame_cost():
    """The validation's per-row model and frame_cost are twins: same latency per batch size."""
    cal = load_vision_calibration()
    case = parse_vision_cases(HEADER + "\n" + _row(batch="64") + "\n")[0]
    row = build_row(case, cal)
    p = params_of(cal)
    f = frame_cost("nvidia-l4", "resnet50-v1.5", row.batches, weights="int8", calibration=cal)
    assert f.input_copy_s is not None
    assert np.allclose(row.query_s(p), f.latency_s, rtol=1e-9)
    assert np.allclose(row.copy_s, f.input_copy_s, rtol=1e-9)
    offline, point = predict_row(row, p)
    assert f.pipelined_s is not None
    assert np.allclose(row.pipelined_s(p), f.pipelined_s, rtol=1e-9)
    assert offline == pytest.approx(float(np.max(row.batches / f.pipelined_s)))
    assert point["batch"] <= 64


def test_server_rate_by_hand():
    """Greedy batching: p99 ~ 2 t(b); the best b with 2 t(b) <= L carries b / t(b)."""
    b = np.array([1.0, 8.0, 64.0])
    t = np.array([1e-3, 3e-3, 10e-3])  # 1,000 / 2,667 / 6,400 frames/s
    assert server_rate_per_s(b, t, 0.015)[0] == pytest.approx(8 / 3e-3)  # 64 needs 20 ms > 15 ms
    assert server_rate_per_s(b, t, 0.020)[0] == pytest.approx(6400)


def test_multistream_splits_a_query_over_the_chips():
    cal = load_vision_calibration()
    one = build_row(parse_vision_cases(HEADER + "\n" + _row(scenario="multi_stream", metric="latency_p99_ms",
                                                              batch="", unit="ms") + "\n")[0], cal)
    four = build_row(parse_vision_cases(HEADER + "\n" + _row(scenario="multi_stream", metric="latency_p99_ms",
                                                               batch="", unit="ms", num_accelerators="4") + "\n")[0],
                     cal)
    p = Params(cal.matrix_fraction, cal.cpu_matrix_fraction, cal.windows_per_volume)
    assert predict_row(four, p)[0] < predict_row(one, p)[0]


def test_fit_recovers_known_parameters():
    """Rows whose 'measurements' are the model's own values at known parameters give those parameters back."""
    cal = VisionCalibration()
    truth = Params(matrix_fraction=0.42, cpu_matrix_fraction=0.3, windows_per_volume=55.0)
    rows = [build_row(c, cal) for c in read_vision_cases(SUBSET)
            if c.accelerator in ("nvidia-h100-sxm-80gb", "nvidia-l4", "nvidia-h200-sxm-141gb",
                                 "untetherai-speedai240-slim", "nvidia-h100-pcie-80gb", "nvidia-h100-nvl-94gb")
            and c.metric != "system_power_avg_w"]
    synthetic = [replace(r, case=replace(r.case, value=predict_row(r, truth)[0])) for r in rows]
    got = fit(synthetic).params
    assert got.matrix_fraction == pytest.approx(0.42, rel=0.02)
    assert got.windows_per_volume == pytest.approx(55.0, rel=0.02)
    resid = [predict_row(r, got)[0] / r.case.value - 1 for r in synthetic]
    assert max(abs(x) for x in resid) < 0.01


def test_cli_validates_vision_rows_beside_llm_rows():
    runner = CliRunner()
    res = runner.invoke(app, ["validate", str(SUBSET), "--format", "json"])
    assert res.exit_code == 0, res.output
    body = json.loads(res.output)["vision"]
    assert len(body["cases"]) == 13 and "by_scenario" in body["summary"]
    mixed = runner.invoke(app, ["validate", str(DATA / "validation_small.csv"), str(SUBSET), "--format", "json",
                                "--server-model", "analytic"])
    assert mixed.exit_code == 0, mixed.output
    out = json.loads(mixed.output)
    assert out["cases"] and len(out["vision"]["cases"]) == 13


def test_cli_bad_vision_file(tmp_path):
    bad = tmp_path / "v.csv"
    bad.write_text(HEADER + "\n" + _row(scenario="burst") + "\n", encoding="utf-8")
    res = CliRunner().invoke(app, ["validate", str(bad)])
    assert res.exit_code != 0 and "Traceback" not in res.output


def test_constant_stream_rows():
    """ConstantStream: frames at the stated rate; within capacity the latency is one frame's time; without a
    stated rate the row is unexpressible, with the reason."""
    cal = load_vision_calibration()
    text = HEADER + "\n" + _row(scenario="constant_stream", metric="latency_p999_ms", unit="ms", batch="",
                                 notes="camera stream at 30 fps") + "\n"
    res = validate_vision(parse_vision_cases(text), cal, loao=False)[0]
    f = frame_cost("nvidia-l4", "resnet50-v1.5", np.array([1]), calibration=cal)
    # the row's sample is first staged by the harness's host (cost/vision/host.py query_host_s); frame_cost is the call
    assert res.status == "ok" and res.predicted == pytest.approx((f.latency_s[0] + cal.sample_host_s) * 1e3, rel=1e-6)
    none = validate_vision(parse_vision_cases(text.replace("at 30 fps", "steady")), cal, loao=False)[0]
    assert none.status == "unexpressible" and "frame rate" in none.reason
