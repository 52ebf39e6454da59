"""Design-space exploration: the space file, the exact roofline tables, the suite evaluation and the search."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from inferchip.catalog.assumptions import load_assumptions
from inferchip.catalog.models import load_model
from inferchip.cost.step import compile_step
from inferchip.errors import InvalidSettingError, SpecError
from inferchip.explore.designs import Chips, designs_from_index, load_space
from inferchip.explore.evaluate import _step_times, default_suite, evaluate, suite_objectives
from inferchip.explore.search import nsga2, search, to_minimise
from inferchip.explore.search_quality import hypervolume_shares
from inferchip.explore.tables import (
    BATCH_GRID,
    REFERENCE_KERNEL_OVERHEAD_S,
    REFERENCE_LINK_LATENCY_S,
    question_points,
)
from inferchip.mapping.layout import Layout
from inferchip.performance.mapped import map_model
from inferchip.spec.design_space import DEFAULTS, PARAMETERS, DesignSpace, design_ids
from inferchip.spec.params import ChipParams
from inferchip.spec.stream import MEDIAN_MEASURED_SHARE

DATA = Path(__file__).parent / "data"
A = load_assumptions()
SMALL_MODELS = ["meta-llama/Llama-3.1-8B-Instruct", "mistralai/Mixtral-8x7B-Instruct-v0.1"]


@pytest.fixture(scope="module")
def suite():
    return default_suite(SMALL_MODELS)


# ------------------------------------------------------------------ the space file
@pytest.mark.parametrize("raw, needle", [
    ({"parameters": {"matrix_unitz": [1]}}, "unknown parameter"),
    ({"parameters": {"clock_ghz": []}}, "empty list"),
    ({"parameters": {"clock_ghz": {"low": 2.0, "high": 1.0, "steps": 3}}}, "empty range"),
    ({"parameters": {"memory_type": ["hbm9"]}}, "unknown value"),
    ({"parameters": {"node_nm": [0.5]}}, "outside"),
    ({"parameters": {"matrix_units": [1.5]}}, "whole number"),
    ({"parameterz": {}}, "parameterz"),
])
def test_bad_space_files_name_the_field(raw, needle):
    with pytest.raises(SpecError, match=needle):
        DesignSpace.from_dict(raw, "space.yaml")


@pytest.mark.parametrize("content, needle", [
    (b"parameters:\n  clock_ghz: [1.0]\n  clock_ghz: [2.0]\n", "appears twice"),  # was: the last one, silently
    (b"\xff\xfeparameters: {}\n", "not UTF-8"),  # was: an internal error (UnicodeDecodeError)
    (b"", "empty"),
    (b"parameters: [1, 2\n", "not valid YAML"),
])
def test_bad_space_files_are_refused_naming_the_file(tmp_path, content, needle):
    path = tmp_path / "space.yaml"
    path.write_bytes(content)
    with pytest.raises(SpecError, match=needle) as err:
        load_space(path)
    assert str(path) in str(err.value)


def test_space_file_values_defaults_and_size():
    sp = load_space(DATA / "explore_space_small.yaml")
    assert sp.values["clock_ghz"] == [1.2, 1.8]
    assert sp.values["node_nm"] == [DEFAULTS["node_nm"]]
    assert sp.size == 3 * 2 * 2 * 2 * 2 * 2 == len(sp.grid())


def test_design_ids_depend_on_values_only():
    a = DesignSpace.from_dict({"parameters": {"clock_ghz": [1.0, 2.0]}})
    b = DesignSpace.from_dict({"name": "other", "parameters": {"clock_ghz": [2.0, 3.0]}})
    ia = design_ids(a.decode(a.grid()))
    ib = design_ids(b.decode(b.grid()))
    assert ia[1] == ib[0] and ia[0] != ia[1] and ib[1] not in ia
    assert a.space_hash != b.space_hash


# ------------------------------------------------------------------ tables = the step plan
def _chip(bf16, fp8, bw, link, tile):
    peaks = {"bf16": bf16, **({"fp8": fp8} if fp8 else {})}
    return ChipParams(id="x", peak_flop_per_s=peaks, memory_bytes_per_s=bw, memory_capacity_bytes=1e11,
                      usable_memory_bytes=1e11, sram_bytes=0, link_bytes_per_s=link,
                      link_latency_s=REFERENCE_LINK_LATENCY_S, scaleout_bytes_per_s=5e10, scaleout_latency_s=5e-6,
                      max_scaleup_domain=8, gemm_tile_m=tile, gemm_tile_n=tile, gemm_tiles_in_flight=1.0,
                      kernel_overhead_s=REFERENCE_KERNEL_OVERHEAD_S, tdp_w=1, idle_w=0, vector_flop_per_s=bf16 / 16,
                      memory_stream_share=MEDIAN_MEASURED_SHARE)  # a design: the measured chips' median (spec.stream)


@pytest.mark.parametrize("model_id", SMALL_MODELS)
@pytest.mark.parametrize("tp", [1, 4])
def test_table_step_times_equal_the_step_plan(suite, model_id, tp):
    rng = np.random.default_rng(tp)
    m = load_model(model_id)
    for _ in range(3):
        bf16, bw = rng.uniform(1e14, 3e15), rng.uniform(5e11, 8e12)
        fp8, link, tile = float(rng.choice([0.0, 2 * bf16])), float(rng.choice([1e11, 4.5e11])), 64
        ch = Chips(ids=np.array(["x"], object), peak_bf16=np.array([bf16]), peak_fp8=np.array([fp8]),
                   vector=np.array([bf16 / 16]), memory_bytes_per_s=np.array([bw]), usable_bytes=np.array([1e11]),
                   link_bytes_per_s=np.array([link]), tile=np.array([tile]), chips_per_board=np.array([8]),
                   tdp_w=np.ones(1), cost_usd=np.ones(1), area_mm2=np.ones(1), dies=np.ones(1),
                   feasible=np.ones(1, bool))
        suite.prepare(np.array([tile]), np.array([link]))
        mine = _step_times(suite.tables[(m.id, tp, tile)], ch, suite.calibration)[0]
        cp = _chip(bf16, fp8, bw, link, tile)
        ep = tp if m.is_moe and m.num_experts % tp == 0 else 1
        mm = map_model(m, cp, Layout(tp=tp, pp=1, ep=ep), suite.formats, suite.calibration)
        plan = compile_step(mm.sm, cp, suite.formats, suite.calibration)
        ref = plan.evaluate(question_points(plan.dp, BATCH_GRID)[0]).time_s
        np.testing.assert_allclose(mine, ref, rtol=1e-12)


# ------------------------------------------------------------------ the suite evaluation
def test_more_bandwidth_or_memory_never_lowers_throughput(suite):
    sp = DesignSpace.from_dict({"max_dies": 4, "parameters": {"matrix_units": [32, 128, 512],
                                                              "memory_units": [2, 4, 8],
                                                              "formats": ["bf16", "bf16+fp8"]}})
    ch = designs_from_index(sp, sp.grid(), A)
    assert ch.feasible.all()
    m = evaluate(suite, ch)
    tput = m["tokens_per_s_per_chip"].reshape(3, 2, 3, -1)  # (units, formats, memory units, workloads): C order
    assert np.all(np.diff(tput, axis=2) >= -1e-9 * tput[:, :, 1:])  # more stacks: more bandwidth and capacity
    assert np.all(np.diff(tput, axis=0) >= -1e-9 * tput[1:])  # more matrix units
    assert np.all(tput[:, 1] >= tput[:, 0] * (1 - 1e-12))  # fp8 units
    np.testing.assert_allclose(m["tokens_per_s_per_w"], m["tokens_per_s_per_chip"] / ch.tdp_w[:, None])
    assert np.all(m["fits"][m["meets_slo"] > 0] > 0)


def test_designs_beyond_the_reticle_are_not_scored(suite):
    sp = DesignSpace.from_dict({"max_dies": 1, "parameters": {"matrix_units": [128, 8192], "node_nm": [7]}})
    ch = designs_from_index(sp, sp.grid(), A)
    assert ch.feasible.tolist() == [True, False]
    m = evaluate(suite, ch)
    assert np.all(m["tokens_per_s_per_chip"][1] == 0) and np.any(m["tokens_per_s_per_chip"][0] > 0)


# ------------------------------------------------------------------ the search
# The search's constants (NSGA_SHARE, POP_DIVISOR, CATEGORICAL_MUTATION, family ranks, EXTREMES_SHARE,
# DESCENT_MISSES, and the surrogate's REFINE_DIVISOR, RIDGE, OPTIMISM, CLIP_QUANTILE) were chosen on seeds 0-99;
# these seeds were fixed before the search was first run on them and never used to choose anything
# (benchmarks/bench_search_quality.py checks held-out seeds 1000-1199).
HELD_OUT_SEEDS = range(200, 220)


def test_search_reaches_99_percent_of_the_exhaustive_hypervolume_with_2_percent(suite):
    got = hypervolume_shares(suite, HELD_OUT_SEEDS)
    assert all(q.evaluated <= q.budget == 259 for q in got)  # every design handed to the evaluator counts
    share = {q.seed: round(q.share, 4) for q in got}
    # docs/explore.md section 3: the target, asserted on every one of these seeds. With the surrogate-ranked
    # Pareto local search all 20 reach 99% (lowest 99.78% with the DRAM-power TDP). Held out, seeds 1000-1199 give
    # 196 of 200 (lowest 97.1%: seeds that miss the GDDR6 cluster of the front) and 2000-2199 200 of 200 (lowest
    # 99.24%): about 1% of unseen seeds fall short, and the docs say so.
    assert all(v >= 0.99 for v in share.values()), share


@pytest.mark.parametrize("budget", [1, 9, 40])
def test_the_search_never_evaluates_a_design_twice_nor_beyond_the_budget(suite, budget):
    sp = DesignSpace.from_dict({"parameters": {"matrix_units": [64, 128, 256, 512], "clock_ghz": [1.0, 1.5, 2.0],
                                               "memory_type": ["hbm3", "gddr6"], "sram_mb": [16, 64, 256]}})
    given = []

    def ev(ix):
        given.append(np.asarray(ix).copy())
        return to_minimise(suite_objectives(evaluate(suite, designs_from_index(sp, ix, A))))

    found = search(sp, budget, 3, ev)
    asked = np.concatenate(given)
    assert len(asked) == len(np.unique(asked, axis=0)) == len(found) <= budget
    assert set(map(tuple, found)) == set(map(tuple, asked))


def test_same_seed_same_designs_other_seed_others(suite):
    sp = DesignSpace.from_dict({"parameters": {"matrix_units": [64, 128, 256, 512], "clock_ghz": [1.0, 1.5, 2.0],
                                               "memory_units": [2, 4, 6, 8], "sram_mb": [16, 64, 256]}})

    def ev(ix):
        return to_minimise(suite_objectives(evaluate(suite, designs_from_index(sp, ix, A))))

    a, b, c = nsga2(sp, 40, 7, ev), nsga2(sp, 40, 7, ev), nsga2(sp, 40, 8, ev)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert set(map(tuple, a)) <= set(map(tuple, sp.grid()))


def test_budget_zero_is_refused(suite):
    sp = DesignSpace.from_dict({})
    with pytest.raises(InvalidSettingError, match="--budget"):
        nsga2(sp, 0, 0, lambda ix: np.zeros((len(ix), 4)))


def test_parameters_constant_order():
    assert len(PARAMETERS) == 13 and set(PARAMETERS) == set(DEFAULTS)
