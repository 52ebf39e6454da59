"""The TTFT spread (median, p99) of closed-loop runs: write it into the rows' notes, and read the stalled runs out
of a validate JSON.

The InferenceMAX result files give, per run, ``mean_ttft`` (the rows' TTFT value), ``median_ttft`` and
``p99_ttft``. A run whose p99 exceeds its median by ``STALL_WAIT_S`` or more stalled once (a few requests waited
about a minute; inferchip.validation.case_notes.measured_stall_s); validate flags its rows (``measured_stall_s`` in the
JSON, a note) and keeps them in every figure.

    python tools/closed_loop/ttft_spread.py notes docs/data/imax_b200_sglang_ttft_spread.csv \
        src/inferchip/catalog/inferencemax_cases.csv
        appends "TTFT spread of the run: median X ms, p99 Y ms" to the notes of every row (all metrics) of each listed
        run, once (rows that already state a spread are left as they are)
    python tools/closed_loop/ttft_spread.py report validate.json [--threshold 35] [--cases inferencemax_cases.csv]
        the closed-loop rows by metric: how many are flagged, how many of the rows beyond the threshold are, and
        the in-sample and leave-one-accelerator-out (LOAO, as tools/closed_loop/closed_loop_tables.py) median / p90 /
        signed error with and without the flagged rows (information only: the project's figures keep them); then per
        engine and chip: runs with a stated spread, flagged runs, TTFT LOAO with and without them, and the
        spread against the simulation (measured minus simulated median, measured p99 over simulated p99,
        and the share (mean - median) / (p99 - median): about 0.1 where the whole first wave of C of the 10 C
        requests waited, lower where fewer did)
    python tools/closed_loop/ttft_spread.py waves [--cases inferencemax_cases.csv]
        the runs with a stated spread, stalled or not (case_notes.measured_stall_s), by whether the first wave's prompts
        (C clients' prompts at once) fit in one prefill step of the engine's recipe (``--chunked-prefill-size``,
        engines.yaml recipe_chunk_tokens) or need more; then per weights, TP, input length and clients. A
        diagnostic of when a run stalls; it predicts nothing
    python tools/closed_loop/ttft_spread.py parts validate.json [--cases inferencemax_cases.csv] [--engine dynamo]
        [--threshold 12]
        the in-sample signed TTFT error of each row with a stated spread split exactly into a median part,
        (simulated median - measured median) / measured mean, and a spread part, the rest (the first wave and any
        tail; :func:`error_parts`); medians per engine (worker engine), chip, model, format and clients band, with
        the measured over simulated median and, among the rows beyond the threshold, which part is the larger
    python tools/closed_loop/ttft_spread.py medianfit validate.json [--cases inferencemax_cases.csv]
        the engines' host times fitted with each TTFT row with a stated median matched on its median (simulated
        against measured: a per-request time is what the median request pays; fit_engines.FIT_VIEW = median_view)
        against the shipped fit on the means; the rows' metric (the mean) scored either way: LOAO per metric,
        engine and chip; then per engine and chip the first wave's part, the mean's excess over the median measured
        and simulated and the shortfall (measured minus simulated excess, ms and % of the measured mean), which the
        simulated wave must carry once the request times stand for the median
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import fit_engines  # noqa: E402
from fit_engines import errors, fit_all, loao_fits, rows_of  # noqa: E402
from inferchip.catalog.engines import engine_for_software  # noqa: E402
from inferchip.validation.case_notes import (
    _TTFT_SPREAD,  # noqa: E402
    STALL_WAIT_S,
    measured_stall_s,
)
from inferchip.validation.cases import Case, read_cases  # noqa: E402

SHIPPED = Path(__file__).resolve().parents[2] / "src" / "inferchip" / "catalog" / "inferencemax_cases.csv"

METRICS = ("output_tokens_per_s_total", "ttft_ms", "tpot_ms")


def read_spread(path: str | Path) -> dict[str, tuple[float, float, float]]:
    """case prefix (the case id without its metric suffix) -> (mean, median, p99) TTFT in ms; '#' lines are comments."""
    text = "".join(line for line in open(path, encoding="utf-8") if not line.startswith("#"))
    return {r["case_prefix"]: (float(r["mean_ttft_ms"]), float(r["median_ttft_ms"]), float(r["p99_ttft_ms"]))
            for r in csv.DictReader(io.StringIO(text))}


def spread_note(median_ms: float, p99_ms: float) -> str:
    """The notes' wording, as inferchip.validation.case_notes.stated_ttft_spread_s reads it."""
    return (f"TTFT spread of the run: median {median_ms:.1f} ms, p99 {p99_ms:.1f} ms "
            "(median_ttft, p99_ttft of the same record)")


def add_notes(cases_text: str, spread: dict[str, tuple[float, float, float]]) -> tuple[str, int]:
    """The case file with the spread appended to the notes of every row of each run in ``spread`` (rows already
    stating one untouched); and how many rows changed. The TTFT rows' values must equal the stated means."""
    rows = list(csv.DictReader(io.StringIO(cases_text)))
    if not rows:
        return cases_text, 0
    changed = 0
    for r in rows:
        prefix = r["case_id"].rsplit("-", 1)[0]
        if prefix not in spread or "TTFT spread of the run" in r["notes"]:
            continue
        mean, med, p99 = spread[prefix]
        if r["metric"] == "ttft_ms" and abs(float(r["value"]) - mean) > 0.1 + 1e-3 * mean:
            raise SystemExit(f"{r['case_id']}: value {r['value']} ms is not the spread file's mean {mean} ms")
        r["notes"] = r["notes"].rstrip() + "; " + spread_note(med, p99)
        changed += 1
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return out.getvalue(), changed


def _stats(v: list[float]) -> str:
    if not v:
        return "-"
    a = np.abs(v)
    return f"{len(v)} rows {np.median(a):.1f} / {np.percentile(a, 90):.1f} / {np.median(v):+.1f}"


def notes_spread(cases_csv: str | Path) -> dict[str, tuple[float, float]]:
    """case id -> (median, p99) TTFT in ms stated in the notes of a case file's rows."""
    out = {}
    for r in csv.DictReader(open(cases_csv, encoding="utf-8")):
        m = _TTFT_SPREAD.search(r["notes"])
        if m:
            out[r["case_id"]] = (float(m.group(1)), float(m.group(2)))
    return out


def _engine(case_id: str, sim: dict) -> str:
    return str(sim.get("engine") or case_id.split("-")[4])


def per_engine_chip(path: str, cases_csv: str | Path) -> None:
    """Per engine and chip: runs with a spread, flagged runs, TTFT LOAO all / without flagged, and the spread
    against the simulation (medians over the runs without a flag)."""
    cases = {c["case_id"]: c for c in json.load(open(path))["cases"]
             if c["status"] == "ok" and (c.get("sim") or {}).get("kind") == "closed_loop"}
    spread = notes_spread(cases_csv)
    loao = {x["case_id"]: e for held, p in loao_fits(rows_of(path)) for x, e in errors(held, p)}
    by: dict = defaultdict(list)
    for cid, c in cases.items():
        if c["metric"] == "ttft_ms":
            by[(_engine(cid, c["sim"]), c["accelerator"])].append(c)
    print("per engine and chip, TTFT rows (LOAO median / p90 / signed %; spread medians over unflagged runs):")
    for key in sorted(by):
        rows = by[key]
        have = [c for c in rows if c["case_id"] in spread]
        flagged = [c for c in have if c.get("measured_stall_s") is not None]
        e_all = [loao[c["case_id"]] for c in rows if c["case_id"] in loao]
        e_keep = [loao[c["case_id"]] for c in rows if c["case_id"] in loao and c.get("measured_stall_s") is None]
        line = f"  {key[0]:>10} {key[1]:<24} runs {len(rows):4d}, with spread {len(have):4d}, flagged {len(flagged):3d}"
        line += f"; LOAO all {_stats(e_all)}; unflagged {_stats(e_keep)}"
        calm = [c for c in have if c.get("measured_stall_s") is None]
        if calm:
            med = [spread[c["case_id"]][0] - c["sim"]["ttft_median_ms"] for c in calm
                   if c["sim"].get("ttft_median_ms") is not None]
            p99 = [spread[c["case_id"]][1] / c["sim"]["ttft_p99_ms"] for c in calm if c["sim"].get("ttft_p99_ms")]
            share = [(c["measured"] - spread[c["case_id"]][0]) / (spread[c["case_id"]][1] - spread[c["case_id"]][0])
                     for c in calm if spread[c["case_id"]][1] > spread[c["case_id"]][0]]
            line += (f"; measured - simulated median {np.median(med):+.0f} ms" if med else "")
            line += (f", measured p99 / sim p99 {np.median(p99):.2f}" if p99 else "")
            line += (f", share {np.median(share):.3f}" if share else "")
        print(line)


def report(path: str, threshold: float, cases_csv: str | Path = SHIPPED) -> None:
    cases = [c for c in json.load(open(path))["cases"]
             if c["status"] == "ok" and (c.get("sim") or {}).get("kind") == "closed_loop"]
    loao = {(x["case_id"], x["metric"]): e for held, p in loao_fits(rows_of(path)) for x, e in errors(held, p)}
    print(f"flag: p99 TTFT - median TTFT >= {STALL_WAIT_S:.0f} s in the run's notes")
    by: dict = defaultdict(list)
    for c in cases:
        by[c["metric"]].append(c)
    for m in METRICS:
        rows = by.get(m, [])
        flagged = [c for c in rows if c.get("measured_stall_s") is not None]
        far = [c for c in rows if abs(c["signed_error_pct"]) > threshold]
        n_far = sum(c.get("measured_stall_s") is not None for c in far)
        print(f"{m}: {len(flagged)} of {len(rows)} rows flagged; {n_far} of the {len(far)} beyond {threshold:.0f} %")
        print(f"   in sample (median |e| / p90 / signed %): all {_stats([c['signed_error_pct'] for c in rows])}; "
              f"without flagged {_stats([c['signed_error_pct'] for c in rows if c.get('measured_stall_s') is None])}; "
              f"flagged {_stats([c['signed_error_pct'] for c in flagged])}")
        le = [(loao[(c["case_id"], m)], c.get("measured_stall_s") is not None) for c in rows
              if (c["case_id"], m) in loao]
        print(f"   LOAO (median |e| / p90 / signed %): all {_stats([e for e, _ in le])}; "
              f"without flagged {_stats([e for e, f in le if not f])}")
        waits = [c["measured_stall_s"] for c in flagged]
        if waits:
            print(f"   flagged runs' stall (p99 - median TTFT): {min(waits):.1f}-{max(waits):.1f} s, "
                  f"median {np.median(waits):.1f} s")
    per_engine_chip(path, cases_csv)


_RANGE_RATIO = re.compile(r"--random-range-ratio ([0-9.]+)")


def first_wave_tokens(concurrency: int, input_tokens: float, range_ratio: float) -> float:
    """Prompt tokens the first wave of a closed-loop run brings at once: the C clients send one prompt each at the
    start, each drawn uniformly from [r L, L] tokens (InferenceMAX benchmark_serving ``--random-input-len L
    --random-range-ratio r``), mean (1 + r) / 2 x L."""
    return concurrency * input_tokens * (1.0 + range_ratio) / 2.0


def wave_rows(cases: list[Case]) -> list[tuple[str, str, str, int, int, int, float, int, bool]]:
    """One row per aggregated TTFT case stating its run's spread: (engine, chip, weights, TP, input tokens, clients,
    first-wave tokens, prefill tokens per step, stalled). The range ratio is read from the notes (1.0, the nominal
    length, where they state none). Disaggregated runs are left out: their prefill workers' launch flags are not
    the aggregated recipe's."""
    out = []
    for c in cases:
        if c.metric != "ttft_ms" or not _TTFT_SPREAD.search(c.notes) or not c.concurrency or not c.input_tokens:
            continue
        if "disaggregated" in c.software.lower():
            continue
        eng = engine_for_software(c.software)
        if eng is None:
            continue
        m = _RANGE_RATIO.search(c.notes)
        ratio = float(m.group(1)) if m else 1.0
        weights, tp = c.weight_dtype or "", c.tp or 0
        chunk = eng.chunk_tokens_on(c.accelerator, weights, tp, c.concurrency, int(c.input_tokens),
                                    int(c.output_tokens or 0))
        out.append((eng.id, c.accelerator, weights, tp, int(c.input_tokens), c.concurrency,
                    first_wave_tokens(c.concurrency, c.input_tokens, ratio), chunk, measured_stall_s(c) is not None))
    return out


def waves(cases_csv: str | Path) -> None:
    rows = wave_rows(read_cases(cases_csv))
    by: dict = defaultdict(lambda: [0, 0])
    for eng, chip, w, tp, _isl, _c, wave, chunk, stalled in rows:
        k = (eng, chip, w, tp, chunk, wave > chunk)
        by[k][0] += 1
        by[k][1] += stalled
    print("runs with a stated TTFT spread, by whether the first wave's prompts fit in one prefill step "
          "(stalled / runs):")
    for (eng, chip, w, tp, chunk, over), (n, s) in sorted(by.items()):
        print(f"  {eng:>8} {chip:<22} {w or '-':>5} TP{tp:<2} step {chunk:>6} tokens, first wave "
              f"{'more than one step' if over else 'within one step':<18}: {s:3d} / {n:3d}")
    detail: dict = defaultdict(lambda: [0, 0, 0.0, 0])
    for eng, chip, w, tp, isl, c, wave, chunk, stalled in rows:
        d = detail[(eng, chip, w, tp, isl, c)]
        d[0] += 1
        d[1] += stalled
        d[2], d[3] = wave, chunk
    print("per weights, TP, input length and clients (stalled / runs, first-wave tokens / step tokens):")
    for (eng, chip, w, tp, isl, c), (n, s, wave, chunk) in sorted(detail.items()):
        if any(v[1] for k, v in detail.items() if k[:3] == (eng, chip, w)):
            print(f"  {eng:>8} {chip:<22} {w or '-':>5} TP{tp:<2} ISL {isl:5d} C {c:4d}: {s:2d} / {n:2d}, "
                  f"{wave / chunk:6.2f}")


_FORMAT = re.compile(r"-(fp8|fp4|mxfp4|nvfp4)-")
BANDS = ((64, "1-64"), (512, "65-512"), (2048, "513-2,048"), (10**9, "2,049+"))


def error_parts(meas_mean: float, meas_median: float, sim_mean: float, sim_median: float) -> tuple[float, float]:
    """(median part, spread part) of the signed error (%) of a mean TTFT: the first is the medians' difference over
    the measured mean, the second the rest, so that the two add up to 100 (sim_mean - meas_mean) / meas_mean."""
    median_pct = 100.0 * (sim_median - meas_median) / meas_mean
    return median_pct, 100.0 * (sim_mean - meas_mean) / meas_mean - median_pct


def band(clients: int) -> str:
    """The clients band of a closed-loop row (the bands of tools/closed_loop/dynamo_breakdown.py)."""
    return next(name for top, name in BANDS if clients <= top)


def parts(path: str, cases_csv: str | Path, engine: str, threshold: float) -> None:
    spread = notes_spread(cases_csv)
    groups: dict = defaultdict(list)
    for c in json.load(open(path))["cases"]:
        sim = c.get("sim") or {}
        if (c["status"] != "ok" or c["metric"] != "ttft_ms" or c["case_id"] not in spread
                or sim.get("kind") != "closed_loop" or not sim.get("ttft_median_ms")):
            continue
        eng = _engine(c["case_id"], sim) + (f"+{sim['worker_engine']}" if sim.get("worker_engine") else "")
        if engine and engine not in eng:
            continue
        m = _FORMAT.search(c["case_id"])
        clients = int(re.search(r"-c(\d+)-", c["case_id"]).group(1))
        key = (eng, c["accelerator"], c["model"].rsplit("/", 1)[-1], m.group(1) if m else "-", band(clients))
        med = spread[c["case_id"]][0]
        groups[key].append((c["signed_error_pct"], med / sim["ttft_median_ms"],
                            *error_parts(c["measured"], med, c["predicted"], sim["ttft_median_ms"])))
    print(f"in-sample TTFT: rows, signed %, measured / simulated median, median part %, spread part % (medians); "
          f"rows beyond {threshold:.0f} % by larger part")
    for key in sorted(groups, key=lambda k: (k[:4], [b for _, b in BANDS].index(k[4]))):
        v = np.array(groups[key])
        far = v[np.abs(v[:, 0]) > threshold]
        n_med = int(np.sum(np.abs(far[:, 2]) >= np.abs(far[:, 3])))
        print(f"  {' / '.join(key):60s} {len(v):4d} {np.median(v[:, 0]):+7.1f} {np.median(v[:, 1]):6.2f} "
              f"{np.median(v[:, 2]):+7.1f} {np.median(v[:, 3]):+7.1f}   median {n_med}, spread {len(far) - n_med}")


def median_view(x: dict) -> dict:
    """What the median fit matches of row ``x``: a TTFT row with a measured (``med``) and simulated (``sim_med``)
    median TTFT (ms), as its medians (a request or step time moves the median as it moves the mean); others as is."""
    if x["metric"] != "ttft_ms" or not x.get("med") or not x.get("sim_med"):
        return x
    return dict(x, meas=x["med"], ttft=x["sim_med"] / 1e3)


def with_medians(rows: list[dict], spread: dict[str, tuple[float, float]]) -> list[dict]:
    """``rows`` (fit_engines.rows_of) with the run's stated median TTFT (``med``, ms; 0 where none) and the
    simulated one (``sim_med``), and whether the run stalled (``stall``: p99 - median at least STALL_WAIT_S)."""
    out = []
    for x in rows:
        med, p99 = spread.get(x["case_id"], (0.0, 0.0))
        out.append(dict(x, med=med, sim_med=float(x["sim"].get("ttft_median_ms") or 0.0),
                        stall=p99 - med >= STALL_WAIT_S * 1e3))
    return out


def wave_shortfall_ms(meas_mean: float, meas_median: float, sim_mean: float, sim_median: float) -> float:
    """How much less the simulated mean exceeds its median than the measured mean exceeds its own (ms): what the
    simulated first wave (and tail) lacks once the request times are fitted on the medians."""
    return (meas_mean - meas_median) - (sim_mean - sim_median)


def _loao(rows: list[dict], view: bool) -> tuple[dict, list[tuple[dict, float]]]:
    fit_engines.FIT_VIEW = median_view if view else None
    try:
        params = fit_all(rows)
        return params, [t for held, p in loao_fits(rows, params) for t in errors(held, p)]
    finally:
        fit_engines.FIT_VIEW = None


def median_fit(path: str, cases_csv: str | Path) -> None:
    spread = notes_spread(cases_csv)
    rows = with_medians(rows_of(path), spread)
    fits = {v: _loao(rows, v) for v in (False, True)}
    print("request / step / recipe-path time per engine (ms): fitted on the means -> on the stated medians")
    for e in sorted(fits[False][0]):
        a, b = fits[False][0][e], fits[True][0][e]
        print(f"  {e:>8}: r {a.r * 1e3:6.1f} -> {b.r * 1e3:6.1f}, s {a.s * 1e3:5.2f} -> {b.s * 1e3:5.2f}, "
              f"recipe path {a.e * 1e3:6.1f} -> {b.e * 1e3:6.1f}")
    for key in ("all", "engine", "chip"):
        print(f"LOAO by {key} (median |e| / p90 / signed %): on the means -> on the medians")
        g: dict = defaultdict(lambda: ([], []))
        for v in (False, True):
            for x, e in fits[v][1]:
                g[("all" if key == "all" else x[key], x["metric"])][v].append(e)
        for k in sorted(g):
            print(f"  {k[0]:>22} {k[1]:<26} {_stats(g[k][0])} -> {_stats(g[k][1])}")
    for clients in (False, True):
        print(f"first wave per engine and chip{' and clients' if clients else ''} (TTFT rows with a stated median, no "
              "stall; medians over rows, ms): measured mean - median, simulated mean - median, shortfall, shortfall / "
              "measured mean, measured p99, share (mean - median) / (p99 - median)")
        by: dict = defaultdict(list)
        for x in rows:
            if x["metric"] == "ttft_ms" and x["med"] and x["sim_med"] and not x["stall"]:
                sim_mean, p99 = x["sim"]["ttft_ms"], spread[x["case_id"]][1]
                by[(x["engine"], x["chip"], int(x["conc"]) if clients else 0)].append((
                    x["meas"] - x["med"], sim_mean - x["sim_med"],
                    wave_shortfall_ms(x["meas"], x["med"], sim_mean, x["sim_med"]), x["meas"], p99,
                    (x["meas"] - x["med"]) / max(p99 - x["med"], 1e-9)))
        for (eng, chip, c), v in sorted(by.items()):
            m = np.median(np.array(v), axis=0)
            print(f"  {eng:>8} {chip:<22}{f' C={c:<5d}' if clients else ''} {len(v):4d} rows: {m[0]:8.1f} {m[1]:8.1f} "
                  f"{m[2]:8.1f}  {100 * np.median([a[2] / a[3] for a in v]):5.1f} %  {m[4]:8.0f}  {m[5]:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    n = sub.add_parser("notes")
    n.add_argument("spread_csv")
    n.add_argument("cases_csv")
    r = sub.add_parser("report")
    r.add_argument("validate_json")
    r.add_argument("--threshold", type=float, default=35.0)
    r.add_argument("--cases", default=str(SHIPPED), help="the case file whose notes state the spreads")
    wv = sub.add_parser("waves")
    wv.add_argument("--cases", default=str(SHIPPED), help="the case file whose notes state the spreads")
    pa = sub.add_parser("parts")
    pa.add_argument("validate_json")
    pa.add_argument("--cases", default=str(SHIPPED), help="the case file whose notes state the spreads")
    pa.add_argument("--engine", default="", help="fragment of the engine (and worker engine) name")
    pa.add_argument("--threshold", type=float, default=12.0)
    mf = sub.add_parser("medianfit")
    mf.add_argument("validate_json")
    mf.add_argument("--cases", default=str(SHIPPED), help="the case file whose notes state the spreads")
    a = ap.parse_args()
    if a.cmd == "medianfit":
        median_fit(a.validate_json, a.cases)
    elif a.cmd == "notes":
        text, changed = add_notes(Path(a.cases_csv).read_text(encoding="utf-8"), read_spread(a.spread_csv))
        Path(a.cases_csv).write_text(text, encoding="utf-8")
        print(f"{changed} rows given their run's TTFT spread: {a.cases_csv}")
    elif a.cmd == "waves":
        waves(a.cases)
    elif a.cmd == "parts":
        parts(a.validate_json, a.cases, a.engine, a.threshold)
    else:
        report(a.validate_json, a.threshold, a.cases)


if __name__ == "__main__":
    main()
