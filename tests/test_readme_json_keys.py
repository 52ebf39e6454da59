"""Every key of ``inferchip predict --format json`` is in the README's stable-key table (stop 36: ``attn_dp``,
``engine`` and ``manufacturing_cost_usd`` were printed but not documented)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from cli_in_process import run_main

README = Path(__file__).parents[1] / "README.md"


def _documented() -> set[str]:
    text = README.read_text(encoding="utf-8")
    table = text[text.index("#### JSON output (`--format json`), stable"):text.index("The Python API mirrors")]
    return set(re.findall(r"`([a-z_0-9]+)`", table))


def test_every_predict_json_key_is_documented():
    for extra in ([], ["--engine", "vllm"]):
        code, out = run_main(["predict", "--chip", "nvidia-h100-sxm-80gb", "--model", "meta-llama/Llama-3.1-8B",
                              "--batch", "4", "--format", "json", *extra])
        assert code == 0, out[-300:]
        answer = json.loads(out)
        missing = set(answer) - _documented()
        assert not missing, f"keys printed but not in the README table: {sorted(missing)}"
        engine = answer["engine"] or {}  # the --engine record: the row names its keys too (stop 38: moe_kernel)
        missing = set(engine) - _documented()
        assert not missing, f"engine keys printed but not in the README table: {sorted(missing)}"
