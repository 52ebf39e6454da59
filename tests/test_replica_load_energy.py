"""A concurrency shared by replicas: energy rows and ``Prediction.batch`` follow
``performance.operating.replica_load`` (C < R replicas leave R - C idle; C >= R holds C / R each)."""

from __future__ import annotations

import csv

import pytest

from inferchip.catalog.chips import get_chip_params
from inferchip.performance.operating import LengthDist, Question
from inferchip.performance.predict import predict_setting
from inferchip.performance.setting import resolve_setting
from inferchip.validation.energy.rows import BUNDLED_CSV, predict_energy_run

CHIP, MODEL = "nvidia-h100-sxm-80gb", "meta-llama/Llama-3.1-8B"


def _question(mode: str, concurrency: float) -> Question:
    return Question(mode, LengthDist.fixed(512), LengthDist.fixed(64), concurrency=concurrency,
                    whole_sequences_per_chip=True)


@pytest.mark.parametrize("mode", ["static", "closed_loop"])
def test_a_concurrency_that_does_not_divide_the_replicas_is_reported_as_its_mean(mode):
    # 12 sequences on 8 single-chip replicas: 1.5 per replica on average, not 1 (truncated).
    setting = resolve_setting(CHIP, MODEL, count=8, tp=1)
    p = predict_setting(setting, _question(mode, 12.0))
    assert p.replicas == 8
    assert p.batch == 1.5
    whole = predict_setting(setting, _question(mode, 16.0))
    assert whole.batch == 2 and type(whole.batch) is int  # a whole load stays an int (JSON, tables)


def _row(count: int, concurrency: int) -> dict[str, str]:
    with BUNDLED_CSV.open(encoding="utf-8-sig", newline="") as fh:
        row = next(r for r in csv.DictReader(fh) if r["scenario"] == "fixed_length" and r["concurrency"])
    return {**row, "accelerator": CHIP, "model": MODEL, "num_accelerators": str(count), "tp": "1", "pp": "1",
            "weight_dtype": "bf16", "act_dtype": "bf16", "kv_dtype": "", "input_tokens": "512",
            "output_tokens": "64", "concurrency": str(concurrency), "metric": "power_w_board_total",
            "notes": "power scope board"}


def test_an_energy_row_with_fewer_sequences_than_replicas_leaves_the_others_idle():
    # 4 sequences on 8 single-chip replicas: 4 chips run batch 1 (each as one chip alone would),
    # the other 4 idle. Not every replica at batch 1 (8 sequences, twice the power and tokens).
    one, reason = predict_energy_run(_row(1, 1))
    assert reason is None and one is not None
    eight, reason = predict_energy_run(_row(8, 4))
    assert reason is None and eight is not None
    idle_w = get_chip_params(CHIP).idle_w
    assert eight.output_tokens_per_s == pytest.approx(4 * one.output_tokens_per_s, rel=1e-9)
    assert eight.board_w == pytest.approx(4 * one.board_w + 4 * idle_w, rel=1e-9)


def test_an_energy_row_shares_its_concurrency_as_the_mean_per_replica():
    # 12 sequences on 4 replicas of 2 chips (tp=2): 3 per replica, as a 2-chip system at 3.
    row = {**_row(8, 12), "tp": "2"}
    eight, _ = predict_energy_run(row)
    two, _ = predict_energy_run({**row, "num_accelerators": "2", "concurrency": "3"})
    assert eight is not None and two is not None
    assert eight.output_tokens_per_s == pytest.approx(4 * two.output_tokens_per_s, rel=1e-9)
    assert eight.board_w == pytest.approx(4 * two.board_w, rel=1e-9)
