"""inferchip review: ranking, Pareto fronts, sensitivity, the verdict, outputs and bad input.

The chip sets here are built so the answer is known without running the model: copies
of one chip that differ in a single spec, where more of that spec can only help.
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from conftest import make_chip
from inferchip.interfaces.cli import main
from inferchip.review.pareto import pareto_mask, upper_envelope
from inferchip.review.ranking import gap_to_leader, rank_case, rank_scores, suite_scores
from inferchip.review.review import ReviewConfig, run_review, service_level
from inferchip.review.sensitivity import Knob, analyse_knob, bisect_threshold, scale_chip

L8 = "meta-llama/Llama-3.1-8B-Instruct"


# ------------------------------------------------------------------ ranking, by hand
def test_competition_ranking_shares_ties_and_skips_missing():
    # 300 > 200 = 200 > 100: ranks 1, 2, 2, 4 ("1224"); None is not ranked.
    r = rank_case({"a": 200.0, "b": 300.0, "c": 200.0, "d": 100.0, "e": None}, higher_is_better=True)
    assert r == {"a": 2, "b": 1, "c": 2, "d": 4, "e": None}


def test_lower_is_better_ranks_the_cheapest_first():
    r = rank_case({"a": 0.02, "b": 0.01, "c": 0.03}, higher_is_better=False)
    assert r == {"b": 1, "a": 2, "c": 3}


def test_suite_score_is_the_mean_share_of_the_leader():
    # case 1: a=100, b=200 -> a 0.5, b 1.0; case 2: a=50, b=25 -> a 1.0, b 0.5; case 3: only a -> a 1, b 0.
    table = {"c1": {"a": 100.0, "b": 200.0}, "c2": {"a": 50.0, "b": 25.0}, "c3": {"a": 10.0, "b": None}}
    s = suite_scores(table, higher_is_better=True)
    assert s["a"] == pytest.approx((0.5 + 1.0 + 1.0) / 3)
    assert s["b"] == pytest.approx((1.0 + 0.5 + 0.0) / 3)
    assert rank_scores(s) == {"a": 1, "b": 2}


def test_a_chip_without_the_figure_is_unranked_not_last():
    table = {"c1": {"a": 1.0, "b": None, "c": None}}
    s = suite_scores(table, True, has_figure={"a": True, "b": False, "c": True})
    # b lacks a price (no figure): unranked; c has the inputs but serves nothing: not ranked either
    # (a chip that serves no case is not "last", it is out of the comparison).
    assert s == {"a": 1.0, "b": None, "c": 0.0}
    assert rank_scores(s) == {"a": 1, "b": None, "c": None}


def test_gap_to_leader_in_both_directions():
    assert gap_to_leader(75.0, 100.0, True) == pytest.approx(0.25)  # 25% less throughput
    assert gap_to_leader(0.03, 0.02, False) == pytest.approx(0.5)  # 50% more cost


# ------------------------------------------------------------------ Pareto, by hand
def test_pareto_front_keeps_points_nobody_beats_on_every_objective():
    # (cost, latency), both less-is-better: (1,3) and (2,1) trade off; (2,3) is beaten by both;
    # (3,1) is beaten by (2,1); NaN (no price) is never on the front.
    pts = np.array([[1, 3], [2, 1], [2, 3], [3, 1], [np.nan, 0.5]], float)
    assert pareto_mask(pts, [True, True]).tolist() == [True, True, False, False, False]


def test_pareto_with_a_more_is_better_objective():
    # (tokens/J more-better, cost less-better): (10, 2) beats (8, 3); (5, 1) is cheapest.
    pts = np.array([[10, 2], [8, 3], [5, 1]], float)
    assert pareto_mask(pts, [False, True]).tolist() == [True, False, True]


def test_upper_envelope_drops_dominated_layout_points():
    x, y = upper_envelope([1, 2, 3, 2.5], [10, 8, 2, 1])
    assert x.tolist() == [1, 2, 3] and y.tolist() == [10, 8, 2]


# ------------------------------------------------------------------ bisection, by hand
def test_bisection_finds_a_known_threshold_within_its_resolution():
    # First from x3 upwards: 5 halvings of the octave bracket [2, 4] -> within 2**(1/32) of 3, on the first side.
    t = bisect_threshold(lambda m: m >= 3.0, 2.0, 4.0, steps=5)
    assert 3.0 <= t <= 3.0 * 2 ** (1 / 32)


def test_analyse_knob_reports_the_multiplier_that_makes_it_first():
    knob = Knob("memory_bandwidth", "memory bandwidth", True)
    res = analyse_knob(knob, lambda m: (1 if m >= 2.5 else 2, None))
    assert not res.first_now and res.within_range
    # Not first at x2 (a tornado point), first at the x16 cap: 5 halvings of the 3-octave bracket
    # [2, 16] leave 3/32 of an octave, and the answer lies on the first side of the true 2.5.
    assert 2.5 <= res.threshold <= 2.5 * 2 ** (3 / 32)
    assert res.summary() == f"memory bandwidth: first from about x{res.threshold:.2g}"  # no base value given


def test_analyse_knob_says_when_no_multiplier_is_enough():
    res = analyse_knob(Knob("price", "chip price", False, target="price"), lambda m: (3, None))
    assert res.threshold is None and "not first even at x0.25" in res.summary()


def test_scale_chip_changes_one_spec_and_keeps_the_runtime_reserve():
    c = make_chip()
    reserve = c.memory_capacity_bytes - c.usable_memory_bytes
    big = scale_chip(c, Knob("memory_capacity", "memory capacity", True), 2.0)
    assert big.memory_capacity_bytes == 2 * c.memory_capacity_bytes
    assert big.memory_capacity_bytes - big.usable_memory_bytes == pytest.approx(reserve)
    fast = scale_chip(c, Knob("peak_fp8", "peak fp8", True, fmt="fp8"), 4.0)
    assert fast.peak_flop_per_s["fp8"] == 4 * c.peak_flop_per_s["fp8"]
    assert fast.peak_flop_per_s["bf16"] == c.peak_flop_per_s["bf16"] and fast.memory_bytes_per_s == c.memory_bytes_per_s


# ------------------------------------------------------------------ service levels
def test_interactive_limits_follow_the_mlperf_size_classes():
    assert (service_level("interactive", 8e9).max_ttft_s, service_level("interactive", 8e9).max_tpot_s) == (0.5, 0.03)
    assert service_level("interactive", 70e9).max_tpot_s == 0.04  # Llama-2-70B Interactive: 40 ms
    assert service_level("interactive", 235e9).max_tpot_s == 0.08  # Llama-3.1-405B Interactive: 80 ms
    assert service_level("batch", 70e9).max_tpot_s is None


# ------------------------------------------------------------------ whole reviews with known winners
def _chips():
    # One chip of the H100's figures alone (no scale-up domain), with the memory bandwidth
    # halved and doubled: decode streams weights and KV cache, so more bandwidth can only help.
    base = make_chip(id="mid", max_scaleup_domain=1)
    return [replace(base, id="slow", memory_bytes_per_s=base.memory_bytes_per_s / 2), base,
            replace(base, id="fast", memory_bytes_per_s=base.memory_bytes_per_s * 2)]


@pytest.fixture(scope="module")
def review3():
    slow, mid, fast = _chips()
    cfg = ReviewConfig(chips=[slow, fast], claim=mid, models=[L8], metric="throughput", sensitivity=True)
    return run_review(cfg)


def test_the_chip_with_twice_the_bandwidth_ranks_first_everywhere(review3):
    res = review3
    assert {c: v["rank"] for c, v in res.suite["throughput"].items()} == {"fast": 1, "mid": 2, "slow": 3}
    for case, vals in res.tables["throughput"].items():
        assert vals["fast"] > vals["mid"] > vals["slow"], case
    assert res.verdict["first_places"] == 0 and res.verdict["suite_rank"] == 2
    head = res.verdict["headline"]
    assert head.startswith("Ranked on output tokens/s per chip alone") and "in none of the 2 cases" in head
    assert all("fast" in c["sentence"] for c in res.verdict["cases"])  # the leader is named in each case


def test_raising_bandwidth_on_a_memory_bound_suite_improves_the_rank(review3):
    bw = next(k for k in review3.sensitivity if k.knob.name == "memory_bandwidth")
    # x0.5 makes it the slow chip (tied second), x2 the fast one (tied first).
    assert (bw.ranks[0.5], bw.ranks[1.0], bw.ranks[2.0]) == (2, 2, 1)
    assert bw.scores[0.5] < bw.scores[1.0] < bw.scores[2.0] == pytest.approx(1.0)
    # At x2 the claimed chip IS the fast chip (a tie shares first place), and below x2 it is
    # slower in every case: the threshold is exactly 2, the end of the bracket on the first side.
    assert bw.threshold == pytest.approx(2.0)
    # 3.35 TB/s (the H100 figure of the test chip) x 2 = 6.7 TB/s
    assert bw.summary() == "memory bandwidth: first from about x2 (6.7 TB/s)"


def test_a_claim_that_leads_everywhere_holds_and_says_what_would_undo_it():
    slow, mid, fast = _chips()
    res = run_review(ReviewConfig(chips=[slow, mid], claim=fast, models=[L8], slos=("batch",), metric="throughput"))
    v = res.verdict
    assert v["headline"].startswith("Ranked on output tokens/s per chip alone, fast is first in every case")
    assert v["suite_rank"] == 1
    bw = next(k for k in res.sensitivity if k.knob.name == "memory_bandwidth")
    # Halved, it IS the mid chip (tied first); any less and it trails: it loses first place just below x0.5.
    assert bw.first_now and bw.ranks[0.5] == 1
    assert 0.5 * 2 ** (-1 / 32) <= bw.threshold < 0.5
    # 6.7 TB/s x 0.49 = 3.28 TB/s
    assert bw.summary() == "memory bandwidth: loses first place at about x0.49 (3.28 TB/s)"
    assert any(line.startswith("It stays first over the suite unless") for line in v["lines"])


def test_results_have_every_case_and_setting(review3):
    rows = review3.rows
    # 3 chips x 1 model x 2 service levels x 2 settings (alone, domain)
    assert len(rows) == 12
    assert {r["status"] for r in rows} == {"ok"}
    assert all(r["output_tokens_per_s_per_chip"] > 0 for r in rows)
    assert all(r["tpot_s"] <= 0.030 + 1e-12 for r in rows if r["slo"] == "interactive")


def test_a_model_that_fits_no_chip_is_a_status_not_a_crash():
    tiny = make_chip(id="tiny", memory_capacity_bytes=8 * 2**30, usable_memory_bytes=7 * 2**30, max_scaleup_domain=1)
    res = run_review(ReviewConfig(chips=[tiny], claim=None, models=[L8], metric="throughput", sensitivity=False))
    assert {r["status"] for r in res.rows} == {"does not fit"}
    assert res.suite["throughput"]["tiny"] == {"score": 0.0, "rank": None}  # serves nothing: not ranked
    fit = res.memory[0]
    assert fit["status"].startswith("does not fit") and fit["weights_fraction_of_one_chip"] > 1


# ------------------------------------------------------------------ the command: outputs and bad input
def _err(capsys) -> str:
    """stderr with rich's line wrapping undone."""
    return " ".join(capsys.readouterr().err.split())


SMALL = ["review", "--chips", "nvidia-h100-sxm-80gb,amd-mi300x", "--models", L8, "--slo", "batch", "--no-sensitivity"]


def test_review_writes_html_csv_and_json(tmp_path, capsys):
    out = tmp_path / "rv"
    assert main([*SMALL, "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["report.html", "results.csv", "results.json"]
    data = json.loads((out / "results.json").read_text())
    assert data["verdict"]["claim_id"] == "tesla-ai5"
    est = data["verdict"]["estimates"]
    assert "memory.bandwidth_tb_per_s" in est["fields"] and "levels" not in est  # no bundled all-low/all-high run
    assert {(c["group"], c["end"]) for c in data["named_corners"]} >= {("memory bandwidth", "low"),
                                                                        ("memory bandwidth", "high")}
    assert {r["chip_id"] for r in data["rows"]} == {"nvidia-h100-sxm-80gb", "amd-mi300x", "tesla-ai5"}
    html = (out / "report.html").read_text()
    assert html.count("Plotly.newPlot(") >= 5 and "The claim, part by part" in html
    assert html.count("<script>") == 2  # plotly.js inline once, then the charts
    assert not list(tmp_path.glob(".rv.*"))  # no staging folder left behind
    assert "the claim, part by part" in capsys.readouterr().out


def test_a_failed_run_leaves_the_old_report_untouched(tmp_path, monkeypatch, capsys):
    out = tmp_path / "rv"
    out.mkdir()
    (out / "report.html").write_text("old")

    def boom(res, folder):
        (folder / "report.html").write_text("half")
        raise KeyboardInterrupt

    monkeypatch.setattr("inferchip.interfaces.report.write.write_report", boom)
    main([*SMALL, "--out", str(out)])  # interrupted while writing (exit status: cli.main's business)
    assert (out / "report.html").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["rv"]  # staging removed


@pytest.mark.parametrize("args, words", [
    (["--chips", "nvidia-h100-sxm"], "nvidia-h100-sxm-80gb"),
    (["--models", "meta-llama/Llama-3.1-8B-Instruc"], "meta-llama/Llama-3.1-8B-Instruct"),
    (["--slo", "fast"], "interactive, batch, both"),
    (["--metric", "speed"], "throughput, capex, tco, energy"),
])
def test_unknown_ids_and_settings_name_what_is_allowed(tmp_path, capsys, args, words):
    out = tmp_path / "rv"
    assert main(["review", *args, "--out", str(out)]) == 2
    err = _err(capsys)
    assert words in err and "Traceback" not in err
    assert not out.exists()


def test_a_bad_claim_file_names_the_field(tmp_path, capsys):
    bad = tmp_path / "chip.yaml"
    bad.write_text("id: x\nname: X\nvendor: Y\nfamily: generic\ncompute: {dense_tflops: {bf16: 100}}\n"
                   "memory: {type: HBM3, capacity: 80, capacity_unit: GiB, bandwidth_tb_per_s: fast}\n"
                   "sources: [{citation: test}]\n")
    assert main(["review", "--claim", str(bad), "--out", str(tmp_path / "rv")]) == 2
    err = _err(capsys)
    assert "memory.bandwidth_tb_per_s" in err and "'fast'" in err


def test_an_unwritable_out_is_refused_before_any_work(tmp_path, capsys, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    called = []
    monkeypatch.setattr("inferchip.review.review.run_review", lambda *a, **k: called.append(1))
    assert main([*SMALL, "--out", str(blocker / "rv")]) == 2
    assert "is a file, not a folder" in _err(capsys) and not called
    assert main([*SMALL, "--out", str(blocker)]) == 2
    assert "is a file, not a folder" in _err(capsys) and not called
