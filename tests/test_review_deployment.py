"""The review's deployment of a layer-pipelined, SRAM-only competitor (review.deploy.sizing): sized per case, by hand.

Groq's LPU (230 MB of SRAM, 0.92 of it usable: a budget of 211,600,000 B a chip; fp8 weights, 16-bit embedding and
LM head; tp at most its scale-up domain of 8; whole GroqNodes of 8 chips) is judged on the smallest multiple of 8
chips that serves a case, up to review/claim.yaml's scale_out.max_chips, with prefill steps of scale_out.chunk_tokens.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from inferchip.interfaces.cli import main
from inferchip.review.cases import evaluate
from inferchip.review.claim_file import CLAIM_FILE, PARTS, ClaimFileError, load_claim
from inferchip.review.deploy.sizing import fewest_chips, is_sized, size_model, unit_of
from inferchip.review.inputs import ReviewConfig, chip_entry, model_entry, service_level
from inferchip.review.judge import Figures, part_values

L8 = "meta-llama/Llama-3.1-8B-Instruct"
L2_70 = "meta-llama/Llama-2-70b-hf"
BUDGET = 230e6 * 0.92  # bytes a Groq chip may use: 211,600,000


def _sized(model_id: str, cfg: ReviewConfig | None = None, slos: tuple[str, ...] = ("batch",)):
    cfg = cfg or ReviewConfig()
    chip, m = chip_entry("groq-lpu-v1", cfg.domain_cap), model_entry(model_id)
    levels = [service_level(s, m.total_params) for s in slos]
    def at(n, slo, chunk):
        return evaluate(chip.chip_arg(), m.ref, slo, n, cfg, weights="fp8", chunk_tokens=chunk)

    return size_model(chip, m, levels, load_claim(cfg.claim_file).scale_out, "fp8", at)


def test_fewest_chips_is_the_weights_over_one_chips_budget():
    assert fewest_chips(900.0, 300.0) == 3 and fewest_chips(901.0, 300.0) == 4 and fewest_chips(0.0, 300.0) == 1
    with pytest.raises(ValueError, match="above 0"):
        fewest_chips(1.0, 0.0)


def test_groq_is_sized_in_groqnodes_and_a_gpu_is_not():
    cfg = ReviewConfig()
    groq, h100 = chip_entry("groq-lpu-v1", 72), chip_entry("nvidia-h100-sxm-80gb", 72)
    assert is_sized(groq, cfg) and not is_sized(h100, cfg)
    assert unit_of(groq)[0] == 8 and "GroqNode" in unit_of(groq)[1]
    assert not is_sized(groq, ReviewConfig(scale_out=False))  # the ledger's alternative: its scale-up domain
    groq.is_claim = True  # the claimed chip is sized by the same rule (tests/test_review_claim_sizing.py)
    assert is_sized(groq, cfg)


def test_llama2_70b_fp8_needs_640_lpus_one_layer_a_chip():
    """Llama-2-70B: hidden 8,192, 64 query and 8 KV heads of 128, MLP 28,672, 80 layers, vocabulary 32,000.
    A layer's weights: q and o 8,192 x 8,192 each, k and v 8,192 x 1,024 each, gate, up and down 8,192 x 28,672
    each = 855,638,016 elements, 1 B each at fp8, over tp 8: 106,954,752 B a chip. Two layers, 213,909,504 B, exceed
    the 211,600,000 B budget, so every stage holds one layer: pp 80, tp 8, 640 chips. The end stages add the
    16-bit embedding or LM head over tp 8, 32,000 x 8,192 x 2 / 8 = 65,536,000 B: 172,490,752 B."""
    layer = (2 * 8192 * 8192 + 2 * 8192 * 1024 + 3 * 8192 * 28672) / 8
    assert layer == 106_954_752 and 2 * layer > BUDGET
    d = _sized(L2_70)["batch"]
    assert d.status == "ok" and d.chips == 640
    p = d.prediction
    assert (p.tp, p.pp, p.replicas) == (8, 80, 1)
    assert p.memory_breakdown_bytes["weights"] == pytest.approx(layer + 32000 * 8192 * 2 / 8, rel=1e-12)
    # the search starts at the weights' lower bound, not at one node: 80 layers x 855,638,016 B + the embedding and
    # the LM head, 32,000 x 8,192 x 2 B each = 69,499,617,280 B; / 211,600,000 = 328.4 -> 329 chips -> 42 nodes, 336
    total = 80 * 855_638_016 + 2 * 32000 * 8192 * 2
    assert total == 69_499_617_280 and fewest_chips(total, BUDGET) == 329 and "from 336" in d.basis


def test_groq_at_its_vendors_576_chips_does_not_hold_llama2_70b_fp8():
    """576 = 8 x 72 stages for 80 layers: eight stages hold two layers, 213.9 MB > 211.6 MB. The vendor's "over
    500 chips" (SC23) is beside the sized 640 in the report, not used to size it."""
    cfg = ReviewConfig()
    m = model_entry(L2_70)
    p, status, reason = evaluate("groq-lpu-v1", m.ref, service_level("batch", m.total_params), 576, cfg,
                                 weights="fp8", chunk_tokens=256)
    assert p is None and status == "does not fit", reason


def test_llama31_8b_fp8_needs_96_lpus():
    """Llama-3.1-8B: a layer is 218,103,808 elements, 27,262,976 B a chip at fp8 over tp 8; the embedding (first
    stage) and the LM head (last) are 128,256 x 4,096 x 2 / 8 = 131,334,144 B each. vLLM's split of 32 layers puts
    32 // pp on each stage and the 32 % pp extra ones on stages pp-2, pp-3, ... (mapping.memory_fit):
    pp 11 (88 chips): 2 each, 10 extra, so stage 0 holds 3 layers + the embedding = 213,123,072 B > 211,600,000;
    pp 12 (96 chips): 2 each, 8 extra on stages 3-10, stage 0 holds 2 + the embedding = 185,860,096 B: it fits,
    with room for one sequence's KV cache beside 256 tokens of activations."""
    emb, layer = 128256 * 4096 * 2 / 8, 218_103_808 / 8
    assert emb == 131_334_144 and 3 * layer + emb > BUDGET and 2 * layer + emb == 185_860_096
    both = _sized(L8, slos=("interactive", "batch"))
    for name in ("interactive", "batch"):
        d = both[name]
        assert d.status == "ok" and d.chips == 96, (name, d.reason)
        assert (d.prediction.tp, d.prediction.pp) == (8, 12)
        assert d.prediction.memory_breakdown_bytes["weights"] == pytest.approx(185_860_096, rel=1e-12)
    # the lower bound: all of the weights (9,080,668,160 B at tp 1) over one chip's budget -> 43 chips -> 48
    total = 32 * 218_103_808 + 2 * 128256 * 4096 * 2
    assert fewest_chips(total, BUDGET) == 43 and "from 48" in both["batch"].basis


def _claim_file(tmp_path: Path, max_chips: int) -> str:
    text = CLAIM_FILE.read_text().replace("  max_chips: 1024", f"  max_chips: {max_chips}")
    assert f"max_chips: {max_chips}" in text
    p = tmp_path / "claim.yaml"
    p.write_text(text)
    return str(p)


def test_the_bound_is_the_claim_files(tmp_path):
    """Up to 88 chips nothing serves Llama-3.1-8B (above); from a bound of 96 the 96-chip deployment does."""
    low = _sized(L8, ReviewConfig(claim_file=_claim_file(tmp_path, 88)))["batch"]
    assert low.status == "does not fit" and low.prediction is None and low.chips == 88
    assert "no multiple of 8 chips from 48 to 88 serves it" in low.reason
    (tmp_path / "b").mkdir()
    assert _sized(L8, ReviewConfig(claim_file=_claim_file(tmp_path / "b", 96)))["batch"].chips == 96


def test_weights_beyond_the_bound_are_refused_without_a_search():
    """Qwen3-235B at fp8 needs ceil(W / 211.6 MB) chips for its weights alone, above 1,024."""
    d = _sized("Qwen/Qwen3-235B-A22B")["batch"]
    assert d.status == "does not fit" and "above the bound of 1,024 chips" in d.reason
    need = int(d.reason.split("need ")[1].split(" chips")[0].replace(",", ""))
    assert need > 1024 and need == fewest_chips(need * BUDGET - 1, BUDGET)


def test_a_bad_scale_out_is_refused_naming_the_field(tmp_path):
    bad = tmp_path / "claim.yaml"
    bad.write_text(CLAIM_FILE.read_text().replace("  max_chips: 1024", "  max_chips: 0"))
    with pytest.raises(ClaimFileError, match="max_chips"):
        load_claim(bad)
    assert load_claim().scale_out.max_chips == 1024 and load_claim().scale_out.chunk_tokens == 256


def test_per_system_takes_each_cases_system_by_hand():
    """Two chips, two cases: chip 0 on 8 chips in both, chip 1 on 96 and 640 (sized): per-system tok/s =
    tok/s per chip x that case's chips."""
    tput = np.array([[[10.0], [20.0]], [[1.0], [2.0]]])
    f = Figures(["a", "b"], 0, [("m", "batch"), ("n", "batch")], tput, np.full_like(tput, 100.0),
                np.array([[8.0, 8.0], [96.0, 640.0]]), np.full((2, 2), 8.0), np.full(2, 750.0), np.full(2, 75.0))
    got = part_values(f, PARTS["per_system"])[:, :, 0]
    assert got.tolist() == [[80.0, 160.0], [96.0, 1280.0]]
    f1 = Figures(["a", "b"], 0, [("m", "batch"), ("n", "batch")], tput, np.full_like(tput, 100.0),
                 np.array([8.0, 96.0]), np.full((2, 2), 8.0), np.full(2, 750.0), np.full(2, 75.0))
    assert part_values(f1, PARTS["per_system"])[:, :, 0].tolist() == [[80.0, 160.0], [96.0, 192.0]]


@pytest.fixture(scope="module")
def groq_run(tmp_path_factory):
    import io
    from contextlib import redirect_stdout

    out = tmp_path_factory.mktemp("deploy") / "rv"
    buf = io.StringIO()
    with redirect_stdout(buf):
        rc = main(["review", "--chips", "nvidia-h100-sxm-80gb,groq-lpu-v1", "--models", L8, "--slo", "both",
                   "--no-sensitivity", "--samples", "1000", "--workers", "1", "--out", str(out)])
    assert rc == 0
    return json.loads((out / "results.json").read_text()), (out / "report.html").read_text(), buf.getvalue()


def test_the_review_judges_groq_on_its_sized_deployment(groq_run):
    data, html, text = groq_run
    rows = data["rows"]
    groq = [r for r in rows if r["chip_id"] == "groq-lpu-v1"]
    dom = [r for r in groq if r["setting"] == "domain"]
    assert len(dom) == 2 and all(r["status"] == "ok" and r["deployment_chips"] == 96 == r["num_chips"] for r in dom)
    assert all(r["deployment_basis"].startswith("sized: the smallest multiple of 8 chips") for r in dom)
    scaleup = [r for r in groq if r["setting"] == "scaleup"]
    assert len(scaleup) == 2 and all(r["deployment_chips"] == 8 and r["status"] == "does not fit" for r in scaleup)
    h100 = [r for r in rows if r["chip_id"] == "nvidia-h100-sxm-80gb" and r["setting"] == "domain"]
    assert all(r["deployment_chips"] == 8 and r["deployment_basis"].startswith("its scale-up domain") for r in h100)
    assert not any(r["setting"] == "scaleup" for r in rows if r["chip_id"] != "groq-lpu-v1")
    chips = {c["id"]: c for c in data["chips"]}
    assert chips["groq-lpu-v1"]["chips_per_system"] == "sized: 96" and chips["nvidia-h100-sxm-80gb"][
        "chips_per_system"] == "8"
    assert data["claim"]["scale_out"]["max_chips"] == 1024
    entry = next(e for e in data["ledger"] if e["choice"] == "competitor deployment")
    assert "GroqChip / LPU v1: 96 chips" in entry["default"] and "GroqChip / LPU v1 on 8" in entry["alternative"]
    assert entry["flips"] is not None
    assert "GroqChip / LPU v1 is layer-pipelined" in " ".join(text.split()) and "sized: 96" in html
    said = " ".join(text.split()).replace("│ ", "").replace(" │", "")
    assert "Llama-3.1-8B-Instruct on 96 chips" in said and "Llama-2-70B on 576 chips" in said  # the vendor's, beside
    stated = [e for e in data["ledger"] if e["choice"] == "competitor deployment"][1]
    assert "GroqChip / LPU v1 on 576" in stated["alternative"] and stated["flips"] is not None


def test_the_ledger_alternative_judges_groq_on_its_node(groq_run):
    """The alternative's Groq serves nothing at 8 chips, so only the default can count its per-system figure:
    its 96-chip system's tok/s is the per-chip figure x 96."""
    data, _, _ = groq_run
    r = next(r for r in data["rows"] if r["chip_id"] == "groq-lpu-v1" and r["setting"] == "domain"
             and r["slo"] == "batch")
    assert r["output_tokens_per_s"] == pytest.approx(r["output_tokens_per_s_per_chip"] * 96, rel=1e-9)
    assert math.isfinite(r["output_tokens_per_j"])
