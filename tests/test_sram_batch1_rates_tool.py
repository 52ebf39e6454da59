"""tools/catalog/sram_batch1_rates.py: the TPOT split by bound and the ratio, by hand; one row end to end."""

from __future__ import annotations

import pytest
from tests.conftest import load_tool

sr = load_tool("sram_batch1_rates")


def test_tpot_parts_by_hand() -> None:
    decode = {"mlp": {"time_s": 3e-6, "bound": "compute"}, "attention": {"time_s": 1e-6, "bound": "overhead"},
              "elementwise": {"time_s": 2e-6, "bound": "overhead"},
              "communication": {"time_s": 4e-6, "bound": "network"}, "host": {"time_s": 10e-6, "bound": "overhead"}}
    got = sr.tpot_parts(decode)
    # the host step on its own line, not under overhead: 1 + 2 = 3 us of overhead
    assert got == pytest.approx({"host": 10e-6, "overhead": 3e-6, "network": 4e-6, "compute": 3e-6, "memory": 0.0})
    with pytest.raises(ValueError, match="bound 'disk'"):
        sr.tpot_parts({"x": {"time_s": 1.0, "bound": "disk"}})


def test_ratio() -> None:
    assert sr.ratio(6457.9, 1800.0) == pytest.approx(3.58772, rel=1e-5)
    with pytest.raises(ValueError, match="must be > 0"):
        sr.ratio(1.0, 0.0)


def test_every_published_row_names_its_source_and_chip_count() -> None:
    for p in sr.PUBLISHED:
        assert p.source and p.count_source and p.date and p.tokens_per_s_per_user > 0


def test_cerebras_8b_row_reports_the_prediction_against_1800() -> None:
    from inferchip.performance.predict import predict

    pr = predict("cerebras-wse-3", "meta-llama/Llama-3.1-8B-Instruct", batch=1, input_tokens=128, output_tokens=128)
    line = sr.row(sr.PUBLISHED[0])
    assert f"{pr.output_tokens_per_s_per_user:,.1f}" in line
    assert f"{pr.output_tokens_per_s_per_user / 1800.0:.2f}" in line
    # its TPOT is the per-kernel estimate and the host step: no compute-, memory- or network-bound class
    parts = sr.tpot_parts(pr.breakdown["decode"])
    assert parts["compute"] == parts["memory"] == parts["network"] == 0.0
    assert parts["host"] == pytest.approx(10e-6)
