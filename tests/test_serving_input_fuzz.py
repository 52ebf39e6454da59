"""A new user's bad inputs to the serving features of issue 12, end to end: closed-loop case rows with a bad
engine, layout, length or id go through ``inferchip validate --page`` and are either predicted (or reported with
their reason) or refused with ONE ``error:`` line, exit 2, and no page left behind; never an ``internal error``.
Also the defects this walk found: the validation page's log plot and a row predicted at zero, a user's copy of a
bundled checkpoint's config.json losing its per-layer format map, and the attention-DP message for tp=1 ep=8.
(Per-cell parsing is fuzzed in tests/test_case_columns_fuzz.py, options in tests/test_fuzz_cli.py.)"""

from __future__ import annotations

import csv
import io
import json
import random
from dataclasses import replace
from pathlib import Path

import pytest

from cli_in_process import run_main
from inferchip.catalog.checkpoints import attention_weight_format
from inferchip.errors import SpecError
from inferchip.interfaces.report.validation_page import plot_svg
from inferchip.validation.cases import parse_cases
from inferchip.validation.results import CaseResult

CATALOG = Path(__file__).parents[1] / "src" / "inferchip" / "catalog"
RUN = "imax-dsr1-0528-mi355x-atom-fp4-tp4ep1-1024-1024-c32-r21012127808"  # an ATOM closed-loop run: tput/ttft/tpot


def _run_rows() -> tuple[list[str], list[dict[str, str]]]:
    with (CATALOG / "inferencemax_cases.csv").open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        rows = [r for r in reader if r["case_id"].startswith(RUN)]
        return list(reader.fieldnames or []), rows


HEADER, ROWS = _run_rows()


def _write(path: Path, rows: list[dict[str, str]]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=HEADER)
    w.writeheader()
    w.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")


def _mutations(rng: random.Random) -> list[tuple[str, str]]:
    cells = [("software", v) for v in ("", "Foo engine 1.0", "x" * 300)]
    cells += [(c, rng.choice(("", "nan", "inf", "-1", "0", "1e400", "2.5", "abc", "9" * 30)))
              for c in ("concurrency", "input_tokens", "output_tokens", "tp", "ep", "num_accelerators")]
    cells += [("case_id", m) for m in ("tp0ep1", "tp4ep999-dpa", "tpXep1")]  # the id's layout fragment
    cells += [("output_tokens", v) for v in ("1", "2", "2.5")]  # a one- or two-token run, drawn in [0.8 L, L]
    return cells


@pytest.mark.parametrize("column,value", _mutations(random.Random(12)))
def test_a_bad_closed_loop_row_is_predicted_reported_or_refused_in_one_line(tmp_path, column, value):
    rows = [dict(r, **{column: r["case_id"].replace("tp4ep1", value) if column == "case_id" else value})
            for r in ROWS]
    path, page = tmp_path / "rows.csv", tmp_path / "page.md"
    _write(path, rows)
    code, out = run_main(["validate", str(path), "--format", "json", "--page", str(page)])
    assert "internal error" not in out and "Traceback" not in out, out[-400:]
    if code == 2:
        errors = [line for line in out.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and str(path) in errors[0] and column in errors[0], out[-400:]
        assert not page.exists()
        return
    assert code == 0, out[-400:]
    cases = json.loads(out[out.index("{"):])["cases"]
    assert len(cases) == 3 and page.exists()
    for c in cases:
        assert c["status"] == "ok" or c["reason"], c  # an unexpressible row says why
        if c["status"] == "ok":
            assert c["predicted"] >= 0


def test_the_validation_plot_leaves_out_a_row_predicted_at_zero():
    # a two-token disaggregated run can be predicted at TPOT 0 (its first and second tokens leave together);
    # a log axis has no place for it: before, math.log10(0) raised and `validate --page` ended in an internal error
    (c,) = parse_cases((CATALOG / "inferencemax_cases.csv").read_text(encoding="utf-8").split("\n", 2)[0] + "\n"
                       + (CATALOG / "inferencemax_cases.csv").read_text(encoding="utf-8").split("\n", 2)[1] + "\n",
                       "f.csv")
    rs = [CaseResult(replace(c, value=10.0), "ok", predicted=p) for p in (0.0, 9.0, 11.0)]
    svg = plot_svg(rs)
    assert svg.count("<title>") == 2  # the zero row is not drawn, the other two are


def test_a_users_copy_of_a_bundled_config_keeps_the_checkpoints_per_layer_formats(tmp_path):
    src = CATALOG / "models" / "openai__gpt-oss-120b.json"
    (tmp_path / "config.json").write_text(src.read_text(encoding="utf-8"), encoding="utf-8")
    bundled = attention_weight_format("openai/gpt-oss-120b", "mxfp4")
    assert bundled == "bf16"  # gpt-oss leaves self_attn out of its MXFP4 quantisation
    assert attention_weight_format(str(tmp_path / "config.json"), "mxfp4") == bundled  # was None: all mxfp4
    assert attention_weight_format(str(tmp_path), "mxfp4") == bundled  # the folder, as --model takes it
    assert attention_weight_format(str(tmp_path / "config.json"), "fp8") is None  # another method: says nothing


@pytest.mark.parametrize("q,field", [("x", "quantization_config"), ([1], "quantization_config"),
                                     ({"quant_method": "mxfp4", "modules_to_not_convert": 5},
                                      "quantization_config.modules_to_not_convert")])
def test_a_malformed_quantization_config_names_file_field_value_and_what_is_allowed(tmp_path, q, field):
    cfg = json.loads((CATALOG / "models" / "openai__gpt-oss-120b.json").read_text(encoding="utf-8"))
    cfg["quantization_config"] = q
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg), encoding="utf-8")
    with pytest.raises(SpecError) as exc:
        attention_weight_format(str(path), "mxfp4")
    msg = str(exc.value)
    value = q["modules_to_not_convert"] if isinstance(q, dict) else q
    assert str(path) in msg and f"{field}: value {value!r}" in msg and "expected" in msg
    code, out = run_main(["predict", "--chip", "nvidia-b200-180gb", "--model", str(path), "--weights", "mxfp4",
                          "--tp", "1", "--batch", "1"])
    assert code == 2 and sum(line.startswith("error:") for line in out.splitlines()) == 1, out[-300:]


def test_attention_dp_at_tp1_ep8_says_how_to_write_that_worker():
    code, out = run_main(["predict", "--chip", "nvidia-h200-sxm-141gb", "--count", "8", "--tp", "1", "--ep", "8",
                          "--attn-dp", "--model", "deepseek-ai/DeepSeek-R1", "--weights", "fp8", "--batch", "8"])
    assert code == 2 and "--tp 8 --ep 8 --attn-dp" in out and "got --tp 1" in out, out


@pytest.mark.parametrize("value", ["", "nope", "x" * 300, "vllm,sglang", "nan"])
@pytest.mark.parametrize("command", ["predict", "serve", "curve", "validate"])
def test_a_bad_engine_is_one_error_line_naming_the_option_and_the_engines(tmp_path, command, value):
    base = {"predict": ["predict", "--chip", "nvidia-h100-sxm-80gb", "--model", "meta-llama/Llama-3.1-8B-Instruct",
                        "--batch", "1"],
            "serve": ["serve", "--chip", "nvidia-h100-sxm-80gb", "--model", "meta-llama/Llama-3.1-8B-Instruct",
                      "--rate", "5", "--requests", "10"],
            "curve": ["curve", "--chip", "nvidia-h100-sxm-80gb", "--model", "meta-llama/Llama-3.1-8B-Instruct"],
            "validate": ["validate", str(tmp_path / "rows.csv")]}[command]
    _write(tmp_path / "rows.csv", ROWS)
    code, out = run_main([*base, "--engine", value])
    errors = [line for line in out.splitlines() if line.startswith("error:")]
    assert code == 2 and len(errors) == 1 and "--engine" in errors[0] and "vllm" in errors[0], out[-300:]
