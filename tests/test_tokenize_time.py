"""spec/tokenizer + spec/engine: a front end's prompt tokenisation on the request path. The rate is the model's
tokenizer's (``tokenizers`` in catalog/engines.yaml, :func:`tokenizer_rate_s`), the path the engine's
(``front_end_tokenizes``, :meth:`EngineSpec.tokenize_s`); by hand, the catalogue's records, and a closed-loop row
that waits it before its first token on top of the fitted request time."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from inferchip.catalog.engines import get_engine, load_engines, tokenizer_rate_s
from inferchip.spec.engine import EngineSpec
from inferchip.spec.tokenizer import TokenizerSpec, tokenize_time_s
from inferchip.validation.closed_loop import prompt_mean_tokens

CASES = Path(__file__).resolve().parents[1] / "src" / "inferchip" / "catalog" / "inferencemax_cases.csv"


def engine(**kw: object) -> EngineSpec:
    return EngineSpec(id="x", name="x", match=("x",), step_overhead_s=0.0, request_overhead_s=0.02, max_num_seqs=8,
                      chunk_tokens=512, **kw)


def test_tokenize_time_by_hand():
    assert tokenize_time_s(2e-6, 7373) == pytest.approx(0.014746)  # 7,373 tokens x 2 us
    assert tokenize_time_s(2e-6, 0) == 0.0
    assert engine(front_end_tokenizes=True).tokenize_s(7373, 2e-6) == pytest.approx(0.014746)
    assert engine().tokenize_s(8192, 2e-6) == 0.0  # default: the engine's path has no separate tokenisation


def test_bad_values_are_refused():
    with pytest.raises(ValidationError):
        TokenizerSpec(id="t", models=("m",), s_per_prompt_token=-1e-6, source="s")
    with pytest.raises(ValidationError):
        TokenizerSpec(id="t", models=("m",), s_per_prompt_token=1e-3, source="s")  # 1 ms a token: a unit slip
    with pytest.raises(ValueError, match="prompt_tokens"):
        engine(front_end_tokenizes=True).tokenize_s(-1, 2e-6)
    with pytest.raises(ValueError, match="prompt_tokens"):
        tokenize_time_s(2e-6, math.nan)
    with pytest.raises(ValueError, match="s_per_prompt_token"):
        tokenize_time_s(math.nan, 100)


@given(k=st.floats(0.0, 1e-4), a=st.integers(0, 200_000), b=st.integers(0, 200_000))
def test_longer_prompts_never_tokenise_faster(k, a, b):
    e = engine(front_end_tokenizes=True)
    lo, hi = sorted((a, b))
    assert 0.0 <= e.tokenize_s(lo, k) <= e.tokenize_s(hi, k)


def test_mean_prompt_of_the_benchmark_by_hand():
    """Lengths uniform in [ceil(0.8 L), L]: 1k -> [820, 1024], mean 922; 8k -> [6554, 8192], mean 7373."""
    assert prompt_mean_tokens(1024) == 922
    assert prompt_mean_tokens(8192) == 7373


def test_tokenizer_records():
    """gpt-oss's o200k rate is the one measured (tools/closed_loop/tokenize_rate.py), a few microseconds a token;
    DeepSeek-R1's byte-level BPE was timed against it in the same process and is slower, by less than 2x; a model
    without a record reads 0."""
    o200k = tokenizer_rate_s("openai/gpt-oss-120b")
    ds = tokenizer_rate_s("deepseek-ai/DeepSeek-R1-0528")
    assert 1e-6 <= o200k <= 5e-6
    assert o200k < ds < 2 * o200k
    assert tokenizer_rate_s("deepseek-ai/DeepSeek-R1") == ds
    assert tokenizer_rate_s("no/such-model") == 0.0
    ids = [t.id for t in load_engines().tokenizers]
    assert len(set(ids)) == len(ids)


def test_engine_paths():
    """Every InferenceMAX engine's front end encodes the text prompt in line before the request is scheduled
    (each record cites where), so each has the tokenisation on its request path (stop 28)."""
    for eid in ("vllm", "trtllm", "sglang", "atom", "dynamo"):
        e = get_engine(eid)
        assert e.front_end_tokenizes, eid
        assert any("Prompt tokenisation on the request path" in src for src in e.sources), eid


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
    tok_s = get_engine("vllm").tokenize_s(7373, tokenizer_rate_s(case.model))
    assert tok_s > 0
    assert with_tok.sim is not None and with_tok.sim["tokenize_s"] == pytest.approx(tok_s)
    monkeypatch.setattr(EngineSpec, "tokenize_s", lambda self, n, k: 0.0)
    without = Validator(load_calibration(), server_model="sim").predict_case(case)
    assert without.sim is not None and without.sim["tokenize_s"] == 0.0
    gap_s = (with_tok.predicted - without.predicted) / 1e3
    assert 0.5 * tok_s < gap_s < 1.5 * tok_s
