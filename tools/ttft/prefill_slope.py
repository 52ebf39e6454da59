"""The prefill time per prompt token that the closed-loop runs' median TTFT measures, against the simulated one
(report only; it changes no prediction).

At the fewest clients of a configuration (4 and 8 for the aggregated InferenceMAX rows) a median request meets an
idle or decoding engine: its TTFT is the engine's fixed path (front end, the step it arrives in, the planned step)
plus one lone prefill of its prompt, and only the prefill grows with the prompt. So per engine, chip, model,
format, TP and clients, the slope of the median TTFT between the 1k/1k and 8k/1k rows (same clients, same output
length) is the prefill time per extra prompt token, host time per request cancelling out:

    slope (us/token) = (median TTFT 8k/1k - median TTFT 1k/1k) / (0.9 (8192 - 1024))

(prompts uniform in ``[0.8 L, L]``: median and mean prompt ``0.9 L``). The measured median is the run's own
``median_ttft`` (the notes of the cases file: "TTFT spread of the run: median X ms"); the simulated one is the
validate JSON's ``sim.ttft_median_ms``. Several runs of a configuration: the median of their medians per length.

Per chip and engine, the slopes over TP are also fitted as ``a + b / TP`` (least squares, clients ``--fit-clients``):
``b`` the work the TP group shares (GEMMs, attention), ``a`` what no TP rank splits (the front end's
tokenisation, replicated elementwise work, the all-reduce's growth). With ``--classes`` the simulated lone prompt
step (no decodes, ``0.9 L`` tokens) of one row per configuration is split by operator class: that class's slope.

    python tools/ttft/prefill_slope.py closed.json [--cases CASES.csv] [--engine vllm] [--max-clients 8]
        [--classes] [--fit-clients 4]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "closed_loop"))
from ttft_spread import SHIPPED, notes_spread  # noqa: E402

MEAN_FRACTION = 0.9  # benchmark_serving --random-range-ratio 0.8: lengths uniform in [0.8 L, L]
SHORT, LONG, OUT = 1024, 8192, 1024
_ID = re.compile(r"^(?P<cfg>.+)-(?P<isl>\d+)-(?P<osl>\d+)-c(?P<conc>\d+)-r\d+-ttft$")
_TP = re.compile(r"-tp(\d+)")


def extra_tokens(short: int = SHORT, long: int = LONG) -> float:
    """Mean prompt tokens the long rows have beyond the short ones (0.9 x 7,168 = 6,451.2)."""
    return MEAN_FRACTION * (long - short)


def slope_us(short_ms: float, long_ms: float, short: int = SHORT, long: int = LONG) -> float:
    """Microseconds per extra prompt token between two median TTFTs (ms)."""
    return 1e3 * (long_ms - short_ms) / extra_tokens(short, long)


def fit_tp(tps: list[int], slopes: list[float]) -> tuple[float, float] | None:
    """Least-squares ``(a, b)`` of ``slope = a + b / tp`` over at least two distinct TP sizes, else None."""
    if len(set(tps)) < 2:
        return None
    x = np.column_stack([np.ones(len(tps)), 1.0 / np.asarray(tps, float)])
    (a, b), *_ = np.linalg.lstsq(x, np.asarray(slopes, float), rcond=None)
    return float(a), float(b)


def configurations(path: str | Path, cases_csv: str | Path, engine: str | None, max_clients: int) -> dict:
    """(engine, chip, configuration, clients) -> {ISL: [(measured median, simulated median, case id)]}, aggregated
    closed-loop TTFT rows with a stated median and OSL 1024 only."""
    spread = notes_spread(cases_csv)
    out: dict = defaultdict(lambda: defaultdict(list))
    for c in json.load(open(path, encoding="utf-8"))["cases"]:
        m = _ID.match(c["case_id"])
        sim = c.get("sim") or {}
        if (not m or c.get("status") != "ok" or sim.get("kind") != "closed_loop" or "-disagg-" in c["case_id"]
                or c["case_id"] not in spread or sim.get("ttft_median_ms") is None):
            continue
        eng, conc, osl = str(sim.get("engine")), int(m.group("conc")), int(m.group("osl"))
        if (engine and eng != engine) or conc > max_clients or osl != OUT:
            continue
        key = (eng, c["accelerator"].split("-")[1], m.group("cfg").split("-", 2)[-1], conc)
        out[key][int(m.group("isl"))].append((spread[c["case_id"]][0], float(sim["ttft_median_ms"]), c["case_id"]))
    return out


def slope_rows(groups: dict) -> list[dict]:
    """One row per configuration with both lengths: medians (ms) and slopes (us/token), measured and simulated."""
    rows = []
    for key in sorted(groups):
        g = groups[key]
        if SHORT not in g or LONG not in g:
            continue
        s, lg = np.median([v[:2] for v in g[SHORT]], axis=0), np.median([v[:2] for v in g[LONG]], axis=0)
        tp = _TP.search(key[2])
        rows.append({"engine": key[0], "chip": key[1], "cfg": key[2], "clients": key[3],
                     "tp": int(tp.group(1)) if tp else 1, "runs": (len(g[SHORT]), len(g[LONG])),
                     "meas_ms": (float(s[0]), float(lg[0])), "sim_ms": (float(s[1]), float(lg[1])),
                     "meas_us": slope_us(s[0], lg[0]), "sim_us": slope_us(s[1], lg[1]),
                     "case": g[LONG][0][2]})
    return rows


def class_slopes(case_id: str, cases_csv: str | Path) -> dict[str, float]:
    """The simulated lone prompt step of ``case_id``'s replica (as validate maps it for the closed loop) at the two
    lengths' mean prompts: the slope (us/token) of each operator class and of the whole step."""
    import inferchip.validation.closed_loop_rows as clr
    from inferchip.catalog.calibration_file import load_calibration
    from inferchip.validation.cases import read_cases
    from inferchip.validation.validate import validate_cases

    cases = [c for c in read_cases(cases_csv) if c.case_id == case_id]
    caught = []
    orig = clr.EngineReplica

    class Spy(orig):  # type: ignore[misc, valid-type]
        def __init__(self, mm, *a, **kw):  # noqa: ANN001, ANN002, ANN003
            caught.append(mm)
            super().__init__(mm, *a, **kw)

    clr.EngineReplica = Spy
    try:
        validate_cases(cases, load_calibration(None), server_model="sim", compare=False, workers=1)
    finally:
        clr.EngineReplica = orig
    if not caught:
        raise SystemExit(f"{case_id}: no engine replica built (not a closed-loop row?)")
    mm, parts = caught[-1], {}
    for n in (MEAN_FRACTION * SHORT, MEAN_FRACTION * LONG):
        t, cost = mm.replica_step_s(np.array([n]), np.array([0.0]), np.array([0.0]), np.array([n * (n + 1) / 2]))
        parts[n] = {"step": float(np.ravel(t)[0]), **{k: float(np.ravel(v.time_s)[0]) for k, v in cost.classes.items()}}
    lo, hi = parts[MEAN_FRACTION * SHORT], parts[MEAN_FRACTION * LONG]
    return {k: 1e6 * (hi[k] - lo[k]) / extra_tokens() for k in hi if hi[k] or lo[k]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("validate_json")
    ap.add_argument("--cases", default=str(SHIPPED))
    ap.add_argument("--engine", default=None, help="engine id (vllm, sglang, trtllm, atom); default: all")
    ap.add_argument("--max-clients", type=int, default=8)
    ap.add_argument("--fit-clients", type=int, default=4, help="clients of the a + b / TP fit")
    ap.add_argument("--classes", action="store_true", help="split the simulated lone prompt step by class")
    a = ap.parse_args()
    rows = slope_rows(configurations(a.validate_json, a.cases, a.engine, a.max_clients))
    if not rows:
        raise SystemExit(f"{a.validate_json}: no configuration with both {SHORT}/{OUT} and {LONG}/{OUT} rows")
    print(f"median TTFT slope, {LONG}/{OUT} against {SHORT}/{OUT} at the same clients "
          f"({extra_tokens():,.1f} extra prompt tokens); ms and us per prompt token")
    print("| engine | chip | configuration | clients | runs 1k/8k | median 1k meas / sim | median 8k meas / sim "
          "| slope meas | slope sim | meas / sim |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['engine']} | {r['chip']} | {r['cfg']} | {r['clients']} | {r['runs'][0]}/{r['runs'][1]} | "
              f"{r['meas_ms'][0]:.1f} / {r['sim_ms'][0]:.1f} | {r['meas_ms'][1]:.1f} / {r['sim_ms'][1]:.1f} | "
              f"{r['meas_us']:.2f} | {r['sim_us']:.2f} | {r['meas_us'] / r['sim_us']:.2f} |")
    fits = defaultdict(list)
    for r in rows:
        if r["clients"] == a.fit_clients:
            fits[(r["engine"], r["chip"], re.sub(r"-tp\d+ep\d+", "", r["cfg"]))].append(r)
    print(f"\nslope = a + b / TP at {a.fit_clients} clients (us per prompt token; b: the TP group's shared work)")
    print("| engine | chip | configuration | TP sizes | a meas / sim | b meas / sim |")
    print("|---|---|---|---|---|---|")
    for key, rs in sorted(fits.items()):
        tps = [r["tp"] for r in rs]
        fm, fs = fit_tp(tps, [r["meas_us"] for r in rs]), fit_tp(tps, [r["sim_us"] for r in rs])
        if fm and fs:
            print(f"| {' | '.join(key)} | {','.join(map(str, sorted(tps)))} | {fm[0]:.2f} / {fs[0]:.2f} | "
                  f"{fm[1]:.2f} / {fs[1]:.2f} |")
    if a.classes:
        print(f"\nsimulated lone prompt step by class, slope in us per prompt token ({a.fit_clients} clients' rows)")
        for r in rows:
            if r["clients"] == a.fit_clients:
                parts = class_slopes(r["case"], a.cases)
                print(f"  {r['engine']} {r['chip']} {r['cfg']}: measured {r['meas_us']:.2f}, closed loop "
                      f"{r['sim_us']:.2f}; step " + ", ".join(f"{k} {v:.2f}" for k, v in parts.items()))


if __name__ == "__main__":
    main()
