"""One wall-power formula for predict and the claim review (review44, stop 44).

``cost.energy.wall_power_w`` (scalars or arrays, with the host's per-request term) and the review judge's
``wall_power_per_chip_w`` (per-chip host arrays, [C, K, S]) each wrote
``(boards + host_idle + host_per_accelerator x n [+ sequences]) x (1 + fan) / psu``. Both now call
``cost.energy.host_wall_power_w``, whose per-request term is optional."""

from __future__ import annotations

import numpy as np
import pytest

from inferchip.catalog.assumptions import load_assumptions
from inferchip.cost import energy
from inferchip.review.judge import Figures, wall_power_per_chip_w, wall_w


def test_the_array_formula_by_hand_with_and_without_the_request_term() -> None:
    # two hosts at once: a server (750 W + 75 W a board, fan 0.08, supply 0.96) and a module (5 W carrier, 0.88)
    got = energy.host_wall_power_w(np.array([4800.0, 75.0]), np.array([8.0, 1.0]), np.array([750.0, 0.0]),
                                   np.array([75.0, 5.0]), np.array([0.08, 0.0]), np.array([0.96, 0.88]))
    assert got == pytest.approx([(4800 + 750 + 600) * 1.08 / 0.96, 80.0 / 0.88], rel=1e-15)
    with_requests = energy.host_wall_power_w(4800.0, 8.0, 750.0, 75.0, 0.08, 0.96, sequence_w=30.0)
    assert float(with_requests) == pytest.approx((4800 + 750 + 600 + 30) * 1.08 / 0.96, rel=1e-15)


def test_predict_and_the_review_both_call_the_one_formula(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[bool] = []
    real = energy.host_wall_power_w

    def counted(*args: object, **kw: object) -> np.ndarray:
        calls.append(kw.get("sequence_w") is not None or len(args) > 6)
        return real(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(energy, "host_wall_power_w", counted)
    a = load_assumptions()
    w = float(energy.wall_power_w(4800.0, 8, a, sequences_per_s=2.0))
    assert calls == [True]  # predict's wall power, with the per-request host term
    f = Figures(chips=["a"], claim=0, cases=[("m", "batch")], tput=np.ones((1, 1, 1)),
                board_w=np.full((1, 1, 1), 600.0), system_chips=np.array([8]), host_chips=np.full((1, 1), 8.0),
                host_idle_w=np.array([a.number("host.host_idle_w")]),
                host_per_acc_w=np.array([a.number("host.host_per_accelerator_w")]))
    review = float(wall_w(f)[0, 0, 0])
    assert calls == [True, False]  # the review's per-chip arrays, no request term
    assert review == pytest.approx(float(energy.wall_power_w(4800.0, 8, a)) / 8, rel=1e-15)
    assert w > review * 8  # the request term adds host power


def test_the_review_per_chip_wall_power_is_predicts_divided_by_n() -> None:
    a = load_assumptions()
    h = energy.host_system("embedded_soc", a)
    mine = float(wall_power_per_chip_w(75.0, 1.0, h.idle_w, h.per_accelerator_w, h.fan_power_fraction,
                                       h.psu_efficiency))
    assert mine == float(energy.wall_power_w(75.0, 1, a, system="embedded_soc"))
    assert h.wall_w(75.0, 1.0) == mine
