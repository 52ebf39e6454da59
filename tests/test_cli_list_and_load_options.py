"""``review --chips a,,`` / ``--models a,,b`` name the empty item instead of dropping it (stop 36, polish36:
``vision --batch 1,,8`` already refused it); ``serve --rate`` with both ``--duration`` and ``--requests`` stops the
arrivals at whichever limit comes first, and the option help and the README say so."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

from cli_in_process import run_main

H100, MI300X = "nvidia-h100-sxm-80gb", "amd-mi300x"
L8 = "meta-llama/Llama-3.1-8B-Instruct"
README = Path(__file__).resolve().parents[1] / "README.md"


def _lists_with_an_empty_item(n: int = 40) -> list[str]:
    """Seeded: one to three ids with at least one empty item (doubled, leading or trailing comma, blanks)."""
    rng = random.Random(36)
    out = []
    for _ in range(n):
        items = [rng.choice([H100, MI300X, "nvidia-b200"]) for _ in range(rng.randint(1, 3))]
        for _ in range(rng.randint(1, 2)):
            items.insert(rng.randint(0, len(items)), rng.choice(["", " ", "  "]))
        out.append(",".join(items))
    return out


@pytest.mark.parametrize("option", ["--chips", "--models"])
@pytest.mark.parametrize("text", [f"{H100},,", f",{H100}", f"{H100},,{MI300X}", f"{H100}, ,{MI300X}",
                                  *_lists_with_an_empty_item()])
def test_review_list_with_an_empty_item_is_refused_by_name(tmp_path, option, text):
    if option == "--models":
        text = text.replace(H100, L8).replace(MI300X, L8).replace("nvidia-b200", L8)
    argv = ["review", "--chips", H100, "--models", L8, "--claim", "none", "--no-sensitivity", "--slo", "batch",
            "--out", str(tmp_path / "r")]
    argv[argv.index(option) + 1] = text
    code, out = run_main(argv)
    assert code == 2, out
    assert f"error: {option} {text!r}: an empty item" in out, out
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("text", [",,,", " , ,", ""])
def test_a_list_of_nothing_still_says_there_are_no_ids(text):
    code, out = run_main(["review", "--chips", text, "--claim", "none"])
    assert code == 2 and "--chips" in out and ("no ids" in out or "allowed" in out), out


def test_rate_help_says_the_first_limit_ends_the_arrivals():
    code, out = run_main(["serve", "--help"])
    assert code == 0
    text = re.sub(r"[\s│]+", " ", out)
    assert "at whichever comes first when both are given" in text  # --rate
    assert text.count("the arrivals stop at whichever limit comes first") == 2  # --duration and --requests


def test_readme_documents_duration_and_requests_together():
    text = " ".join(README.read_text(encoding="utf-8").split())
    assert "`--duration` and `--requests` together" in text and "whichever" in text


@pytest.mark.parametrize(("limits", "check"), [
    (["--duration", "2", "--requests", "1000"], lambda n: 5 <= n <= 40),  # 2 s at 10/s: ~20 requests, not 1,000
    (["--duration", "1000", "--requests", "7"], lambda n: n == 7),  # 7 requests long before 1,000 s
])
def test_rate_with_duration_and_requests_stops_at_the_first_limit(limits, check):
    code, out = run_main(["serve", "--chip", H100, "--model", L8, "--rate", "10", "--input-tokens", "128",
                          "--output-tokens", "16", *limits, "--format", "json"])
    assert code == 0, out
    assert check(json.loads(out)["num_requests"]), out
