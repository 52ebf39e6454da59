"""A front end's request crosses its worker engine's request path (``worker_request_paths``): the row's request
time is the worker engine record's plus the front end's own term, by hand from the shipped records; the catalogue
check of the new field (an unknown or front-end worker id, a bad fragment: a clear error); the fit tool's
composition (the front end's own term fitted on top of the worker's fit, planted and recovered; the fold's worker
refit reaching the front end's rows)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from conftest import load_tool
from inferchip.catalog.engines import (
    ENGINES_FILE,
    get_engine,
    load_engines,
    row_request_times_s,
)
from inferchip.errors import SpecError

GB200 = "nvidia-gb200-186gb"
DYNAMO_TRT = "NVIDIA Dynamo + TensorRT-LLM, PD-disaggregated; nvcr.io#nvidia/ai-dynamo/tensorrtllm-runtime:0.7.0.post2"
DYNAMO_SGL = "NVIDIA Dynamo + SGLang, PD-disaggregated; lmsysorg/sglang:v0.5.5.post2"


def row_request_overhead_s(engine, accelerator: str, weights: str, software: str) -> float:
    """What the closed loop waits per request: the engine's own time plus its worker engine's."""
    own, _, worker_s = row_request_times_s(engine, accelerator, weights, software)
    return own + worker_s


def test_dynamo_request_time_is_the_worker_engines_plus_its_own_by_hand():
    dyn, trt, sgl = get_engine("dynamo"), get_engine("trtllm"), get_engine("sglang")
    assert dyn.worker_engine_on(DYNAMO_TRT.lower()) == "trtllm"
    assert dyn.worker_engine_on(DYNAMO_SGL.lower()) == "sglang"
    # GB200 is on no recipe request path of either worker: the records' plain request times add
    assert row_request_overhead_s(dyn, GB200, "fp4", DYNAMO_TRT) == pytest.approx(
        dyn.request_overhead_s + trt.request_overhead_s)
    assert row_request_overhead_s(dyn, GB200, "fp8", DYNAMO_SGL) == pytest.approx(
        dyn.request_overhead_s + sgl.request_overhead_s)
    own, worker, worker_s = row_request_times_s(dyn, GB200, "fp8", DYNAMO_SGL)
    assert (own, worker.id if worker else None, worker_s) == (dyn.request_overhead_s, "sglang", sgl.request_overhead_s)
    # the worker part is the worker record's whole time on the row, its recipe path included (SGLang on MI300X)
    assert row_request_times_s(dyn, "amd-mi300x", "fp8", "dynamo + sglang")[2] == pytest.approx(
        sgl.request_overhead_s + sgl.request_path("amd-mi300x", "fp8").overhead_s)  # MI300X's own path time
    # an engine without worker_request_paths keeps its own time alone
    vllm = get_engine("vllm")
    assert row_request_times_s(vllm, GB200, "fp8", "vllm") == (vllm.request_overhead_s, None, 0.0)
    # a Dynamo row naming no known worker engine: Dynamo's own term alone
    assert row_request_overhead_s(dyn, GB200, "fp8", "NVIDIA Dynamo") == dyn.request_overhead_s


def _catalogue_with(tmp_path, old: str, new: str):
    path = tmp_path / "engines.yaml"
    shutil.copy(ENGINES_FILE, path)
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.mark.parametrize("bad, message", [
    ("{software: sglang, engine: sglangx}", r"worker_request_paths engine = 'sglangx'.*allowed: .*sglang"),
    ("{software: sglang, engine: dynamo}", r"worker_request_paths engine = 'dynamo'.*without worker_request_paths"),
    ("{software: SGLang, engine: sglang}", r"software"),
    ("{software: sglang}", r"engine"),
])
def test_a_bad_worker_request_path_is_a_clear_error(tmp_path, bad, message):
    path = _catalogue_with(tmp_path, "{software: sglang, engine: sglang}", bad)
    with pytest.raises(SpecError, match=message):
        load_engines(path)


@pytest.fixture(scope="module")
def fe():
    return load_tool("fit_engines")


def _row(fe, metric: str, engine: str, chip: str, conc: float, r0: float, weng: str = "", wr0: float = 0.0) -> dict:
    return {"engine": engine, "chip": chip, "metric": metric, "meas": 1.0, "ttft": 0.2 + conc * 1e-3,
            "tpot": 0.01, "e2e": 10.0, "tput": 1000.0, "s0": 0.0, "r0": r0, "k0": 0.0, "conc": conc, "tau": 1.0,
            "steps": 900.0, "m0": {}, "w": {}, "weng": weng, "wr0": wr0, "wx": 0.0}


def test_own_rows_subtract_the_worker_fit_by_hand(fe):
    x = _row(fe, "ttft_ms", "front", "g", 4.0, r0=0.30, weng="w", wr0=0.10)
    params = {"w": fe.Fit(0.0, 0.12), "front": fe.Fit(0.0, 0.05)}
    (y,) = fe.own_rows([x], params)
    assert y["r0"] == pytest.approx(0.30 - 0.12)
    # prediction: the simulated TTFT moved to the request time 0.05 + 0.12 from the 0.30 it was run with
    assert fe.row_prediction(x, params) == pytest.approx((x["ttft"] + 0.05 + 0.12 - 0.30) * 1e3)
    # without a fit of the worker engine, the worker time it was run with stands
    assert fe.own_rows([x], {"front": params["front"]})[0]["r0"] == pytest.approx(0.30 - 0.10)


def test_fit_all_recovers_a_planted_own_term_on_top_of_the_worker_fit(fe):
    r_w, r_own = float(fe.REQUEST_GRID[60]), float(fe.REQUEST_GRID[40])
    rows = []
    for chip in ("a", "b"):  # the worker engine's own (aggregated) rows on two chips
        for conc in (1, 8, 64):
            for metric in ("ttft_ms", "output_tokens_per_s_total"):
                x = _row(fe, metric, "w", chip, conc, r0=0.02)
                x["meas"] = float(fe.predict([x], np.array(0.0), np.array(r_w))[0])
                rows.append(x)
    for conc in (1, 8, 64):  # the front end's rows on a third chip, run with 0.15 s in all (0.03 of it the worker's)
        for metric in ("ttft_ms", "output_tokens_per_s_total"):
            x = _row(fe, metric, "front", "g", conc, r0=0.15, weng="w", wr0=0.03)
            x["meas"] = float(fe.predict([dict(x, r0=x["r0"] - r_w)], np.array(0.0), np.array(r_own))[0])
            rows.append(x)
    p = fe.fit_all(rows)
    assert p["w"].r == pytest.approx(r_w) and p["front"].r == pytest.approx(r_own)
    assert max(abs(e) for _, e in fe.errors(rows, p)) < 1e-6
    # leave chip "g" out: the front end has no rows elsewhere and keeps its own term; the worker is refitted on
    # "a" and "b" (its rows there: the same planted time), so the front rows are still exact
    folds = dict((held[0]["chip"], p_) for held, p_ in fe.loao_fits(rows))
    assert folds["g"]["front"] == p["front"] and folds["g"]["w"].r == pytest.approx(r_w)
    # a worker refit that moves (a fold without chip "a" where chip "b"'s worker rows read slower) reaches the
    # front end's rows: their prediction follows the fold's worker time
    slow = [dict(x, meas=x["meas"] * (1.2 if x["metric"] == "ttft_ms" else 1 / 1.2)) if x["chip"] == "b" else x
            for x in rows]
    fold = dict((held[0]["chip"], p_) for held, p_ in fe.loao_fits(slow))["a"]
    assert fold["w"].r > r_w
    front = next(x for x in rows if x["engine"] == "front" and x["metric"] == "ttft_ms")
    moved = fe.row_prediction(front, {**p, "w": fold["w"]}) - fe.row_prediction(front, p)
    assert moved == pytest.approx((fold["w"].r - r_w) * 1e3)


def _front_rows(fe, r_own: float, extra_per_client_s: float, concs: tuple[int, ...]) -> list[dict]:
    """A front end's TTFT and throughput rows whose measurement waits ``r_own`` per request plus a residual
    ``extra_per_client_s`` x the clients beyond 8 (a queue a flat per-request time cannot represent), worker 0.03 s."""
    rows = []
    for conc in concs:
        for metric in ("ttft_ms", "output_tokens_per_s_total"):
            x = _row(fe, metric, "front", "g", conc, r0=0.15, weng="w", wr0=0.03)
            r_true = r_own + extra_per_client_s * max(conc - 8, 0)
            x["meas"] = float(fe.predict([dict(x, r0=x["r0"] - 0.03)], np.array(0.0), np.array(r_true))[0])
            rows.append(x)
    return rows


def test_front_end_own_term_is_fitted_on_its_low_client_rows(fe):
    """A planted per-request time (a grid point) plus a residual that grows with the clients: the front end's own term
    is the planted time, read on its rows of at most FRONT_OWN_MAX_CLIENTS clients; a fit on every row (the tool before
    stop 35) lands above it, standing in for the residual."""
    assert fe.FRONT_OWN_MAX_CLIENTS == 8
    r_own = float(fe.REQUEST_GRID[30])
    rows = _front_rows(fe, r_own, 2e-3, (1, 4, 8, 16, 24, 32, 64))  # most rows loaded
    p = fe.fit_all(rows)  # no worker rows: the worker time stays as run (0.03 s)
    assert p["front"].r == pytest.approx(r_own)
    assert fe.fit(fe.own_rows(rows, {})).r > 2 * r_own  # on all rows the residual pulls the term up
    low = [x for x in rows if x["conc"] <= 8]
    assert max(abs(e) for _, e in fe.errors(low, p)) < 1e-6  # the low-client rows exact, the loaded ones under
    assert all(e < 0 for x, e in fe.errors(rows, p) if x["conc"] > 8 and x["metric"] == "ttft_ms")
    # the LOAO fold of a chip with the front end's rows elsewhere refits on that fold's low-client rows
    other = [dict(x, chip="h") for x in _front_rows(fe, float(fe.REQUEST_GRID[50]), 0.0, (1, 4, 64))]
    folds = dict((held[0]["chip"], p_) for held, p_ in fe.loao_fits(rows + other))
    assert folds["g"]["front"].r == pytest.approx(float(fe.REQUEST_GRID[50]))
    assert folds["h"]["front"].r == pytest.approx(r_own)


def test_front_end_without_low_client_rows_keeps_the_all_row_fit(fe):
    rows = _front_rows(fe, float(fe.REQUEST_GRID[40]), 0.0, (16, 64, 256))
    assert fe.fit_all(rows)["front"] == fe.fit(fe.own_rows(rows, {}))


def test_front_end_low_client_refit_keeps_its_recipe_path_time(fe):
    """A front end whose rows are partly on one of its own recipe request paths (``x`` 1: they wait its
    ``recipe_request_overhead_s`` ``e`` on top of ``r``): the low-client refit of ``r`` holds the fitted ``e`` on
    those rows, so the planted ``r`` is recovered, not ``r + e`` half-way (the refit once predicted them at e = 0)."""
    r_own, e_own = float(fe.REQUEST_GRID[30]), float(fe.REQUEST_GRID[70] - fe.REQUEST_GRID[30])
    rows = []
    for on_path in (0.0, 1.0):
        for conc in (1, 4, 8, 16, 64):
            for metric in ("ttft_ms", "output_tokens_per_s_total"):
                x = dict(_row(fe, metric, "front", "g", conc, r0=0.15 + 0.05 * on_path, weng="w", wr0=0.03),
                         x=on_path, e0=0.05 * on_path)
                x["meas"] = float(fe.predict([dict(x, r0=x["r0"] - 0.03)], np.array(0.0), np.array(r_own),
                                             e=e_own)[0])
                rows.append(x)
    f = fe.fit_all(rows)["front"]
    assert f.r == pytest.approx(r_own) and f.e == pytest.approx(e_own)
    assert max(abs(e) for _, e in fe.errors(rows, {"front": f})) < 1e-6


def test_a_row_id_without_its_lengths_and_clients_is_refused(fe, tmp_path):
    """rows_of reads a row's output length and clients from its id (-ISL-OSL-cC-); an id without them was read as
    1,024 tokens at 1 client, which now puts it among a front end's low-client rows: refused naming file and row."""
    import json

    sim = {"engine": "e", "ttft_ms": 1.0, "tpot_ms": 1.0, "e2e_ms": 1.0, "output_tokens_per_s": 1.0,
           "step_overhead_s": 0.0, "request_overhead_s": 0.0, "tokens_per_step": 1.0, "kind": "closed_loop"}
    case = {"case_id": "my-row-tput", "accelerator": "g", "metric": "output_tokens_per_s_total", "measured": 1.0,
            "status": "ok", "sim": sim}
    path = tmp_path / "v.json"
    path.write_text(json.dumps({"cases": [case]}))
    with pytest.raises(SystemExit, match=r"v\.json.*my-row-tput.*-ISL-OSL-cC-"):
        fe.rows_of(str(path))
    case["case_id"] = "my-row-1024-512-c4-r1-tput"
    path.write_text(json.dumps({"cases": [case]}))
    (x,) = fe.rows_of(str(path))
    assert x["conc"] == 4.0
