"""spec/engine: a front end's prompt tokenisation on the request path (``tokenize_s_per_prompt_token``,
:meth:`EngineSpec.tokenize_s`), by hand; the vLLM record's rate; and a closed-loop vLLM row that waits it before
its first token on top of the fitted request time."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from inferchip.catalog.engines import get_engine, load_engines
from inferchip.spec.engine import EngineSpec
from inferchip.validation.closed_loop import prompt_mean_tokens

CASES = Path(__file__).resolve().parents[1] / "src" / "inferchip" / "catalog" / "inferencemax_cases.csv"


def engine(**kw: object) -> EngineSpec:
    return EngineSpec(id="x", name="x", match=("x",), step_overhead_s=0.0, request_overhead_s=0.02, max_num_seqs=8,
                      chunk_tokens=512, **kw)


def test_tokenize_time_by_hand():
    e = engine(tokenize_s_per_prompt_token=2e-6)
    assert e.tokenize_s(7373) == pytest.approx(0.014746)  # 7,373 tokens x 2 us
    assert e.tokenize_s(0) == 0.0
    assert engine().tokenize_s(8192) == 0.0  # default: no separate tokenisation time


def test_bad_values_are_refused():
    with pytest.raises(ValidationError):
        engine(tokenize_s_per_prompt_token=-1e-6)
    with pytest.raises(ValidationError):
        engine(tokenize_s_per_prompt_token=1e-3)  # 1 ms a token: a unit slip
    with pytest.raises(ValueError, match="prompt_tokens"):
        engine(tokenize_s_per_prompt_token=2e-6).tokenize_s(-1)
    with pytest.raises(ValueError, match="prompt_tokens"):
        engine(tokenize_s_per_prompt_token=2e-6).tokenize_s(math.nan)


@given(k=st.floats(0.0, 1e-4), a=st.integers(0, 200_000), b=st.integers(0, 200_000))
def test_longer_prompts_never_tokenise_faster(k, a, b):
    e = engine(tokenize_s_per_prompt_token=k)
    lo, hi = sorted((a, b))
    assert 0.0 <= e.tokenize_s(lo) <= e.tokenize_s(hi)


def test_mean_prompt_of_the_benchmark_by_hand():
    """Lengths uniform in [ceil(0.8 L), L]: 1k -> [820, 1024], mean 922; 8k -> [6554, 8192], mean 7373."""
    assert prompt_mean_tokens(1024) == 922
    assert prompt_mean_tokens(8192) == 7373


def test_vllm_record_and_no_other():
    """vLLM's rate is the one measured (tools/closed_loop/tokenize_rate.py), a few microseconds a token; the other
    engines keep theirs inside the fitted request time (0)."""
    v = get_engine("vllm")
    assert 1e-6 <= v.tokenize_s_per_prompt_token <= 5e-6
    assert 0.005 < v.tokenize_s(prompt_mean_tokens(8192)) < 0.04
    assert all(e.tokenize_s_per_prompt_token == 0.0 for e in load_engines().engines if e.id != "vllm")


def test_closed_loop_row_waits_the_tokenisation(monkeypatch):
    """A vLLM gpt-oss 8k/1k row at 4 clients: its simulated TTFT with the tokenisation exceeds the one without by
    about the tokenisation time (the wait delays the request's arrival too, so not exactly), and its record says
    how long it was."""
    from inferchip.catalog.calibration_file import load_calibration
    from inferchip.validation.cases import read_cases
    from inferchip.validation.validate import Validator

    cid = "imax-gptoss120b-h100-vllm-fp4-tp8ep1-8192-1024-c4-r20218553330-ttft"
    case = next(c for c in read_cases(str(CASES)) if c.case_id == cid)
    with_tok = Validator(load_calibration(), server_model="sim").predict_case(case)
    tok_s = get_engine("vllm").tokenize_s(7373)
    assert with_tok.sim is not None and with_tok.sim["tokenize_s"] == pytest.approx(tok_s)
    monkeypatch.setattr(EngineSpec, "tokenize_s", lambda self, n: 0.0)
    without = Validator(load_calibration(), server_model="sim").predict_case(case)
    assert without.sim is not None and without.sim["tokenize_s"] == 0.0
    gap_s = (with_tok.predicted - without.predicted) / 1e3
    assert 0.5 * tok_s < gap_s < 1.5 * tok_s
