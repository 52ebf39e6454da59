"""A sized chip's throughput-interactivity curve is drawn on the deployment its rows use (report42's note, stop 42).

Groq (groq-lpu-v1) serves Llama-3.1-8B on a sized deployment of 64 chips (tp 32, pp 2; 96 at tp 8 pp 12 before
groq51 widened its tp domain to the C2C network) with prefill steps of
review/claim.yaml's ``scale_out.chunk_tokens`` (256). The chart's curve was computed on that layout but with the
engines' default chunk of 8,192 tokens, whose activations leave no room in 230 MB of SRAM for one sequence
(``max_batch`` 0), so the chart had no Groq curve. Now a sized chip's curve uses the sizing's chunk, as its rows
were predicted, and names the deployment's chips in the legend."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from inferchip.interfaces.report.charts import curves_figure
from inferchip.review.cases import evaluate_chip
from inferchip.review.chart_data import chip_charts
from inferchip.review.claim_file import load_claim
from inferchip.review.inputs import ReviewConfig, chip_entry, model_entry

L8 = "meta-llama/Llama-3.1-8B-Instruct"
SO = load_claim().scale_out  # the bundled claim file's, as a default review resolves it


def test_groq_has_a_curve_on_its_64_chip_deployment_matching_its_rows() -> None:
    cfg = ReviewConfig()
    groq, m = chip_entry("groq-lpu-v1", cfg.domain_cap), model_entry(L8)
    rows, kept = evaluate_chip(groq, [m], cfg, SO)
    preds = list(kept.values())
    assert preds and {p.num_chips for p in preds} == {64} and {(p.tp, p.pp) for p in preds} == {(32, 2)}
    curves, _, _ = chip_charts(groq, [m], rows, kept, cfg, SO)
    c = curves[m.id]
    assert c["deployment_chips"] == [64]
    p = preds[0]  # the rows' point (batch 5, what its SRAM holds) is the curve's first, its largest batch
    assert p.batch == 5 and len(c["tokens_per_s_per_chip"]) == 5
    assert c["tokens_per_s_per_chip"][0] == pytest.approx(p.output_tokens_per_s / 64, rel=1e-9)
    assert c["tokens_per_s_per_user"][0] == pytest.approx(1.0 / p.tpot_s, rel=1e-9)
    chip = SimpleNamespace(id=groq.id, is_claim=False)
    fig = curves_figure(SimpleNamespace(models=[m], chips=[chip], curves={m.id: {groq.id: c}}))
    assert fig is not None and fig["data"][0]["name"] == "groq-lpu-v1 (64 chips)"


def test_a_gpus_curve_is_not_labelled_with_a_deployment() -> None:
    cfg = ReviewConfig()
    h100, m = chip_entry("nvidia-h100-sxm-80gb", cfg.domain_cap), model_entry(L8)
    rows, kept = evaluate_chip(h100, [m], cfg, SO)
    curves, _, _ = chip_charts(h100, [m], rows, kept, cfg, SO)
    assert "deployment_chips" not in curves[m.id] and len(curves[m.id]["tokens_per_s_per_chip"]) > 1
