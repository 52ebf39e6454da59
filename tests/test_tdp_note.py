"""The throttling note states the chip's TDP as written (stop 36: a 0.7 W TDP, a kW figure typed in W, read
"power would exceed the 1 W TDP"), on the fast path and on the general one (a latency limit). Since newuser41b a
TDP below the bare arithmetic of the chip's own peak (25.3 W for an H100) is refused at load
(tests/test_fuzz_chip_peak_units.py), so the low TDPs here sit above that floor."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import inferchip as ic

H100 = Path(__file__).parents[1] / "src/inferchip/catalog/chips/nvidia-h100-sxm-80gb.yaml"


@pytest.mark.parametrize(("tdp", "shown"), [(30.7, "30.7 W"), (1200, "1,200 W"), (45.5, "45.5 W")])
@pytest.mark.parametrize("limits", [{}, {"max_tpot_s": 10.0}])
def test_the_throttle_note_states_the_tdp_as_written(tmp_path, tdp, shown, limits):
    doc = yaml.safe_load(H100.read_text())
    doc["id"], doc["power"]["tdp_w"] = "my-chip", tdp
    path = tmp_path / "my-chip.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    p = ic.predict(str(path), "meta-llama/Llama-3.1-8B", batch=None if limits else 64, input_tokens=512,
                   output_tokens=64, **limits)
    notes = [n for n in p.notes if "TDP" in n]
    if tdp < 700:
        assert notes and f"the {shown} TDP" in notes[0], p.notes
    else:
        assert not notes or f"the {shown} TDP" in notes[0], p.notes


def test_a_static_batch_names_the_throttled_prefill_beside_its_mean_power():
    """Stop 36: Llama-3.1-8B on an H100 at batch 8 showed 459 W with "power would exceed the 700 W TDP": only the
    compute-bound prefill steps are stretched, the power shown is the mean over the run. Fast and general path."""
    from inferchip.performance.predict import predict_setting

    s = ic.resolve_setting("nvidia-h100-sxm-80gb", "meta-llama/Llama-3.1-8B", tp=1)
    fast = ic.predict_setting(s, ic.ask(1024, 1024, batch=8))
    general = predict_setting(s, ic.ask(1024, 1024, batch=8), fast=False)
    for p in (fast, general):
        assert p.to_dict()["power_w_per_chip"] < 700
        notes = [n for n in p.notes if "TDP" in n]
        assert len(notes) == 1, p.notes
        assert notes[0].startswith("the prefill steps would draw more than the 700 W TDP (the chip's power.tdp_w): "
                                   "clocks throttle and those steps stretch "), p.notes
        assert notes[0].endswith(" times (the power shown is the mean over the batch's prefill and decode)"), p.notes
    assert fast.notes == general.notes
