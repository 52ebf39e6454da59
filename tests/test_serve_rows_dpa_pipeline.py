"""``serve``/``curve --mtp`` search only layouts a closed-loop row runs (newuser43b, stop 43).

On main ``serve --chip nvidia-h200-sxm-141gb --count 8 --model deepseek-ai/DeepSeek-V3 --concurrency 4 --mtp 1``
took predict's best layout, tp 2 pp 4 ep 2 with attention DP, and handed it to the closed-loop row, whose
DP-attention worker is max(tp, ep) = 2 chips with no pipeline stages (validation/closed_loop_facts.row_facts): the row
then refused "the options, --tp, pp, ep (tp 2, pp 4, ep 2): ... leaves no memory for KV cache", options the user had not
given. Now the search keeps only the layouts a row runs, and a given --pp above 1 with attention DP is refused."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from inferchip.errors import InvalidSettingError
from inferchip.interfaces.cli import app

BASE = ["serve", "--chip", "nvidia-h200-sxm-141gb", "--count", "8", "--model", "deepseek-ai/DeepSeek-V3",
        "--concurrency", "4", "--input-tokens", "128", "--output-tokens", "16", "--mtp", "1"]


def test_a_searched_layout_runs_as_a_row() -> None:
    res = CliRunner().invoke(app, [*BASE, "--format", "json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    assert d["ttft_s_mean"] > 0


def test_pipeline_stages_under_attention_dp_are_refused_naming_pp() -> None:
    res = CliRunner().invoke(app, [*BASE, "--tp", "2", "--pp", "4", "--ep", "2", "--attn-dp"])
    assert isinstance(res.exception, InvalidSettingError), res.output  # (the CLI's main: one error line, status 2)
    assert "--pp 4 with attention DP" in str(res.exception) and "allowed: --pp 1" in str(res.exception)
