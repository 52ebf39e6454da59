"""The public API, used as a script would: only names from ``import inferchip``."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

import inferchip as ic

H100 = "nvidia-h100-sxm-80gb"
L8 = "meta-llama/Llama-3.1-8B"


def test_import_is_cheap_and_names_load_on_first_use():
    code = ("import sys, inferchip; assert not [m for m in sys.modules if m.startswith('inferchip.')], "
            "sorted(m for m in sys.modules if m.startswith('inferchip.')); "
            "assert 'numpy' not in sys.modules; inferchip.predict; "
            "assert 'inferchip.performance.predict' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_every_public_name_resolves_and_has_a_docstring():
    for name in ic.__all__:
        obj = getattr(ic, name)
        if callable(obj):
            assert obj.__doc__, name
    with pytest.raises(AttributeError):
        ic.no_such_name  # noqa: B018


def test_a_user_script_loads_a_chip_and_a_model_and_predicts():
    chip = ic.load_chip(H100)
    model = ic.load_model(L8)
    assert chip.id == H100 and model.id == L8
    p = ic.predict(H100, L8, batch=8, input_tokens=1024, output_tokens=256)
    assert isinstance(p, ic.Prediction)
    d = p.to_dict()
    for key in ("ttft_s", "tpot_s", "e2e_latency_s", "output_tokens_per_s", "output_tokens_per_s_per_chip",
                "memory_per_chip_bytes", "memory_capacity_per_chip_bytes", "power_w_per_chip", "output_tokens_per_j",
                "usd_per_million_tokens"):
        assert key in d and math.isfinite(d[key]) and d[key] > 0, key
    # Units: seconds and tokens/s agree (a static batch of 8 sequences of 256 tokens per e2e latency).
    assert d["output_tokens_per_s"] == pytest.approx(8 * 256 / d["e2e_latency_s"], rel=1e-9)
    assert d["e2e_latency_s"] == pytest.approx(d["ttft_s"] + 255 * d["tpot_s"], rel=1e-9)
    # Bytes against the chip's memory; joules: tokens/J = tokens/s per chip / W per chip.
    assert d["memory_per_chip_bytes"] <= d["memory_capacity_per_chip_bytes"]
    assert d["output_tokens_per_j"] == pytest.approx(d["output_tokens_per_s_per_chip"] / d["power_w_per_chip"])
    assert 0 < d["power_w_per_chip"] <= chip.power.tdp_w


def test_the_keyword_form_and_the_resolved_setting_agree():
    s = ic.resolve_setting(H100, L8, tp=1, weights="fp8")
    assert isinstance(s, ic.Setting) and s.layout.tp == 1 and s.formats.weights == "fp8"
    a = ic.predict(H100, L8, tp=1, weights="fp8", input_tokens=2000, output_tokens=300)
    b = ic.predict_setting(s, ic.ask(2000, 300))
    assert a.to_dict() == b.to_dict()


def test_serve_on_a_resolved_setting():
    s = ic.resolve_setting(H100, L8, tp=1)
    run = ic.serve(s, rate_per_s=2.0, num_requests=60, input_tokens=512, output_tokens=64)
    assert run["num_completed"] == 60
    assert 0 < run["ttft_s_p50"] < run["e2e_s_p50"]  # seconds: the first token comes before the last
    assert 0 < run["power_w_per_chip"] <= s.chip.tdp_w
    assert run["output_tokens_per_j"] == pytest.approx(run["output_tokens_per_s_per_chip"] / run["power_w_per_chip"],
                                                       rel=1e-6)
    with pytest.raises(Exception, match="exactly one of rate_per_s or concurrency"):
        ic.serve(s, num_requests=10)  # neither a rate nor a concurrency


def test_validate_a_case_file_with_the_analytic_model():
    from pathlib import Path

    rows = ic.validate(str(Path(__file__).parent / "data" / "validation_small.csv"), server_model="analytic",
                       compare=False)
    assert rows and all(r.status in ("ok", "unknown_id", "does_not_fit", "invalid_setting", "not_predictable")
                        for r in rows)
    ok = [r for r in rows if r.status == "ok"]
    assert ok and all(r.predicted > 0 and r.ape == pytest.approx(abs(100 * (r.predicted - r.measured) / r.measured))
                      for r in ok)


def test_a_vision_network_is_costed_through_the_public_api():
    net = ic.load_network("resnet50-v1.5")
    f = ic.frame_cost("nvidia-l4", net, [1, 8])
    assert f.flop_per_frame == net.flop_per_frame > 0
    assert 0 < f.latency_s[0] < f.latency_s[1]  # eight frames take longer than one...
    assert f.frames_per_s[1] >= f.frames_per_s[0]  # ...but not eight times longer than one
    assert f.energy_j == pytest.approx(f.power_w * f.latency_s)  # joules = watts x seconds
    assert 0 < f.power_w.max() <= ic.load_chip("nvidia-l4").power.tdp_w
