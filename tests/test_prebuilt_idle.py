"""SGLang's prebuilt iteration on an attention-DP decode server: the share of ranks that skip a decode step when a
step's arrivals are pinned to uniformly drawn ranks, by hand, and the engine data that turns it on."""

from __future__ import annotations

import pytest

from inferchip.sim.engines.polling import skipped_rank_share


def test_skipped_rank_share_by_hand():
    assert skipped_rank_share(0, 48) == 0.0
    assert skipped_rank_share(5, 1) == 0.0  # one rank: its prebuilt iteration runs no forward
    assert skipped_rank_share(1, 48) == pytest.approx(1 / 48)
    assert skipped_rank_share(2, 2) == pytest.approx(0.75)  # 1 - (1/2)^2
    # the FP4 d48 plateau: 4.7 arrivals a step over 48 ranks, about 9 %; d32 with 8.5 a step, about 24 %
    assert skipped_rank_share(5, 48) == pytest.approx(1 - (47 / 48) ** 5)
    assert skipped_rank_share(5, 48) == pytest.approx(0.0999, abs=1e-4)
    assert skipped_rank_share(8, 32) == pytest.approx(0.2243, abs=1e-4)  # 1 - (31/32)^8


def test_skipped_rank_share_refuses_bad_input():
    with pytest.raises(ValueError, match="ranks must be >= 1"):
        skipped_rank_share(1, 0)
    with pytest.raises(ValueError, match="arrivals >= 0"):
        skipped_rank_share(-1, 4)


def test_shipped_decode_entries():
    from inferchip.catalog.engines import get_engine

    dyn = get_engine("dynamo")
    flags = {(w.weights, w.input_tokens, w.decode_workers, w.attention_dp): w.prebuilt_idle for w in dyn.decode_worker}
    assert flags[("fp4", 1024, 1, None)] and flags[("fp8", 8192, 1, None)]
    assert not flags[("fp4", 1024, 2, False)]  # TP4 low-latency worker: no attention DP
