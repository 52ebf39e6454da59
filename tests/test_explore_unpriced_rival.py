"""`inferchip explore --target T --beat R` where a rival has no price or cost (a catalogue CPU) (stop 38, newuser38).

Before: ``--beat cpu:intel-xeon-6980p`` ended in ``error: chip_price_usd: value is not known (NaN)``, naming neither
the option nor the chip, though beat() already handles a part no rival has a figure for. Now a rival of no price is
left out of the cost parts with a note naming it, and the other parts are scored against it.
"""

from __future__ import annotations

import numpy as np

from inferchip.catalog.assumptions import load_assumptions
from inferchip.explore.beat import beat
from inferchip.explore.claim_parts import usd_per_mtok

MODEL = "meta-llama/Llama-3.1-8B-Instruct"
CPU = "cpu:intel-xeon-6980p"


def test_a_rival_without_a_price_is_left_out_of_the_cost_parts_with_a_note():
    res = beat("tesla-ai5", [CPU, "nvidia-l4"], models=[MODEL])
    assert any(n.startswith(f"{CPU}: no cost or price") for n in res.notes), res.notes
    by_part = {c.objective: c for c in res.changes}
    assert by_part["equal_money"].best_rival == "nvidia-l4"  # the CPU is no rival on money
    assert by_part["per_chip"].best_rival == CPU  # but is on throughput (faster than an L4 at 8B here)


def test_usd_per_mtok_is_nan_only_for_the_chip_of_no_price():
    a = load_assumptions()
    tput = np.array([[100.0, 200.0], [100.0, 200.0], [100.0, 200.0]])
    got = usd_per_mtok(tput, np.array([10_000.0, np.nan, 10_000.0]), np.array([700.0, 500.0, np.nan]), a)
    assert np.all(np.isfinite(got[0])) and np.all(np.isnan(got[1])) and np.all(np.isnan(got[2]))
    alone = usd_per_mtok(tput[:1], np.array([10_000.0]), np.array([700.0]), a)
    assert np.allclose(got[0], alone[0])  # a priced chip's figure does not depend on the others
    assert got[0][0] == 2 * got[0][1]  # twice the tokens per hour, half the dollars per token
