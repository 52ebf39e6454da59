"""validation.energy.rows: energy rows predicted end to end; MaxQ caps; the wall (host) model; bad rows."""

from __future__ import annotations

import csv
import math

import pytest

from inferchip.catalog.assumptions import load_assumptions
from inferchip.validation.energy.row_setting import latency_limits, power_cap_w
from inferchip.validation.energy.rows import BUNDLED_CSV, energy_validation_summary, predict_energy_row


def _rows() -> dict[str, dict[str, str]]:
    with BUNDLED_CSV.open(encoding="utf-8-sig", newline="") as fh:
        return {r["case_id"]: r for r in csv.DictReader(fh)}


ROWS = _rows()
BOARD_POWER = "anl-llmib-meta-llama-3-8b-h100x1-bs16-io1024-power"
BOARD_TPJ = "anl-llmib-meta-llama-3-8b-h100x1-bs16-io1024-energy"
WALL_POWER = "mlp41pw-llama2-70b-offline-h200x8maxq-nvidia-power"
WALL_TPJ = "mlp41pw-llama2-70b-offline-h200x8maxq-nvidia-energy"
SERVER_POWER = "mlp51pw-llama31-8b-server-b200x8-lenovo-power"


@pytest.mark.parametrize("case_id", [BOARD_POWER, BOARD_TPJ, WALL_POWER, WALL_TPJ, SERVER_POWER])
def test_rows_of_each_scope_give_finite_positive_predictions(case_id):
    value, reason = predict_energy_row(ROWS[case_id])
    assert reason is None
    assert value is not None and math.isfinite(value) and value > 0


def test_board_power_of_one_busy_h100_lies_between_its_floor_and_its_tdp():
    value, _ = predict_energy_row(ROWS[BOARD_POWER])
    # One H100 (700 W TDP, 70 W idle in the catalogue): above idle, at most TDP.
    assert 70.0 < value <= 700.0


def test_wall_power_is_board_power_plus_the_host_model():
    from inferchip.validation.energy.power_fit import HOST, with_power
    from inferchip.validation.energy.rows import predict_energy_run

    row = dict(ROWS[WALL_POWER])
    no_seq = with_power(load_assumptions(), {HOST: 0.0})
    wall, _ = predict_energy_row(row, assumptions=no_seq)
    board, _ = predict_energy_row({**row, "metric": "power_w_board_total"}, assumptions=no_seq)
    # wall = (board + host_idle 750 W + 75 W x 8) x (1 + 0.08 fans) / 0.96 PSU (assumptions.yaml)
    assert wall == pytest.approx((board + 750.0 + 75.0 * 8) * 1.08 / 0.96, rel=1e-12)
    # plus 2 J per completed request: requests/s = output tokens/s / output tokens per request
    run, _ = predict_energy_run(row, assumptions=with_power(no_seq, {HOST: 2.0}))
    per_s = run.output_tokens_per_s / float(row["output_tokens"])
    assert run.wall_w - wall == pytest.approx(2.0 * per_s * 1.08 / 0.96, rel=1e-6)
    a = load_assumptions()
    assert a.number("host.host_idle_w") == 750.0 and a.number("host.psu_efficiency") == 0.96


def test_tokens_per_joule_is_predicted_throughput_over_predicted_power():
    from inferchip.performance.predict import predict

    row = ROWS[BOARD_TPJ]
    tpj, _ = predict_energy_row(row)
    power, _ = predict_energy_row(ROWS[BOARD_POWER])  # the same run, power metric
    p = predict("nvidia-h100-sxm-80gb", row["model"], weights="fp16", batch=16, input_tokens=1024,
                output_tokens=1024, tp=1, pp=1)
    assert tpj == pytest.approx(p.output_tokens_per_s / power, rel=1e-9)
    # and not the measured throughput of the notes (2972.2 / 2 output tok/s):
    assert tpj != pytest.approx(2972.2 / 2 / power, rel=1e-6)  # a copied measurement would match to rounding


def test_maxq_cap_is_read_from_the_notes_and_lowers_power():
    row = ROWS[WALL_POWER]
    assert power_cap_w(row) == 500.0  # "power_limit 500 W per GPU"
    capped, _ = predict_energy_row({**row, "metric": "power_w_board_total"})
    uncapped_row = {**row, "metric": "power_w_board_total", "case_id": "h200x8-uncapped",
                    "notes": row["notes"].replace("power_limit 500 W per GPU", "").replace("MaxQ", "")}
    uncapped, reason = predict_energy_row(uncapped_row)
    assert reason is None
    assert capped <= 8 * 500.0 * (1 + 1e-9)
    assert capped < uncapped


def test_maxq_row_without_a_stated_cap_gives_a_reason():
    row = {**ROWS[WALL_POWER], "notes": "MaxQ system, limit not recorded"}
    value, reason = predict_energy_row(row)
    assert value is None and "power_limit" in reason


def test_server_limits_come_from_the_notes():
    assert latency_limits(ROWS[SERVER_POWER]) == (2.0, 0.1, None)  # "TTFT p99<=2000 ms, TPOT p99<=100 ms"
    gptj = ROWS["mlp41pw-gptj-server-h200x8maxq-nvidia-power"]
    assert latency_limits(gptj) == (None, None, 20.0)  # "latency limit 20 s end-to-end"


@pytest.mark.parametrize("change, words", [
    ({"accelerator": "nvidia-h900"}, "unknown chip"),
    ({"model": "nobody/no-such-model"}, "unknown model"),
    ({"metric": "ttft_ms"}, "not an energy metric"),
    ({"num_accelerators": ""}, "num_accelerators is blank"),
    ({"tp": "two"}, "ValueError"),
    ({"scenario": "batch"}, "scenario 'batch'"),
])
def test_bad_row_gives_a_reason_not_an_exception(change, words):
    value, reason = predict_energy_row({**ROWS[BOARD_POWER], **change})
    assert value is None and words in reason


def test_row_that_does_not_fit_gives_the_fit_error_as_reason():
    # Llama-3.1-405B in fp16 (~810 GB of weights) cannot run on one 80 GB H100 even one request at a time.
    value, reason = predict_energy_row({**ROWS[BOARD_POWER], "model": "meta-llama/Llama-3.1-405B"})
    assert value is None and "does not fit" in reason


def test_summary_has_every_energy_row_with_its_scope():
    df = energy_validation_summary(BUNDLED_CSV)
    assert len(df) == len(ROWS)
    assert set(df["scope"]) == {"wall", "board"}
    ok = df["reason"] == ""
    assert (df.loc[ok, "ape %"] >= 0).all()
    assert df.loc[~ok, "predicted"].isna().all()


def test_static_batch_larger_than_memory_is_simulated_with_preemption():
    # Llama-2-7B (MHA) x 64 sequences of 2,048 tokens needs ~69 GB of KV on one 80 GB H100:
    # predict's static batch does not fit, but vLLM admits what fits and recomputes the rest,
    # which the serving simulator runs; its power lies between the busy floor and TDP.
    power_row = ROWS["anl-llmib-llama-2-7b-hf-h100x1-bs64-io1024-power"]
    power, reason = predict_energy_row(power_row)
    assert reason is None
    assert 70.0 < power <= 700.0
    tpj, reason = predict_energy_row(ROWS["anl-llmib-llama-2-7b-hf-h100x1-bs64-io1024-energy"])
    assert reason is None and tpj > 0
    # a server row (or any row that is not a fixed-length batch) that does not fit stays refused
    bad = {**power_row, "scenario": "server", "concurrency": "", "notes": "TTFT p99 <= 2000 ms; TPOT p99 <= 200 ms",
           "input_tokens": "200000"}
    value, reason = predict_energy_row(bad)
    assert value is None and reason
