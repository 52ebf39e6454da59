"""A disaggregated row's prefill workers as their launch recipe runs them (engine field
``prefill_worker_scheduling``, ``attention_dp``; ``spec.engine.workers.recipe_worker``): the Dynamo +
SGLang FP4 8k/1k max-throughput rows (10 prefill workers of 4 GB200) state attention DP, but the srt-slurm
recipe of that layout runs each prefill worker TP4 with its experts split in width (ep 1)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from inferchip.catalog.engines import get_engine
from inferchip.mapping.layout import Layout
from inferchip.spec.engine.workers import DecodeWorker, WorkerScheduling, prefill_worker_for, recipe_worker
from inferchip.validation.cases import COLUMNS, parse_cases
from inferchip.validation.closed_loop import Worker, row_facts
from inferchip.validation.closed_loop_rows import recipe_workers

SGL = "NVIDIA Dynamo + SGLang, PD-disaggregated; lmsysorg/sglang:v0.5.5.post2"


def _disagg_row(case_id: str, prefill_gpus: int, prefill_workers: int, dpa: str, weights: str = "fp4",
                decode_gpus: int = 32, decode_workers: int = 1, input_tokens: int = 8192):
    notes = (f"MULTINODE PREFILL/DECODE-DISAGGREGATED: {prefill_gpus} prefill GPUs ({prefill_workers} worker(s), "
             f"TP1/EP1, DP-attention {dpa}) + {decode_gpus} decode GPUs ({decode_workers} worker(s), TP1/EP1, "
             f"DP-attention true)")
    vals = {"case_id": case_id, "source_kind": "x", "source": "x", "accelerator": "nvidia-gb200-186gb",
            "num_accelerators": str(prefill_gpus + decode_gpus), "software": SGL, "model": "deepseek-ai/DeepSeek-R1",
            "weight_dtype": weights, "act_dtype": "", "kv_dtype": "", "tp": "1", "pp": "1", "ep": "1",
            "scenario": "server", "input_tokens": str(input_tokens), "output_tokens": "1024", "concurrency": "2048",
            "metric": "ttft_ms", "value": "1000", "unit": "ms", "notes": notes}
    return parse_cases(",".join(COLUMNS) + "\n" + ",".join(f'"{vals[c]}"' for c in COLUMNS) + "\n")[0]


def test_recipe_prefill_worker_by_hand():
    assert recipe_worker(4, 1, 1, True, False) == (4, 1, False)  # TP4 over the worker, experts in width
    assert recipe_worker(4, 1, 1, True, None) == (1, 1, True)  # no recipe fact: the row's own statement
    assert recipe_worker(4, 4, 1, False, False) == (4, 1, False)  # already as the recipe runs it
    assert recipe_worker(8, 8, 8, False, True) == (8, 8, True)
    layout, _ = Worker(4, 4, 1, False).layout()
    assert layout == Layout(tp=4, ep=1) and not layout.attn_dp


@given(chips=st.integers(1, 72), tp=st.integers(1, 72), ep=st.integers(1, 72), dpa=st.booleans(),
       recipe=st.sampled_from([None, True, False]))
def test_recipe_layout_keeps_the_chips_and_is_idempotent(chips, tp, ep, dpa, recipe):
    t, e, d = recipe_worker(chips, tp, ep, dpa, recipe)
    assert d == (dpa if recipe is None else recipe)
    if recipe is None or recipe == dpa:
        assert (t, e) == (tp, ep)
    elif not recipe:  # tensor-parallel over every chip of the worker: the worker's chips are unchanged
        assert (t, e) == (chips, 1)
        assert Worker(chips, t, e, d).layout()[0].chips_per_replica == chips
    assert recipe_worker(chips, t, e, d, recipe) == (t, e, d)


def test_shipped_record_runs_the_fp4_8k_max_throughput_prefill_tp4():
    dyn = get_engine("dynamo")
    pw = dyn.prefill_worker(SGL, "fp4", 10)
    assert pw is not None and pw.attention_dp is False and pw.router == "random" and pw.async_scheduling
    for weights, workers in (("fp4", 4), ("fp4", 6), ("fp8", 5), ("fp8", 10)):  # the recipes that keep the rows' own
        other = dyn.prefill_worker(SGL, weights, workers)
        assert other is not None and other.attention_dp is None


def test_row_facts_take_the_recipe_worker():
    dyn = get_engine("dynamo")
    p40 = row_facts(_disagg_row("imax-d-sglang-fp4-disagg-p40x1e1dpa-d32x1e1dpa-8192-1024-c2048-r1-ttft", 40, 10,
                                "true"), dyn)
    facts, notes = recipe_workers(_disagg_row("x", 40, 10, "true"), "fp4", p40)
    assert facts.prefill == Worker(4, 4, 1, False) and facts.decode == p40.decode
    assert len(notes) == 1 and "TP4/EP1, attention DP false" in notes[0]
    p16 = row_facts(_disagg_row("imax-d-sglang-fp4-disagg-p16x1e1dpa-d32x1e1dpa-1024-1024-c2048-r1-ttft", 16, 4,
                                "true"), dyn)
    same, none = recipe_workers(_disagg_row("x", 16, 4, "true"), "fp4", p16)
    assert (same.prefill, same.decode) == (p16.prefill, p16.decode) and none == []  # the 1k/1k 4-worker recipes
    assert same.prefill_scheduling() == dyn.prefill_worker(SGL, "fp4", 4, 8192)  # run attention DP, as stated


def test_shipped_record_runs_the_fp4_1k_low_latency_workers_tp4():
    """NVIDIA/srt-slurm recipes/gb200-fp4/1k1k/low-latency.yaml (1 prefill node, 2 decode nodes, 2 decode workers):
    both roles TP4 without attention DP, as the 8k/1k one's decode workers (8k1k/low-latency.yaml: 1 prefill node, 4
    decode nodes, 4 decode workers); the other decode entries keep the rows' flags."""
    dyn = get_engine("dynamo")
    pw = dyn.prefill_worker(SGL, "fp4", 1)
    assert pw is not None and pw.attention_dp is False and pw.max_total_tokens == 0
    assert dyn.decode_worker_on(SGL, "fp4", 1024, 2, 1).attention_dp is False
    assert dyn.decode_worker_on(SGL, "fp4", 8192, 4, 1).attention_dp is False  # 8k1k/low-latency.yaml, d16
    for args in (("fp4", 1024, 1, 4), ("fp4", 8192, 1, 6), ("fp4", 8192, 1, 10), ("fp8", 1024, 1, 2),
                 ("fp8", 8192, 1, 5), ("fp8", 1024, 4, 1)):
        assert dyn.decode_worker_on(SGL, *args).attention_dp is None
    assert dyn.prefill_worker(SGL, "fp8", 1).attention_dp is None


def test_row_facts_take_the_recipe_decode_worker():
    """A p4x1e1dpa-d8x1e1dpa 1k/1k FP4 row (2 decode workers of 4 GB200): both workers become TP4/EP1 without
    attention DP, one note each; the decode worker's layout is tensor-parallel over its 4 chips."""
    dyn = get_engine("dynamo")
    case = _disagg_row("imax-d-sglang-fp4-disagg-p4x1e1dpa-d8x1e1dpa-1024-1024-c8-r1-ttft", 4, 1, "true",
                       decode_gpus=8, decode_workers=2, input_tokens=1024)
    facts, notes = recipe_workers(case, "fp4", row_facts(case, dyn))
    assert facts.prefill == facts.decode == Worker(4, 4, 1, False) and facts.decode_workers == 2
    assert [n.split(" ")[0] for n in notes] == ["prefill", "decode"]
    assert Worker(4, 1, 1, True).layout()[0] == Layout(tp=4, ep=4, attn_dp=True)  # as the row states it
    assert facts.decode.layout()[0] == Layout(tp=4, ep=1)


def test_prefill_worker_for_matches_the_input_length_by_hand():
    """An entry with ``input_tokens`` set applies only to rows of that nominal input length; a blank one to any."""
    eight = WorkerScheduling(software="sglang", weights="fp8", prefill_workers=1, input_tokens=8192,
                             async_scheduling=True, max_total_tokens=32768)
    any_len = WorkerScheduling(software="sglang", weights="fp8", prefill_workers=1, async_scheduling=True,
                               max_total_tokens=8192)
    entries = (eight, any_len)
    assert prefill_worker_for(entries, SGL, "FP8", 1, 8192) is eight
    assert prefill_worker_for(entries, SGL, "fp8", 1, 1024) is any_len
    assert prefill_worker_for(entries, SGL, "fp8", 1) is any_len  # length unknown: only blank entries
    assert prefill_worker_for(entries, SGL, "fp8", 2, 8192) is None
    assert prefill_worker_for(entries, SGL, "fp4", 1, 8192) is None


def _catalogue_with(tmp_path, edit, field="prefill_worker_scheduling"):
    """The shipped engines.yaml with the Dynamo record's ``field`` list edited by ``edit``."""
    from pathlib import Path

    import yaml
    src = Path(__file__).resolve().parents[1] / "src" / "inferchip" / "catalog" / "engines.yaml"
    data = yaml.safe_load(src.read_text())
    dyn = next(e for e in data["engines"] if e["id"] == "dynamo")
    dyn[field] = edit(dyn[field])
    path = tmp_path / "engines.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_shadowed_recipe_prefill_entry_is_refused(tmp_path):
    """The generic SGLang entry put before the FP4 10-worker recipe entry matches every row that one does (first
    match wins): its attention_dp would never apply, so the catalogue is refused naming the engine, the field and
    both entries."""
    from inferchip.catalog.engines import load_engines
    from inferchip.errors import SpecError

    def generic_before_fp4(entries):
        fp4 = next(i for i, w in enumerate(entries) if w.get("attention_dp") is False)
        generic = next(w for w in entries if w["software"] == "sglang" and "weights" not in w)
        return [*entries[:fp4], generic, *(w for w in entries[fp4:] if w is not generic)]

    with pytest.raises(SpecError, match=r"engine dynamo: prefill_worker_scheduling entry 2 .*'attention_dp': "
                                        r"False.* never reached: entry 1"):
        load_engines(_catalogue_with(tmp_path, generic_before_fp4))


def test_a_recipe_layout_without_its_worker_count_is_refused(tmp_path):
    """attention_dp is one launch recipe's layout: an entry for every worker count (prefill_workers 0), which would
    also reach rows of other recipes, is refused naming the file, the field and the value; so is a contradictory
    copy of the shipped entry placed after it (never reached)."""
    from inferchip.catalog.engines import load_engines
    from inferchip.errors import SpecError

    with pytest.raises(ValidationError, match="attention_dp = False .* needs prefill_workers"):
        WorkerScheduling(software="sglang", async_scheduling=True, attention_dp=False)

    def any_count(entries):
        return [{**w, "prefill_workers": 0} if w.get("attention_dp") is False else w for w in entries]

    with pytest.raises(SpecError, match=r"engines\.yaml: .*prefill_worker_scheduling.*attention_dp = False"):
        load_engines(_catalogue_with(tmp_path, any_count))

    def contradiction(entries):
        i = next(i for i, w in enumerate(entries) if w.get("attention_dp") is False)
        return [*entries[:i + 1], {**entries[i], "attention_dp": True}, *entries[i + 1:]]

    with pytest.raises(SpecError, match=r"prefill_worker_scheduling entry 2 .* never reached: entry 1"):
        load_engines(_catalogue_with(tmp_path, contradiction))


def test_recipe_entry_covers_by_hand():
    generic = WorkerScheduling(software="sglang", async_scheduling=True)
    fp4 = WorkerScheduling(software="sglang", weights="fp4", prefill_workers=10, async_scheduling=True,
                           attention_dp=False)
    assert generic.covers(fp4) and not fp4.covers(generic)
    assert not WorkerScheduling(software="sglang", weights="fp8", async_scheduling=True).covers(fp4)
    assert not WorkerScheduling(software="sglang", prefill_workers=4, async_scheduling=True).covers(fp4)


def test_an_input_length_entry_is_shadowed_only_by_one_that_reaches_its_rows(tmp_path):
    """``input_tokens`` enters :meth:`WorkerScheduling.covers`: a blank-length entry covers an 8k one, an 8k entry
    covers neither a blank-length nor a 1k one. So an 8k copy of the FP8 one-worker entry (the recipe's 32,768-token
    pool) loads before the shipped blank-length one and is looked up for 8k rows only; after it, it is refused."""
    from inferchip.catalog.engines import load_engines
    from inferchip.errors import SpecError

    any_len = WorkerScheduling(software="sglang", weights="fp8", prefill_workers=1, async_scheduling=True)
    eight = any_len.model_copy(update={"input_tokens": 8192})
    one_k = any_len.model_copy(update={"input_tokens": 1024})
    assert any_len.covers(eight) and eight.covers(eight)
    assert not eight.covers(any_len) and not eight.covers(one_k) and not one_k.covers(eight)

    def eight_k(entries, before):
        i = next(i for i, w in enumerate(entries) if w.get("weights") == "fp8" and w.get("prefill_workers") == 1)
        copy = {**entries[i], "input_tokens": 8192, "max_total_tokens": 32768}
        at = i if before else i + 1
        return [*entries[:at], copy, *entries[at:]]

    cat = load_engines(_catalogue_with(tmp_path, lambda e: eight_k(e, before=True)))
    entries = next(e for e in cat.engines if e.id == "dynamo").prefill_worker_scheduling
    pw8 = prefill_worker_for(entries, SGL.lower(), "fp8", 1, 8192)
    pw1 = prefill_worker_for(entries, SGL.lower(), "fp8", 1, 1024)
    assert pw8 is not None and pw8.max_total_tokens == 32768 and pw1 is not None and pw1.max_total_tokens == 8192
    with pytest.raises(SpecError, match=r"prefill_worker_scheduling entry 1 .*'input_tokens': 8192.* never reached: "
                                        r"entry 0"):
        load_engines(_catalogue_with(tmp_path, lambda e: eight_k(e, before=False)))


def test_a_recipe_decode_layout_without_its_worker_counts_is_refused(tmp_path):
    """DecodeWorker.attention_dp is one launch recipe's layout, as the prefill side's: an entry without the recipe's
    decode and prefill worker counts is refused naming the file, the field and the value; a contradictory copy of a
    shipped recipe entry placed after it is never reached and refused."""
    from inferchip.catalog.engines import load_engines
    from inferchip.errors import SpecError

    for counts in ({}, {"decode_workers": 2}, {"prefill_workers": 1}):
        with pytest.raises(ValidationError, match="attention_dp = False .* needs decode_workers and prefill_workers"):
            DecodeWorker(software="sglang", attention_dp=False, **counts)
    recipe = DecodeWorker(software="sglang", decode_workers=2, prefill_workers=1, attention_dp=False)
    assert recipe.attention_dp is False
    assert DecodeWorker(software="sglang").attention_dp is None  # no recipe layout: no counts needed

    def any_decode_count(entries):
        return [{**w, "decode_workers": 0} if w.get("attention_dp") is False else w for w in entries]

    with pytest.raises(SpecError, match=r"engines\.yaml: .*decode_worker.*attention_dp = False"):
        load_engines(_catalogue_with(tmp_path, any_decode_count, "decode_worker"))

    def contradiction(entries):
        i = next(i for i, w in enumerate(entries) if w.get("attention_dp") is False)
        return [*entries[:i + 1], {**entries[i], "attention_dp": True}, *entries[i + 1:]]

    shipped = get_engine("dynamo").decode_worker
    first = next(i for i, w in enumerate(shipped) if w.attention_dp is False)
    with pytest.raises(SpecError, match=rf"decode_worker entry {first + 1} .* never reached: entry {first}"):
        load_engines(_catalogue_with(tmp_path, contradiction, "decode_worker"))


class _Stop(Exception):
    pass


def test_a_disaggregated_row_looks_its_prefill_entry_up_once(monkeypatch):
    """The Dynamo + TensorRT-LLM GB200 FP4 1k/1k c4 row: its prefill_worker_scheduling entry is read by the recipe
    workers, the context workers' FP8 MLA and the simulated run's scheduling, and looked up once (before stop 40,
    three times with the same arguments); facts not looked up refuse to be read."""
    from pathlib import Path

    from inferchip.catalog.calibration_file import load_calibration
    from inferchip.errors import InternalError
    from inferchip.spec.engine import EngineSpec
    from inferchip.validation import closed_loop
    from inferchip.validation.cases import read_cases
    from inferchip.validation.closed_loop_rows import predict_closed_loop
    from inferchip.validation.plan import case_formats
    from inferchip.validation.validate import Validator

    cases = Path(__file__).parents[1] / "src" / "inferchip" / "catalog" / "inferencemax_cases.csv"
    case = next(c for c in read_cases(cases) if c.metric == "ttft_ms"
                and "gb200-dynamo-trt-fp4-disagg-p4x4e4-d32x8e8-1024-1024-c4-" in c.case_id)
    seen: list[tuple[object, ...]] = []
    real = EngineSpec.prefill_worker

    def counted(self, *args):
        seen.append(args)
        return real(self, *args)

    def stop(*args, **kwargs):
        raise _Stop

    monkeypatch.setattr(EngineSpec, "prefill_worker", counted)
    monkeypatch.setattr(closed_loop, "closed_loop_disagg_run", stop)
    with pytest.raises(_Stop):  # past the run's scheduling, stopped before it simulates
        predict_closed_loop(Validator(load_calibration(None), server_model="sim", compare=False), case, case_formats)
    assert seen == [(case.software, "fp4", 1, 1024)], seen
    entry = real(get_engine("dynamo"), case.software, "fp4", 1, 1024)
    assert entry is not None and "nvidia-blackwell" in entry.mla_context_fp8_families and not entry.async_scheduling
    facts = row_facts(case)
    with pytest.raises(InternalError, match="looked up"):
        facts.prefill_scheduling()
