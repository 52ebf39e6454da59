"""Energy in the serving simulator: step energies by hand, idle gaps, TDP, load, CLI JSON.

The linear stand-in prices a step at ``DYN_J_PER_TOKEN x tokens / step time + STATIC_W``
watts (its energy: ``DYN_J_PER_TOKEN x tokens + STATIC_W x step time``) with binary-fraction
figures, so every expected energy below is a sum written out step by step. The real-model
tests go through :mod:`inferchip.performance.serving`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from conftest import make_chip
from inferchip.cost.economics import step_power
from inferchip.interfaces.cli import main
from inferchip.performance.serving import serving_economics, serving_model
from inferchip.sim import (
    ClosedLoopArrivals,
    LinearStepModel,
    PoissonArrivals,
    TraceArrivals,
    simulate,
)
from inferchip.sim.runs.curve import throughput_interactivity_curve

FIXED = 1 / 16  # s per step
PER_TOKEN = 1 / 1024  # s per token
DYN_J_PER_TOKEN = 0.5  # J per token processed
STATIC_W = 64.0  # W while a step runs
IDLE_W = 8.0  # W with no step to run


@dataclass(frozen=True)
class LinearEnergyModel(LinearStepModel):
    """LinearStepModel that also prices its steps' energy (the optional protocol members)."""

    idle_power_w: float = IDLE_W

    def step_power_w(self, num_tokens, num_decode_seqs, decode_kv_tokens, prefill_attn_pairs):
        t = self.step_time_s(num_tokens, num_decode_seqs, decode_kv_tokens, prefill_attn_pairs)
        return DYN_J_PER_TOKEN * np.asarray(num_tokens, float) / t + STATIC_W


def model() -> LinearEnergyModel:
    return LinearEnergyModel(fixed_s=FIXED, per_token_s=PER_TOKEN)


def one_request_j(inp: int, out: int) -> tuple[float, float]:
    """(energy J, busy time s) of one request alone: a prefill step of ``inp`` tokens, then ``out - 1``
    decode steps of one token each (the first output token comes out of the prefill step)."""
    t_pre = FIXED + PER_TOKEN * inp
    t_dec = FIXED + PER_TOKEN * 1
    e = DYN_J_PER_TOKEN * inp + STATIC_W * t_pre + (out - 1) * (DYN_J_PER_TOKEN * 1 + STATIC_W * t_dec)
    return e, t_pre + (out - 1) * t_dec


def write_trace(tmp_path: Path, rows: list[tuple]) -> str:
    path = tmp_path / "trace.csv"
    path.write_text("arrival_s,input_tokens,output_tokens\n" + "".join(f"{a!r},{i},{o}\n" for a, i, o in rows))
    return str(path)


def test_single_request_energy_is_the_sum_of_its_steps_by_hand():
    res = simulate(model(), ClosedLoopArrivals(concurrency=1, input_tokens=96, output_tokens=5), num_requests=1,
                   exact_step_times=True)
    s = res.summary()
    # prefill: 0.5 x 96 + 64 x (1/16 + 96/1024) = 48 + 10 = 58 J; decode: 4 x (0.5 + 64 x 65/1024) = 4 x 4.5625
    expected, busy = one_request_j(96, 5)
    assert expected == 58.0 + 4 * 4.5625
    assert s["energy_j"] == pytest.approx(expected, rel=1e-12)
    assert res.steps["energy_j"] == pytest.approx([58.0] + [4.5625] * 4, rel=1e-12)
    assert busy == res.steps["duration_s"].sum()


def test_idle_gap_between_requests_draws_idle_power(tmp_path):
    trace = write_trace(tmp_path, [(0.0, 96, 5), (10.0, 96, 5)])
    res = simulate(model(), TraceArrivals(path=trace), exact_step_times=True)
    e1, busy = one_request_j(96, 5)
    # two identical requests, and the replica idles from the end of the first to the arrival of the second
    assert res.summary()["energy_j"] == pytest.approx(2 * e1 + IDLE_W * (10.0 - busy), rel=1e-12)


def test_model_without_energy_reports_none():
    res = simulate(LinearStepModel(fixed_s=FIXED, per_token_s=PER_TOKEN),
                   ClosedLoopArrivals(concurrency=1, input_tokens=96, output_tokens=5), num_requests=1)
    s = res.summary()
    assert "energy_j" not in s and "power_w_per_chip" not in s and res.replica_idle_power_w is None


def test_real_model_single_request_energy_equals_its_steps_through_the_model():
    # uncalibrated defaults: the throttled prefill below must not depend on the shipped calibration;
    # a 400 W power limit (MaxQ-like) so that the prefill step exceeds it (at the rating point,
    # 700 W, a dense prefill stays just below the TDP by construction of the per-FLOP energy)
    step, _ = serving_model(make_chip(tdp_w=400.0), "meta-llama/Llama-3.1-8B", weights="fp8", calibration="none")
    res = simulate(step, ClosedLoopArrivals(concurrency=1, input_tokens=512, output_tokens=65), num_requests=1,
                   exact_step_times=True)
    # by hand: one prefill step of 512 tokens (512 x 513 / 2 causal pairs), then 64 decode steps
    # with 512, 513, ... 575 tokens cached; each priced by the step cost and economics.step_power.
    pre_t, pre_cost = step.mm.replica_step_s(512, 0, 0, 512 * 513 / 2)
    kv = 512 + np.arange(64, dtype=float)
    dec_t, dec_cost = step.mm.replica_step_s(np.ones(64), np.ones(64), kv, np.zeros(64))
    en = step.energy
    pre = step_power(pre_cost, pre_t, 1, None, "HBM3", en.tdp_w, en.idle_w, en.assumptions)
    dec = step_power(dec_cost, dec_t, 1, None, "HBM3", en.tdp_w, en.idle_w, en.assumptions)
    expected = float(np.sum(pre.energy_j)) + float(np.sum(dec.energy_j))
    assert res.summary()["energy_j"] == pytest.approx(expected, rel=1e-9)
    # and the simulator ran the throttled times (the prefill of this chip exceeds its power limit)
    assert bool(pre.throttled)
    assert res.steps["duration_s"][0] == pytest.approx(float(pre.time_s), rel=1e-12)


def test_power_never_exceeds_tdp_and_never_falls_below_idle():
    step, replicas = serving_model(make_chip(), "meta-llama/Llama-3.1-8B", weights="fp8", count=2)
    res = simulate(step, PoissonArrivals(rate_per_s=20, input_tokens=(2000, 1500), output_tokens=(100, 80)),
                   num_requests=300, replicas=replicas, seed=3)
    s = res.summary()
    step_w = res.steps["energy_j"] / res.steps["duration_s"] / step.num_chips
    assert step_w.max() <= 700.0 * (1 + 1e-6)  # TDP of make_chip, per chip, every step
    assert step_w.min() >= 80.0  # a running step draws at least the idle power (busy static >= idle)
    assert 80.0 <= s["power_w_per_chip"] <= 700.0
    assert s["output_tokens_per_j"] == pytest.approx(s["output_tokens_per_s"] / (s["power_w_per_chip"] * 2),
                                                     rel=1e-12)


def test_heavier_load_draws_more_power_and_amortises_the_idle_floor():
    # Physics: busy power >= idle power, so keeping the chips busier raises average power; at
    # a light load the idle floor dominates energy, so tokens per joule rises with load.
    step, _ = serving_model(make_chip(), "meta-llama/Llama-3.1-8B", weights="fp8")
    arr = {"input_tokens": 256, "output_tokens": 64}
    light = simulate(step, PoissonArrivals(rate_per_s=0.2, **arr), num_requests=200, seed=1).summary()
    heavy = simulate(step, PoissonArrivals(rate_per_s=20.0, **arr), num_requests=200, seed=1).summary()
    assert heavy["power_w_per_chip"] > light["power_w_per_chip"]
    assert heavy["output_tokens_per_j"] > light["output_tokens_per_j"]


def test_curve_points_carry_energy_and_money():
    step, _ = serving_model("nvidia-h100-sxm-80gb", "meta-llama/Llama-3.1-8B", weights="fp8")
    cur = throughput_interactivity_curve(step, 256, 64, concurrencies=[1, 8], requests_per_user=2)
    for p in cur.points:
        assert 0 < p["power_w_per_chip"] <= 700.0
        money = serving_economics(step, p, 1)
        assert money["usd_per_million_tokens"] > 0 and money["chip_price_usd"] > 0
    # more users share the same static floor: more tokens per joule
    assert cur.points[1]["output_tokens_per_j"] > cur.points[0]["output_tokens_per_j"]


def test_serve_and_curve_json_contain_energy_and_money(capsys, tmp_path):
    over = tmp_path / "a.yaml"
    over.write_text("tco:\n  usd_per_kwh: 0.2\n")
    args = ["--chip", "nvidia-h100-sxm-80gb", "--model", "meta-llama/Llama-3.1-8B", "--weights", "fp8",
            "--input-tokens", "256", "--output-tokens", "32", "--format", "json"]
    assert main(["serve", *args, "--rate", "5", "--requests", "100"]) == 0
    base = json.loads(capsys.readouterr().out)
    for key in ("energy_j", "power_w_per_chip", "output_tokens_per_j", "usd_per_million_tokens",
                "output_tokens_per_s_per_usd_capex", "assumptions_file"):
        assert key in base
    assert main(["serve", *args, "--rate", "5", "--requests", "100", "--assumptions", str(over)]) == 0
    dear = json.loads(capsys.readouterr().out)
    assert str(over) in dear["assumptions_file"]
    assert dear["power_w_per_chip"] == pytest.approx(base["power_w_per_chip"], rel=1e-12)
    assert dear["usd_per_million_tokens"] > base["usd_per_million_tokens"]  # dearer electricity, same run
    assert main(["curve", *args]) == 0
    cur = json.loads(capsys.readouterr().out)
    assert "assumptions_file" in cur
    assert all("power_w_per_chip" in p and "usd_per_million_tokens" in p for p in cur["points"])
