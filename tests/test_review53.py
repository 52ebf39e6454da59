"""Stop 53's second reading: the review's interactive limits said as run; under attention DP every prompt token of
a prompt longer than a rank's prefill budget priced in the steady state."""

from __future__ import annotations

import numpy as np
import pytest

from inferchip.review.inputs import ReviewConfig, service_level


def test_a_single_given_limit_says_the_other_limit_by_the_models_size_and_not_the_replaced_one():
    """review --max-tpot-ms 10 said "TPOT 10 ms; the other limit MLPerf Interactive, Llama-3.1-8B: TTFT 500 ms, TPOT
    30 ms": the replaced TPOT quoted beside the given one, and (the CLI read the first model's) the 8B's class for a
    405B model too, whose TTFT limit is 4,500 ms."""
    cfg = ReviewConfig(max_tpot_s=0.010)
    small, large = (service_level("interactive", n, cfg) for n in (8e9, 405e9))
    assert (small.max_ttft_s, small.max_tpot_s, large.max_ttft_s, large.max_tpot_s) == (0.5, 0.010, 4.5, 0.010)
    assert small.basis == ("given for every model: TPOT 10 ms; TTFT 500 ms by its size (MLPerf Interactive, "
                           "Llama-3.1-8B)")
    assert large.basis.endswith("; TTFT 4500 ms by its size (MLPerf Interactive, Llama-3.1-405B)")
    for level in (small, large):
        assert "TPOT 30" not in level.basis and "TPOT 80" not in level.basis  # the replaced limit is not quoted
    ttft_only = service_level("interactive", 70e9, ReviewConfig(max_ttft_s=0.2))
    assert (ttft_only.max_ttft_s, ttft_only.max_tpot_s) == (0.2, 0.040)
    assert ttft_only.basis == ("given for every model: TTFT 200 ms; TPOT 40 ms by its size (MLPerf Interactive, "
                               "Llama-2-70B)")
    both = service_level("interactive", 405e9, ReviewConfig(max_ttft_s=0.2, max_tpot_s=0.01))
    assert both.basis == "given for every model: TTFT 200 ms, TPOT 10 ms"


@pytest.mark.parametrize("random", [True, False])
def test_a_prompt_longer_than_a_ranks_budget_is_priced_whole_under_attention_dp(random):
    """dp_decode_step held the busiest rank to its chunk budget (``held`` of its prompt a step) but counted the
    prompt-carrying steps as if each prompt took one: a prompt 4 budgets long priced a quarter of its tokens (its
    extra time over pure decode steps ~3.1x a one-budget prompt's). The simulator chunks it over 4 steps; so must the
    steady state: 4x the tokens, and more causal pairs, at least 4x the time."""
    from inferchip.performance.phases import dp_decode_step
    from inferchip.performance.setting import resolve_setting

    s = resolve_setting("nvidia-h100-sxm-80gb", "deepseek-ai/DeepSeek-V2-Lite", count=4, tp=4, ep=4, attn_dp=True)
    mm = s.mapped(s.layout)
    chunk = float(mm.chunk_tokens)
    b = np.array([4.0, 16.0])
    new, kv = b / 2048.0, b * 4096.0
    pure, _ = mm.replica_step_s(b, b, kv, 0.0 * b)
    extra = [dp_decode_step(mm, b, new, i, i * (i + 1.0) / 2.0, kv, random)[0] - pure for i in (chunk, 4.0 * chunk)]
    assert np.all(extra[0] > 0.0)
    assert np.all(extra[1] >= 4.0 * extra[0])


def test_a_rows_notes_alone_state_its_attention_dp_balance():
    """plan_for balances a row whose notes state TensorRT-LLM's balance (adp_balancing_*, enable_balance true) even
    where its software names no engine that balances; test_steady53's rows all ran TensorRT-LLM, so the notes' test
    could be removed and no test failed."""
    from dataclasses import replace

    from inferchip.spec.calibration import DatasetLengths
    from inferchip.validation.cases import read_cases
    from inferchip.validation.plan import balances_dp_prompts, plan_for

    case = next(c for c in read_cases("src/inferchip/catalog/validation_cases.csv")
                if c.case_id == "mlp51-mixtral-8x7b-offline-mi300xx8-amd")
    assert not balances_dp_prompts(case)
    for notes, want in (("adp_balancing_timeout_iters=32", True), ("attention_dp_config: enable_balance: true", True),
                        ("attention_dp_config: enable_balance: false", False), ("no balance stated", False)):
        row = replace(case, notes=notes)
        assert balances_dp_prompts(row) is want, notes
        assert plan_for(row, DatasetLengths()).dp_prompts_balanced is want, notes


def test_a_settings_sweep_cache_keeps_balanced_and_unbalanced_questions_apart():
    """operating_point's sweep cache (Setting.sweeps) is keyed by the question's lengths and load: without
    dp_prompts_balanced in the key, a balanced question asked after an unbalanced one on the same setting read the
    unbalanced sweep."""
    from dataclasses import replace

    from inferchip.performance.operating import Question, operating_point
    from inferchip.performance.setting import resolve_setting

    s = resolve_setting("nvidia-h100-sxm-80gb", "deepseek-ai/DeepSeek-V2-Lite", count=4, tp=4, ep=4, attn_dp=True)
    mm = s.mapped(s.layout)
    q = replace(Question.fixed(1024, 1024), queue_wait=True)
    for first, second in ((q, replace(q, dp_prompts_balanced=True)), (replace(q, dp_prompts_balanced=True), q)):
        s.sweeps.clear()
        operating_point(mm, first, 1, need_ttft=False, sweeps=s.sweeps)
        cached = operating_point(mm, second, 1, need_ttft=False, sweeps=s.sweeps)  # the sweep's own point
        fresh = operating_point(mm, second, 1, need_ttft=False)
        assert (cached.batch, cached.tpot_s) == (fresh.batch, fresh.tpot_s)
    assert operating_point(mm, q, 1).tpot_s != operating_point(mm, replace(q, dp_prompts_balanced=True), 1).tpot_s


def test_the_sensitivity_fallback_prices_a_board_by_its_system():
    """review.cases.figures(p, price_mult, spec) prices by the spec's system as well as what its price covers: an NPU
    board's capital is price + tco.npu_board_system_usd_per_chip ($1,500), not a server's price x 1.5; the stop-53
    tests read only GB200 (a rack share) and a bare accelerator, so the system could be dropped unseen."""
    from inferchip.catalog.chips import load_chip
    from inferchip.performance.predict import predict
    from inferchip.review.cases import figures

    p = predict("tesla-ai5", "meta-llama/Llama-3.1-8B-Instruct", input_tokens=1024, output_tokens=256)
    price, tput = p.extra["chip_price_usd"], p.output_tokens_per_s_per_chip
    board = load_chip("tesla-ai5").model_copy(update={"system": "npu_board"})
    f = figures(p, 2.0, board)
    assert f["output_tokens_per_s_per_usd_capex"] == pytest.approx(tput / (2.0 * price + 1500.0), rel=1e-12)
