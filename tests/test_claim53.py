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
