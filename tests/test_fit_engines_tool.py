"""tools/closed_loop/fit_engines.py: the first-order moves of a simulated row to new engine host times and kernel
multipliers, by hand; the shares read from a sensitivity run, by hand; the fit recovering host times and
multipliers planted in synthetic rows; the catalogue write read back."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from conftest import load_tool


@pytest.fixture(scope="module")
def fe():
    return load_tool("fit_engines")


def row(metric: str, **kw: float) -> dict:
    base = {"engine": "e", "chip": "c", "metric": metric, "meas": 1.0, "ttft": 0.2, "tpot": 0.01, "e2e": 10.0,
            "tput": 1000.0, "s0": 0.001, "r0": 0.05, "k0": 0.0, "conc": 16.0, "tau": 2.0, "steps": 400.0,
            "m0": {}, "w": {}}
    base.update(kw)
    return base


def test_moves_by_hand(fe):
    rows = [row("ttft_ms"), row("tpot_ms"), row("output_tokens_per_s_total")]
    s, r, k = 0.003, 0.08, 0.0005
    p = fe.predict(rows, np.array(s), np.array(r), k)
    ds, dr = s - 0.001, (r - 0.05) + k * 16.0
    assert p[0] == pytest.approx((0.2 + dr + ds) * 1e3)  # request and one step more before the first token
    assert p[1] == pytest.approx((0.01 + ds / 2.0) * 1e3)  # a step emits tau tokens
    assert p[2] == pytest.approx(1000.0 * 10.0 / (10.0 + dr + ds * 400.0))  # Little's law on the loop


def test_grid_broadcast_matches_single_points(fe):
    rows = [row("ttft_ms"), row("tpot_ms"), row("output_tokens_per_s_total")]
    s, r = np.meshgrid(fe.STEP_GRID[:5], fe.REQUEST_GRID[:4], indexing="ij")
    grid = fe.predict(rows, s, r)
    assert grid.shape == (3, 5, 4)
    for i in range(5):
        for j in range(4):
            one = fe.predict(rows, np.array(s[i, j]), np.array(r[i, j]))
            assert np.allclose(grid[:, i, j], one)


def test_fit_recovers_planted_host_times(fe):
    s_true, r_true = float(fe.STEP_GRID[20]), float(fe.REQUEST_GRID[60])
    rows = []
    for conc, osl in ((4, 1024), (64, 1024), (16, 8192), (128, 2048)):
        for metric in ("ttft_ms", "tpot_ms", "output_tokens_per_s_total"):
            x = row(metric, conc=float(conc), steps=(0.9 * osl - 1) / 2.0, ttft=0.1 + conc * 1e-3)
            x["meas"] = float(fe.predict([x], np.array(s_true), np.array(r_true))[0])
            rows.append(x)
    f = fe.fit(rows)
    assert f.s == pytest.approx(s_true) and f.r == pytest.approx(r_true) and f.k == 0.0 and f.kern == {}


def test_kernel_moves_by_hand(fe):
    # 60 % of the row's figure runs at the memory rate, 10 % at the attention rate, both run at 1
    w, m0 = {"memory": 0.6, "attention": 0.1}, {"memory": 1.0, "attention": 1.0}
    rows = [row(m, w=w, m0=m0) for m in ("ttft_ms", "tpot_ms", "output_tokens_per_s_total")]
    kern = {"memory": 0.8, "attention": 2.0}
    g = 1.0 + 0.6 * (1.0 / 0.8 - 1.0) + 0.1 * (1.0 / 2.0 - 1.0)  # 1.10
    s, r = 0.002, 0.05
    p = fe.predict(rows, np.array(s), np.array(r), 0.0, kern)
    assert p[0] == pytest.approx((0.2 * g + 0.001) * 1e3)
    assert p[1] == pytest.approx((0.01 * g + 0.001 / 2.0) * 1e3)
    assert p[2] == pytest.approx(1000.0 * 10.0 / (10.0 * g + 0.001 * 400.0))
    # at the multipliers the row was run with, nothing moves
    same = fe.predict(rows, np.array(0.001), np.array(0.05), 0.0, m0)
    assert np.allclose(same, fe.predict(rows, np.array(0.001), np.array(0.05)))


def _case(metric: str, measured: float, **sim: float) -> dict:
    base = {"kind": "closed_loop", "engine": "e", "ttft_ms": 200.0, "tpot_ms": 10.0, "e2e_ms": 10_000.0,
            "output_tokens_per_s": 1000.0, "step_overhead_s": 0.001, "request_overhead_s": 0.05,
            "tokens_per_step": 1.0}
    base.update(sim)
    return {"status": "ok", "case_id": "imax-x-b200-e-fp8-tp8-1024-1024-c16-r1-" + metric, "accelerator": "c",
            "metric": metric, "measured": measured, "sim": base}


def test_shares_read_from_a_sensitivity_run(fe, tmp_path):
    base = [_case("tpot_ms", 11.0), _case("output_tokens_per_s_total", 900.0), _case("ttft_ms", 250.0)]
    pert = [_case("tpot_ms", 11.0, tpot_ms=12.0), _case("output_tokens_per_s_total", 900.0, output_tokens_per_s=900.0)]
    (tmp_path / "base.json").write_text(json.dumps({"cases": base}))
    (tmp_path / "mem.json").write_text(json.dumps({"cases": pert}))
    rows = fe.rows_of(str(tmp_path / "base.json"), fe.parse_sens([f"memory=0.8:{tmp_path / 'mem.json'}"]))
    by = {x["metric"]: x for x in rows}
    # TPOT 10 -> 12 ms at memory x0.8: 1 + w (1 / 0.8 - 1) = 1.2, w = 0.8
    assert by["tpot_ms"]["w"]["memory"] == pytest.approx(0.8)
    # throughput 1000 -> 900: time ratio 10/9, w = (1/9) / 0.25
    assert by["output_tokens_per_s_total"]["w"]["memory"] == pytest.approx(4.0 / 9.0)
    assert by["ttft_ms"]["w"]["memory"] == 0.0  # not in the perturbed run
    with pytest.raises(SystemExit, match="CLASS=MULT:FILE"):
        fe.parse_sens(["flops=0.8:x.json"])


def _planted_rows(fe, s_true: float, r_true: float, kern: dict[str, float]) -> list[dict]:
    rows = []
    for conc, osl in ((1, 1024), (4, 1024), (64, 1024), (16, 8192), (128, 2048), (256, 1024)):
        share = conc / (conc + 32.0)  # the KV read's share grows with the batch, the host step's falls
        w = {"memory": 0.3 + 0.5 * share, "attention": 0.4 * share}
        for metric in ("ttft_ms", "tpot_ms", "output_tokens_per_s_total"):
            x = row(metric, conc=float(conc), steps=(0.9 * osl - 1) / 2.0, ttft=0.1 + conc * 1e-3,
                    tpot=0.004 + 1e-4 * conc, w=w, m0={"memory": 1.0, "attention": 1.0})
            x["meas"] = float(fe.predict([x], np.array(s_true), np.array(r_true), 0.0, kern)[0])
            rows.append(x)
    return rows


def test_fit_recovers_planted_kernel_multipliers(fe):
    s_true, r_true = float(fe.STEP_GRID[6]), float(fe.REQUEST_GRID[60])
    planted = {"memory": 0.8, "attention": 1.3}
    f = fe.fit(_planted_rows(fe, s_true, r_true, planted))
    assert set(f.kern) == {"memory", "attention"}
    assert f.kern["memory"] == pytest.approx(0.8, rel=0.03)
    assert f.kern["attention"] == pytest.approx(1.3, rel=0.08)
    assert f.s == pytest.approx(s_true, abs=2.5e-4) and f.r == pytest.approx(r_true, rel=0.1)


def test_a_class_the_rows_barely_run_is_not_fitted(fe):
    rows = _planted_rows(fe, 0.001, 0.05, {"memory": 0.9, "attention": 1.0})
    for x in rows:
        x["w"]["attention"] = 0.005
    assert fe.fitted_classes(rows) == ("memory",)
    assert set(fe.fit(rows).kern) == {"memory"}


def test_write_stores_values_the_catalogue_reads_back(fe, tmp_path):
    from inferchip.catalog.engines import ENGINES_FILE, load_engines

    path = tmp_path / "engines.yaml"
    shutil.copy(ENGINES_FILE, path)
    before = {e.id: e for e in load_engines(path).engines}
    fits = {"vllm": fe.Fit(0.0004, 0.02, 0.0, {"memory": 0.85, "attention": 1.2}), "trtllm": fe.Fit(0.0002, 0.03)}
    rows = [row("tpot_ms", engine="vllm")] * 3
    fe.write(fits, rows, path)
    fe.write(fits, rows, path)  # twice: replaced, not added again
    after = {e.id: e for e in load_engines(path).engines}
    v = after["vllm"]
    assert (v.step_overhead_s, v.request_overhead_s) == (0.0004, 0.02)
    assert (v.kernel_efficiency.memory, v.kernel_efficiency.attention, v.kernel_efficiency.gemm) == (0.85, 1.2, 1.0)
    assert v.fitted_on is not None and "3 InferenceMAX" in v.fitted_on
    t = after["trtllm"]
    assert t.step_overhead_s == 0.0002 and t.kernel_efficiency == before["trtllm"].kernel_efficiency
    assert after["sglang"] == before["sglang"]


def test_recipe_request_time_moves_only_rows_on_the_path(fe):
    # run with 0.05 s per request, 0.30 s more on the path: a row on it starts from 0.35 s
    on = [row(m, x=1.0, e0=0.30, r0=0.35) for m in ("ttft_ms", "tpot_ms", "output_tokens_per_s_total")]
    off = [row(m) for m in ("ttft_ms", "tpot_ms", "output_tokens_per_s_total")]
    s, r, e = 0.001, 0.10, 0.20
    p_on = fe.predict(on, np.array(s), np.array(r), 0.0, None, e)
    p_off = fe.predict(off, np.array(s), np.array(r), 0.0, None, e)
    dr_on = (r + e) - 0.35  # -0.05 s
    assert p_on[0] == pytest.approx((0.2 + dr_on) * 1e3)
    assert p_on[1] == pytest.approx(10.0)  # TPOT carries no request time
    assert p_on[2] == pytest.approx(1000.0 * 10.0 / (10.0 + dr_on))
    assert p_off[0] == pytest.approx((0.2 + r - 0.05) * 1e3)  # e does not touch a row off the path
    assert np.allclose(p_off, fe.predict(off, np.array(s), np.array(r)))


def test_fit_recovers_a_planted_recipe_request_time(fe):
    # the whole request time of the rows on the path, r + e, is fitted on the request grid: planted on it
    s_true, r_true = float(fe.STEP_GRID[10]), float(fe.REQUEST_GRID[70])
    e_true = float(fe.REQUEST_GRID[110]) - r_true
    rows = []
    for path in (0.0, 1.0):
        for conc, osl in ((4, 1024), (64, 1024), (16, 8192), (128, 2048)):
            for metric in ("ttft_ms", "tpot_ms", "output_tokens_per_s_total"):
                x = row(metric, conc=float(conc), steps=(0.9 * osl - 1) / 2.0, ttft=0.1 + conc * 1e-3,
                        x=path, e0=0.1 * path, r0=0.05 + 0.1 * path)
                x["meas"] = float(fe.predict([x], np.array(s_true), np.array(r_true), 0.0, None, e_true)[0])
                rows.append(x)
    f = fe.fit(rows)
    assert (f.s, f.r, f.e) == pytest.approx((s_true, r_true, e_true))
    # without rows on the path the recipe time is not fitted
    assert fe.fit([x for x in rows if x["x"] == 0.0]).e == 0.0


def test_write_stores_the_recipe_request_time(fe, tmp_path):
    from inferchip.catalog.engines import ENGINES_FILE, load_engines

    path = tmp_path / "engines.yaml"
    shutil.copy(ENGINES_FILE, path)
    fe.write({"sglang": fe.Fit(0.001, 0.12, 0.0, {}, 0.33)}, [row("ttft_ms", engine="sglang", x=1.0)], path)
    g = {e.id: e for e in load_engines(path).engines}["sglang"]
    assert (g.request_overhead_s, g.recipe_request_overhead_s) == (0.12, 0.33)
