"""`serve`/`curve --mtp` and `--disagg` (issue 12, points 2 and 3): the closed-loop benchmark of the case row the
options describe, predicted by the validator's own code; bad values are one `error:` line naming the option."""

from __future__ import annotations

import json
import math
from functools import cache, lru_cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from inferchip.interfaces.cli import app, main
from inferchip.interfaces.serve_rows import Pool, closed_loop_case, parse_disagg, row_validator, run_row

CHIP, MODEL = "nvidia-h100-sxm-80gb", "meta-llama/Llama-3.1-8B-Instruct"
H100_8B = ["--chip", CHIP, "--model", MODEL]
SHORT = ["--input-tokens", "512", "--output-tokens", "64"]


def _serve(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(app, ["serve", *H100_8B, *args])
    return res.exit_code, res.output


def _json(*args: str) -> dict:
    code, text = _serve(*args, "--format", "json")
    assert code == 0, text
    return json.loads(text)


def test_disagg_form_as_a_case_row_states_pools():
    pre, dec = parse_disagg("1xtp4ep4:4xtp8ep8")
    assert pre == Pool(1, 4, 4, False) and dec == Pool(4, 8, 8, False)
    # the row imax-...-disagg-p4x4e4-d32x8e8-...: "4 prefill GPUs (1 worker(s), TP4/EP4, ...) + 32 decode GPUs"
    assert pre.notes_text("prefill") == "4 prefill GPUs (1 worker(s), TP4/EP4, DP-attention false)"
    assert dec.notes_text("decode") == "32 decode GPUs (4 worker(s), TP8/EP8, DP-attention false)"
    assert parse_disagg("2x4ep4dpa:1xtp16ep16dpa") == (Pool(2, 4, 4, True), Pool(1, 16, 16, True))
    assert Pool(1, 1, 8, True).chips == 8  # attention DP: a worker of max(tp, ep) chips


@pytest.mark.parametrize(("args", "named"), [
    (["--concurrency", "4", "--mtp", "-1"], "--mtp"),
    (["--concurrency", "4", "--mtp", "0", "--mtp-acceptance", "0.5"], "--mtp-acceptance"),
    (["--concurrency", "4", "--mtp", "9"], "--mtp"),
    (["--concurrency", "4", "--mtp", "1", "--mtp-acceptance", "1.5"], "--mtp-acceptance"),
    (["--concurrency", "4", "--mtp", "1", "--mtp-acceptance", "nan"], "--mtp-acceptance"),
    (["--concurrency", "4", "--disagg", "1xtp1"], "--disagg"),
    (["--concurrency", "4", "--disagg", "0xtp1:1xtp1"], "--disagg"),
    (["--concurrency", "4", "--disagg", "1xtp2ep3:1xtp1"], "--disagg"),
    (["--concurrency", "4", "--disagg", "1xtp1:1xtp1", "--kv-link-gb-per-s", "-1"], "--kv-link-gb-per-s"),
    (["--concurrency", "4", "--mtp-acceptance", "0.5"], "--mtp-acceptance"),
    (["--concurrency", "4", "--kv-link-gb-per-s", "10"], "--kv-link-gb-per-s"),
    (["--rate", "2", "--mtp", "1"], "--mtp"),
    (["--concurrency", "4", "--mtp", "1", "--requests", "100"], "--requests"),
    (["--concurrency", "4", "--mtp", "1", "--range-ratio", "1"], "--range-ratio"),
    (["--concurrency", "4", "--disagg", "1xtp1:1xtp1", "--tp", "2"], "--disagg"),
    (["--concurrency", "4", "--disagg", "1xtp1:1xtp1", "--kv-link-latency-us", "5"], "--kv-link-gb-per-s"),
    (["--concurrency", "4", "--count", "3", "--tp", "2", "--mtp", "1"], "--count"),  # the row's refusal, in options
    (["--concurrency", "4", "--disagg", "1xtp16:1xtp1"], "--disagg (prefill pool)"),
    (["--concurrency", "4", "--disagg", "1xtp1:1xtp1", "--software", "foo"], "--software"),
    (["--concurrency", "4", "--software", "vllm"], "--software"),
])
def test_bad_values_and_combinations_are_one_error_naming_the_option(args, named, capsys):
    code = main(["serve", *H100_8B, *args])
    text = capsys.readouterr().err
    assert code == 2, text
    assert "Traceback" not in text and named in text and text.lower().startswith("error")
    assert "allowed" in text or "give" in text or "drop" in text



@pytest.mark.parametrize(("args", "named"), [
    (["--software", "vllm"], "--software"),
    (["--kv-link-latency-us", "5"], "--kv-link-gb-per-s"),
    (["--disagg", "1xtp1:1xtp1", "--kv-link-latency-us", "-1"], "--kv-link-latency-us"),
    (["--disagg", "1xtp1"], "--disagg"),
])
def test_curve_refuses_bad_link_software_and_disagg_options_naming_them(args, named, capsys):
    """``curve`` takes the link options, ``--software`` and ``--disagg`` as ``serve`` does (one parse, one check)."""
    code = main(["curve", *H100_8B, *args])
    text = capsys.readouterr().err
    assert code == 2, text
    assert "Traceback" not in text and named in text and text.lower().startswith("error")


@cache
def _tpot_s(acceptance: float | None, mtp: int | None = 1) -> float:
    v = row_validator(None, "vllm", mtp, acceptance, None, None)
    case = closed_loop_case(CHIP, MODEL, count=1, tp=1, pp=1, ep=1, attn_dp=False, weights="bf16", activations=None,
                            kv=None, engine_id="vllm", input_tokens=512, output_tokens=128, concurrency=8,
                            mtp=mtp is not None, disagg=None)
    return float(run_row(v, case)["tpot_s_mean"])


def test_mtp_at_acceptance_0_is_no_faster_and_pays_only_its_draft_cost():
    base, zero = _tpot_s(None, None), _tpot_s(0.0)
    assert zero >= base  # every step verifies a draft token and keeps none: never faster
    # the draft cost: one more token per sequence in each decode step of 8 sequences on a memory-bound 8B model
    assert zero <= 1.25 * base


def test_mtp_at_high_acceptance_lowers_tpot():
    base, high = _tpot_s(None, None), _tpot_s(0.9)
    assert high < base / 1.5  # 1.9 tokens per step for a slightly longer step
    assert _tpot_s(0.9) < _tpot_s(0.5) < _tpot_s(0.0)


@lru_cache(maxsize=1)
def _disagg_validator_case():
    pools = parse_disagg("1xtp1:1xtp1")
    case = closed_loop_case(CHIP, MODEL, count=2, tp=1, pp=1, ep=1, attn_dp=False, weights="bf16", activations=None,
                            kv=None, engine_id="vllm", input_tokens=1024, output_tokens=32, concurrency=1,
                            mtp=False, disagg=pools)
    return case


def _disagg_ttft_s(gb_per_s: float, latency_us: float) -> float:
    v = row_validator(None, "vllm", None, None, gb_per_s, latency_us)
    return float(run_row(v, _disagg_validator_case())["ttft_s_mean"])


@settings(max_examples=6, deadline=None)
@given(st.floats(1.0, 1000.0), st.floats(0.0, 5000.0), st.floats(1.5, 20.0), st.floats(1.0, 20_000.0))
def test_disaggregated_ttft_includes_the_kv_transfer(gb_per_s, latency_us, slower, more_us):
    """A slower or longer link never shortens TTFT, and one client's TTFT grows by the added link time."""
    kv_bytes = 131_072 * 921.6  # Llama-3.1-8B bf16: 2 x 32 layers x 8 KV heads x 128 x 2 B per token; mean prompt
    base = _disagg_ttft_s(gb_per_s, latency_us)
    slow = _disagg_ttft_s(gb_per_s / slower, latency_us + more_us)
    added_s = kv_bytes / (gb_per_s / slower * 1e9) - kv_bytes / (gb_per_s * 1e9) + more_us * 1e-6
    assert slow >= base
    assert slow - base == pytest.approx(added_s, rel=0.1, abs=2e-4)


def test_serve_and_a_validate_case_row_give_the_same_figures(tmp_path):
    args = ["--concurrency", "4", "--input-tokens", "512", "--output-tokens", "64", "--engine", "vllm"]
    mtp = _json(*args, "--tp", "1", "--mtp", "1")
    dis = _json(*args, "--disagg", "1xtp1:1xtp1")
    assert mtp["mtp"] == {"draft_tokens": 1, "acceptance": 0.85, "tokens_per_step": 1.85}
    assert dis["disagg"]["prefill_workers"] == 1 and dis["mtp"] is None
    for fig in (mtp, dis):  # where each format came from, as plain serve says it
        assert (fig["weights"], fig["activations_source"]) == ("bf16", "checkpoint dtype bf16: served in one dtype")
    rows = []
    header = ("case_id,source_kind,source,accelerator,num_accelerators,software,model,weight_dtype,act_dtype,kv_dtype,"
              "tp,pp,ep,scenario,input_tokens,output_tokens,concurrency,metric,value,unit,notes")
    for name, count, notes in (("u-mtp-tp1", 1, "speculative decoding: mtp"),
                               ("u-disagg-p1x1e1-d1x1e1", 2, "1 prefill GPUs (1 worker(s), TP1/EP1, DP-attention "
                                                             "false) + 1 decode GPUs (1 worker(s), TP1/EP1, "
                                                             "DP-attention false)")):
        for metric, unit in (("ttft_ms", "ms"), ("tpot_ms", "ms"), ("output_tokens_per_s_total", "tokens/s")):
            rows.append(f"{name}-{metric},user,here,{CHIP},{count},vLLM,{MODEL},bf16,,,1,1,1,server,512,64,4,"
                        f"{metric},1,{unit},\"{notes}\"")
    path = tmp_path / "rows.csv"
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    res = CliRunner().invoke(app, ["validate", str(path), "--format", "json"])
    assert res.exit_code == 0, res.output
    got = {c["case_id"]: c["predicted"] for c in json.loads(res.output)["cases"]}
    for name, fig in (("u-mtp-tp1", mtp), ("u-disagg-p1x1e1-d1x1e1", dis)):
        assert got[f"{name}-ttft_ms"] == pytest.approx(fig["ttft_s_mean"] * 1e3, rel=1e-9)
        assert got[f"{name}-tpot_ms"] == pytest.approx(fig["tpot_s_mean"] * 1e3, rel=1e-9)
        assert got[f"{name}-output_tokens_per_s_total"] == pytest.approx(fig["output_tokens_per_s"], rel=1e-9)


def test_curve_with_mtp_reports_each_concurrency():
    res = CliRunner().invoke(app, ["curve", *H100_8B, "--tp", "1", "--mtp", "1", *SHORT, "--format", "json"])
    assert res.exit_code == 0, res.output
    pts = json.loads(res.output)["points"]
    assert [p["concurrency"] for p in pts][:3] == [1, 2, 4]
    assert all(math.isfinite(p["ttft_s_mean"]) and p["tokens_per_step"] == 1.85 for p in pts)


def test_a_catalogue_mtp_disagg_row_through_serve_gives_its_validate_prediction(tmp_path):
    """The GB200 Dynamo + TensorRT-LLM MTP row (pools 4 prefill GPUs in 1 worker TP4/EP4 + 32 decode GPUs in 4
    workers TP8/EP8) predicted by `validate` and by `serve` with the same software text, pools and MTP."""
    import csv
    from pathlib import Path

    src = Path(__file__).parents[1] / "src/inferchip/catalog/inferencemax_cases.csv"
    prefix = "imax-dsr1-0528-gb200-dynamo-trt-fp4-mtp-disagg-p4x4e4-d32x8e8-1024-1024-c4-r20321908209-"
    with src.open(newline="") as f:
        reader = csv.DictReader(f)
        rows = [r for r in reader if r["case_id"].startswith(prefix)]
        fields = reader.fieldnames
    assert len(rows) == 3
    path = tmp_path / "rows.csv"
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)
    res = CliRunner().invoke(app, ["validate", str(path), "--format", "json"])
    assert res.exit_code == 0, res.output
    got = {c["case_id"][len(prefix):]: c["predicted"] for c in json.loads(res.output)["cases"]}
    res = CliRunner().invoke(app, ["serve", "--chip", "nvidia-gb200-186gb", "--model", "deepseek-ai/DeepSeek-R1-0528",
                                   "--weights", "fp4", "--activations", "fp4", "--software", rows[0]["software"],
                                   "--mtp", "1", "--disagg", "1xtp4ep4:4xtp8ep8", "--concurrency", "4",
                                   "--input-tokens", "1024", "--output-tokens", "1024", "--format", "json"])
    assert res.exit_code == 0, res.output
    fig = json.loads(res.output)
    assert fig["num_chips"] == 36
    assert (fig["weights_source"], fig["activations_source"], fig["kv_source"]) == (
        "the weights given", "the activations given", "the default of the weights given, fp4")
    assert got["ttft"] == pytest.approx(fig["ttft_s_mean"] * 1e3, rel=1e-9)
    assert got["tpot"] == pytest.approx(fig["tpot_s_mean"] * 1e3, rel=1e-9)
    assert got["tput"] == pytest.approx(fig["output_tokens_per_s"], rel=1e-9)


def test_the_mtp_engine_override_is_held_to_the_engine_records_bounds():
    # the override goes through EngineSpec's validation, not around it: a value its fields refuse is one error
    # naming the option, and the bounds the CLI allows (a probability, 0 and 1 included) are the record's own
    from inferchip.errors import InvalidSettingError
    from inferchip.spec.engine import EngineSpec

    for a in (0.0, 1.0):
        v = row_validator(None, "vllm", 2, a, None, None)
        assert EngineSpec.model_validate(v.engine_spec.model_dump()).mtp_acceptance == a
        assert v.engine_spec.mtp_tokens_per_step() == (1.0 if a == 0 else 3.0)
    for bad in (1.5, -0.1):
        with pytest.raises(InvalidSettingError, match="--mtp-acceptance"):
            row_validator(None, "vllm", 1, bad, None, None)
    with pytest.raises(InvalidSettingError, match="--mtp"):
        row_validator(None, "vllm", 9, None, None, None)


def test_mtp_on_a_model_without_mtp_modules_says_so():
    # Llama-3.1-8B's config has no num_nextn_predict_layers: its MTP draft tokens are an assumption, said in the notes
    notes = _json("--tp", "1", "--concurrency", "2", *SHORT, "--mtp", "1")["notes"]
    assert any("no MTP module" in n and "num_nextn_predict_layers" in n for n in notes), notes
    from inferchip.catalog.models import mtp_modules
    assert mtp_modules("deepseek-ai/DeepSeek-R1-0528") == 1 and mtp_modules(MODEL) == 0
    assert mtp_modules("no-such/model") is None


@pytest.mark.parametrize("count", ["1", "3"])
def test_a_count_other_than_the_disagg_pools_chips_is_refused_naming_both(count, capsys):
    # review35b: an explicit --count 1 beside two one-chip pools was accepted silently (the default could not be
    # told from it) and the row ran on 2 chips
    code = main(["serve", *H100_8B, *SHORT, "--concurrency", "2", "--disagg", "1xtp1:1xtp1", "--count", count])
    text = capsys.readouterr().err
    assert code == 2, text
    assert text.startswith("error:") and text.count("\n") == 1
    assert f"--count {count}" in text and "--disagg" in text and "2 chips" in text and "Traceback" not in text


def test_a_count_equal_to_the_disagg_pools_chips_or_none_is_accepted():
    given = _json(*SHORT, "--concurrency", "2", "--disagg", "1xtp1:1xtp1", "--count", "2")
    default = _json(*SHORT, "--concurrency", "2", "--disagg", "1xtp1:1xtp1")
    assert given["num_chips"] == default["num_chips"] == 2
    assert given["ttft_s_mean"] == default["ttft_s_mean"]


@pytest.mark.parametrize(("disagg", "held"), [("1x100001:1xtp1", "100,001"), ("1xtp1ep100001dpa:1x1", "100,001"),
                                              ("60000xtp1:60000xtp1", "120,000")])
def test_the_disagg_chip_limit_is_named_with_its_source(disagg, held, capsys):
    # review35b: the pool-size limit was refused as "workers, tp and ep whole numbers from 1", without the limit;
    # and two pools each under it ran a system above the --count limit
    from inferchip.workload.limits import MAX_CHIPS

    code = main(["serve", *H100_8B, "--concurrency", "2", "--disagg", disagg])
    text = capsys.readouterr().err
    assert code == 2, text
    assert f"{MAX_CHIPS:,}" in text and "MAX_CHIPS" in text and "--count" in text and held in text
    assert parse_disagg("50000xtp1:50000xtp1") is not None  # exactly the limit passes


def _curve_json(*args: str) -> dict:
    res = CliRunner().invoke(app, ["curve", *H100_8B, *args, "--format", "json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


def test_curve_mtp_says_which_points_exceed_the_plain_curves_memory_limit():
    # review35b: curve --mtp ran concurrency 1-256 without a word on the memory limit the plain curve stops at
    long = ["--input-tokens", "8192", "--output-tokens", "1024"]
    limit = _curve_json(*long)["memory_limit_concurrency"]
    assert 1 < limit < 256
    notes = [n for n in _curve_json(*long, "--mtp", "1")["points"][-1]["notes"] if "memory limit" in n]
    assert len(notes) == 1 and f"above {limit:,} " in notes[0]
    assert not any("memory limit" in n for n in _curve_json(*SHORT, "--mtp", "1")["points"][-1]["notes"])
