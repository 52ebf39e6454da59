"""``inferchip explore --target/--beat`` states which reading of lowest-cost silicon it ranks on and offers the
deployment reading the review's ledger judges (review44, stop 44).

Stop 43 gave the review a second reading of "by far lowest cost silicon" (the silicon of the deployment that serves
each case, a ledger flip); explore kept ranking on one chip's modelled cost without saying so. Now ``--silicon
chip|deployment`` picks the reading, the other reading's verdict is in the notes, and every chip's cheapest serving
board silicon is beside its per-chip cost in the baseline (``lowest_cost_silicon_deployment_usd``).

The rival whose deployment tells the two readings apart is a GroqChip on 96 LPUs: cheapest per chip, over 2x the
AI5's board per deployment. Since groq51 the catalogue's GroqChip spans its C2C network (tp up to 10,440 chips) and
serves Llama-3.1-8B on 64 LPUs, 1.46x the AI5's board: both readings then agree. So the rival here is a copy of the
GroqChip whose tp domain is one GroqNode of 8 (the catalogue's until groq51), sized in whole domains of 8: 96 LPUs."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from inferchip.explore.beat import beat
from inferchip.explore.claim_parts import deployment_ratio
from inferchip.interfaces.cli import app
from table_text import column_texts

L8 = "meta-llama/Llama-3.1-8B-Instruct"
AI5, H100, L40S = "tesla-ai5", "nvidia-h100-sxm-80gb", "nvidia-l40s"


@pytest.fixture(scope="module")
def groq_node(tmp_path_factory) -> str:
    """The catalogue's GroqChip with ``max_scaleup_domain: 8`` (one GroqNode), as a chip file."""
    from inferchip.catalog.chips import _CHIPS_DIR

    node = tmp_path_factory.mktemp("groqnode") / "groq-lpu-v1.yaml"
    node.write_text((_CHIPS_DIR / "groq-lpu-v1.yaml").read_text(encoding="utf-8").replace(
        "max_scaleup_domain: 10440", "max_scaleup_domain: 8"), encoding="utf-8")
    return str(node)


def test_the_deployment_ratio_by_hand() -> None:
    nan = np.nan
    target = np.array([[8 * 688.0, 8 * 688.0], [8 * 688.0, nan], [nan, nan]])
    rivals = np.array([[8 * 3620.0, 8 * 3620.0], [520.0, nan], [nan, nan]])  # the third serves nothing
    # the L40S's $520 is the closest (520 / 5,504 = 0.094); the second target does not serve the second workload,
    # which the H100 board serves: lost (0); the third serves nothing: 0
    assert deployment_ratio(target, rivals) == pytest.approx([520 / 5504, 0.0, 0.0])
    assert deployment_ratio(target[:1], rivals[:1])[0] == pytest.approx(3620 / 688)
    # a workload a rival serves that the target does not is lost (0); no rival serving anything is no comparison
    assert deployment_ratio(np.array([[5504.0, nan]]), np.array([[28960.0, 28960.0]]))[0] == 0.0
    assert deployment_ratio(np.array([[5504.0, nan]]), np.array([[nan, nan]]))[0] == np.inf


def test_the_two_readings_and_the_review_ledgers_figures(groq_node: str) -> None:
    GROQ = groq_node  # noqa: N806 (the rival's key, as the other chips' ids)
    chip = beat(AI5, [GROQ, H100], models=[L8], parts=["lowest_cost_silicon"], silicon="chip")
    dep = beat(AI5, [GROQ, H100], models=[L8], parts=["lowest_cost_silicon"], silicon="deployment")
    assert (chip.silicon_basis, dep.silicon_basis) == ("chip", "deployment")
    ai5, h100 = chip.baseline[AI5], chip.baseline[H100]
    # the column the review's results.csv has (deployment_silicon_cost_usd): board x cost where it serves
    assert ai5["lowest_cost_silicon_deployment_usd"] == pytest.approx(8 * ai5["lowest_cost_silicon"])
    assert h100["lowest_cost_silicon_deployment_usd"] == pytest.approx(8 * h100["lowest_cost_silicon"])
    # since tco44 explore reads the review's deployment (review.cases.review_deployments): Groq sized to
    # 96 LPUs for the 8B model, as the review's results.csv has it (review44's 8-LPU board held no 8B model)
    groq = chip.baseline[GROQ]
    assert groq["lowest_cost_silicon_deployment_usd"] == pytest.approx(96 * groq["lowest_cost_silicon"])
    # per chip Groq's ~$126 beats the AI5's ~$688 and no change of compute, memory or links lowers a cost enough;
    # per deployment Groq's 96 x $126 = $12,080 is 2.2x the AI5's 8 x $688 (the H100 board 5.3x), so it holds
    assert chip.cost_boundary_multiplier == pytest.approx(chip.baseline[GROQ]["lowest_cost_silicon"] / 2 /
                                                          ai5["lowest_cost_silicon"])
    ratio = groq["lowest_cost_silicon_deployment_usd"] / ai5["lowest_cost_silicon_deployment_usd"]
    assert 2.0 < ratio < h100["lowest_cost_silicon_deployment_usd"] / ai5["lowest_cost_silicon_deployment_usd"]
    assert dep.cost_boundary_multiplier == pytest.approx(ratio / 2)
    assert [c.objective for c in dep.changes] == ["lowest_cost_silicon"]
    assert (dep.changes[0].compute_x, dep.changes[0].memory_x, dep.changes[0].link_x) == (1.0, 1.0, 1.0)
    assert dep.changes[0].best_rival == GROQ
    said = [n for n in chip.notes if n.startswith("lowest_cost_silicon is ranked on one chip's")]
    assert len(said) == 1 and f"{GROQ} on 96 x $" in said[0] and "so it holds" in said[0]
    said = [n for n in dep.notes if n.startswith("lowest_cost_silicon is ranked on the silicon of the system")]
    assert len(said) == 1 and "per chip it does not hold" in said[0]


def test_the_cli_option(groq_node: str) -> None:
    GROQ = groq_node  # noqa: N806
    r = CliRunner().invoke(app, ["explore", "--target", AI5, "--beat", f"{GROQ},{H100}", "--models", L8,
                                 "--silicon", "deployment"])
    assert r.exit_code == 0, r.output
    # a part's column header may wrap to keep the table within 100 columns (architect50): read back by column
    assert "lowest_cost_silicon (deployment)" in column_texts(r.output)
    assert "ranked on the silicon of the system" in r.output
    bad = CliRunner().invoke(app, ["explore", "--target", AI5, "--beat", H100, "--silicon", "rack"])
    assert bad.exit_code != 0 and "--silicon: 'rack'; allowed: chip, deployment" in str(bad.exception)
