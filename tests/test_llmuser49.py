"""A new user's LLM tour at stop 49 (branch llmuser49): an ML-infra engineer sizing a fleet and an analyst checking a
vendor's claim, on predict's limits, the Python API's money figures, serve's ``--mtp``/``--disagg`` rows, and the
predict and cost tables in a pipe. Each defect found, with the test that fails on main 2e7d972; then Hypothesis
fuzzes of the options touched (a limit alone, the ``--disagg`` pool form, an attribute of a prediction)."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import inferchip as ic
from chip_yaml import catalogue_raw, write_chip
from inferchip.interfaces.cli import main
from inferchip.interfaces.serve_rows import Pool, parse_disagg
from inferchip.performance.prediction import ENERGY_AND_MONEY_KEYS

H100, L1, L8 = "nvidia-h100-sxm-80gb", "meta-llama/Llama-3.2-1B", "meta-llama/Llama-3.1-8B"
B200, R1 = "nvidia-b200-180gb", "deepseek-ai/DeepSeek-R1"
NO_TDP = "google-tpu-v5e"  # a catalogue chip without a TDP: no power, energy or money
SHORT = ["--input-tokens", "512", "--output-tokens", "64"]
TABLE_EDGES = "┏┃┡│└┌├"  # the characters a rich table's lines start with


def run(*args: str) -> tuple[int, str, str]:
    """``inferchip ARGS`` through the CLI's own entry point (its error boundary), output to a pipe (no terminal)."""
    with CliRunner().isolation() as (out, err, _):
        rc = main(list(args))
        return rc, out.getvalue().decode(), err.getvalue().decode()


def _json(*args: str) -> dict[str, Any]:
    rc, out, err = run(*args, "--format", "json")
    assert rc == 0, err
    answer: dict[str, Any] = json.loads(out)
    return answer


# ------------------------------------------------------------------ 1. a latency limit alone is a search, as in the API
def test_a_latency_limit_alone_implies_max_throughput():
    """``predict --max-tpot-ms 20`` was refused on main ("give --batch N (a static batch) or --max-throughput"), though
    its help reads "the concurrency (and layout) with the most output tokens/s that meets it" and ``ic.predict(...,
    max_tpot_s=0.02)`` answers it without any flag. A limit alone now runs the search it names."""
    base = ["predict", "--chip", H100, "--model", L8, *SHORT]
    alone = _json(*base, "--max-tpot-ms", "20")
    flagged = _json(*base, "--max-tpot-ms", "20", "--max-throughput")
    assert alone == flagged and alone["mode"] == "continuous" and alone["tpot_s"] <= 0.020
    api = ic.predict(H100, L8, input_tokens=512, output_tokens=64, max_tpot_s=0.020)
    assert api.batch == alone["batch"] and api.output_tokens_per_s == pytest.approx(alone["output_tokens_per_s"])
    assert _json(*base, "--max-ttft-ms", "500") == _json(*base, "--max-ttft-ms", "500", "--max-throughput")
    rc, _, err = run(*base)
    assert rc == 2 and "--max-throughput" in err and "--max-ttft-ms/--max-tpot-ms" in err
    rc, _, err = run(*base, "--batch", "4", "--max-tpot-ms", "20")  # a static batch has no search to limit
    assert rc == 2 and "--max-throughput only" in err


@settings(max_examples=12, deadline=None)
@given(option=st.sampled_from(["--max-ttft-ms", "--max-tpot-ms"]),
       limit_ms=st.floats(min_value=1e-3, max_value=1e9, allow_nan=False))
@example(option="--max-tpot-ms", limit_ms=0.5)  # below any step: no concurrency meets it
def test_fuzz_a_limit_alone_is_met_or_refused_in_one_line(option: str, limit_ms: float):
    """Any limit alone: an answer within it, or one ``error:`` line (exit 2), never an internal error or traceback."""
    rc, out, err = run("predict", "--chip", H100, "--model", L8, *SHORT, option, repr(limit_ms), "--format", "json")
    if rc == 0:
        answer = json.loads(out)
        key = "tpot_s" if option == "--max-tpot-ms" else "ttft_s"
        assert answer["mode"] == "continuous" and answer[key] <= limit_ms / 1e3 * (1 + 1e-9)
    else:
        assert rc == 2 and err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err


# ------------------------------------------------------------------ 2. the API's Prediction answers its JSON keys
def test_a_prediction_answers_its_money_and_energy_keys_by_attribute():
    """``ic.predict(...).usd_per_million_tokens`` raised AttributeError on main, while ``to_dict()`` and the CLI's JSON
    hold the key (the class doc lists it among the figures). Each key is now an attribute, None where the chip lacks
    the figure, as the JSON's null; a name that is no figure is still an AttributeError."""
    p = ic.predict(H100, L8, batch=8, input_tokens=512, output_tokens=64)
    d = p.to_dict()
    for key in ENERGY_AND_MONEY_KEYS:
        assert getattr(p, key) == d[key], key
    assert p.usd_per_million_tokens > 0 and p.power_w_per_chip > 0
    q = pickle.loads(pickle.dumps(p))
    assert q.usd_per_million_tokens == p.usd_per_million_tokens
    cli = _json("predict", "--chip", NO_TDP, "--model", L1, "--batch", "8", *SHORT)
    bare = ic.predict(NO_TDP, L1, batch=8, input_tokens=512, output_tokens=64)
    for key in ENERGY_AND_MONEY_KEYS:
        assert getattr(bare, key) is None and cli[key] is None, key
    with pytest.raises(AttributeError, match="no attribute 'usd_per_token'"):
        _ = p.usd_per_token


@settings(max_examples=60, deadline=None)
@given(name=st.from_regex(r"[a-z_][a-z0-9_]{0,30}", fullmatch=True))
def test_fuzz_an_attribute_of_a_prediction_is_a_figure_or_an_attribute_error(name: str):
    p = _PREDICTION
    figures = {**p.to_dict(), **{k: None for k in ENERGY_AND_MONEY_KEYS}}
    try:
        getattr(p, name)
    except AttributeError:
        assert name not in figures or name.startswith("_")
    else:
        assert name in figures or hasattr(type(p), name) or name in p.__dict__


_PREDICTION = ic.predict(H100, L8, batch=2, input_tokens=256, output_tokens=16)


# ------------------------------------------------------------------ 3. serve --mtp/--disagg name their layout
def test_disagg_dpa_pool_without_ep_takes_the_tp_as_attn_dp_does():
    """``--disagg 1xtp4ep4:1xtp8dpa`` ran its decode pool at ep 1 on main (each expert split 8 ways, tokens
    all-gathered), while ``--tp 8 --attn-dp`` gives ep 8 in predict, serve and curve (``--ep``'s help: "under
    --attn-dp it is --tp"). An ep not written is now the tp with dpa, 1 without; one written is kept."""
    assert parse_disagg("1xtp4ep4:1xtp8dpa") == (Pool(1, 4, 4, False), Pool(1, 8, 8, True))
    assert parse_disagg("1xtp4:1xtp8ep2dpa") == (Pool(1, 4, 1, False), Pool(1, 8, 2, True))
    predicted = _json("predict", "--chip", B200, "--model", R1, "--count", "8", "--tp", "8", "--attn-dp",
                      "--max-throughput")
    assert predicted["ep"] == 8


@settings(max_examples=80, deadline=None)
@given(workers=st.integers(1, 16), tp=st.integers(1, 64), ep=st.none() | st.integers(1, 64), dpa=st.booleans())
def test_fuzz_a_disagg_pool_is_parsed_or_refused(workers: int, tp: int, ep: int | None, dpa: bool):
    import typer

    text = f"{workers}xtp{tp}{'' if ep is None else f'ep{ep}'}{'dpa' if dpa else ''}"
    try:
        pool, _ = parse_disagg(f"{text}:1xtp1")
    except typer.BadParameter as exc:
        assert not dpa and ep is not None and tp % ep, (text, exc)  # only ep not dividing tp without dpa
        return
    want_ep = ep if ep is not None else tp if dpa else 1
    assert pool == Pool(workers, tp, want_ep, dpa)
    assert pool.chips == workers * (max(tp, want_ep) if dpa else tp)


def test_an_mtp_row_names_its_layout_in_the_title_and_the_flat_json_keys():
    """``serve --mtp 1`` titled its table "... on 1 x nvidia-h100-sxm-80gb (closed-loop benchmark of a case row)" with
    no layout, and its JSON had only a nested ``layout``, where serve's other answers have ``tp``, ``pp``, ``ep``,
    ``attn_dp`` and ``num_replicas`` (README: "the layout the text's title names"). Both now; ``layout`` is kept.
    A ``--disagg`` row's title names both pools, and its JSON keeps them in ``disagg`` (no one flat layout)."""
    args = ["serve", "--chip", H100, "--model", "meta-llama/Llama-3.1-8B-Instruct", "--tp", "1", "--concurrency", "8",
            *SHORT, "--mtp", "1"]
    answer = _json(*args)
    lay = answer["layout"]
    assert {k: answer[k] for k in ("tp", "pp", "ep", "attn_dp")} == {k: lay[k] for k in ("tp", "pp", "ep", "attn_dp")}
    assert answer["num_replicas"] == lay["replicas"] == 1
    rc, out, err = run(*args)
    assert rc == 0, err
    assert "(tp=1 pp=1 ep=1, 1 replica(s))" in " ".join(out.split())
    dis = ["serve", "--chip", B200, "--model", R1, "--concurrency", "8", *SHORT, "--disagg", "1xtp4ep4:1xtp8dpa"]
    rc, out, err = run(*dis)
    assert rc == 0, err
    title = " ".join(out.split())
    assert "prefill 1 x (tp=4 ep=4, 4 chips), decode 1 x (tp=8 ep=8 attention-DP, 8 chips)" in title
    answer = _json(*dis)
    assert "tp" not in answer and answer["disagg"]["decode_ep"] == 8


# ------------------------------------------------------------------ 4. predict's and cost's tables in a pipe
def _table_width(text: str) -> int:
    return max(len(line) for line in text.splitlines() if line[:1] in TABLE_EDGES)


def test_predict_table_fits_100_columns_in_a_pipe_with_its_sources_below():
    """predict's first table put the formats' sources (up to 180 characters) in right-aligned cells: 218 columns in a
    pipe for DeepSeek-R1 on 8 B200, every row padded to them. They are now one line below the tables (serve's way),
    with the chip price's source; the table keeps the formats and the price."""
    rc, out, err = run("predict", "--chip", B200, "--model", R1, "--count", "8", "--max-throughput")
    assert rc == 0, err
    assert _table_width(out) <= 100
    lines = out.splitlines()  # the sources line, wrapped at 100 columns in a pipe (loose50): its lines joined
    start = next(i for i, x in enumerate(lines) if x.startswith("weights format from "))
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("engine:"))
    line = " ".join(x.strip() for x in lines[start:end])
    assert "checkpoint quantization_config (quant_method fp8" in line and "; activations format from " in line
    assert "; KV format from checkpoint model dtype bf16" in line
    assert line.endswith("; chip price used: street price of 2024-10-03")  # the price table's B200 row
    assert "fp8/fp8/bf16, GEMMs in fp8" in out and "$35,000" in out


def _priced_chips() -> list[str]:
    rc, out, _ = run("cost", "--all", "--format", "json")
    assert rc == 0
    rows = json.loads(out)
    return [r["chip_id"] for r in rows if r.get("manufacturing_cost_usd") is not None]


@pytest.mark.parametrize("chip", _priced_chips())
def test_cost_table_of_every_catalogue_chip_fits_100_columns_in_a_pipe(chip: str):
    """``cost --chip amd-mi355x`` was 370 columns wide in a pipe (sources up to 310 characters a line, every row
    padded to them). The cells now wrap within 100 columns; no number is cut (each value cell whole on one line)."""
    rc, out, err = run("cost", "--chip", chip)
    assert rc == 0, err
    assert _table_width(out) <= 100
    answer = _json("cost", "--chip", chip)
    total = next(x for x in answer["lines"] if x["item"] == "total manufacturing cost")["value"]
    assert f"${total:,.0f}" in out


# ------------------------------------------------------------------ 5. the package a chip's sources state
def test_cost_prices_the_package_the_chip_file_states_and_says_where_a_guess_is_one():
    """``cost --chip amd-mi355x`` priced a CoWoS-L package ($1,100) and held it to CoWoS-L's interposer, though the
    chip file's own source reads "N3P XCD, N6 IOD, CoWoS-S": the kind was guessed from the die count (several
    compute dies: CoWoS-L) and the line cited B200's CoWoS-L price as if it were the chip's. ``silicon.package``
    now states it (the MI355X: cowos-s, $750, 3.3 reticles), and a guess says it is one."""
    lines = {x["item"]: x for x in _json("cost", "--chip", "amd-mi355x")["lines"]}
    pack = lines["packaging (cowos-s)"]
    assert pack["value"] == 750 and pack["source"].startswith("amd-mi355x chip spec, silicon.package")
    assert "cowos-s largest in 2025: 3.3 x 858" in lines["interposer area (dies + HBM stacks)"]["source"]
    guessed = {x["item"]: x for x in _json("cost", "--chip", "nvidia-b200-180gb")["lines"]}["packaging (cowos-l)"]
    assert guessed["source"].startswith("not stated, guessed from the memory and 2 compute die(s)")


@settings(max_examples=30, deadline=None)
@given(package=st.none() | st.sampled_from(["cowos-s", "cowos-l", "organic", "CoWoS", "cowos_s", "", "emib"]),
       dies=st.integers(1, 8))
def test_fuzz_a_chip_files_package_is_priced_or_refused_in_one_line(tmp_path_factory, package: str | None, dies: int):
    raw = catalogue_raw("nvidia-b200-180gb")
    raw["silicon"]["compute_die_count"] = dies
    raw["silicon"]["die_area_mm2"] = 300
    if package is not None:
        raw["silicon"]["package"] = package
    path = write_chip(tmp_path_factory.mktemp("pkg"), raw, "my-package-chip")
    rc, out, err = run("cost", "--chip", path, "--format", "json")
    if package is not None and package not in ("cowos-s", "cowos-l", "organic"):
        assert rc == 2 and err.count("\n") == 1 and "silicon.package" in err and "'cowos-s', 'cowos-l'" in err
        return
    if rc != 0:  # a package too small for the dies and stacks is refused by its own rule, naming the field
        assert rc == 2 and err.startswith("error: ") and "Traceback" not in err
        return
    items = [x["item"] for x in json.loads(out)["lines"]]
    want = package or ("cowos-s" if dies == 1 else "cowos-l")
    assert f"packaging ({want})" in items


# ------------------------------------------------------------------ 6. a missing field says what goes there
def test_a_chip_file_without_sources_is_told_what_a_source_is(tmp_path):
    """A chip YAML without ``sources`` was refused with "sources is missing: this field is required": no word of the
    shape (a list of citations) or what it is for. The error now says both, from the chip model itself."""
    raw = catalogue_raw("nvidia-b200-180gb")
    del raw["sources"]
    rc, _, err = run("cost", "--chip", write_chip(tmp_path, raw, "no-sources"))
    assert rc == 2 and err.count("\n") == 1
    assert "sources is missing: this field is required (a list of mappings, each with citation, kind" in err
    assert "(citation required); Every chip names its sources.)" in err


@settings(max_examples=25, deadline=None)
@given(drop=st.lists(st.sampled_from(["id", "name", "compute", "memory", "sources", "vendor"]), min_size=1,
                     max_size=3, unique=True))
def test_fuzz_a_chip_file_missing_fields_is_one_line_per_field(tmp_path_factory, drop: list[str]):
    raw = catalogue_raw("nvidia-b200-180gb")
    for key in drop:
        del raw[key]
    path = write_chip(tmp_path_factory.mktemp("miss"), raw, "missing-fields")
    if "id" in drop:  # write_chip names the file by putting an id back
        drop = [k for k in drop if k != "id"]
    rc, _, err = run("cost", "--chip", path)
    if not drop:
        assert rc == 0
        return
    assert rc == 2 and "Traceback" not in err
    for key in drop:
        assert f"{key} is missing: this field is required" in err


# ------------------------------------------------------------------ 7. --mtp on a user's config without an MTP module
def test_mtp_on_a_users_config_without_an_mtp_module_says_the_drafts_are_assumed(tmp_path):
    """``serve --mtp 2`` on a user's Kimi-K2-style config.json (DeepSeek-V3's architecture, 384 experts,
    ``num_nextn_predict_layers: 0``) said nothing, while the catalogue's Llama gets the README's note ("its config
    states no MTP module ... as if a drafter proposed them at no cost"): the check read only bundled configs. A
    user's file now answers for itself; one that states a module gets no note."""
    base = json.loads((Path(ic.__file__).parent / "catalog" / "models" / "deepseek-ai__DeepSeek-V3.json").read_text())
    cfg = {k: v for k, v in base.items() if not k.startswith("_")}
    cfg.update(n_routed_experts=384, num_attention_heads=64, num_key_value_heads=64, first_k_dense_replace=1,
               n_group=1, topk_group=1, num_nextn_predict_layers=0)
    kimi = tmp_path / "kimi" / "config.json"
    kimi.parent.mkdir()
    kimi.write_text(json.dumps(cfg))
    args = ["serve", "--chip", "amd-mi355x", "--count", "8", "--concurrency", "8", *SHORT, "--mtp", "2"]
    notes = _json(*args, "--model", str(kimi))["notes"]
    assert any("its config states no MTP module (num_nextn_predict_layers); --mtp prices 2 draft" in n for n in notes)
    cfg["num_nextn_predict_layers"] = 1
    v3 = tmp_path / "v3" / "config.json"
    v3.parent.mkdir()
    v3.write_text(json.dumps(cfg))
    assert not any("no MTP module" in n for n in _json(*args, "--model", str(v3))["notes"])
