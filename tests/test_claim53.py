"""What an analyst checking a chip maker's claim ("best inference chip under 250B", Cerebras WSE-3) met (stop 53)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def _module_run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-m", "inferchip", *args], capture_output=True, text=True, env=env,
                          timeout=120, check=False)


def test_python_dash_m_runs_the_command_with_its_exit_statuses():
    ok = _module_run("chips", "--name", "wse-3", "--format", "json")
    assert ok.returncode == 0, ok.stderr
    assert [c["id"] for c in json.loads(ok.stdout)] == ["cerebras-wse-3"]
    bad = _module_run("chips", "--vendor", "no-such-vendor")
    assert bad.returncode == 2
    assert bad.stderr.startswith("error:") and "--vendor" in bad.stderr


def test_a_part_the_claimed_chip_wins_in_every_sample_names_no_chip_as_beating_it():
    """WSE-3's review said "first ... in 100% of 2,000 samples ...; the chip that beats it most often: Instinct
    MI355X" (per chip), naming as its beater a chip that never beat it, taken from the Monte Carlo's first draw."""
    from dataclasses import replace

    from conftest import make_chip
    from inferchip.review.review import ReviewConfig, run_review

    fast = make_chip(id="fast", max_scaleup_domain=1)

    def slower(chip_id: str, by: float):  # every figure that times a step `by` times slower
        return replace(fast, id=chip_id, memory_bytes_per_s=fast.memory_bytes_per_s / by,
                       peak_flop_per_s={k: v / by for k, v in fast.peak_flop_per_s.items()},
                       vector_flop_per_s=fast.vector_flop_per_s / by, kernel_overhead_s=fast.kernel_overhead_s * by)

    chips, claim = [slower("slow", 16.0), slower("mid", 8.0)], fast
    res = run_review(ReviewConfig(chips=chips, claim=claim, models=["meta-llama/Llama-3.1-8B-Instruct"],
                                  metric="throughput", sensitivity=False, samples=1000, slos=("batch",)))
    part = next(p for p in res.judgement.parts if p["part"] == "per_chip")
    assert part["probability"] == 1.0
    assert "beats it most often" not in part["decided_by"]
    assert "no chip beats it in any sample; the best other chip in most samples: mid" in part["decided_by"]
    assert part["rival"] == "mid"


def test_a_deployment_of_one_chip_is_said_in_the_singular():
    """The review's note read "meta-llama/Llama-3.1-8B-Instruct on 1 chips; Qwen/Qwen3-32B on 1 chips" (WSE-3)."""
    from inferchip.review.claim_file import load_claim
    from inferchip.review.deploy.sizing import deployment_notes
    from inferchip.review.inputs import chip_entry

    def rows(model: str, counts: dict[str, int]) -> list[dict]:
        out = []
        for slo, n in counts.items():
            base = {"chip_id": "cerebras-wse-3", "model_id": model, "slo": slo}
            out += [{**base, "setting": "domain", "status": "ok", "deployment_chips": n},
                    {**base, "setting": "scaleup", "status": "ok", "deployment_chips": 64}]
        return out

    chip = chip_entry("cerebras-wse-3", 72)
    (note,) = deployment_notes([chip], rows("small", {"batch": 1}) + rows("big", {"batch": 6})
                               + rows("mixed", {"interactive": 1, "batch": 2}), load_claim().scale_out)
    assert "small on 1 chip; big on 6 chips; mixed on 1 (interactive), 2 (batch) chips." in note, note
    assert "1 chips" not in note


def test_an_unpriced_chip_is_not_compared_for_the_pareto_front_and_the_report_says_so():
    """WSE-3 (no street price, so no $/Mtok) was marked off the front (pareto False in results.csv/json) and left
    off the Pareto chart without a word, though no chip beat it on tokens per joule and TPOT together."""
    from dataclasses import replace

    from conftest import Quote, make_chip
    from inferchip.interfaces.report.charts import pareto_not_compared
    from inferchip.interfaces.report.page import render_html
    from inferchip.interfaces.report.tables import esc
    from inferchip.review.review import ReviewConfig, run_review

    mid = make_chip(id="mid", max_scaleup_domain=1)
    slow = replace(mid, id="slow", memory_bytes_per_s=mid.memory_bytes_per_s / 2)
    fast = replace(mid, id="fast", memory_bytes_per_s=mid.memory_bytes_per_s * 2)
    prices = {c: Quote(c, "street", 20_000.0, 16_000.0, 24_000.0, "test price table") for c in ("slow", "mid")}
    res = run_review(ReviewConfig(chips=[slow, mid], claim=fast, models=["meta-llama/Llama-3.1-8B-Instruct"],
                                  metric="throughput", sensitivity=False, samples=1000, slos=("batch",),
                                  prices=prices))
    (front,) = res.pareto.values()
    assert front["not_compared"] == {"fast": ["usd_per_million_tokens"]}
    assert "fast" not in front["front"]
    pareto = {r["chip_id"]: r["pareto"] for r in res.rows if r["setting"] == "domain"}
    assert pareto["fast"] is None and pareto["mid"] is True and pareto["slow"] is False
    said = pareto_not_compared(res)
    assert "fast (no $ per million output tokens; 1 of 1 cases)" in said
    assert esc(said) in render_html(res, [])  # in the Pareto section of the report


def test_the_review_takes_the_users_interactive_limits(tmp_path, capsys):
    """"Is X the best at SLO Y?": the review judged the interactive level at MLPerf's limits by model size alone
    (8B: TTFT 500 ms, TPOT 30 ms); --max-ttft-ms / --max-tpot-ms (max_ttft_s / max_tpot_s) set them for every model."""
    from inferchip.interfaces.cli import main

    args = ["review", "--chips", "nvidia-h100-sxm-80gb", "--models", "meta-llama/Llama-3.1-8B-Instruct",
            "--claim", "none", "--no-sensitivity", "--workers", "1"]
    assert main([*args, "--slo", "interactive", "--max-tpot-ms", "10", "--out", str(tmp_path / "rv")]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert ("interactive limits: given for every model: TPOT 10 ms; TTFT 500 ms by its size (MLPerf Interactive, "
            "Llama-3.1-8B)") in out
    rows = [r for r in json.loads((tmp_path / "rv" / "results.json").read_text())["rows"] if r["setting"] == "domain"]
    assert rows and all(r["max_tpot_s"] == 0.010 and r["max_ttft_s"] == 0.5 for r in rows)
    assert all(r["tpot_s"] <= 0.010 for r in rows if r["status"] == "ok")
    html = (tmp_path / "rv" / "report.html").read_text()
    assert "TTFT 500 ms, TPOT 10 ms" in html  # the report's assumptions say the limits it ran
    # a limit for a level the review does not run, or no positive number of ms, is refused before any work
    assert main([*args, "--slo", "batch", "--max-ttft-ms", "200", "--out", str(tmp_path / "no")]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "--max-ttft-ms 200 limits the interactive service level, which --slo batch does not run" in err
    assert main([*args, "--max-tpot-ms", "0", "--out", str(tmp_path / "no")]) == 2
    assert "--max-tpot-ms" in capsys.readouterr().err and not (tmp_path / "no").exists()


def test_the_api_names_its_keywords_for_the_limits():
    import pytest

    from inferchip.errors import InvalidSettingError
    from inferchip.review.review import ReviewConfig, resolve

    one = dict(chips=["nvidia-h100-sxm-80gb"], models=["meta-llama/Llama-3.1-8B-Instruct"], claim=None)
    with pytest.raises(InvalidSettingError, match=r"max_ttft_s=0.2 limits the interactive service level, which "
                                                  r"slos=batch does not run"):
        resolve(ReviewConfig(**one, slos=("batch",), max_ttft_s=0.2))
    with pytest.raises(InvalidSettingError, match="max_tpot_s"):
        resolve(ReviewConfig(**one, max_tpot_s=-0.01))
    with pytest.raises(InvalidSettingError, match="max_ttft_s"):
        resolve(ReviewConfig(**one, max_ttft_s=float("nan")))


def test_review_help_says_models_takes_all():
    """`--models all` ran every bundled config (the claim judged on those within its bound), but the help named only
    ids and 'default': an analyst checking "every model under 250B" listed 34 ids by hand."""
    import inspect

    from inferchip.interfaces.cmd_review import review_cmd

    models = inspect.signature(review_cmd).parameters["models"].default
    assert "'all' (every bundled config once, aliases left out; the claim is judged on those within its bound)" in (
        models.help)


def test_review_models_all_takes_each_architecture_once():
    """`--models all` ran 65 models: the 39 bundled configs and 26 aliases of them (Qwen3-235B-A22B six times over:
    its -FP8, -Instruct-2507, -Thinking-2507 ... checkpoints), so a suite score weighed an architecture by how many
    checkpoints of it are catalogued."""
    from inferchip.catalog.models import model_ids, resolve_alias
    from inferchip.interfaces.cmd_review import _ids

    ids = _ids("all", "models")
    assert ids is not None and len(ids) == len(set(ids)) == len({resolve_alias(i) for i in model_ids()}) < len(
        model_ids())
    assert all(resolve_alias(i) == i for i in ids)
    assert "Qwen/Qwen3-235B-A22B" in ids and "Qwen/Qwen3-235B-A22B-FP8" not in ids
