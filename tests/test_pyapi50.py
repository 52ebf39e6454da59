"""A notebook user's tour of the public Python API at stop 50 (branch pyapi50): a config dict, a ChipSpec from
``ic.load_chip`` and ``pathlib.Path`` inputs, arguments of the wrong type, sweeps of batch sizes, lengths and chips as
DataFrames, ``chip_cost`` and ``curve`` from Python, and the reprs of what they return. Each defect with the test that
fails on main 3048909; then fuzzes of the touched arguments (any value: an answer, or the package's own exception
naming the argument)."""

from __future__ import annotations

import contextlib
import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import inferchip as ic
from inferchip import errors as ic_errors
from inferchip.errors import InferchipError, InvalidSettingError

H100, L1, L8 = "nvidia-h100-sxm-80gb", "meta-llama/Llama-3.2-1B", "meta-llama/Llama-3.1-8B"
CONFIG: dict[str, Any] = {  # a Llama-3.2-1B-sized llama of one's own, as json.load reads its config.json
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 2048, "intermediate_size": 8192,
    "num_hidden_layers": 16, "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 128256,
    "max_position_embeddings": 8192, "torch_dtype": "bfloat16", "rope_theta": 500000.0}


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "my-llama" / "config.json"
    path.parent.mkdir()
    path.write_text(json.dumps(CONFIG))
    return path


# --- 1. a config dict: AttributeError 'dict' object has no attribute 'strip' on main --------------------------------

def test_a_config_dict_is_a_model_as_its_file_is(config_file: Path) -> None:
    by_dict, by_file = ic.load_model(dict(CONFIG)), ic.load_model(config_file)
    assert by_dict.model_dump(exclude={"id", "source"}) == by_file.model_dump(exclude={"id", "source"})
    assert by_dict.id == "user-config"
    assert ic.load_model({**CONFIG, "_name_or_path": "me/my-llama"}).id == "me/my-llama"
    p_dict = ic.predict(H100, dict(CONFIG), batch=4, input_tokens=512, output_tokens=64)
    p_file = ic.predict(H100, str(config_file), batch=4, input_tokens=512, output_tokens=64)
    assert p_dict.ttft_s == p_file.ttft_s and p_dict.tpot_s == p_file.tpot_s
    assert "the config dict" in p_dict.weights_source


def test_a_config_dict_s_quantization_is_read() -> None:
    fp8 = {**CONFIG, "quantization_config": {"quant_method": "fp8", "fmt": "e4m3", "activation_scheme": "dynamic"}}
    assert ic.predict(H100, fp8, batch=4).weights == "fp8"
    assert ic.resolve_setting(H100, fp8, tp=1).formats.weights == "fp8"


def test_a_config_dict_changed_in_place_is_predicted_afresh() -> None:
    """Keyed by identity (or not cached), a dict changed in place, or freed and another made at its address, could
    find the first one's setting."""
    cfg = dict(CONFIG)
    first = ic.predict(H100, cfg, batch=4, input_tokens=512, output_tokens=64).ttft_s
    cfg["num_hidden_layers"] = 32
    again = ic.predict(H100, cfg, batch=4, input_tokens=512, output_tokens=64).ttft_s
    assert again > 1.5 * first


def test_a_config_dict_has_no_sidecar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A dict has no folder: a ModelOpt hf_quant_config.json in the working folder is no part of it."""
    (tmp_path / "hf_quant_config.json").write_text(json.dumps({"quantization": {"quant_algo": "FP8"}}))
    monkeypatch.chdir(tmp_path)
    assert ic.predict(H100, dict(CONFIG), batch=4).weights == "bf16"


# --- 2. a ChipSpec (what ic.load_chip returns) and Paths: SpecError with the spec's whole repr on main --------------

def test_a_chipspec_and_paths_are_chips(tmp_path: Path, config_file: Path) -> None:
    spec = ic.load_chip(H100)
    by_id = ic.predict(H100, L8, batch=4, input_tokens=512, output_tokens=64)
    by_spec = ic.predict(spec, L8, batch=4, input_tokens=512, output_tokens=64)
    assert (by_spec.ttft_s, by_spec.tpot_s, by_spec.to_dict()["power_w_per_chip"]) == (
        by_id.ttft_s, by_id.tpot_s, by_id.to_dict()["power_w_per_chip"])
    mine = tmp_path / "mine.yaml"
    mine.write_text((Path(ic.__file__).parent / "catalog" / "chips" / f"{H100}.yaml").read_text())
    by_path = ic.predict(mine, config_file, batch=4, input_tokens=512, output_tokens=64)
    assert by_path.ttft_s == ic.predict(H100, str(config_file), batch=4, input_tokens=512, output_tokens=64).ttft_s
    assert ic.serve(spec, L1, rate_per_s=2.0, num_requests=10)["chip_id"] == H100
    assert ic.frame_cost(spec, "resnet50-v1.5", [1]).latency_s[0] == ic.frame_cost(H100, "resnet50-v1.5",
                                                                                    [1]).latency_s[0]


def test_a_changed_chipspec_is_predicted_afresh() -> None:
    """A variant of a chip with a measured stream rate streams at that rate whatever its datasheet says: the repr
    says so (a notebook raising ``bandwidth_tb_per_s`` alone saw no change and no reason)."""
    spec = ic.load_chip(H100)
    assert "measured 3.18" in repr(spec) and "measured" not in repr(ic.load_chip("nvidia-l4"))
    slow = spec.model_copy(update={"memory": spec.memory.model_copy(update={"bandwidth_tb_per_s": 1.0,
                                                                            "measured_bandwidth": None})})
    fast = ic.predict(spec, L8, batch=1, input_tokens=128, output_tokens=64).tpot_s
    assert ic.predict(slow, L8, batch=1, input_tokens=128, output_tokens=64).tpot_s > 2 * fast


# --- 3. arguments of the wrong type: bare AttributeError / TypeError, or "unknown chip 'None'" on main --------------

@pytest.mark.parametrize(("call", "named"), [
    (lambda: ic.predict(None, L8), "chip: None"),  # type: ignore[arg-type]
    (lambda: ic.predict(5, L8), "chip: 5"),  # type: ignore[arg-type]
    (lambda: ic.load_chip(None), "chip: None"),  # type: ignore[arg-type]
    (lambda: ic.predict(H100, None), "model: None"),  # type: ignore[arg-type]
    (lambda: ic.predict(H100, []), "model: []"),  # type: ignore[arg-type]
    (lambda: ic.load_model(5), "model: 5"),  # type: ignore[arg-type]
    (lambda: ic.load_model({1: 2}), "keys must be texts"),  # type: ignore[dict-item]
    (lambda: ic.frame_cost(None, "resnet50-v1.5", [1]), "chip: None"),  # type: ignore[arg-type]
    (lambda: ic.frame_cost(H100, None, [1]), "network: None"),  # type: ignore[arg-type]
    (lambda: ic.validate(["a.csv"]), "paths: ['a.csv']"),  # type: ignore[arg-type]
    (lambda: ic.serve(None, L1, rate_per_s=1.0), "chip: None"),  # type: ignore[arg-type]
])
def test_a_wrong_type_is_named(call: Any, named: str) -> None:
    with pytest.raises(InvalidSettingError) as err:
        call()
    assert named in str(err.value) and "allowed" in str(err.value)


def test_serve_names_an_unknown_keyword_and_what_it_takes() -> None:
    """main: "resolve_setting() got an unexpected keyword argument 'rate'", a function the caller never called."""
    with pytest.raises(TypeError) as err:
        ic.serve(H100, L1, rate_per_s=1.0, num_requests=5, rate=2.0)
    assert "'rate'" in str(err.value) and "resolve_setting" not in str(err.value) and "weights" in str(err.value)


# --- 4. vectors: no vector call on main; a loop of predict stops at the first batch that does not fit ---------------

def test_sweep_is_one_row_per_point_equal_to_predict() -> None:
    df = ic.sweep([H100, "amd-mi300x"], L8, batch=[1, 8, 64], input_tokens=[256, 2048], output_tokens=128)
    assert isinstance(df, pd.DataFrame) and len(df) == 2 * 2 * 3
    assert list(df[["chip", "input_tokens_asked", "batch_asked"]].iloc[0]) == [H100, 256, 1]
    assert list(df["chip"].iloc[6:7]) == ["amd-mi300x"]
    assert df["fits"].all() and df["refusal"].isna().all()
    row = df.iloc[4]  # H100, 2048 in, batch 8
    p = ic.predict(H100, L8, batch=8, input_tokens=2048, output_tokens=128)
    assert (row["ttft_s"], row["tpot_s"], row["memory_per_chip_bytes"]) == (p.ttft_s, p.tpot_s,
                                                                            p.memory_per_chip_bytes)
    assert {"usd_per_million_tokens", "power_w_per_chip", "output_tokens_per_s"} <= set(df.columns)
    maxt = ic.sweep(H100, L8, input_tokens=np.array([128, 1024]))
    assert maxt["output_tokens_per_s"].iloc[1] == ic.predict(H100, L8, input_tokens=1024).output_tokens_per_s


def test_sweep_across_the_memory_limit_answers_every_point(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches past the memory limit are rows with ``fits`` False, predicted once per chip and lengths (the first
    that does not fit, for its refusal; the batches that fit are answered on arrays, stop 52, but the first two
    questions of a setting not asked before)."""
    import inferchip.performance.predict as predict_module

    calls: list[object] = []
    real = predict_module.predict

    def counted(*a: Any, **k: Any) -> Any:
        calls.append(k.get("batch"))
        return real(*a, **k)

    monkeypatch.setattr(predict_module, "predict", counted)
    df = ic.sweep(H100, L8, batch=np.arange(1, 10_001), input_tokens=1024, output_tokens=256)
    assert len(df) == 10_000
    fits = df["fits"].to_numpy()
    last = int(df["batch_asked"][fits].max())
    assert fits[:last].all() and not fits[last:].any()  # memory only grows with the batch
    assert calls.count(last + 1) == 1 and len(calls) <= 3 and max(calls) == last + 1  # type: ignore[type-var]
    assert df["ttft_s"][~fits].isna().all() and df["refusal"][~fits].str.contains("does not fit").all()
    with pytest.raises(InferchipError):
        ic.predict(H100, L8, batch=last + 1, input_tokens=1024, output_tokens=256)


@pytest.mark.parametrize(("kwargs", "named"), [
    ({"batch": []}, "batch: an empty sequence"),
    ({"batch": [1, 2.5]}, "batch"),
    ({"batch": [4, 0]}, "batch"),
    ({"input_tokens": ["x"]}, "input_tokens"),
    ({"output_tokens": [math.nan]}, "output_tokens"),
    ({"batch": range(1, 2000), "input_tokens": range(1, 1000)}, "at most 1,000,000"),
    ({"chip": [H100, None]}, "chip: None"),
])
def test_sweep_refuses_a_bad_vector_before_it_runs(kwargs: dict[str, Any], named: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import inferchip.performance.predict as predict_module

    monkeypatch.setattr(predict_module, "predict", lambda *a, **k: pytest.fail("a point ran"))
    with pytest.raises(InvalidSettingError) as err:
        ic.sweep(kwargs.pop("chip", H100), L8, **kwargs)
    assert named in str(err.value)
    with pytest.raises(ic_errors.UnknownIdError):  # main had no sweep; a typo in the second chip ran the first's
        ic.sweep([H100, "google-tpu-v6e"], L8, batch=[1, 2])


# --- 5. chip_cost and curve from Python: not in the API on main ---------------------------------------------------

def test_chip_cost_and_curve_are_api_calls_with_short_reprs() -> None:
    cost = ic.chip_cost(H100)
    assert cost.status == "modelled" and cost.manufacturing_cost_usd is not None
    assert cost.manufacturing_cost_usd > 1000 and len(repr(cost)) < 200 and "$" in repr(cost)
    with pytest.raises(InvalidSettingError):
        ic.chip_cost(H100, estimate="mid")
    cur = ic.curve(H100, L1, concurrencies=[1, 8], input_tokens=256, output_tokens=32, requests_per_user=2)
    df = cur.to_dataframe()
    assert list(df["concurrency"]) == [1, 8] and (df["output_tokens_per_s_per_chip"] > 0).all()
    assert len(repr(cur)) < 200
    with pytest.raises(InvalidSettingError):
        ic.curve(H100, L1, concurrencies=[0])
    s = ic.resolve_setting(H100, L1, tp=1)  # the package docstring's example: a resolved Setting alone
    assert list(ic.curve(s, concurrencies=[2], input_tokens=256, output_tokens=32,
                         requests_per_user=2).to_dataframe()["concurrency"]) == [2]


def test_serve_and_curve_refuse_a_prompt_beyond_the_context_and_an_endless_run() -> None:
    """main: ic.serve ran 1,000,000-token prompts on a 131,072-token model (TTFT 255 s, no word); ic.predict and the
    CLI refuse them. A curve of 10**6 requests per user ran without end."""
    with pytest.raises(InvalidSettingError, match="beyond the context window"):
        ic.serve(H100, L1, concurrency=2, input_tokens=1_000_000, output_tokens=8, num_requests=4)
    with pytest.raises(InvalidSettingError, match="beyond the context window"):
        ic.curve(H100, L1, concurrencies=[1], input_tokens=1_000_000, output_tokens=8)
    with pytest.raises(InvalidSettingError, match="requests_per_user 10,000 x 1,024 users"):
        ic.curve(H100, L1, input_tokens=100, output_tokens=8, requests_per_user=10_000)


@pytest.mark.parametrize("kwargs", [{"batch": 10**400}, {"input_tokens": 10**400}, {"output_tokens": 2e7},
                                    {"batch": 10**7}])
def test_predict_bounds_batch_and_lengths_as_the_cli_does(kwargs: dict[str, Any]) -> None:
    """main: batch=10**400 and input_tokens=10**400 were a raw OverflowError (the CLI bounds both); 10**7 sequences a
    DoesNotFitError for 6.7e18 GB. Twice: the second call finds the setting cached and checked less."""
    for _ in range(2):
        with pytest.raises(InvalidSettingError, match="at most 10,000,000|1 to 1,000,000"):
            ic.predict(H100, L1, **kwargs)
        with pytest.raises(InvalidSettingError):
            ic.sweep(H100, L1, **kwargs)


def test_reprs_are_short_and_tables_are_dataframes() -> None:
    """main: ModelSpec ~1,000 characters, FrameCost ~700 (every array), ChipCost ~4,900, CurveResult ~7,000,
    CaseResult ~1,000 a row (a list of ic.validate's: 260,000)."""
    assert len(repr(ic.load_model("deepseek-ai/DeepSeek-R1"))) < 200
    f = ic.frame_cost("nvidia-l4", "resnet50-v1.5", [1, 8, 64, 128, 256])
    assert len(repr(f)) < 250
    df = f.to_dataframe()
    assert list(df["batch"]) == [1, 8, 64, 128, 256] and np.allclose(df["latency_s"], f.latency_s)
    assert json.loads(json.dumps(f.to_dict()))["frames_per_s"] == pytest.approx(list(f.frames_per_s))
    rows = ic.validate(Path(__file__).parent / "data" / "validation_small.csv")
    assert all(len(repr(r)) < 300 for r in rows) and "measured" in repr(rows[0])
    assert len(pd.DataFrame(r.to_dict() for r in rows)) == len(rows)


def test_a_prediction_is_a_frozen_record() -> None:
    """main: ``p.ttft_s = 0`` was taken, and the record then disagreed with its own ``to_dict()`` sources."""
    import dataclasses

    for p in (ic.predict(H100, L8, batch=8), ic.predict(H100, L8, batch=8, max_ttft_s=10.0), ic.predict(H100, L8)):
        with pytest.raises(dataclasses.FrozenInstanceError):
            p.ttft_s = 0.0  # type: ignore[misc]
        assert dataclasses.replace(p, batch=9).batch == 9 and p.to_dict()["ttft_s"] > 0


def test_help_of_the_package_stays_readable() -> None:
    """The input types resolve (``ic.ChipSpec`` for annotations) without pydantic's methods in help(ic)."""
    import pydoc

    assert ic.ChipSpec is type(ic.load_chip(H100)) and ic.ModelSpec is type(ic.load_model(L1))
    text = pydoc.render_doc(ic, renderer=pydoc.plaintext)
    assert len(text) < 60_000 and "sweep(" in text and "chip_cost(" in text and "curve(" in text


def test_the_api_prints_nothing() -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        ic.sweep(H100, L1, batch=[1, 2], input_tokens=128, output_tokens=16)
        ic.chip_cost(H100)
        ic.predict(H100, dict(CONFIG), batch=2)
    assert out.getvalue() == ""


# --- fuzz: any value for the touched arguments --------------------------------------------------------------------

ANY_VALUE = st.one_of(
    st.none(), st.booleans(), st.integers(-10, 10**6), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12), st.lists(st.integers(-3, 3), max_size=3), st.dictionaries(st.text(max_size=4),
                                                                                     st.integers(), max_size=2),
    st.sampled_from([H100, L8, "fp8", "resnet50-v1.5", "nochip.yaml", "config.json"]))


@settings(max_examples=60, deadline=None)
@given(chip=ANY_VALUE, model=ANY_VALUE)
@example(chip=None, model=L8)
@example(chip=H100, model={"model_type": "llama"})
def test_fuzz_predict_chip_and_model(chip: Any, model: Any) -> None:
    try:
        p = ic.predict(chip, model, batch=1, input_tokens=64, output_tokens=8)
    except InferchipError:
        return
    assert p.ttft_s > 0


@settings(max_examples=60, deadline=None)
@given(batch=st.one_of(ANY_VALUE, st.lists(ANY_VALUE, max_size=3)),
       input_tokens=st.one_of(st.integers(1, 4096), ANY_VALUE, st.lists(st.integers(-2, 4096), max_size=3)))
@example(batch=[2, None], input_tokens=128)
@example(batch=True, input_tokens=128)
def test_fuzz_sweep_vectors(batch: Any, input_tokens: Any) -> None:
    try:
        df = ic.sweep(H100, L1, batch=batch, input_tokens=input_tokens, output_tokens=8)
    except InferchipError:
        return
    assert len(df) >= 1 and set(df["fits"]) <= {True, False}
    assert df.loc[df["fits"], "ttft_s"].gt(0).all()


@settings(max_examples=40, deadline=None)
@given(chip=ANY_VALUE, estimate=ANY_VALUE, network=ANY_VALUE, paths=st.lists(ANY_VALUE, max_size=2))
@example(chip=None, estimate="central", network="resnet50-v1.5", paths=[["a.csv"]])
def test_fuzz_chip_cost_frame_cost_and_validate_inputs(chip: Any, estimate: Any, network: Any,
                                                       paths: list[Any]) -> None:
    for call in (lambda: ic.chip_cost(chip, estimate=estimate), lambda: ic.frame_cost(chip, network, [1]),
                 lambda: ic.validate(*paths) if paths else None):
        try:
            call()
        except InferchipError:
            pass


@settings(max_examples=30, deadline=None)
@given(concurrencies=st.one_of(st.none(), st.lists(st.one_of(st.integers(-2, 8), ANY_VALUE), max_size=3)),
       input_tokens=st.one_of(st.integers(1, 512), ANY_VALUE),
       requests_per_user=st.one_of(st.integers(1, 3), ANY_VALUE), extra=st.sampled_from([{}, {"tp": 2}, {"foo": 1}]))
@example(concurrencies=[1], input_tokens=64, requests_per_user=10**6 + 1, extra={})
# found by make fuzz SEED=523 (stop 52): a list holding None reached float(None), a raw TypeError
@example(concurrencies=[None], input_tokens=1, requests_per_user=1, extra={})
def test_fuzz_curve_arguments(concurrencies: Any, input_tokens: Any, requests_per_user: Any,
                              extra: dict[str, Any]) -> None:
    try:
        cur = ic.curve(H100, L1, concurrencies=concurrencies, input_tokens=input_tokens, output_tokens=8,
                       requests_per_user=requests_per_user, **extra)
    except (InferchipError, TypeError) as exc:  # TypeError: an unknown keyword, named
        assert not isinstance(exc, TypeError) or "'foo'" in str(exc)
        return
    assert len(cur.points) >= 1


def test_a_frame_costs_time_split_reaches_json_and_the_dataframe() -> None:
    """vision50's ``time_split_s`` (a dict of arrays) met pyapi50's ``to_dict``: json.dumps raised on the arrays."""
    f = ic.frame_cost("nvidia-l4", "resnet50-v1.5", [1, 64])
    assert f.time_split_s
    split = json.loads(json.dumps(f.to_dict()))["time_split_s"]
    assert set(split) == set(f.time_split_s) and all(len(v) == 2 for v in split.values())
    df = f.to_dataframe()
    parts = [c for c in df.columns if c.startswith("latency_") and c != "latency_s"]
    assert len(parts) == len(f.time_split_s) and np.allclose(df[parts].sum(axis=1), df["latency_s"])
