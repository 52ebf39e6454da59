"""A claimed chip given as bare parameters (no chip YAML) takes its catalogue entry's host, or the review says which
host it assumed (review44, stop 44).

``review.views.host_of`` read the host from ``ChipEntry.spec``, which a ``ChipParams`` claim lacks, so a Jetson
module's parameters were judged in a GPU server's host (750 W shared by 8, 75 W a board, x 1.08 / 0.96) without a
word. Now an id the catalogue knows takes its entry's ``system``; an unknown one takes the server's host and the
review's notes say it was assumed."""

from __future__ import annotations

from dataclasses import replace

import pytest

from inferchip.catalog.assumptions import load_assumptions
from inferchip.catalog.chips import get_chip_params
from inferchip.cost.energy import host_system, wall_power_w
from inferchip.review.inputs import chip_entry
from inferchip.review.views import VIEW_LABELS, CostView, host_of, restate_money

JETSON = "nvidia-jetson-agx-thor-t5000"


def test_parameters_of_a_catalogue_module_take_its_host() -> None:
    a = load_assumptions()
    e = chip_entry(get_chip_params(JETSON), 72, is_claim=True)
    assert e.spec is None and e.system == "embedded_soc" and "catalogue entry" in (e.system_basis or "")
    assert host_of(e) == host_system("embedded_soc", a)
    assert e.name != JETSON  # the catalogue's name, for the sentences a person reads
    rows: list[dict[str, object]] = [{"chip_id": JETSON, "status": "ok", "power_w_per_chip": 75.0,
                                      "output_tokens_per_s_per_chip": 100.0, "num_chips": 1, "deployment_chips": 1}]
    restate_money(rows, [e], [CostView(v, VIEW_LABELS[v]) for v in ("street", "modelled")])
    # (75 + 5) / 0.88 = 90.9 W, as predict; main: (8 x 75 + 750 + 8 x 75) x 1.08 / 0.96 / 8 = 274.2 W
    assert rows[0]["wall_power_w_per_chip"] == pytest.approx(float(wall_power_w(75.0, 1, a, system="embedded_soc")))


def test_parameters_of_an_unknown_chip_assume_a_server_and_say_so() -> None:
    p = replace(get_chip_params(JETSON), id="my-edge-npu")
    e = chip_entry(p, 72, is_claim=True)
    assert host_of(e) == host_system("server", load_assumptions())
    assert e.system_basis is not None and e.system_basis.startswith("assumed: a GPU server's host")


def test_the_review_notes_the_assumed_host() -> None:
    from inferchip.review.review import ReviewConfig, run_review

    p = replace(get_chip_params("nvidia-h100-sxm-80gb"), id="my-npu")
    res = run_review(ReviewConfig(chips=["nvidia-l40s"], claim=p, models=["meta-llama/Llama-3.1-8B-Instruct"],
                                  slos=("batch",), sensitivity=False, judge=False, jobs=1))
    said = [n for n in res.notes if n.startswith("my-npu is given as parameters")]
    assert len(said) == 1 and "assumed: a GPU server's host" in said[0]
