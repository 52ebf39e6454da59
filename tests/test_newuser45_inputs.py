"""A new user's tour at stop 45 (serve with SLOs, curve, explore, predict on HF configs written by hand, review with a
claim file of one's own, the report, JSON outputs): each defect found, with a test that failed before its fix.
Hand-calculated expectations where a number is checked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from inferchip.errors import SpecError
from table_text import column_texts

L8 = "meta-llama/Llama-3.1-8B-Instruct"


def _claim_file(tmp_path: Path, chip: str, parts: str = "[per_chip]", extra: str = "") -> Path:
    p = tmp_path / "claim.yaml"
    p.write_text(f'chip: {chip}\ntext: "{chip} is the best chip"\nsource: "a test"\ndate: "2026-12-07"\n'
                 f"max_total_params: 250.0e9\nparts: {parts}\n{extra}")
    return p


# ------------------------------------------------------------------ 1. a claim file's own chip is the claimed chip
def test_a_claim_file_naming_its_chip_is_judged_on_that_chip(tmp_path):
    from inferchip.review.inputs import ReviewConfig, resolve

    f = _claim_file(tmp_path, "amd-mi355x")
    got = resolve(ReviewConfig(chips=["nvidia-h100-sxm-80gb"], models=[L8], claim_file=str(f)))
    assert got.claim is not None and got.claim.id == "amd-mi355x"  # was tesla-ai5, "judged against its words"
    # --claim still wins where it is given, and the bundled claim keeps its AI5
    given = resolve(ReviewConfig(chips=["nvidia-h100-sxm-80gb"], models=[L8], claim_file=str(f), claim="amd-mi300x"))
    assert given.claim is not None and given.claim.id == "amd-mi300x"
    bundled = resolve(ReviewConfig(chips=["nvidia-h100-sxm-80gb"], models=[L8]))
    assert bundled.claim is not None and bundled.claim.id == "tesla-ai5"


def test_the_review_cli_takes_the_claim_files_chip_when_claim_is_not_given(tmp_path, monkeypatch):
    import inferchip.review.review as review_mod
    from inferchip.errors import InvalidSettingError
    from inferchip.interfaces.cli import main
    from inferchip.review.inputs import resolve as real_resolve

    seen = {}

    def spy(cfg):
        seen["claim"] = real_resolve(cfg).claim
        raise InvalidSettingError("stop here: the claimed chip is resolved")

    monkeypatch.setattr(review_mod, "resolve", spy)
    f = _claim_file(tmp_path, "amd-mi355x")
    assert main(["review", "--claim-file", str(f), "--chips", "nvidia-h100-sxm-80gb", "--models", L8,
                 "--out", str(tmp_path / "r")]) == 2
    assert seen["claim"].id == "amd-mi355x"


# ------------------------------------------------------------------ 2. a date that does not exist
@pytest.mark.parametrize(("text", "why"), [("date: 2026-02-30\n", "day is out of range"),
                                           ("date: 2026-13-01\n", "month must be in 1..12")])
def test_a_day_that_does_not_exist_is_named_as_a_date_not_as_a_huge_number(text, why):
    from inferchip.catalog.yaml_io import parse_yaml

    with pytest.raises(SpecError) as e:
        parse_yaml(text, "claim.yaml")
    msg = str(e.value)
    assert "thousands of digits" not in msg  # what it said before
    assert "claim.yaml" in msg and why in msg and "YYYY-MM-DD" in msg


def test_a_number_of_thousands_of_digits_is_still_named_so():
    from inferchip.catalog.yaml_io import parse_yaml

    with pytest.raises(SpecError, match="thousands of digits"):
        parse_yaml("x: " + "9" * 5000 + "\n", "f.yaml")


# ------------------------------------------------------------------ 3. a part with no case says why, not "undecided"
def test_a_part_whose_service_level_is_not_reviewed_says_why():
    from inferchip.review.claim_file import PARTS
    from inferchip.review.judge import Figures, judge_part

    n_c, n_k = 2, 1
    tput = np.full((n_c, n_k, 1), 100.0)
    f = Figures(["a", "b"], 0, [("m", "batch")] * n_k, tput, np.full_like(tput, 500.0), np.ones(n_c),
                np.full((n_c, n_k), 8.0), np.full(n_c, 750.0), np.full(n_c, 75.0), {}, None)
    o = judge_part(f, PARTS["latency_interactive"])
    assert o.holds is None
    assert "interactive" in o.reason and "batch" in o.reason and "--slo interactive" in o.reason


def test_the_summary_line_of_a_part_not_judged_gives_its_reason():
    from types import SimpleNamespace

    from inferchip.review.claim_review import summary_lines

    part = {"part": "latency_interactive", "label": "best at the interactive latency limits", "view": None,
            "verdict": "undecided", "probability": None,
            "decided_by": "not judged: none of its cases is in this review"}
    j = SimpleNamespace(claim=SimpleNamespace(date="2026-12-07", text="x", chip="a"), judged_chip="a", unserved="",
                        parts=[part], samples=1000, seed=1)
    lines = summary_lines(j)  # type: ignore[arg-type]
    line = next(s for s in lines if s.startswith("best at"))
    assert "undecided" not in line and "none of its cases" in line


# ------------------------------------------------------------------ 4. explore names what wins in the terminal
def test_explore_prints_the_fronts_best_design_on_each_objective_with_units(tmp_path, capsys):
    from inferchip.interfaces.cli import main

    space = tmp_path / "space.yaml"
    space.write_text("name: t\nmax_dies: 1\nparameters:\n  matrix_units: [64, 128]\n  memory_type: [hbm3]\n"
                     "  memory_units: [4]\n  node_nm: [5]\n")
    assert main(["explore", str(space), "--out", str(tmp_path / "run"), "--budget", "10", "--no-page",
                 "--workers", "1", "--models", L8]) in (0, None)
    out = capsys.readouterr().out
    assert "best design on each objective" in out  # before: only counts and the page's path
    # the table keeps to 100 columns in a pipe (architect50), so a header or a first-column label may wrap over
    # lines: each column's text is read back whole, top to bottom
    headers = " | ".join(column_texts(out))
    for label in ("output tok/s per chip", "output tok/s per W (TDP)", "output tok/s per $ of chip cost",
                  "time per output token at batch 1, ms"):
        assert label in headers
    assert "128 x 32^2" in out  # the faster design leads tokens/s per chip: its MACs are named (units x dim^2)
    assert "LLM workloads served (of 2)" in column_texts(out, header=False)[0]


# ------------------------------------------------------------------ 5. serve/curve search within the engine's cap
def test_the_max_throughput_search_stays_within_a_running_batch_cap():
    from dataclasses import replace

    import inferchip as ic
    from inferchip.performance.predict import ask, predict_setting

    s = ic.resolve_setting("nvidia-h100-sxm-80gb", "meta-llama/Llama-3.1-8B", count=1, tp=1, weights="fp8")
    q = ask(128, 128)
    free = predict_setting(s, q)
    capped = predict_setting(s, replace(q, max_seqs_per_rank=256.0))
    assert free.batch > 256  # memory alone holds thousands of 256-token sequences
    assert capped.batch == 256  # the fast path (no cap) is not taken where a cap is asked for
    assert capped.output_tokens_per_s < free.output_tokens_per_s


def test_serve_searches_its_layout_within_the_running_batch_cap_it_simulates():
    """DeepSeek-R1 on 8 B200 at 1,024/256 tokens: predict's uncapped search takes tp 2 pp 4 (2 attention-DP ranks) at
    ~7,000 sequences; serve/curve admit 256 per rank, so that layout ran at 512 sequences, 745 tok/s per chip, where
    tp 8 with attention DP (8 ranks, 2,048 sequences) runs 2,393 (curve, by hand at main 47bbd0b). Since steady53
    (a prompt-admitting step at its busiest rank's prefill) tp 4 x pp 2 with attention DP (4 ranks) and tp 8 are within
    2 % of each other in predict (2,935 and 2,885 tok/s per chip) and in serve at 2,048 clients (2,478 and 2,524):
    either is the search's answer; the 2-rank layout is not."""
    from inferchip.interfaces.cli_options.options import read_model
    from inferchip.interfaces.serve_system import system

    step, replicas, _ = system("nvidia-b200-180gb", read_model("deepseek-ai/DeepSeek-R1"), 8, None, None, None,
                               None, None, None, None, None, None, 1024, 256, running_cap=1024)
    lay = step.mm.layout
    assert (lay.tp, lay.pp, lay.attn_dp) in ((8, 1, True), (4, 2, True)) and replicas == 1


def test_serve_at_a_given_concurrency_searches_the_layout_for_that_load():
    """Llama-3.1-70B (bf16) on 8 H100 at 64 clients, 1,024/256 tokens: the max-throughput layout is tp 1 pp 8 (best at
    ~1,000 sequences); simulated at 64 clients it gave 111 tok/s per chip and a 73 ms TPOT, against 338 and 25 ms on
    tp 8 and 304 and 27 ms on tp 4 x 2 (serve --engine vllm, by hand at main 47bbd0b)."""
    from inferchip.interfaces.cli_options.options import read_model
    from inferchip.interfaces.serve_system import system

    model = read_model("meta-llama/Llama-3.1-70B")
    args = ("nvidia-h100-sxm-80gb", model, 8, None, None, None, None, None, None, None, None, None, 1024, 256)
    most, _, _ = system(*args, running_cap=1024)
    at64, _, _ = system(*args, running_cap=1024, concurrency=64)
    assert most.mm.layout.pp > 1  # the most throughput, at many sequences (tp 2 pp 2 x 2 under the 256 cap)
    assert at64.mm.layout.pp == 1 and at64.mm.layout.tp >= 4  # the load asked for
    huge, _, _ = system(*args, running_cap=1024, concurrency=100_000)  # no layout holds it: the most-throughput one
    assert huge.mm.layout == most.mm.layout


# ------------------------------------------------------------------ 6. calibrate: a fold with nothing to fit on
CASES_HEADER = ("case_id,source_kind,source,accelerator,num_accelerators,software,model,weight_dtype,act_dtype,"
                "kv_dtype,tp,pp,ep,scenario,input_tokens,output_tokens,concurrency,metric,value,unit,notes")


def test_calibrate_says_when_a_fold_has_no_row_to_fit_on(tmp_path):
    from inferchip.validation.calibrate import calibrate
    from inferchip.validation.cases import read_cases

    f = tmp_path / "one.csv"
    f.write_text(CASES_HEADER + "\nmine,vendor,me,nvidia-h100-sxm-80gb,1,vLLM,meta-llama/Llama-3.1-8B-Instruct,bf16,"
                 "bf16,,1,1,,fixed_length,1024,1024,,output_tokens_per_s_total,5000,tokens/s,x\n")
    said: list[str] = []
    report = calibrate(read_cases(f), workers=1, progress=said.append, max_evaluations=20)
    assert len(report.held_out) == 1  # still reported ...
    assert any("no row of another accelerator" in s and "nvidia-h100-sxm-80gb" in s and "start point" in s
               for s in said)  # ... and now said to be the start point's error, not a held-out fit's


# ------------------------------------------------------------------ 7. a claim's bound typed in billions
def test_a_claim_bound_typed_in_billions_is_refused_naming_the_field(tmp_path):
    from inferchip.review.claim_file import ClaimFileError, load_claim

    f = tmp_path / "c.yaml"
    f.write_text('chip: amd-mi355x\ntext: "x"\nsource: "s"\ndate: "2026-12-07"\nmax_total_params: 250\n'
                 "parts: [per_chip]\n")
    with pytest.raises(ClaimFileError) as e:  # before: read as 250 parameters; every model was out of the claim
        load_claim(f)
    msg = str(e.value)
    assert "c.yaml" in msg and "max_total_params = 250" in msg and "250.0e9 for 250B" in msg
    f.write_text(f.read_text().replace("max_total_params: 250\n", "max_total_params: 8.0e9\n"))
    assert load_claim(f).max_total_params == 8e9


# ------------------------------------------------------------------ 9. the curve's plot in words and units
def test_the_curve_plot_names_its_axes_with_units_and_its_points_by_concurrency(tmp_path):
    import json
    import re

    from inferchip.interfaces.cli import main

    plot = tmp_path / "c.html"
    assert main(["curve", "--chip", "nvidia-h100-sxm-80gb", "--model", "meta-llama/Llama-3.1-8B", "--input-tokens",
                 "256", "--output-tokens", "64", "--plot", str(plot)]) in (0, None)
    titles = [json.loads(f'"{t}"') for t in re.findall(r'"title":\{"text":"([^"]*)"', plot.read_text())]
    assert "output tokens/s per user (1 / TPOT)" in titles and "output tokens/s per chip" in titles  # were key names
    assert '"mode":"lines+markers+text"' in plot.read_text()  # each point labelled with its concurrency


def test_serve_with_an_slo_searches_a_layout_within_it():
    """Llama-3.1-70B on 8 H100 at 2 requests/s, 1,024/256 tokens, TPOT <= 30 ms, TTFT <= 500 ms: the searched layout
    was tp 2 pp 2 x 2 (p99 TPOT 40 ms: 0 % of the requests within the SLO), where tp 8 or tp 4 x 2 meet it for every
    request (serve, by hand at main 47bbd0b)."""
    from inferchip.interfaces.cli_options.options import read_model
    from inferchip.interfaces.serve_system import system

    args = ("nvidia-h100-sxm-80gb", read_model("meta-llama/Llama-3.1-70B"), 8, None, None, None, None, None, None,
            None, None, None, 1024, 256)
    free, _, _ = system(*args, running_cap=1024)
    slo, _, _ = system(*args, running_cap=1024, slo_s=(0.5, 0.030))
    # tp 1 pp 4 x 2 since stop 46 (decodestep46: Hopper bf16 GEMMs split K; cost46: the vLLM record's cap of 1,024);
    # tp 2 pp 2 before
    assert free.mm.layout.pp == 4
    assert slo.mm.layout.pp == 1 and slo.mm.layout.tp >= 4
    none_meets, _, _ = system(*args, running_cap=1024, slo_s=(None, 0.001))  # 1 ms: no layout; the SLO-free one
    assert none_meets.mm.layout == free.mm.layout


# ------------------------------------------------------------------ 11. a claim file without a deployment
def test_a_claim_file_without_a_deployment_runs_its_chip_at_the_reviews_weights(tmp_path):
    from inferchip.review.claim_file import load_claim
    from inferchip.review.inputs import ReviewConfig, resolve

    f = _claim_file(tmp_path, "amd-mi355x")
    assert load_claim(f).deployment.weights is None  # was "fp4": the bundled AI5 claim's choice as a schema default
    cfg = ReviewConfig(chips=["nvidia-h100-sxm-80gb"], models=[L8], claim_file=str(f))
    claim = resolve(cfg).claim
    assert claim is not None and claim.weights_in(cfg) == cfg.weights == "fp8"  # as every competitor
    stated = _claim_file(tmp_path, "amd-mi355x", extra="deployment:\n  weights: FP4\n")
    assert resolve(ReviewConfig(chips=["nvidia-h100-sxm-80gb"], models=[L8], claim_file=str(stated))).claim.weights \
        == "fp4"  # a file that states it still deploys it so
    assert load_claim().deployment.weights == "fp4"  # the bundled claim states its fp4
