"""The claim review's wall power takes each chip's host as predict does (edgehost43, stop 43).

newuser43b gave predict an embedded module's own host (chip YAML ``system: embedded_soc``, assumptions
``host.embedded_soc``: carrier 5 W, supply 0.88, no fan share, one module per host); the review still added a GPU
server's host (750 W shared by at least 8, 75 W per accelerator, x 1.08 / 0.96). ``review.views.host_of`` now returns
``cost.energy.host_system`` of the chip's system (an NPU board keeps its light host), and ``review.judge.wall_w``
takes each chip's fan share and supply from it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from inferchip.catalog.assumptions import load_assumptions
from inferchip.cost.energy import host_system, wall_power_w
from inferchip.interfaces.cli import app
from inferchip.review.inputs import chip_entry
from inferchip.review.judge import Figures, wall_w
from inferchip.review.views import NPU_BOARD, VIEW_LABELS, CostView, host_of, host_share, restate_money

JETSON, H100, AI5 = "nvidia-jetson-agx-thor-t5000", "nvidia-h100-sxm-80gb", "tesla-ai5"


def test_host_of_is_predicts_host_per_system() -> None:
    a = load_assumptions()
    assert host_of(chip_entry(JETSON, 72)) == host_system("embedded_soc", a)
    assert host_of(chip_entry(H100, 72)) == host_system("server", a)
    npu = host_of(chip_entry(AI5, 72))  # a board of NPUs keeps its light host (catalog.competitors)
    assert npu.system == NPU_BOARD and (npu.idle_w, npu.per_accelerator_w) == (150.0, 15.0)
    # the ledger's alternative puts any chip in a GPU server's host
    assert host_of(chip_entry(JETSON, 72), gpu_host=True) == host_system("server", a)


def test_host_share_one_module_per_carrier_eight_per_server() -> None:
    a = load_assumptions()
    assert host_share(1.0, host_system("embedded_soc", a)) == 1.0
    assert host_share(1.0, host_system("server", a)) == 8.0
    assert host_share(16.0, host_system("server", a)) == 16.0
    assert host_share(1.0, host_of(chip_entry(AI5, 72))) == 1.0


def _row(chip: str, board_w: float, n: int) -> dict[str, object]:
    return {"chip_id": chip, "status": "ok", "power_w_per_chip": board_w, "output_tokens_per_s_per_chip": 100.0,
            "num_chips": n, "deployment_chips": n}


def test_review_wall_power_by_hand_equals_predicts() -> None:
    a = load_assumptions()
    chips = [chip_entry(JETSON, 72), chip_entry(H100, 72)]
    rows = [_row(JETSON, 75.0, 1), _row(H100, 600.0, 1)]
    restate_money(rows, chips, [CostView(v, VIEW_LABELS[v]) for v in ("street", "modelled")])  # unpriced: power only
    jetson, h100 = (float(r["wall_power_w_per_chip"]) for r in rows)
    assert jetson == pytest.approx((75.0 + 5.0) * (1 + 0.0) / 0.88)  # 90.9 W; main: 279 W with a server host
    assert jetson == pytest.approx(float(wall_power_w(75.0, 1, a, system="embedded_soc")))
    # a server chip unchanged: one H100 takes its 1/8 share of the host, (8 x 600 + 750 + 8 x 75) x 1.08 / 0.96 / 8
    assert h100 == pytest.approx((8 * 600.0 + 750.0 + 8 * 75.0) * 1.08 / 0.96 / 8)
    assert h100 == pytest.approx(float(wall_power_w(8 * 600.0, 8, a)) / 8)


def test_judge_wall_w_takes_each_chips_fan_and_supply() -> None:
    a = load_assumptions()
    chips = [chip_entry(JETSON, 72), chip_entry(H100, 72)]
    hosts = [host_of(c) for c in chips]
    board = np.array([[[75.0]], [[600.0]]])
    f = Figures([c.id for c in chips], 0, [("m", "batch")], np.ones_like(board), board, np.ones(2),
                np.array([[host_share(1.0, h)] for h in hosts]), np.array([h.idle_w for h in hosts]),
                np.array([h.per_accelerator_w for h in hosts]),
                host_fan_fraction=np.array([h.fan_power_fraction for h in hosts]),
                host_psu_efficiency=np.array([h.psu_efficiency for h in hosts]))
    w = wall_w(f)
    assert w[0, 0, 0] == pytest.approx(float(wall_power_w(75.0, 1, a, system="embedded_soc")))
    assert w[1, 0, 0] == pytest.approx(float(wall_power_w(8 * 600.0, 8, a)) / 8)
    # Figures naming no host fan or supply take the server's (the arrays built by hand in other tests)
    g = Figures(f.chips, 0, f.cases, f.tput, board, np.ones(2), np.full((2, 1), 8.0), np.full(2, 750.0),
                np.full(2, 75.0))
    assert wall_w(g)[1, 0, 0] == pytest.approx(w[1, 0, 0])


def test_the_review_command_gives_an_embedded_module_its_carrier(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["review", "--chips", f"{H100},{JETSON}", "--models", "meta-llama/Llama-3.2-1B",
                                   "--no-sensitivity", "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    rows = [r for r in json.loads((tmp_path / "results.json").read_text())["rows"] if r["status"] == "ok"]
    jet, gpu = [r for r in rows if r["chip_id"] == JETSON], [r for r in rows if r["chip_id"] == H100]
    assert jet and gpu
    for r in jet:  # main: ~280 W for a module drawing ~80 W
        assert r["wall_power_w_per_chip"] == pytest.approx((r["power_w_per_chip"] + 5.0) / 0.88)
    for r in gpu:
        assert r["wall_power_w_per_chip"] == pytest.approx(
            (8 * r["power_w_per_chip"] + 750.0 + 8 * 75.0) * 1.08 / 0.96 / 8)
