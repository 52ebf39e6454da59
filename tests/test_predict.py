"""predict(): memory fit errors, bad settings, layout search and the JSON contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import make_chip, tiny_dense
from inferchip.errors import DoesNotFitError, InvalidSettingError, UnknownIdError
from inferchip.interfaces.cli import main
from inferchip.performance.predict import predict

L70 = "meta-llama/Llama-2-70b-chat-hf"


def test_70b_bf16_does_not_fit_one_h100_and_the_error_says_why(h100):
    with pytest.raises(DoesNotFitError) as exc:
        predict(h100, L70, count=1, weights="bf16", batch=1, input_tokens=1024, output_tokens=1024)
    msg = str(exc.value)
    # 70B x 2 bytes = ~138 GB of weights against ~78 GiB usable: short by > 50 GB.
    assert "short by" in msg and "more chips" in msg and "weights=fp8" in msg


def test_batch_too_large_names_the_largest_that_fits(h100):
    with pytest.raises(DoesNotFitError) as exc:
        predict(h100, L70, count=8, tp=8, weights="fp8", batch=100000, input_tokens=1024, output_tokens=1024)
    assert "smaller batch: at most" in str(exc.value)


@pytest.mark.parametrize("kwargs, words", [
    (dict(tp=3), "does not divide the 64 attention heads"),
    (dict(tp=16), "needs more chips"),
    (dict(ep=2, tp=2), "needs a mixture-of-experts model"),
    (dict(batch=0), "must be positive"),
    (dict(input_tokens=-5, batch=1), "must be positive"),
    (dict(weights="fp9", batch=1), "unknown number format 'fp9'"),
])
def test_impossible_settings_are_refused_with_the_reason(h100, kwargs, words):
    base = dict(count=8, weights="fp8", batch=1)
    base.update(kwargs)
    with pytest.raises(InvalidSettingError, match=words):
        predict(h100, L70, **base)


def test_unknown_model_names_closest():
    with pytest.raises(UnknownIdError) as exc:
        predict(make_chip(), "meta-llama/Llama-2-70b-chat", count=8, batch=1)
    assert "meta-llama/Llama-2-70b-chat-hf" in str(exc.value)


def test_max_throughput_respects_latency_limits_and_memory(h100):
    free = predict(h100, L70, count=8, weights="fp8", input_tokens=1024, output_tokens=1024)
    capped = predict(h100, L70, count=8, weights="fp8", input_tokens=1024, output_tokens=1024, max_tpot_s=0.03)
    assert capped.tpot_s <= 0.03
    assert capped.output_tokens_per_s <= free.output_tokens_per_s
    assert free.memory_per_chip_bytes <= free.memory_capacity_per_chip_bytes
    assert free.tp * free.pp * free.replicas == 8


def test_unmeetable_slo_reports_best_achievable(h100):
    with pytest.raises(DoesNotFitError, match="no batch meets the latency limits"):
        predict(h100, L70, count=8, weights="fp8", max_tpot_s=1e-4)


def test_format_without_units_falls_back_and_says_so():
    a100_like = make_chip(peak_flop_per_s={"bf16": 312e12, "fp16": 312e12, "int8": 624e12, "fp32": 19.5e12})
    p = predict(a100_like, tiny_dense(), weights="fp4", activations="bf16", batch=1)
    assert p.compute_format == "bf16"
    p = predict(a100_like, tiny_dense(), weights="fp8", batch=1)
    assert p.compute_format == "int8" and any("no fp8 units" in n for n in p.notes)


def test_more_chips_never_lower_max_throughput(h100):
    a = predict(h100, "meta-llama/Llama-3.1-8B", count=1, weights="fp8")
    b = predict(h100, "meta-llama/Llama-3.1-8B", count=2, weights="fp8")
    assert b.output_tokens_per_s >= a.output_tokens_per_s


def test_cli_json_contract(capsys):
    rc = main(["predict", "--chip", "nvidia-h100-sxm-80gb", "--count", "8", "--model", L70, "--weights", "fp8",
               "--input-tokens", "1024", "--output-tokens", "1024", "--max-throughput", "--format", "json"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("ttft_s", "tpot_s", "e2e_latency_s", "output_tokens_per_s", "output_tokens_per_s_per_chip",
                "batch", "tp", "pp", "ep", "memory_per_chip_bytes"):
        assert key in out
    assert out["output_tokens_per_s_per_chip"] == pytest.approx(out["output_tokens_per_s"] / 8)


def test_cli_table_and_errors_without_traceback(capsys):
    assert main(["predict", "--chip", "nvidia-h100-sxm-80gb", "--model", L70, "--count", "8", "--weights", "fp8",
                 "--batch", "8"]) == 0
    assert "TTFT" in capsys.readouterr().out
    rc = main(["predict", "--chip", "nvidia-h100-sxm", "--model", L70, "--batch", "1"])
    err = capsys.readouterr().err
    assert rc == 2 and "nvidia-h100-sxm-80gb" in err and "Traceback" not in err
    rc = main(["predict", "--chip", "nvidia-h100-sxm-80gb", "--model", L70, "--batch", "1"])
    err = capsys.readouterr().err
    assert rc == 2 and "does not fit" in err
    rc = main(["predict", "--chip", "nvidia-h100-sxm-80gb", "--model", L70])
    assert rc == 2 and "--max-throughput" in capsys.readouterr().err


def test_user_chip_yaml_is_accepted_wherever_an_id_is(tmp_path, capsys):
    y = tmp_path / "mychip.yaml"
    y.write_text("""
id: my-chip
name: My chip
vendor: Me
family: generic
estimate: true
compute: {dense_tflops: {bf16: 500, fp8: 1000}}
memory: {type: HBM3, capacity: 96, capacity_unit: GiB, bandwidth_tb_per_s: 4}
interconnect: {scaleup_bw_gb_per_s_per_direction: 400, max_scaleup_domain: 8}
power: {tdp_w: 600}
sources: [{citation: my own design, kind: estimate}]
""")
    assert main(["predict", "--chip", str(y), "--model", "meta-llama/Llama-3.1-8B", "--batch", "4",
                 "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["chip_id"] == "my-chip"
    bad = tmp_path / "bad.yaml"
    bad.write_text(y.read_text().replace("bandwidth_tb_per_s: 4", "bandwidth_tb_per_s: fast"))
    assert main(["predict", "--chip", str(bad), "--model", "meta-llama/Llama-3.1-8B", "--batch", "4"]) == 2
    err = capsys.readouterr().err
    assert "bad.yaml" in err and "bandwidth_tb_per_s" in err and "fast" in err


# --- W4A4 (NVFP4 / MXFP4 activations) ------------------------------------------------------------


def test_w4a4_formats_default_kv_to_fp8_and_refuse_what_is_not_w4a4():
    from inferchip.performance.setting import resolve_formats

    f = resolve_formats("fp4", "fp4", None)
    assert (f.weights, f.activations, f.kv) == ("fp4", "fp4", "fp8")  # as validate.case_formats builds them
    assert resolve_formats("mxfp4", "mxfp4", "bf16").kv == "bf16"  # KV as given
    with pytest.raises(InvalidSettingError, match="int4 is weight-only"):
        resolve_formats("int4", "int4", None)
    with pytest.raises(InvalidSettingError, match="need 4-bit float weights"):
        resolve_formats("bf16", "fp4", None)


def test_w4a4_prefill_runs_at_the_4bit_peak_on_a_chip_that_has_one():
    # A B200-like chip: dense fp4 peak = 2 x fp8. A 4096-token prefill of the tiny model is
    # GEMM-bound, so W4A4 (fp4 GEMMs) must prefill faster than W4A8 (fp8 GEMMs) on the same weights.
    b200_like = make_chip(peak_flop_per_s={"bf16": 2250e12, "fp16": 2250e12, "fp8": 4500e12, "fp4": 9000e12,
                                           "fp32": 75e12}, tdp_w=1e9)  # no throttling: compare times only
    w4a8 = predict(b200_like, tiny_dense(hidden=4096, ffn=16384), weights="fp4", batch=4, input_tokens=4096,
                   output_tokens=2)
    w4a4 = predict(b200_like, tiny_dense(hidden=4096, ffn=16384), weights="fp4", activations="fp4", batch=4,
                   input_tokens=4096, output_tokens=2)
    assert w4a8.compute_format == "fp8" and w4a4.compute_format == "fp4"
    assert w4a4.ttft_s < w4a8.ttft_s
    assert any("W4A4" in n and "attention at 16 bit" in n for n in w4a4.notes)


def test_w4a4_on_a_chip_without_4bit_units_falls_back_to_fp8_and_says_so(h100):
    p = predict(h100, tiny_dense(), weights="fp4", activations="fp4", batch=1)
    assert p.compute_format == "fp8"  # spec.formats.WIDER: fp4 -> mxfp4 -> fp8
    assert any("no fp4 units: GEMMs run at fp8" in n for n in p.notes)


def test_attention_dp_passes_through_predict_and_splits_the_latent_cache():
    """MLA keeps one latent KV head, so under tp=8 every chip holds every sequence's latent
    cache; under attention DP each chip holds only its own 1/8 of the sequences. Same batch,
    same lengths: the KV bytes per chip differ by exactly the factor 8."""
    from inferchip.performance.predict import predict

    kw = dict(count=8, weights="fp8", tp=8, input_tokens=1024, output_tokens=256, batch=64, calibration="none")
    dp = predict("nvidia-h200-sxm-141gb", "deepseek-ai/DeepSeek-R1", attn_dp=True, **kw)
    tp = predict("nvidia-h200-sxm-141gb", "deepseek-ai/DeepSeek-R1", attn_dp=False, ep=8, **kw)
    assert dp.attn_dp and dp.ep == 8 and not tp.attn_dp
    assert dp.to_dict()["attn_dp"] is True
    ratio = tp.memory_breakdown_bytes["kv_cache"] / dp.memory_breakdown_bytes["kv_cache"]
    assert ratio == pytest.approx(8.0, rel=1e-9)


def test_attention_dp_on_a_dense_model_is_refused_with_the_reason():
    from inferchip.errors import InvalidSettingError
    from inferchip.performance.predict import predict

    with pytest.raises(InvalidSettingError, match="dense"):
        predict("nvidia-h100-sxm-80gb", "meta-llama/Llama-3.1-8B-Instruct", count=2, tp=2, attn_dp=True, batch=1)


def test_the_more_chips_hint_is_a_count_that_fits():
    """The hint splits weights and KV cache over the chips (it once divided the weights by the
    memory left after an oversized KV cache: 16 billion chips for 64 sequences of 9,010 tokens)."""
    import re

    with pytest.raises(DoesNotFitError) as exc:
        predict("nvidia-h100-sxm-80gb", "meta-llama/Llama-3.1-8B", tp=1, batch=64, input_tokens=9000,
                output_tokens=10)
    n = int(re.search(r"more chips: about (\d+) per replica", str(exc.value)).group(1))
    tp = next(d for d in (2, 4, 8) if d >= n)  # tp must divide the 32 heads
    p = predict("nvidia-h100-sxm-80gb", "meta-llama/Llama-3.1-8B", count=tp, tp=tp, batch=64, input_tokens=9000,
                output_tokens=10)
    assert p.memory_per_chip_bytes <= p.memory_capacity_per_chip_bytes


@pytest.mark.parametrize(("model", "kw"), [
    ("meta-llama/Llama-3.1-8B", dict(tp=1, batch=64, input_tokens=9000, output_tokens=10)),
    ("meta-llama/Llama-3.1-405B-Instruct", dict(tp=8, count=8, batch=1)),
    ("meta-llama/Llama-3.1-70B-Instruct", dict(tp=1, count=4, batch=1)),
])
def test_the_more_chips_hint_names_a_layout_the_model_allows(model, kw):
    """The hint's flags (tp splitting the heads, within the tp domain, no narrower than the run's; pp at most the
    layers; --count keeping the run's replicas) are accepted by predict; it once said only "about N chips", and N
    (3, 11) was often no tp the heads allow."""
    import re

    with pytest.raises(DoesNotFitError) as exc:
        predict("nvidia-h100-sxm-80gb", model, **kw)
    got = re.search(r"smallest layout this model allows: tp=(\d+)(?: pp=(\d+))? count=(\d+)", str(exc.value))
    assert got is not None, str(exc.value)
    tp, pp, count = int(got.group(1)), int(got.group(2) or 1), int(got.group(3))
    assert tp >= kw["tp"]
    assert count == tp * pp * max(1, kw.get("count", 1) // kw["tp"])
    p = predict("nvidia-h100-sxm-80gb", model, **{**kw, "tp": tp, "pp": pp, "count": count})
    assert p.memory_per_chip_bytes <= p.memory_capacity_per_chip_bytes


def test_the_more_chips_hint_on_a_pipeline_names_a_layout_that_fits(tmp_path):
    """Where only a pipeline widens the replica (7 heads: tp 1), the hint spread the weights evenly over the
    stages while the end stages keep the embedding or LM head whole: it named --pp 14 of a model that needs 20 chips
    of 8 GB. The layout it names now fits, and one stage fewer does not."""
    import re

    config = json.loads((Path(__file__).resolve().parents[1] / "src/inferchip/catalog/models/Qwen__Qwen2.5-72B.json"
                         ).read_text(encoding="utf-8"))
    config.update(num_attention_heads=7, num_key_value_heads=7, hidden_size=7 * 128)
    model = tmp_path / "seven_heads.json"
    model.write_text(json.dumps(config), encoding="utf-8")
    chip = "nvidia-jetson-orin-nano-8gb"
    with pytest.raises(DoesNotFitError) as exc:
        predict(chip, str(model), batch=1)
    got = re.search(r"smallest layout this model allows: tp=1 pp=(\d+) count=(\d+)", str(exc.value))
    assert got is not None, str(exc.value)
    pp = int(got.group(1))
    assert int(got.group(2)) == pp
    p = predict(chip, str(model), batch=1, tp=1, pp=pp, count=pp)
    assert p.memory_per_chip_bytes <= p.memory_capacity_per_chip_bytes
    with pytest.raises(DoesNotFitError):
        predict(chip, str(model), batch=1, tp=1, pp=pp - 1, count=pp - 1)
