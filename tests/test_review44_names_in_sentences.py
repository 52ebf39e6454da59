"""Every sentence of the claim review a person reads names chips by their catalogue names (review44, stop 44).

Stop 43's deployment reading of lowest-cost silicon named chips by name (b19f5b6, e08de3f), while the parts' "decided
by" lines ("tesla-ai5 is first over the suite ...; the chip that beats it most often: nvidia-h100-sxm-80gb"), the
ledger's choices ("tesla-ai5 fp4 weights, others fp8"), the ranking's sentences ("the next best, groq-lpu-v1, ...")
and the sized chips' notes named them by catalogue id. Ids stay in the id columns (results.csv ``chip_id``, the
tables' chip column)."""

from __future__ import annotations

import html as html_mod
import json
import re

import pytest

from inferchip.catalog.chips import load_chip, spoken_name
from inferchip.interfaces.cli import main
from inferchip.review.inputs import namer

L8 = "meta-llama/Llama-3.1-8B-Instruct"
IDS = ("tesla-ai5", "groq-lpu-v1", "nvidia-h100-sxm-80gb", "nvidia-drive-agx-thor", "tesla-ai4-hw4",
       "nvidia-jetson-agx-thor-t5000")


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    out = tmp_path_factory.mktemp("names") / "rv"
    assert main(["review", "--chips", "nvidia-h100-sxm-80gb,groq-lpu-v1", "--models", L8, "--no-sensitivity",
                 "--samples", "1000", "--out", str(out)]) == 0
    return json.loads((out / "results.json").read_text()), (out / "report.html").read_text()


def _ids_in(text: str) -> list[str]:
    """Chip ids in ``text``, other than as a chip YAML's file name (a source: catalog/chips/ID.yaml)."""
    return [i for i in IDS if re.search(re.escape(i) + r"(?!\.yaml)", text)]


def test_spoken_names_by_hand() -> None:
    assert spoken_name("AI5 (next-gen FSD/Optimus/datacenter inference chip)") == "AI5"
    assert spoken_name("H100 SXM5 80GB") == "H100 SXM5 80GB"
    name = namer(())  # a chip the review did not predict takes the catalogue's name; an unknown id stays itself
    assert name("nvidia-drive-agx-thor") == "DRIVE AGX Thor" and name("my-npu") == "my-npu"


def test_the_sentences_of_results_json_name_no_chip_by_id(small) -> None:
    data, _ = small
    texts = [p["decided_by"] for p in data["claim_parts"]]
    texts += [e[k] for e in data["ledger"] for k in ("default", "alternative", "note") if e.get(k)]
    v = data["verdict"]
    texts += [v["headline"], v["claim_text"], *v["lines"], *(c["sentence"] for c in v["cases"])]
    bad = {t: _ids_in(t) for t in texts if _ids_in(t)}
    assert not bad
    ai5, h100 = (spoken_name(load_chip(c).name) for c in ("tesla-ai5", "nvidia-h100-sxm-80gb"))
    per_chip = next(p for p in data["claim_parts"] if p["part"] == "per_chip")
    assert per_chip["decided_by"].startswith(f"{ai5} is first over the suite")
    assert per_chip["rival"] in ("nvidia-h100-sxm-80gb", "groq-lpu-v1")  # the data field keeps its id
    assert any(e["default"].startswith(f"{ai5} fp4 weights") for e in data["ledger"])
    assert any(h100 in c["sentence"] or "GroqChip / LPU v1" in c["sentence"] for c in v["cases"])


def test_the_reports_text_names_no_chip_by_id_outside_id_columns(small) -> None:
    _, page = small
    body = re.sub(r"<script.*?</script>|<style.*?</style>", "", page, flags=re.S)
    body = re.sub(r'title="[^"]*"', "", body)  # the id on hover
    cells = re.sub(r"<td[^>]*>(?:<span[^>]*>)?[a-z0-9-]+(?:</span>)?(?:<span class=\"badge\">[^<]*</span>)?</td>",
                   "", body)  # a table's chip-id column
    text = html_mod.unescape(re.sub(r"<[^>]+>", "\n", cells))
    bad = [line for line in text.split("\n") if _ids_in(line)]
    assert not bad, bad[:5]


def test_the_corners_table_says_which_silicon_reading_it_shows(small) -> None:
    # (review44 item 4) the corners table judges lowest-cost silicon per chip; it says so and where the other is
    _, page = small
    corners = page[page.index('id="corners"'):page.index("</section>", page.index('id="corners"'))]
    assert "one chip's modelled manufacturing cost" in corners and "silicon basis" in corners
    assert "explore --silicon deployment" in corners
