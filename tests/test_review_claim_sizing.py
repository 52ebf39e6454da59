"""A layer-pipelined CLAIMED chip is sized like a layer-pipelined competitor (review.deploy.sizing), by hand.

Groq's LPU: 230 MB of SRAM, a budget of 230 MB x 0.92 = 211,600,000 B a chip for weights, KV cache and
activations; tp within its C2C network (10,440 chips since groq51; one GroqNode of 8 before); whole GroqNodes of 8
chips. Llama-3.1-8B: 32 layers of 218,103,808 weights; a 16-bit embedding and LM head of 128,256 x 4,096 each.
At the review's fp8 it needs 64 LPUs (tp 32 pp 2: a layer 7,602,176 B a chip, one KV head kept whole on each;
16 layers + the embedding over tp 32, 32,833,536 B: 154,468,352 B; 56 and 48 chips fit no layout:
tests/test_review_deployment.py; at the old tp domain of 8 it took 96). Eight LPUs hold 8 x 211.6 MB = 1.69 GB,
below its 9.08 GB of weights: on its GroqNode it serves nothing.
"""

from __future__ import annotations

import csv
import io
import json
import math
from contextlib import redirect_stdout
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from inferchip.interfaces.cli import main
from inferchip.review.cases import sized_cases
from inferchip.review.claim_file import CLAIM_FILE
from inferchip.review.claim_review import summary_lines
from inferchip.review.deploy.sizing import claim_count, record_systems
from inferchip.review.inputs import ReviewConfig, resolve
from inferchip.review.ledger import _claim_at_weights
from inferchip.review.review import evaluate_chip, run_review
from inferchip.review.uncertainty import claim_cases

L8 = "meta-llama/Llama-3.1-8B-Instruct"
Q32 = "Qwen/Qwen3-32B"
H100 = "nvidia-h100-sxm-80gb"
BUDGET = 230e6 * 0.92
EMB = 128256 * 4096 * 2 / 8  # a 16-bit embedding (or LM head) over tp 8: 131,334,144 B
EMB32 = 128256 * 4096 * 2 / 32  # over tp 32: 32,833,536 B
LAYER_TP32_FP8 = 4 * 4096 * 128 + 3 * 4096 * 448  # q, k, v, o (one head each) and the MLP's share: 7,602,176 B
LAYER = 218_103_808  # Llama-3.1-8B's weights a layer


@pytest.fixture(scope="module")
def claimed():
    """`review --chips nvidia-h100-sxm-80gb --claim groq-lpu-v1 --models Llama-3.1-8B`, sensitivity included."""
    return run_review(ReviewConfig(chips=[H100], claim="groq-lpu-v1", models=[L8], samples=1000, jobs=1))


def test_the_claimed_groq_is_judged_on_64_lpus_not_its_node(claimed):
    rows = [r for r in claimed.rows if r["chip_id"] == "groq-lpu-v1"]
    dom = [r for r in rows if r["setting"] == "domain"]
    assert len(dom) == 2 and all(r["is_claim"] and r["status"] == "ok" for r in dom)
    assert all(r["deployment_chips"] == 64 == r["num_chips"] and (r["tp"], r["pp"]) == (32, 2) for r in dom)
    assert all(r["weights_bytes_per_chip"] == pytest.approx(16 * LAYER_TP32_FP8 + EMB32, rel=1e-12) for r in dom)
    assert all(r["deployment_basis"].startswith("sized: the smallest multiple of 8 chips") for r in dom)
    up = [r for r in rows if r["setting"] == "scaleup"]
    assert len(up) == 2 and all(r["deployment_chips"] == 64 and r["status"] == "does not fit" for r in up)
    assert claimed.claim.systems == {(L8, "batch"): (64, 256), (L8, "interactive"): (64, 256)}
    for r in dom:  # the per-system figure is the 64-chip system's
        assert r["output_tokens_per_s"] == pytest.approx(r["output_tokens_per_s_per_chip"] * 64, rel=1e-9)
    i = claimed.judgement.cases.index((L8, "batch"))
    assert [r["chip_id"] for r in claimed.rows if r["setting"] == "domain"].count("groq-lpu-v1") == 2
    assert any("GroqChip / LPU v1 is layer-pipelined" in n and "on 64 chips" in n for n in claimed.notes)
    assert i >= 0 and claimed.judgement.unserved == ""


def test_its_re_predictions_run_on_the_sized_deployment(claimed):
    """The corners, boundary map and one-spec sensitivity re-predict the claimed chip on each case's system: at its
    central figures that gives back its rows' tok/s; on its GroqNode of 8 (the old behaviour) nothing is served."""
    c, cases, cfg = claimed.claim, claimed.judgement.cases, claimed.config
    tput, board = claim_cases(c, c.params, claimed.models, cases, cfg)
    rows = {(r["model_id"], r["slo"]): r for r in claimed.rows if r["chip_id"] == c.id and r["setting"] == "domain"}
    assert tput.tolist() == pytest.approx([rows[k]["output_tokens_per_s_per_chip"] for k in cases], rel=1e-12)
    assert np.isfinite(board).all()
    # a case it was not sized for: its scale-up domain as the review caps it (10,440 above 72: 64), engines' chunk
    assert claim_count(c, (L8, "batch")) == (64, 256) and claim_count(c, ("not-a-model", "batch")) == (64, None)
    at_node = claim_cases(c, c.params, claimed.models, cases, cfg, domain=8)[0]
    assert np.isnan(at_node).all()
    bw = next(k for k in claimed.sensitivity if k.knob.name == "memory_bandwidth")
    assert bw.ranks[2.0] == 2  # served on 64 LPUs at twice the bandwidth, second of the two chips (on 8: no rank)


def test_the_ledger_flips_the_claimed_chip_to_its_node_and_to_576(claimed):
    """Groq's modelled silicon is by far below the H100's, so 'lowest-cost silicon' holds where it serves a case
    (on 64 LPUs); on its scale-up domain as the review caps it (64 chips at the engines' prefill chunk) it serves
    none and is no competitor, so the part does not hold there."""
    parts = {p["part"]: p for p in claimed.judgement.parts}
    assert parts["lowest_cost_silicon"]["verdict"] == "holds"
    dep = [e for e in claimed.judgement.ledger if e["choice"] == "competitor deployment"]
    assert len(dep) == 2
    assert "GroqChip / LPU v1: 64 chips" in dep[0]["default"] and "GroqChip / LPU v1 on 64" in dep[0]["alternative"]
    assert "lowest_cost_silicon" in dep[0]["flips"]
    assert dep[0]["verdicts_if_flipped"]["lowest_cost_silicon"]["verdict"] == "does not hold"
    assert "GroqChip / LPU v1 on 576" in dep[1]["alternative"] and dep[1]["flips"] is not None


def _groq_claim_file(tmp_path: Path) -> str:
    text = CLAIM_FILE.read_text().replace("chip: tesla-ai5", "chip: groq-lpu-v1", 1)
    assert "chip: groq-lpu-v1" in text
    p = tmp_path / "groq_claim.yaml"
    p.write_text(text)
    return str(p)


def test_a_claim_file_naming_groq_sizes_it_at_its_own_weights_and_the_ledger_at_the_reviews(tmp_path):
    """The claim file deploys Groq at fp4 (0.5 + 1/16 B a weight). The search starts at all of the weights over one
    chip's budget: (32 x 218,103,808 x 0.5625 + 2 x 128,256 x 4,096 x 2) / 211,600,000 = 28.5 -> 29 chips -> 32.
    48 chips serve it at tp 16 pp 3: a chip keeps 2 query heads and one whole KV head (8 over 16), q and o 4,096 x
    256, k and v 4,096 x 128, the MLP 3 x 4,096 x 896: 14,155,776 weights, 7,962,624 B at fp4; vLLM's split (11,
    11, 10) puts 11 layers + the 16-bit embedding over tp 16 (65,667,072 B) on stage 0: 153,255,936 B. 40 chips
    allow tp 8 at most: pp 5 puts 6 layers + the embedding over tp 8 on stage 0, 6 x 15,335,424 + 131,334,144 =
    223,346,688 B > the budget. The ledger's precision alternative (the review's fp8) sizes it again: 64 chips."""
    cfg = ReviewConfig(chips=[H100], claim="groq-lpu-v1", models=[L8], claim_file=_groq_claim_file(tmp_path))
    inputs = resolve(cfg)
    models, claim, so = inputs.models, inputs.claim, inputs.claim_doc.scale_out
    assert claim is not None and claim.deployed and claim.weights == "fp4"
    rows, _ = evaluate_chip(claim, models, cfg, so)
    record_systems(claim, rows, so)
    layer4 = LAYER * 0.5625 / 8
    layer16 = (2 * 4096 * 256 + 2 * 4096 * 128 + 3 * 4096 * 896) * 0.5625
    assert layer4 == 15_335_424 and layer16 == 7_962_624 and 6 * layer4 + EMB == 223_346_688 > BUDGET
    weights = 32 * LAYER * 0.5625 + 2 * 128256 * 4096 * 2
    assert math.ceil(weights / BUDGET) == 29
    dom = [r for r in rows if r["setting"] == "domain"]
    assert all(r["deployment_chips"] == 48 and (r["tp"], r["pp"]) == (16, 3) for r in dom)
    assert all(r["weights_bytes_per_chip"] == pytest.approx(11 * layer16 + 128256 * 4096 * 2 / 16, rel=1e-12)
               == 153_255_936 for r in dom)
    assert all("from 32" in r["deployment_basis"] for r in dom)
    cases = [(L8, "interactive"), (L8, "batch")]
    tput, board, chips = _claim_at_weights(claim, SimpleNamespace(models=models), cases, cfg, so)
    assert chips is not None and chips.tolist() == [64.0, 64.0] and np.isfinite(tput).all()
    again = sized_cases(claim, models, cases, cfg, so, "fp8")
    assert all((d.prediction.tp, d.prediction.pp) == (32, 2) for d in again.values() if d.prediction)


def test_a_claimed_chip_that_serves_no_case_is_told_so_part_by_part(tmp_path):
    """Qwen3-32B at fp8: 64 layers of 487,587,840 weights (q 5,120 x 8,192, k and v 5,120 x 1,024, o 8,192 x 5,120,
    MLP 3 x 5,120 x 25,600) plus a 16-bit embedding and LM head of 151,936 x 5,120 each: 34,317,271,040 B, over
    211.6 MB = 162.2 -> 163 chips -> 168 in whole GroqNodes. With the tp domain of 8 no multiple of 8 up to 1,024
    served it (one layer and the vocabulary-parallel embedding exceed an LPU at tp 8); since groq51 256 chips do (tp
    32 pp 8), so the claim file here bounds the search at 200 chips, where none serves it, and every part judged on
    its cases says so."""
    layer = 5120 * 8192 * 2 + 5120 * 1024 * 2 + 3 * 5120 * 25600
    assert layer == 487_587_840
    w = 64 * layer + 2 * 151936 * 5120 * 2
    assert w == 34_317_271_040 and math.ceil(w / BUDGET) == 163 and math.ceil(163 / 8) * 8 == 168
    out = tmp_path / "rv"
    bound = tmp_path / "claim.yaml"
    bound.write_text(CLAIM_FILE.read_text().replace("  max_chips: 1024", "  max_chips: 200"))
    assert "max_chips: 200" in bound.read_text()
    buf = io.StringIO()
    with redirect_stdout(buf):
        rc = main(["review", "--chips", H100, "--claim", "groq-lpu-v1", "--models", Q32, "--no-sensitivity",
                   "--samples", "1000", "--workers", "1", "--out", str(out), "--claim-file", str(bound)])
    assert rc == 0
    with (out / "results.csv").open() as fh:
        rows = [r for r in csv.DictReader(fh) if r["chip_id"] == "groq-lpu-v1" and r["setting"] == "domain"]
    assert len(rows) == 2 and all(r["deployment_chips"] == "200" and r["status"] == "does not fit" for r in rows)
    assert all("no multiple of 8 chips from 168 to 200 serves it" in r["reason"] for r in rows)
    assert all(r["deployment_basis"].startswith("sized: ") for r in rows)
    data = json.loads((out / "results.json").read_text())
    assert {c["id"]: c["chips_per_system"] for c in data["chips"]}["groq-lpu-v1"] == "sized: none served"
    judged = [p for p in data["claim_parts"] if p["probability"] is not None and p["part"] != "frame_deadlines"]
    assert judged and all(p["verdict"] == "does not hold" and p["probability"] == 0.0 for p in judged)
    for p in judged:
        n = 1 if p["part"] == "latency_interactive" else 2
        what = "this part's" if p["part"] != "lowest_cost_silicon" else "the claim's"
        assert p["decided_by"].startswith(f"groq-lpu-v1 serves none of {what} {n} cases (on any deployment up to "
                                          "200 chips"), p
    said = " ".join(buf.getvalue().split()).replace("│ ", "").replace(" │", "")
    assert "groq-lpu-v1 serves none of the claim's 2 cases" in said and "nan" not in said.lower().split()
    assert "sized: none served" in (out / "report.html").read_text()


def test_summary_line_only_where_nothing_is_served(claimed):
    assert not any("serves none" in line for line in summary_lines(claimed.judgement))


def test_a_case_the_ledgers_alternative_does_not_serve_is_served_at_no_corner():
    """The claimed chip (chip 0) serves both cases by default (100 and 50 tok/s; its low corner 80 and -, its high
    corner 120 and 70). An alternative (one chip alone; a sized chip on its node) halves case 1's rate and serves
    case 2 no more: the corners move with case 1 (40 and 60) and serve case 2 nowhere, where before they served it at
    the default deployment's 70 tok/s in every sample past the midpoint towards the high end."""
    from dataclasses import replace as dc_replace

    from inferchip.review.judge import Figures
    from inferchip.review.ledger import _rescaled
    from inferchip.review.uncertainty import Base, Corner, claim_at

    def figs(tput: list[list[float]]) -> Figures:
        t = np.array(tput, float)[:, :, None]
        return Figures(["c0", "c1"], 0, [("m", "batch"), ("n", "batch")], t, np.full_like(t, 500.0),
                       np.array([8.0, 8.0]), np.full((2, 2), 8.0), np.full(2, 750.0), np.full(2, 75.0))

    corners = [Corner("memory bandwidth", "low", {}, np.array([80.0, np.nan]), np.array([400.0, 400.0])),
               Corner("memory bandwidth", "high", {}, np.array([120.0, 70.0]), np.array([550.0, 550.0]))]
    base = Base(figs([[100.0, 50.0], [90.0, 60.0]]), corners, {"memory bandwidth": (1.0, 2.0, 3.0)})
    alt = figs([[50.0, np.nan], [90.0, 60.0]])
    moved = _rescaled(base, alt)
    assert moved[0].tput[0] == pytest.approx(40.0) and moved[1].tput[0] == pytest.approx(60.0)
    assert np.isnan(moved[0].tput[1]) and np.isnan(moved[1].tput[1])
    t, _ = claim_at(dc_replace(base, fig=alt, corners=moved), {"memory bandwidth": np.array([0.0, 1.0])})
    assert t[0].tolist() == pytest.approx([50.0, 60.0]) and np.isnan(t[1]).all()
