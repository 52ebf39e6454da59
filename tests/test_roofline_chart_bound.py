"""The review report's roofline charts: no operator point is drawn above the roof it sits under.

Every class time of the model is at least its FLOP at the peak and its DRAM bytes at the bandwidth
(tests/test_invariants.py, tests/test_prefill_attention.py), so a point above ``min(peak, intensity x
bandwidth)`` is a charting error: its FLOP or bytes were isolated with other sizes than the cost rules
charge. Stop 42 found prefill attention drawn 1.6-7.8x above the memory roof on every chip: the
elementwise kernels were subtracted from the attention's bytes at the activation width (1 byte under
FP8) while the rules charge them at the 16-bit hidden-state width, so half of them stayed in.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from inferchip.interfaces.report.charts import roofline_figure
from inferchip.review.chart_data import chip_charts
from inferchip.review.review import ReviewConfig, evaluate_chip, resolve

L8 = "meta-llama/Llama-3.1-8B-Instruct"
MIXTRAL = "mistralai/Mixtral-8x7B-Instruct-v0.1"


def _charted(chip_id: str, models: list[str], weights: str):
    cfg = ReviewConfig(chips=[chip_id], models=models, claim=None, sensitivity=False, judge=False, jobs=1,
                       weights=weights)
    inputs = resolve(cfg)
    chips, entries, so = inputs.chips, inputs.models, inputs.claim_doc.scale_out
    chip = chips[0]
    rows, kept = evaluate_chip(chip, entries, cfg, so)
    _, points, _ = chip_charts(chip, entries, rows, kept, cfg, so)
    return SimpleNamespace(roofline={chip.id: points}, chips=chips, models=entries, config=cfg), chip, points


@pytest.mark.parametrize(("chip_id", "weights"), [("nvidia-h100-sxm-80gb", "fp8"), ("nvidia-h200-sxm-141gb", "fp8"),
                                                   ("amd-mi300x", "fp8"), ("nvidia-h100-sxm-80gb", "bf16")])
def test_every_plotted_point_is_at_or_below_the_roof_it_is_drawn_under(chip_id, weights):
    res, chip, points = _charted(chip_id, [L8, MIXTRAL], weights)
    fig = roofline_figure(res, chip.id)  # type: ignore[arg-type]
    roofs = [t for t in fig["data"] if t["name"].startswith("roof")]
    marks = [t for t in fig["data"] if t["mode"] == "markers"]
    assert roofs and marks
    # the roof as drawn: its flat part is the highest drawn peak, its slope the bandwidth
    peak = max(max(t["y"]) for t in roofs)
    bw = roofs[0]["y"][0] / roofs[0]["x"][0]
    assert bw == pytest.approx(chip.params.memory_bytes_per_s)
    n = 0
    for t in marks:
        for x, y, cls in zip(t["x"], t["y"], t["text"], strict=True):
            assert y <= min(peak, x * bw) * (1 + 1e-9), (t["name"], cls, x, y, peak, x * bw)
            n += 1
    assert n == len(points) >= 18  # both phases of both models, every class drawn


def test_prefill_attention_bytes_and_flop_by_hand():
    """Llama-3.1-8B on one H100 in FP8: 32 layers, 32 query heads of 128 + 128 dimensions, 8 KV heads.
    A prefill chunk of 8,192 tokens is 8 prompts of 1,024. Per token and layer the flash kernel reads q and
    writes o (32 x 256 x 1 byte) and reads and writes K and V (2 x 8 x 256 x 1 byte): 12,288 bytes.
    Its FLOP: 2 x 32 x 256 per causal pair and layer, 1,024 x 1,025 / 2 pairs per prompt."""
    _, chip, points = _charted("nvidia-h100-sxm-80gb", [L8], "fp8")
    att = next(p for p in points if p["phase"] == "prefill" and p["op_class"] == "attention")
    layers, tokens, prompts = 32, 8192, 8
    assert att["dram_bytes"] == pytest.approx(layers * tokens * (32 * 256 * 1 + 2 * 8 * 256 * 1))  # 3.22e9
    flop = layers * 2 * 32 * 256 * prompts * 1024 * 1025 / 2  # 2.20e12
    assert att["flop"] == pytest.approx(flop)
    # its time (2.1 ms) exceeds both bounds: 2.20e12 / 1.979e15 = 1.11 ms, 3.22e9 / 3.35e12 = 0.96 ms
    assert att["time_s"] >= flop / chip.params.peak_flop_per_s["fp8"]
    assert att["time_s"] >= att["dram_bytes"] / chip.params.memory_bytes_per_s
    assert att["arithmetic_intensity_flop_per_byte"] == pytest.approx(flop / att["dram_bytes"])  # 683, not 95
