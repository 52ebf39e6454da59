"""A demanding new user's walk (stop 37): a chip file under a catalogue chip's id given to ``review --claim``, a
``--out`` that is a file given to ``explore``, the JSON of ``predict`` for a model that states no context window, the
"what would make it fit" advice for a chip whose usable memory is below one prefill chunk's activations, and
``--engine`` on a chip family the engine does not run on. Each was a silent wrong answer, advice that could not
work, a message without the option, or a note missing from the JSON; each is now one clear ``error:`` line (exit
2) or the note, as the tests below check."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from cli_in_process import run_main
from inferchip.catalog.chips import chip_ids, get_chip_params
from inferchip.catalog.engines import check_engine_runs_on, get_engine, load_engines, row_engine
from inferchip.errors import InvalidSettingError, SpecError
from inferchip.review.inputs import resolve
from inferchip.review.review import ReviewConfig

CATALOG = Path(__file__).parents[1] / "src" / "inferchip" / "catalog"
H100 = "nvidia-h100-sxm-80gb"
LLAMA = "meta-llama/Llama-3.1-8B"


def _h100_yaml() -> dict:
    return yaml.safe_load((CATALOG / "chips" / f"{H100}.yaml").read_text(encoding="utf-8"))


# ------------------------------------------------------------ review --claim FILE under a reviewed chip's id

@settings(max_examples=12, deadline=None)
@given(field=st.sampled_from([("memory", "capacity", 96), ("interconnect", "scaleup_bw_gb_per_s_per_direction", 450),
                              ("power", "tdp_w", 600), ("compute", "clock_ghz", 1.5)]),
       scale=st.sampled_from([1.5, 2.0, 3.0]))
def test_a_claim_file_under_a_reviewed_chips_id_with_its_own_figures_is_refused(tmp_path_factory, field, scale):
    """Before: the claimed file was silently replaced by the catalogue chip of the same id (its figures lost)."""
    section, key, value = field
    data = _h100_yaml()
    data[section][key] = value * scale
    path = tmp_path_factory.mktemp("claim") / "mine.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    cfg = ReviewConfig(chips=(H100, "nvidia-b200-180gb"), claim=str(path), models=(LLAMA,))
    with pytest.raises(InvalidSettingError) as exc:
        resolve(cfg)
    msg = str(exc.value)
    assert msg.startswith(f"claim={path}: id = '{H100}'") and "allowed: an id of the file's own" in msg


def test_a_claim_file_identical_to_the_catalogue_chip_or_under_its_own_id_is_reviewed(tmp_path):
    same = tmp_path / "same.yaml"
    same.write_text((CATALOG / "chips" / f"{H100}.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    got = resolve(ReviewConfig(chips=(H100,), claim=str(same), models=(LLAMA,)))
    chips, claim = got.chips, got.claim
    assert [c.id for c in chips] == [H100] and claim is chips[0] and claim.is_claim
    own = _h100_yaml() | {"id": "my-chip"}
    own["memory"]["capacity"] = 96
    mine = tmp_path / "mine.yaml"
    mine.write_text(yaml.safe_dump(own), encoding="utf-8")
    got = resolve(ReviewConfig(chips=(H100,), claim=str(mine), models=(LLAMA,)))
    chips, claim = got.chips, got.claim
    assert [c.id for c in chips] == [H100, "my-chip"] and claim is chips[1]


def test_review_cli_refuses_the_shadowing_claim_in_one_line(tmp_path):
    data = _h100_yaml()
    data["memory"]["capacity"] = 96
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    code, text = run_main(["review", "--claim", str(path), "--chips", f"{H100},nvidia-b200-180gb",
                           "--models", LLAMA, "--out", str(tmp_path / "rv")])
    assert code == 2 and text.startswith("error: --claim") and "Traceback" not in text
    assert not (tmp_path / "rv").exists()


# ------------------------------------------------------------ explore --out FILE

@pytest.mark.parametrize("mode", ["search", "beat"])
@pytest.mark.parametrize("below", [False, True])
def test_explore_refuses_a_file_as_out_before_any_work(tmp_path, monkeypatch, mode, below):
    """Before: --target/--beat ran the whole search, then ended in 'error: afile: File exists' (no option named);
    the space search started its progress bar, then said 'cannot create the folder'."""
    blocker = tmp_path / "afile"
    blocker.write_text("")
    called: list[int] = []
    monkeypatch.setattr("inferchip.explore.beat.beat", lambda *a, **k: called.append(1))
    monkeypatch.setattr("inferchip.explore.run.explore", lambda *a, **k: called.append(1))
    out = blocker / "sub" if below else blocker
    args = (["explore", "--target", "tesla-ai5", "--beat", "nvidia-b200-180gb"] if mode == "beat"
            else ["explore", str(Path(__file__).parents[1] / "docs" / "explore-space.yaml"), "--budget", "2"])
    code, text = run_main([*args, "--out", str(out)])
    assert code == 2 and not called
    assert text.startswith(f"error: --out {out}: {blocker} is a file, not a folder"), text


# ------------------------------------------------------------ predict --format json: the context note

def test_predict_json_keeps_the_note_of_a_model_without_a_context_window(tmp_path):
    """Before: the note was printed under the table only; the JSON's notes lacked it."""
    cfg = json.loads((CATALOG / "models" / "meta-llama__Llama-3.1-8B.json").read_text(encoding="utf-8"))
    cfg.pop("max_position_embeddings")
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg), encoding="utf-8")
    code, text = run_main(["predict", "--chip", H100, "--model", str(path), "--batch", "1", "--format", "json"])
    assert code == 0
    notes = json.loads(text)["notes"]
    assert any("states no context window" in n for n in notes)
    code, text = run_main(["predict", "--chip", H100, "--model", LLAMA, "--batch", "1", "--format", "json"])
    assert code == 0 and not any("context window" in n for n in json.loads(text)["notes"])


# ------------------------------------------------------------ what would make it fit, on a chip too small

def _chip_file(tmp_path: Path, capacity: float, unit: str) -> Path:
    data = {"id": "tiny-npu", "name": "Tiny", "vendor": "Me", "family": "generic",
            "compute": {"dense_tflops": {"bf16": 400.0}},
            "memory": {"type": "HBM3", "capacity": capacity, "capacity_unit": unit, "bandwidth_tb_per_s": 2.0},
            "sources": [{"citation": "a user's estimate"}]}
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@settings(max_examples=10, deadline=None)
@given(capacity=st.sampled_from([1, 16, 96, 512, 4096]), unit=st.sampled_from(["MB", "MiB"]),
       weights=st.sampled_from(["bf16", "fp8", "int4"]))
def test_no_impossible_advice_when_the_usable_memory_is_below_one_chunks_activations(tmp_path_factory, capacity,
                                                                                     unit, weights):
    """A capacity typed in MiB for GiB: the usable memory is below the activations of one prefill chunk, which
    every chip keeps, so neither more chips of the layout nor narrower weights fit it (a wider tp or narrower
    activations shrink them, and the advice says so). Before: 'narrower weights' was advised."""
    path = _chip_file(tmp_path_factory.mktemp("chip"), capacity, unit)
    # batch 8 x 1,024 prompt tokens: a step of one full 8,192-token chunk (sram40: the fit keeps the largest step's)
    # --chunk-tokens 8192: the chunk these figures are for (a chip below 70 GiB defaults to vLLM's 2,048, capresolve47)
    code, text = run_main(["predict", "--chip", str(path), "--model", LLAMA, "--weights", weights, "--batch", "8",
                           "--chunk-tokens", "8192"])
    assert code == 2 and text.startswith("error: ") and "Traceback" not in text
    if capacity * (2**20 if unit == "MiB" else 1e6) <= 2 * 2**30:  # at most the generic family's 2 GiB reserve
        # newuser40: refused when the chip is read, naming the reserve (before: '0.0 GB is usable' for every model)
        assert "not above the generic family's runtime reserve of 2 GiB" in text and "usable_capacity_gib" in text
        return
    advice = text.split("What would make it fit:", 1)[1]
    assert "narrower weights" not in advice and "more chips" not in advice
    assert "memory.capacity_unit" in advice and "alone exceed" in advice


@pytest.mark.parametrize(("gib", "advice"), [
    (2.5, "no wider tensor-parallel layout fits them"),  # about 0.5 GB usable, below tp 8's 0.67 GB
    (3, "--tp 8 is the narrowest at which they fit"),  # 1.0 GB usable: 0.67 GB at tp 8, 1.03 GB at tp 4
    (4, "--tp 2 is the narrowest at which they fit"),  # 2.0 GB usable: 1.79 GB at tp 2
])
def test_the_advice_names_a_tp_only_where_one_fits(tmp_path, gib, advice):
    """Llama-3.1-8B, one 8,192-token bf16 chunk per chip: (4 x 4,096 + 2 x the widest layer output, max(28,672 / tp,
    4,096)) x 2 B per token plus the fp32 logits of 4,096 rows x 128,256 / tp: 3.31 GB at tp 1, 1.79 at tp 2, 1.03
    at tp 4, 0.67 at tp 8 (the host's 8 PCIe cards; 32 query and 8 KV heads split). The advice names the narrowest
    tp that fits, none where none does: before, '--tp' was advised even with no usable memory (review37b)."""
    path = _chip_file(tmp_path, gib, "GiB")  # batch 8 x 1,024 prompt tokens: a full chunk's step (sram40)
    code, text = run_main(["predict", "--chip", str(path), "--model", LLAMA, "--batch", "8", "--chunk-tokens", "8192"])
    assert code == 2 and "alone exceed" in text
    fix = text.split("What would make it fit:", 1)[1]
    assert advice in fix
    assert ("--tp" in fix) == ("--tp" in advice)


def test_no_usable_memory_at_all_is_refused_when_the_chip_is_read(tmp_path):
    """1 GiB of HBM in the generic family (2 GiB runtime reserve): before newuser40 the advice said 'nothing in the
    layout or the formats helps' for every model; now the chip file is refused naming the reserve."""
    code, text = run_main(["predict", "--chip", str(_chip_file(tmp_path, 1, "GiB")), "--model", LLAMA, "--batch", "1"])
    assert code == 2 and text.startswith(f"error: {tmp_path / 'tiny.yaml'}: memory.capacity = 1 GiB: not above")


def test_a_chip_that_only_needs_more_chips_still_gets_that_advice(tmp_path):
    path = _chip_file(tmp_path, 12, "GiB")
    code, text = run_main(["predict", "--chip", str(path), "--model", LLAMA, "--batch", "1"])
    assert code == 2 and "more chips" in text and "alone exceed" not in text


# ------------------------------------------------------------ --engine on a chip family it does not run on

def test_every_engine_and_catalogue_chip_pair_is_allowed_exactly_where_the_hardware_record_says():
    cat = load_engines()
    runs: dict[str, set[str]] = {}
    for h in cat.hardware:  # an engine's records, one per back end (engines48): their families together
        runs.setdefault(h.engine, set()).update(h.families)
    assert set(runs) == {e.id for e in cat.engines}
    for chip in chip_ids():
        family = get_chip_params(chip).family
        for e in cat.engines:
            allowed = e.id not in runs or family in runs[e.id] or family == "generic"
            if allowed:
                check_engine_runs_on(e, chip, family)
                continue
            with pytest.raises(InvalidSettingError) as exc:
                check_engine_runs_on(e, chip, family)
            msg = str(exc.value)
            assert msg.startswith(f"--engine {e.id}: ") and chip in msg and f"family {family}" in msg
            assert "allowed on this chip: " in msg and e.id not in msg.split("allowed on this chip: ")[1]


def test_the_measured_rows_run_their_engines_where_the_hardware_record_allows():
    """The closed-loop rows (InferenceMAX) and their engines: no measured run contradicts the record."""
    with (CATALOG / "inferencemax_cases.csv").open(encoding="utf-8", newline="") as f:
        pairs = {(r["accelerator"], r["software"]) for r in csv.DictReader(f)}
    assert pairs
    for accelerator, software in pairs:
        engine = row_engine(software, accelerator)
        assert engine is not None
        check_engine_runs_on(engine, accelerator, get_chip_params(accelerator).family)


@pytest.mark.parametrize("command", [
    ["predict", "--chip", "amd-mi300x", "--engine", "trtllm", "--batch", "1"],
    ["predict", "--chip", "cpu:intel-xeon-6980p", "--engine", "dynamo", "--batch", "1"],
    ["serve", "--chip", H100, "--engine", "atom", "--concurrency", "4", "--tp", "1"],
    ["curve", "--chip", H100, "--engine", "atom", "--tp", "1"],
])
def test_the_cli_refuses_an_engine_on_a_chip_it_does_not_run_on_in_one_line(command):
    code, text = run_main([*command, "--model", LLAMA])
    assert code == 2 and text.startswith("error: --engine ") and len(text.strip().splitlines()) == 1
    assert "allowed on this chip:" in text


def test_a_users_generic_chip_takes_any_engine(tmp_path):
    path = _chip_file(tmp_path, 96, "GiB")
    for engine in ("trtllm", "atom", "dynamo", "vllm"):
        code, text = run_main(["predict", "--chip", str(path), "--model", LLAMA, "--batch", "1", "--engine", engine,
                               "--format", "json"])
        assert code == 0, text
        assert json.loads(text)["engine"]["id"] == engine


def test_a_hardware_record_naming_an_unknown_family_or_engine_is_refused(tmp_path):
    data = yaml.safe_load((CATALOG / "engines.yaml").read_text(encoding="utf-8"))
    for bad, needle in (({"engine": "trtllm", "backend": "CUDA", "families": ["nvidia-hoper"], "source": "x"},
                         "'nvidia-hoper'"),
                        ({"engine": "tgi", "backend": "CUDA", "families": ["nvidia-hopper"], "source": "x"}, "'tgi'")):
        path = tmp_path / f"engines-{needle.strip(chr(39))}.yaml"
        path.write_text(yaml.safe_dump({**data, "hardware": [bad]}), encoding="utf-8")
        with pytest.raises(SpecError) as exc:
            load_engines(path)
        assert needle in str(exc.value) and "allowed:" in str(exc.value)


def test_get_engine_still_answers_for_every_engine():
    for e in load_engines().engines:
        assert get_engine(e.id) is e


# ------------------------------------------------ a user's MoE config.json: fields that silently made it dense

def _config(tmp_path: Path, bundled: str, **changes: object) -> Path:
    cfg = json.loads((CATALOG / "models" / bundled).read_text(encoding="utf-8"))
    cfg.update(changes)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg), encoding="utf-8")
    return path


@settings(max_examples=15, deadline=None)
@given(first=st.integers(min_value=28, max_value=10**6))
def test_first_k_dense_replace_beyond_the_layers_is_refused(tmp_path_factory, first):
    """Before: DeepSeek-V2-Lite (27 layers) with first_k_dense_replace 999 loaded as a dense 3 GB model."""
    from inferchip.catalog.models import load_model

    path = _config(tmp_path_factory.mktemp("m"), "deepseek-ai__DeepSeek-V2-Lite.json", first_k_dense_replace=first)
    with pytest.raises(SpecError) as exc:
        load_model(str(path))
    assert f"first_k_dense_replace = {first}: expected an integer between 0 and 27" in str(exc.value)


def test_zero_routed_experts_is_refused_and_the_edges_still_load(tmp_path):
    """Before: n_routed_experts 0 loaded as a dense model; transformers makes every layer from first_k_dense_replace
    on a MoE layer whenever the key is not null, so 0 experts is no model. 27 (every layer dense) still loads."""
    from inferchip.catalog.models import load_model

    with pytest.raises(SpecError) as exc:
        load_model(str(_config(tmp_path, "deepseek-ai__DeepSeek-V2-Lite.json", n_routed_experts=0)))
    assert "n_routed_experts = 0" in str(exc.value) and "null for a dense model" in str(exc.value)
    dense = load_model(str(_config(tmp_path, "deepseek-ai__DeepSeek-V2-Lite.json", first_k_dense_replace=27)))
    assert not dense.is_moe
    moe = load_model(str(_config(tmp_path, "deepseek-ai__DeepSeek-V2-Lite.json")))
    assert moe.is_moe and moe.num_experts == 64


@settings(max_examples=15, deadline=None)
@given(index=st.one_of(st.integers(max_value=-1, min_value=-10**6), st.integers(min_value=48, max_value=10**6)))
def test_mlp_only_layers_outside_the_layers_is_refused(tmp_path_factory, index):
    """Before: Qwen3-30B-A3B (48 layers) with mlp_only_layers [100] loaded, the index silently skipped."""
    from inferchip.catalog.models import load_model

    path = _config(tmp_path_factory.mktemp("m"), "Qwen__Qwen3-30B-A3B.json", mlp_only_layers=[0, index])
    with pytest.raises(SpecError) as exc:
        load_model(str(path))
    assert "mlp_only_layers" in str(exc.value) and "from 0 to 47" in str(exc.value)
    ok = load_model(str(_config(tmp_path_factory.mktemp("m"), "Qwen__Qwen3-30B-A3B.json", mlp_only_layers=[0, 47])))
    assert ok.is_moe


# ------------------------------------------------ a user's chip file with memory_type and no free-text type

@pytest.mark.parametrize("memory_type", ["hbm3e", "gddr7", "lpddr5x", "sram"])
def test_a_chip_file_with_memory_type_alone_loads_as_with_both(tmp_path, memory_type):
    """Before: 'memory.type is missing: this field is required', though the README names memory_type as the
    field the energy and price models read and type as the free text it is read from when absent."""
    from inferchip.catalog.chips import load_chip

    data = yaml.safe_load(_chip_file(tmp_path, 96, "GiB").read_text(encoding="utf-8"))
    both = dict(data, memory={**data["memory"], "type": memory_type.upper(), "memory_type": memory_type})
    alone = dict(data, memory={k: v for k, v in both["memory"].items() if k != "type"})
    for name, d in (("both.yaml", both), ("alone.yaml", alone)):
        (tmp_path / name).write_text(yaml.safe_dump(d), encoding="utf-8")
    assert load_chip(str(tmp_path / "alone.yaml")) == load_chip(str(tmp_path / "both.yaml"))
    neither = dict(data, memory={k: v for k, v in both["memory"].items() if k not in ("type", "memory_type")})
    (tmp_path / "neither.yaml").write_text(yaml.safe_dump(neither), encoding="utf-8")
    with pytest.raises(SpecError, match="memory.type is missing"):
        load_chip(str(tmp_path / "neither.yaml"))


def test_validate_engine_override_reports_the_rows_on_chips_it_does_not_run_on(tmp_path):
    """``validate --engine trtllm`` over ATOM rows on MI355X: each such row is reported with its line and the
    reason; rows on NVIDIA chips are predicted; without --engine every row keeps its own software's engine."""
    with (CATALOG / "inferencemax_cases.csv").open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        header = list(reader.fieldnames or [])
        rows = list(reader)
    amd = [r for r in rows if "mi355x-atom" in r["case_id"]][:3]
    nvidia = [r for r in rows if "b200-trt" in r["case_id"]][:3]
    path = tmp_path / "rows.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=header)
        w.writeheader()
        w.writerows(amd + nvidia)
    code, text = run_main(["validate", str(path), "--engine", "trtllm", "--format", "json", "--workers", "1"])
    assert code == 0
    cases = {c["case_id"]: c for c in json.loads(text)["cases"]}
    for r in amd:
        c = cases[r["case_id"]]
        assert c["status"] == "invalid_setting" and "--engine trtllm" in c["reason"] and "amd-mi355x" in c["reason"]
    assert all(cases[r["case_id"]]["status"] == "ok" for r in nvidia)
    code, text = run_main(["validate", str(path), "--format", "json", "--workers", "1"])
    assert code == 0 and all(c["status"] == "ok" for c in json.loads(text)["cases"])


# ------------------------------------------------ tensor parallelism that does not split the KV heads as engines do

def _engine_kv_heads_per_chip(kv: int, tp: int) -> int | None:
    """vLLM/SGLang QKVParallelLinear: ``divide(kv, tp)`` heads per chip below tp = kv, one head copied on
    ``divide(tp, kv)`` chips above; None where ``divide`` asserts (the engine refuses the layout)."""
    if tp >= kv:
        return 1 if tp % kv == 0 else None
    return kv // tp if kv % tp == 0 else None


@settings(max_examples=200, deadline=None)
@given(kv=st.integers(min_value=1, max_value=64), groups=st.integers(min_value=1, max_value=16),
       tp=st.integers(min_value=1, max_value=128))
def test_tp_splits_heads_is_the_engines_rule(kv, groups, tp):
    from inferchip.catalog.models import load_model
    from inferchip.mapping.layout import tp_splits_heads

    heads = kv * groups
    m = load_model(LLAMA).model_copy(update={"num_heads": heads, "num_kv_heads": kv})
    expected = heads % tp == 0 and _engine_kv_heads_per_chip(kv, tp) is not None
    assert tp_splits_heads(m, tp) == expected


@pytest.mark.parametrize("model,tp", [("microsoft/phi-4", 4), ("microsoft/phi-4", 8), ("Qwen/Qwen2.5-14B", 5),
                                      ("meta-llama/Llama-3.2-3B", 6), ("mistralai/Mixtral-8x22B-v0.1", 12)])
def test_a_tp_that_does_not_split_the_kv_heads_is_refused_in_one_line(model, tp):
    """Before: accepted, and priced with num_kv_heads // tp heads per chip (phi-4 at tp 4: 8 of its 10 KV heads)."""
    code, text = run_main(["predict", "--chip", "nvidia-gb200-186gb", "--count", str(tp), "--tp", str(tp),
                           "--model", model, "--batch", "1"])
    assert code == 2 and text.startswith(f"error: --tp {tp} does not split the ") and "allowed: " in text
    assert len(text.strip().splitlines()) == 1


def test_the_layout_search_never_picks_such_a_tp():
    """Before: Llama-4-Scout (40 heads, 8 KV heads) on 100,000 GB200 chips at a 10M-token context chose tp=5."""
    from inferchip.catalog.models import load_model
    from inferchip.mapping.layout import candidate_layouts, tp_splits_heads

    for model in ("meta-llama/Llama-4-Scout-17B-16E-Instruct", "microsoft/phi-4", "Qwen/Qwen2.5-32B",
                  "tiiuae/falcon-180B"):
        m = load_model(model)
        layouts = candidate_layouts(m, 7200, 72)
        assert layouts and all(tp_splits_heads(m, lay.tp) for lay in layouts)
    code, text = run_main(["predict", "--chip", "nvidia-gb200-186gb", "--count", "100000", "--model",
                           "meta-llama/Llama-4-Scout-17B-16E-Instruct", "--input-tokens", "9000000",
                           "--output-tokens", "1000000", "--max-throughput", "--format", "json"])
    assert code == 0 and json.loads(text)["tp"] in (1, 2, 4, 8, 40)


# ------------------------------------------------ explore: the error is the first line, --workers capped with its note

SPACE = Path(__file__).parents[1] / "docs" / "explore-space.yaml"


@pytest.mark.parametrize("extra,needle", [(["--models", "nope"], "unknown model 'nope'"),
                                          (["--workers", "0"], "--workers: must be at least 1, got 0"),
                                          (["--workers", "-3"], "--workers: must be at least 1, got -3")])
def test_explore_refuses_before_its_progress_bar(tmp_path, extra, needle):
    """Before: the progress bar ('designs 0/? ...') came first and the error line after it."""
    code, text = run_main(["explore", str(SPACE), "--out", str(tmp_path / "ex"), "--budget", "2", *extra])
    assert code == 2 and text.startswith("error: ") and needle in text.splitlines()[0]
    assert not (tmp_path / "ex").exists()


def test_explore_caps_workers_at_the_cores_with_a_note(tmp_path, monkeypatch):
    """The README: --workers is capped at the cores there are, a note says so; explore capped it silently."""
    import os

    seen: list[int | None] = []
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr("inferchip.explore.run.explore",
                        lambda *a, **k: seen.append(k["workers"]) or (_ for _ in ()).throw(KeyboardInterrupt))
    code, text = run_main(["explore", str(SPACE), "--out", str(tmp_path / "ex"), "--budget", "2", "--workers",
                           "1000"])
    assert seen == [2] and "note: --workers 1,000 capped at 2 (the cores there are)" in text


# ------------------------------------------------ an HBM capacity typed one unit step too large

def _hbm_chips() -> list[str]:
    from inferchip.catalog.chips import load_chip

    return [c for c in chip_ids() if (load_chip(c).memory.memory_type or "").startswith("hbm")]


@settings(max_examples=25, deadline=None)
@given(chip=st.sampled_from(_hbm_chips()), unit=st.sampled_from(["TB", "TiB"]))
def test_an_hbm_capacity_in_a_unit_a_thousand_times_too_large_is_refused(tmp_path_factory, chip, unit):
    """Before: capacity_unit TB for GB passed (96 TB of HBM3E on one part; the bound was 1 PiB), and predictions
    ran on it. Every catalogue HBM part loads; its number read in TB or TiB is refused naming the field."""
    from inferchip.catalog.chips import load_chip

    assert load_chip(chip).memory.capacity_bytes() <= 2**40  # the catalogue's own figure is allowed
    data = yaml.safe_load((CATALOG / "chips" / f"{chip}.yaml").read_text(encoding="utf-8"))
    assert data["memory"]["capacity_unit"] in ("GB", "GiB")
    data["memory"]["capacity_unit"] = unit
    data["memory"].pop("usable_capacity_gib", None)
    path = tmp_path_factory.mktemp("hbm") / "slip.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(SpecError) as exc:
        load_chip(str(path))
    assert "memory.capacity" in str(exc.value) and "one HBM package can hold" in str(exc.value)


def test_a_large_ddr_capacity_is_not_an_hbm_one(tmp_path):
    """A CPU socket's DDR5 (several TB) is not bounded by the HBM package limit."""
    from inferchip.catalog.chips import load_chip

    data = yaml.safe_load(_chip_file(tmp_path, 6, "TiB").read_text(encoding="utf-8"))
    data["memory"] |= {"type": "DDR5", "memory_type": "ddr5"}
    (tmp_path / "ddr.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    assert load_chip(str(tmp_path / "ddr.yaml")).memory.capacity_bytes() == 6 * 2**40
    data["memory"] |= {"type": "HBM3E", "memory_type": "hbm3e"}
    (tmp_path / "hbm.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(SpecError, match="one HBM package can hold"):
        load_chip(str(tmp_path / "hbm.yaml"))
