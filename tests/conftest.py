"""Shared fixtures: a hand-written H100-like chip (datasheet figures) and small models."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as _hypothesis_settings

from inferchip.spec.chip import ChipParams
from inferchip.spec.model import LayerGroup, ModelSpec

_CACHE_DIR: str | None = None


def pytest_configure(config: pytest.Config) -> None:
    """The suite's parse cache (``catalog/parse_cache.py``) lives in a folder of its own, removed
    at the end: tests (and the CLI processes they start, which inherit the environment) never
    write into the user's ``~/.cache``."""
    global _CACHE_DIR
    _CACHE_DIR = tempfile.mkdtemp(prefix="inferchip-test-cache-")
    os.environ["INFERCHIP_CACHE_DIR"] = _CACHE_DIR


def pytest_unconfigure(config: pytest.Config) -> None:
    if _CACHE_DIR is not None:
        shutil.rmtree(_CACHE_DIR, ignore_errors=True)


@dataclass(frozen=True)
class Quote:  # the shape of inferchip.catalog.prices.PriceQuote that the review's street view reads
    chip_id: str
    basis: str
    price_usd: float
    low_usd: float
    high_usd: float
    source: str
    date: str = "2026-01-01"
    note: str = ""


def make_chip(**over) -> ChipParams:
    """H100 SXM datasheet figures (dense), written out so tests do not depend on the catalogue."""
    base = dict(
        id="test-h100",
        peak_flop_per_s={"fp32": 66.9e12, "tf32": 494.7e12, "bf16": 989.4e12, "fp16": 989.4e12,
                         "fp8": 1978.9e12, "int8": 1978.9e12},
        memory_bytes_per_s=3.35e12,
        memory_capacity_bytes=80 * 2**30,
        usable_memory_bytes=78 * 2**30,
        sram_bytes=50e6,
        link_bytes_per_s=450e9,
        link_latency_s=3e-6,
        scaleout_bytes_per_s=50e9,
        scaleout_latency_s=10e-6,
        max_scaleup_domain=8,
        gemm_tile_m=128,
        gemm_tile_n=128,
        gemm_tiles_in_flight=132,
        kernel_overhead_s=3e-6,
        tdp_w=700.0,
        idle_w=80.0,
        vector_flop_per_s=66.9e12,
    )
    base.update(over)
    return ChipParams(**base)


def tiny_dense(layers: int = 2, hidden: int = 1024, heads: int = 8, kv_heads: int = 2, ffn: int = 4096,
               vocab: int = 32000, window: int | None = None) -> ModelSpec:
    return ModelSpec(
        id="test/tiny-dense", model_type="llama", num_layers=layers, hidden_size=hidden, vocab_size=vocab,
        num_heads=heads, num_kv_heads=kv_heads, head_dim=hidden // heads, intermediate_size=ffn,
        layer_groups=(LayerGroup(count=layers, window=window),),
    )


def tiny_moe(layers: int = 2, hidden: int = 1024, experts: int = 8, top_k: int = 2, ffn: int = 2048) -> ModelSpec:
    return ModelSpec(
        id="test/tiny-moe", model_type="mixtral", num_layers=layers, hidden_size=hidden, vocab_size=32000,
        num_heads=8, num_kv_heads=2, head_dim=hidden // 8, intermediate_size=ffn, num_experts=experts,
        experts_per_token=top_k, expert_intermediate_size=ffn, layer_groups=(LayerGroup(count=layers, moe=True),),
    )


@pytest.fixture
def h100() -> ChipParams:
    return make_chip()


# Hypothesis: the property tests assert physics, not speed; on a loaded 2-core CI runner an example
# can pass the default 200 ms deadline and fail a correct test. Timings are shown by benchmarks/.
# `make test` draws the same examples on every run (derandomize), so main's verdict does not depend on the
# draw: a CI run that found a new input failed a commit that changed nothing it reached (stop 48's price
# floor). The search for new inputs is `make fuzz` (the "fuzz" profile: fresh draws, seeded by the clock or
# --hypothesis-seed); what it finds goes into the suite as an @example.
# Nor does the time it takes to draw an example: the too_slow health check (which Hypothesis's own "ci" profile, the
# one CI would otherwise run, suppresses) is off for the same reason as the deadline.
_SPEED_NOT_ASSERTED = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
_hypothesis_settings.register_profile("inferchip", derandomize=True, database=None, **_SPEED_NOT_ASSERTED)
_hypothesis_settings.register_profile("fuzz", derandomize=False, database=None, **_SPEED_NOT_ASSERTED)
# This module runs twice in one session (pytest's conftest, and the ``conftest`` that test modules import helpers
# from), the second time after Hypothesis's plugin loaded --hypothesis-profile: only a session with no profile
# loaded yet takes "inferchip" (a second load_profile here silently turned `make fuzz` back into the fixed draws).
# "No profile loaded yet" is either of Hypothesis's built-ins: "default", or "ci", which it selects by itself when
# the CI environment variable is set (our CI sets it: stop 49's submission failed there on this line alone).
_BUILT_IN_PROFILES = ("default", "ci")
if _hypothesis_settings.get_current_profile_name() in _BUILT_IN_PROFILES:
    _hypothesis_settings.load_profile("inferchip")


def server_case(notes: str, case_id: str = "s1", **over: str):
    """One server case row of 300 input + 200 output tokens on 2 accelerators, no stated load unless the
    notes give one (the row shape of the server-row tests)."""
    from inferchip.validation.cases import COLUMNS, parse_cases

    vals = {"case_id": case_id, "source_kind": "x", "source": "x", "accelerator": "x", "num_accelerators": "2",
            "software": "", "model": "tiny", "weight_dtype": "bf16", "act_dtype": "bf16", "kv_dtype": "", "tp": "1",
            "pp": "1", "ep": "", "scenario": "server", "input_tokens": "300", "output_tokens": "200", "concurrency": "",
            "metric": "output_tokens_per_s_total", "value": "1000", "unit": "tokens/s", "notes": notes}
    vals.update(over)
    return parse_cases(",".join(COLUMNS) + "\n" + ",".join(vals[c] for c in COLUMNS) + "\n")[0]


def shipped_case(id_suffix: str, file: str = "inferencemax_cases.csv"):
    """The one row of a shipped case file (src/inferchip/catalog/FILE) whose id ends with ``id_suffix``, parsed as
    ``read_cases`` parses it (ids checked); fails, naming the suffix, where no row or several rows match."""
    import csv
    import io
    from pathlib import Path

    from inferchip.validation.cases import parse_cases

    src = Path(__file__).resolve().parents[1] / "src" / "inferchip" / "catalog" / file
    with open(src, newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["case_id"].endswith(id_suffix)]
    assert len(rows) == 1, f"{len(rows)} rows of {file} end with {id_suffix!r} (an id changed? pick another row)"
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
    (case,) = parse_cases(out.getvalue(), str(src), known_ids=True)
    return case


def server_model():
    """An 8B-like dense model (32 layers, hidden 4096, GQA 8) mapped on an H100-like chip with 30 GiB usable:
    about 200 sequences of 500 tokens fit, so a server search needs ~1000 requests, not tens of thousands."""
    from inferchip.mapping.layout import Layout
    from inferchip.mapping.memory_fit import Formats
    from inferchip.performance.mapped import map_model
    from inferchip.spec.calibration import Calibration

    chip = make_chip(usable_memory_bytes=30 * 2**30)
    return map_model(tiny_dense(layers=32, hidden=4096, heads=32, kv_heads=8, ffn=14336), chip, Layout(), Formats(),
                     Calibration())


def load_tool(name: str):
    """The module of the script ``tools/<folder>/<name>.py`` (the tools are scripts, not a package), loaded by path.

    The script is found by name anywhere under ``tools/``; no match or two matches fail with the paths."""
    import importlib.util
    from pathlib import Path

    tools = Path(__file__).resolve().parents[1] / "tools"
    found = sorted(tools.rglob(f"{name}.py"))
    assert len(found) == 1, f"load_tool({name!r}): expected one tools/**/{name}.py, found {[str(p) for p in found]}"
    spec = importlib.util.spec_from_file_location(f"{name}_tool", found[0])
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


LLM_CASE_HEADER = ("case_id,source_kind,source,accelerator,num_accelerators,software,model,weight_dtype,act_dtype,"
                   "kv_dtype,tp,pp,ep,scenario,input_tokens,output_tokens,concurrency,metric,value,unit,notes")


def llm_case_row(unit: str = "tokens/s") -> str:
    """One user-written LLM case row (an L4 serving Llama-3.1-8B), its throughput in ``unit``."""
    return ("c1,mine,me,nvidia-l4,1,vLLM 0.10,meta-llama/Llama-3.1-8B-Instruct,fp8,fp8,,1,1,,server,1024,128,8,"
            f"output_tokens_per_s_total,500,{unit},x")


@pytest.fixture
def vision_csv(tmp_path):
    """The shipped vision case file's header and first two rows, as a user's own file."""
    from inferchip.catalog.vision_networks import VISION_CASES_FILE

    path = tmp_path / "vision.csv"
    path.write_text("\n".join(VISION_CASES_FILE.read_text().splitlines()[:3]) + "\n")
    return path


def loop_step(scalar, p: tuple[float, ...]) -> tuple[float, ...]:
    """What ``cost.scalar_step._compile(scalar)(*p)`` must return: the loop's floats (total time, each class's
    accumulators, FLOP, DRAM and link bytes), summed in the loop's order so the comparison can be exact."""
    by_class, flop, dram, link = scalar.evaluate_loop(p)
    total = 0.0
    for acc in by_class:
        total = total + acc[0]
    return (total, *(x for acc in by_class for x in acc), *flop, dram, link)
