"""Input checks and invariants are explicit raises, not ``assert`` (which ``python -O`` removes): the package holds no
assert statement, and each check a user can reach raises the project's error naming the field and value (stop 38)."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from inferchip.catalog.models import load_model
from inferchip.errors import InferchipError, InternalError, InvalidSettingError, SpecError
from inferchip.performance import vision_scenarios as vs
from inferchip.sim import SchedulerConfig
from inferchip.workload.params import attention_params

SRC = Path(__file__).resolve().parents[1] / "src" / "inferchip"


def test_no_assert_statement_in_the_package():
    """Every ``assert`` in src/inferchip would vanish under ``python -O``: none is left."""
    found = [f"{p.relative_to(SRC)}:{n.lineno}" for p in sorted(SRC.rglob("*.py"))
             for n in ast.walk(ast.parse(p.read_text(encoding="utf-8"))) if isinstance(n, ast.Assert)]
    assert found == []


def test_internal_error_is_not_a_user_error():
    """A broken invariant is a bug, not bad input: it is not an InferchipError."""
    assert not issubclass(InternalError, InferchipError)


def test_cli_reports_an_internal_error_as_a_bug(monkeypatch: pytest.MonkeyPatch):
    """The CLI answers a broken invariant with one ``internal error:`` line naming the command and the invariant,
    exit status 3 (README, "a bug is one internal error: line"), never the ``error:`` line of bad input."""
    from cli_in_process import run_main
    from inferchip.performance import predict as predict_module

    def broken(*args: object, **kwargs: object) -> None:
        raise InternalError("operating_point's points keep their metrics")

    monkeypatch.setattr(predict_module, "predict_on", broken)  # the command asks its resolved setting (loose53)
    code, text = run_main(["predict", "--chip", "nvidia-h100-sxm-80gb", "--model", "meta-llama/Llama-3.1-8B",
                           "--batch", "1"])
    assert code == 3
    lines = [ln for ln in text.splitlines() if ln.strip()]
    assert lines[0].startswith("internal error: inferchip predict failed: InternalError: operating_point"), text
    assert "Traceback" not in text and not text.startswith("error:")


def test_mla_dims_of_deepseek_v3():
    """DeepSeek-V3 config.json: kv_lora_rank 512, qk_nope_head_dim 128, qk_rope_head_dim 64, v_head_dim 128."""
    d = load_model("deepseek-ai/DeepSeek-V3").mla_dims()
    assert (d.kv_lora_rank, d.qk_nope_head_dim, d.qk_rope_head_dim, d.v_head_dim) == (512, 128, 64, 128)


def test_mla_spec_built_without_validation_raises_spec_error():
    """A spec built by model_construct (no validator ran) without kv_lora_rank: the parameter count raises
    SpecError naming the field, not a TypeError from None + int."""
    good = load_model("deepseek-ai/DeepSeek-V3")
    broken = type(good).model_construct(**{**dict(good), "kv_lora_rank": None})
    with pytest.raises(SpecError, match="kv_lora_rank.*None"):
        attention_params(broken)


def test_mla_dims_of_a_gqa_model_raises():
    with pytest.raises(SpecError, match="attention = 'gqa'"):
        load_model("meta-llama/Llama-3.1-8B").mla_dims()


def test_swap_time_by_hand_and_without_its_fields():
    """1,000 bytes per token over 1e9 bytes/s: 1 us per token; a swap config built without them raises."""
    ok = SchedulerConfig(preemption_mode="swap", swap_bytes_per_token=1000.0, swap_bandwidth_bytes_per_s=1e9)
    assert ok.swap_s_per_token == pytest.approx(1e-6)
    bad = SchedulerConfig.model_construct(preemption_mode="swap", swap_bytes_per_token=None,
                                          swap_bandwidth_bytes_per_s=1e9)
    with pytest.raises(InvalidSettingError, match="swap_bytes_per_token"):
        _ = bad.swap_s_per_token


@pytest.mark.parametrize(("kw", "match"), [
    ({"rate_per_s": 0.0, "latency_bound_s": 0.015}, "rate_per_s = 0.0: must be a finite number of requests per"),
    ({"rate_per_s": 100.0, "latency_bound_s": None}, "latency_bound_s = None: must be a finite number of seconds"),
])
def test_vision_server_at_rate_refuses_missing_or_bad_numbers(kw, match):
    def service(b):
        return np.asarray(b, dtype=float) * 1e-3

    with pytest.raises(InvalidSettingError, match=match):
        vs.server_at_rate(service, max_batch=1, queries=100, **kw)


def test_vision_server_without_a_bound_names_the_case():
    """A Server row whose notes state no p99 bound: InvalidSettingError naming the case and line."""
    from inferchip.validation.vision import scenario_sim

    case = SimpleNamespace(case_id="mlperf-x", line=7, latency_bound_ms=(None, "no 'target latency' in notes"))
    with pytest.raises(InvalidSettingError, match=r"mlperf-x \(line 7\).*target latency"):
        scenario_sim.p99_at_fraction_ms(SimpleNamespace(case=case, frames=lambda p: 1.0), None, 1.0)  # type: ignore[arg-type]


def test_closed_loop_row_without_lengths_names_the_case(shipped_case_any):
    """A closed-loop row without output_tokens: EngineRowError naming the case, before any facts are read."""
    from inferchip.validation.closed_loop import EngineRowError, simulate_closed_loop

    case = dataclasses.replace(shipped_case_any, output_tokens=None)
    with pytest.raises(EngineRowError, match=f"{case.case_id}.*output_tokens"):
        simulate_closed_loop(case, None, {}, 1, None)  # type: ignore[arg-type]


@pytest.fixture
def shipped_case_any():
    """The first row of the shipped InferenceMAX case file."""
    from inferchip.validation.cases import read_cases

    return read_cases(SRC / "catalog" / "inferencemax_cases.csv")[0]
