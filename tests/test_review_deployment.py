"""The review's deployment of a layer-pipelined, SRAM-only competitor (review.deploy.sizing): sized per case, by hand.

Groq's LPU (230 MB of SRAM, 0.92 of it usable: a budget of 211,600,000 B a chip; fp8 weights, 16-bit embedding and
LM head; tp within its C2C network, 10,440 chips since groq51, where it was one GroqNode of 8; whole GroqNodes of 8
chips) is judged on the smallest multiple of 8
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


def test_llama2_70b_fp8_needs_448_lpus():
    """Llama-2-70B: hidden 8,192, 64 query and 8 KV heads of 128, MLP 28,672, 80 layers, vocabulary 32,000.
    At tp 16 (the tp domain was 8 until groq51: one layer a chip, pp 80, 640 chips) a chip keeps 64 / 16 = 4 query
    heads and one whole KV head (8 KV heads over 16 chips, each kept twice, as vLLM's QKVParallelLinear replicates
    them): q and o 8,192 x 512 = 4,194,304 B each at fp8, k and v 8,192 x 128 = 1,048,576 B each, gate, up and down
    8,192 x 1,792 each = 44,040,192 B: 54,525,952 B a layer. pp 28: 80 // 28 = 2 a stage, the 24 extra on stages
    26 down to 3, so those hold 3 layers, 163,577,856 B, the largest (stage 0: 2 layers + the 16-bit embedding over
    tp 16, 32,000 x 8,192 x 2 / 16 = 32,768,000 B: 141,819,904 B)."""
    layer = 2 * 8192 * 512 + 2 * 8192 * 128 + 3 * 8192 * 1792
    assert layer == 54_525_952 and 3 * layer == 163_577_856 > 2 * layer + 32000 * 8192 * 2 / 16
    d = _sized(L2_70)["batch"]
    assert d.status == "ok" and d.chips == 448
    p = d.prediction
    assert (p.tp, p.pp, p.replicas) == (16, 28, 1)
    assert p.memory_breakdown_bytes["weights"] == pytest.approx(3 * layer, rel=1e-12)
    # the search starts at the weights' lower bound, not at one node: 80 layers x 855,638,016 B + the embedding and
    # the LM head, 32,000 x 8,192 x 2 B each = 69,499,617,280 B; / 211,600,000 = 328.4 -> 329 chips -> 42 nodes, 336
    total = 80 * 855_638_016 + 2 * 32000 * 8192 * 2
    assert total == 69_499_617_280 and fewest_chips(total, BUDGET) == 329 and "from 336" in d.basis


def test_groq_at_its_vendors_576_chips_holds_llama2_70b_fp8():
    """576 = 8 x 72: at tp 8 (the domain until groq51) eight of 72 stages held two layers, 213.9 MB > 211.6 MB, and
    it did not fit; a wider tp fits it (the vendor ran it on "over 500 chips", SC23). The vendor's count is beside
    the sized 448 in the report, not used to size it."""
    cfg = ReviewConfig()
    m = model_entry(L2_70)
    p, status, reason = evaluate("groq-lpu-v1", m.ref, service_level("batch", m.total_params), 576, cfg,
                                 weights="fp8", chunk_tokens=256)
    assert p is not None and status == "ok" and p.tp > 8, reason
    assert 2 * 855_638_016 / 8 > BUDGET  # tp 8's two layers a stage


def test_llama31_8b_fp8_needs_64_lpus():
    """Llama-3.1-8B (32 query and 8 KV heads of 128, hidden 4,096, MLP 14,336, vocab 128,256), fp8. At tp 32 a chip
    keeps one query head and one whole KV head (8 over 32, each kept four times): q, k, v and o 4,096 x 128 =
    524,288 B each, gate, up and down 4,096 x 448 each = 5,505,024 B: 7,602,176 B a layer; pp 2, 16 layers a stage,
    + the 16-bit embedding (or LM head) over tp 32, 128,256 x 4,096 x 2 / 32 = 32,833,536 B: 154,468,352 B.
    56 chips (8 x 7) allow tp 8 at most: pp 7 puts 4 layers + the embedding over tp 8 on stage 0, 4 x 27,262,976 +
    131,334,144 = 240,386,048 B > 211,600,000. 48 chips at tp 16 pp 3: a layer 14,155,776 B a chip (q and o 4,096
    x 256, one KV head, MLP 4,096 x 896 x 3); vLLM's split (11, 11, 10) puts 11 layers + the embedding over tp 16
    (65,667,072 B) on stage 0: 221,380,608 B > the budget. (At the old tp domain of 8 it took 96 chips, pp 12.)"""
    layer = 4 * 4096 * 128 + 3 * 4096 * 448
    emb = 128256 * 4096 * 2 / 32
    assert layer == 7_602_176 and emb == 32_833_536 and 16 * layer + emb == 154_468_352
    assert 4 * 218_103_808 / 8 + 128256 * 4096 * 2 / 8 > BUDGET
    assert 11 * (2 * 4096 * 256 + 2 * 4096 * 128 + 3 * 4096 * 896) + 128256 * 4096 * 2 / 16 == 221_380_608 > BUDGET
    both = _sized(L8, slos=("interactive", "batch"))
    for name in ("interactive", "batch"):
        d = both[name]
        assert d.status == "ok" and d.chips == 64, (name, d.reason)
        assert (d.prediction.tp, d.prediction.pp) == (32, 2)
        assert d.prediction.memory_breakdown_bytes["weights"] == pytest.approx(154_468_352, rel=1e-12)
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
    """Up to 56 chips nothing serves Llama-3.1-8B (above); from a bound of 64 the 64-chip deployment does."""
    low = _sized(L8, ReviewConfig(claim_file=_claim_file(tmp_path, 56)))["batch"]
    assert low.status == "does not fit" and low.prediction is None and low.chips == 56
    assert "no multiple of 8 chips from 48 to 56 serves it" in low.reason
    (tmp_path / "b").mkdir()
    assert _sized(L8, ReviewConfig(claim_file=_claim_file(tmp_path / "b", 64)))["batch"].chips == 64


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
    assert len(dom) == 2 and all(r["status"] == "ok" and r["deployment_chips"] == 64 == r["num_chips"] for r in dom)
    assert all(r["deployment_basis"].startswith("sized: the smallest multiple of 8 chips") for r in dom)
    scaleup = [r for r in groq if r["setting"] == "scaleup"]
    # its scale-up domain as the review judges every chip: 10,440 above the review's cap of 72, so 64; no fit
    assert len(scaleup) == 2 and all(r["deployment_chips"] == 64 and r["status"] == "does not fit" for r in scaleup)
    h100 = [r for r in rows if r["chip_id"] == "nvidia-h100-sxm-80gb" and r["setting"] == "domain"]
    assert all(r["deployment_chips"] == 8 and r["deployment_basis"].startswith("its scale-up domain") for r in h100)
    assert not any(r["setting"] == "scaleup" for r in rows if r["chip_id"] != "groq-lpu-v1")
    chips = {c["id"]: c for c in data["chips"]}
    assert chips["groq-lpu-v1"]["chips_per_system"] == "sized: 64" and chips["nvidia-h100-sxm-80gb"][
        "chips_per_system"] == "8"
    assert data["claim"]["scale_out"]["max_chips"] == 1024
    entry = next(e for e in data["ledger"] if e["choice"] == "competitor deployment")
    assert "GroqChip / LPU v1: 64 chips" in entry["default"] and "GroqChip / LPU v1 on 64" in entry["alternative"]
    assert entry["flips"] is not None
    assert "GroqChip / LPU v1 is layer-pipelined" in " ".join(text.split()) and "sized: 64" in html
    said = " ".join(text.split()).replace("│ ", "").replace(" │", "")
    assert "Llama-3.1-8B-Instruct on 64 chips" in said and "Llama-2-70B on 576 chips" in said  # the vendor's, beside
    stated = [e for e in data["ledger"] if e["choice"] == "competitor deployment"][1]
    assert "GroqChip / LPU v1 on 576" in stated["alternative"] and stated["flips"] is not None


def test_the_ledger_alternative_judges_groq_on_its_node(groq_run):
    """The alternative's Groq serves nothing on its scale-up domain as the review caps it (64 chips, predicted at
    the engines' prefill chunk, whose activations do not fit beside the weights: tp 32 pp 2 needs 246.0 MB a chip),
    so only the default can count its per-system figure: its 64-chip system's tok/s is the per-chip figure x 64."""
    data, _, _ = groq_run
    r = next(r for r in data["rows"] if r["chip_id"] == "groq-lpu-v1" and r["setting"] == "domain"
             and r["slo"] == "batch")
    assert r["output_tokens_per_s"] == pytest.approx(r["output_tokens_per_s_per_chip"] * 64, rel=1e-9)
    assert math.isfinite(r["output_tokens_per_j"])
