"""ML.ENERGY rows and the `dataset` column; the validate fixes of issue 12 point 7."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest

from inferchip.catalog.calibration_file import load_calibration, load_dataset_lengths
from inferchip.spec.calibration import DatasetLengths
from inferchip.validation.cases import (
    COLUMNS,
    DATASETS,
    SERVING_DATASETS,
    CaseFileError,
    case_dataset,
    parse_cases,
    read_cases,
)
from inferchip.validation.energy.row_setting import row_dataset
from inferchip.validation.energy.rows import predict_energy_row, predict_energy_run
from inferchip.validation.plan import NotPredictable, plan_for
from inferchip.validation.validate import (
    SERVER_MODEL_BY_METRIC,
    Validator,
    case_formats,
    run_plan,
    server_choice_text,
    server_model_for,
)

DATA = Path(__file__).parent / "data" / "mlenergy_subset.csv"
SHIPPED = Path(__file__).resolve().parents[1] / "src" / "inferchip" / "catalog" / "mlenergy_cases.csv"


def _rows(path: Path = DATA) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def test_the_shipped_case_set_parses_with_its_dataset_column():
    cases = read_cases(SHIPPED)
    assert len(cases) == 418
    assert {c.dataset for c in cases} == {"lm-arena-chat", "gpqa"}
    assert all(case_dataset(c) is DATASETS[c.dataset] for c in cases)
    assert all(c.is_mlperf for c in cases)  # replays of a data set without a stated input length


def test_an_unknown_dataset_names_the_line_and_column():
    text = DATA.read_text()
    bad = text.replace(",lm-arena-chat,", ",no-such-set,", 1)
    with pytest.raises(CaseFileError, match=r"line \d+, column 15 \(dataset\).*'no-such-set'.*allowed"):
        parse_cases(bad, "x.csv")
    row = {**_rows()[0], "dataset": "no-such-set"}
    value, reason = predict_energy_row(row)
    assert value is None and "column 'dataset'" in reason and row["case_id"] in reason


def test_a_dataset_row_reads_its_mean_input_from_the_dataset_not_the_model():
    row = next(r for r in _rows() if "llama-31-8b" in r["case_id"] and r["metric"].startswith("power"))
    assert row_dataset(row).name == "lm-arena-chat"
    lengths = load_dataset_lengths(None)
    short = lengths.model_copy(update={"mean_input_tokens": {**lengths.mean_input_tokens, "lm-arena-chat": 100.0}})
    long_ = lengths.model_copy(update={"mean_input_tokens": {**lengths.mean_input_tokens, "lm-arena-chat": 3000.0}})
    mlperf = lengths.model_copy(update={"mean_input_tokens": {**lengths.mean_input_tokens, "llama3.1-8b": 5.0}})
    cal = load_calibration(None)
    a, b, c = (predict_energy_run(row, cal, None, x)[0] for x in (short, long_, mlperf))
    assert a.output_tokens_per_s > b.output_tokens_per_s  # longer prompts: more prefill per answer
    base = predict_energy_run(row, cal, None, lengths)[0]
    assert c == base  # the MLPerf llama3.1-8b mean (same model family) is never read


def test_mlperf_means_apply_by_source_not_by_model_substring():
    header = ",".join(COLUMNS) + "\n"
    line = ("c,{kind},s,nvidia-h100-sxm-80gb,8,,meta-llama/Llama-2-70b-chat-hf,fp8,fp8,,,,,offline,,290,,"
            "output_tokens_per_s_total,20000,tokens/s,n\n")
    mlperf, other = (parse_cases(header + line.format(kind=k), "x.csv")[0]
                     for k in ("mlperf-inference-v4.1-closed", "vendor-blog"))
    lengths = DatasetLengths()
    assert plan_for(mlperf, lengths).dataset == "llama2-70b"
    with pytest.raises(NotPredictable, match="input_tokens"):
        plan_for(other, lengths)  # a non-MLPerf row without an input length names no data set


def test_serving_dataset_means_are_one_per_dataset_and_gpqa_is_the_published_one():
    lengths = load_dataset_lengths(None)
    for name, ds in SERVING_DATASETS.items():
        assert name in lengths.mean_input_tokens
        if ds.mean_input_tokens is not None:
            assert lengths.mean_input_tokens[name] == ds.mean_input_tokens
        assert 16 <= lengths.mean_input_tokens[name] <= ds.max_input_tokens


def test_closed_loop_beyond_the_kv_cache_is_served_not_refused():
    row = next(r for r in _rows() if "bs2048" in r["case_id"] and r["metric"].startswith("power"))
    notes: list[str] = []
    value, reason = predict_energy_row(row, notes=notes)
    assert reason is None and 0 < value <= int(row["num_accelerators"]) * 700.0
    assert any("wait in the engine's queue" in n for n in notes)


def test_mxfp4_rows_on_h100_run_weight_only_with_bf16_attention():
    """gpt-oss MXFP4 on H100 (no 4-bit units): W4A16, bf16 KV, attention projections bf16 (the
    checkpoint's modules_to_not_convert), said in the notes; at a large batch it runs slower than
    the same row forced to W4A8 (fp8 activations and KV, at the fp8 peak)."""
    row = next(r for r in _rows() if "gpt-oss-20b" in r["case_id"] and "bs512-power" in r["case_id"])
    notes: list[str] = []
    run, reason = predict_energy_run(row, notes=notes)
    assert reason is None and run is not None
    assert any("W4A16" in n and "KV bf16" in n for n in notes)
    w4a8, _ = predict_energy_run({**row, "act_dtype": "fp8", "kv_dtype": "fp8"})
    assert w4a8 is not None and run.output_tokens_per_s < w4a8.output_tokens_per_s


@pytest.mark.parametrize("row", [r for r in _rows() if r["metric"] == "power_w_board_total"],
                         ids=lambda r: r["case_id"])
def test_board_power_of_every_subset_row_lies_between_idle_and_tdp(row):
    value, reason = predict_energy_row(row)
    n = int(row["num_accelerators"])
    assert reason is None
    assert 70.0 * n < value <= 700.0 * n * (1 + 1e-9)


def test_validator_carries_the_energy_rows_notes():
    case = next(c for c in read_cases(DATA) if "bs1024" in c.case_id)
    r = Validator(load_calibration(None)).predict_case(case)
    assert r.status == "ok" and any("queue" in n for n in r.notes)


def test_format_fallback_note_reaches_the_case_result():
    # W4A4 (fp4/fp4) on an H100 (no 4-bit units): the GEMMs run at the next wider format, which
    # the setting notes; the validator's result must carry that note.
    header = ",".join(COLUMNS) + "\n"
    case = parse_cases(header + "c,x,s,nvidia-h100-sxm-80gb,1,,meta-llama/Llama-3.1-8B,fp4,fp4,,1,1,,fixed_length,"
                       "1000,1000,8,output_tokens_per_s_total,1000,tokens/s,n\n", "x.csv")[0]
    v = Validator(load_calibration(None))
    r = v.predict_case(case)
    fmt = v.setting(case, case_formats(case)[0]).format_notes
    assert any("no fp4 units" in n for n in fmt), "the setting should note the format fallback"
    assert r.status == "ok" and all(n in r.notes for n in fmt)


def test_the_metric_rows_of_one_run_share_one_layout():
    header = ",".join(COLUMNS) + "\n"
    common = ("nvidia-h100-sxm-80gb,8,,meta-llama/Llama-2-70b-chat-hf,fp8,fp8,fp8,,,,server,,290,")
    text = header + (
        f"t,mlperf-inference-v4.1-closed,s,{common},output_tokens_per_s_total,20000,tokens/s,"
        "TTFT p99<=2000 ms; TPOT p99<=200 ms\n"
        f"f,mlperf-inference-v4.1-closed,s,{common},ttft_ms,500,ms,measured at the load above "
        "(60 completed samples/s)\n")
    tput, ttft = parse_cases(text, "x.csv")
    v = Validator(load_calibration(None), lengths=load_dataset_lengths(None))
    a, b = v.predict_case(ttft), v.predict_case(tput)
    assert a.status == b.status == "ok"
    assert a.layout == b.layout
    assert run_plan(plan_for(ttft, v.lengths)) == run_plan(plan_for(tput, v.lengths))


def test_auto_server_model_is_chosen_per_metric_and_said():
    for metric in ("output_tokens_per_s_total", "samples_per_s", "ttft_ms", "tpot_ms", "itl_ms"):
        assert server_model_for(metric, "auto") in ("sim", "analytic")
        assert server_model_for(metric, "sim") == "sim"
    assert server_model_for("ttft_ms", "auto") == SERVER_MODEL_BY_METRIC["ttft"]
    assert server_model_for("itl_ms", "auto") == SERVER_MODEL_BY_METRIC["tpot"]
    text = server_choice_text("auto")
    assert all(f"{k}: {m}" in text for k, m in SERVER_MODEL_BY_METRIC.items())


def test_predicted_tokens_per_joule_is_finite_for_every_subset_row():
    for row in _rows():
        value, reason = predict_energy_row(row)
        assert reason is None and value is not None and math.isfinite(value) and value > 0


def test_a_regenerated_validation_page_keeps_the_sections_other_tools_wrote(tmp_path):
    from inferchip.interfaces.report.validation_page import kept_sections

    page = tmp_path / "v.md"
    assert kept_sections(page) == []
    page.write_text("# old page\n\n<!-- kept: begin energy -->\n## Energy\ntext\n<!-- kept: end -->\ntail\n")
    kept = kept_sections(page)
    assert kept[0].startswith("<!-- kept: begin energy -->") and kept[0].endswith("<!-- kept: end -->")
    assert "## Energy\ntext" in kept[0] and "old page" not in kept[0] and "tail" not in kept[0]


def test_power_fit_reads_the_stated_throughput_and_sets_the_parameters():
    from inferchip.catalog.assumptions import load_assumptions
    from inferchip.validation.energy.power_fit import BUSY, HOST, error_table, measured_throughput, with_power

    row = _rows()[0]
    assert measured_throughput(row) == pytest.approx(float(row["notes"].split("measured throughput ")[1].split()[0]))
    assert measured_throughput({"notes": "no figure"}) is None
    a = with_power(load_assumptions(), {BUSY: 0.42, HOST: 1.5})
    assert a.energy.busy_fraction == 0.42 and a.host.j_per_sequence == 1.5
    t = error_table([{"metric": "m"}, {"metric": "m"}, {"metric": "n"}], [10.0, -30.0, float("nan")])
    assert t == [{"metric": "m", "rows": 2, "median_ape": 20.0, "p90_ape": pytest.approx(28.0),
                  "median_signed": -10.0}]
