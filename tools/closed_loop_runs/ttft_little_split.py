"""Where a closed-loop row's TTFT error sits, by Little's law on its measured and simulated triples (report only).

A closed loop of ``C`` clients obeys ``C r = X E2E`` with ``X`` the requests/s (output tokens/s over the mean output
``0.9 OSL``: InferenceX draws lengths uniformly in [0.8 L, L]), ``E2E = TTFT + (0.9 OSL - 1) TPOT`` and ``r`` the share
of clients holding a request (0.90-0.98 on the Dynamo rows, branch dyn40). Both triples hold it, so the TTFT error
is exactly

    TTFT_meas - TTFT_sim = (E2E_meas - E2E_sim) - (0.9 OSL - 1) (TPOT_meas - TPOT_sim)
                           `--- the loop's rate ---'  `------------ the decode ------------'

``E2E = C r / X`` is set by the loop's bottleneck (in a disaggregated row, the prefill pool or the decode pool); the
decode term is what the decode pool holds of each request's time. Where the prefill pool sets ``X``, time moved into
the decode comes out of TTFT (branch dyn42: a slower decode alone worsened the TTFT p90). Two counterfactuals follow,
each from the simulation with one measured quantity put in:

* ``rate``: the simulated TTFT with the measured rate and the simulated decode, ``C r_sim / X_meas - (0.9 OSL - 1)
  TPOT_sim`` (what a row bound by a pool whose capacity the model had right, its decode unchanged, would read);
* ``decode``: the simulated TTFT with the measured decode and the simulated rate, ``C r_sim / X_sim - (0.9 OSL - 1)
  TPOT_meas`` (a decode fix that leaves the loop's rate alone).

* ``prefill`` (``prefill_fixed_ttft``): the measured rate with the simulation's own decode at the batch that rate
  gives (the configuration's simulated TPOT against its simulated requests a decode GPU, over its runs), so the
  decode pool's occupancy follows the rate as it would in a rerun with only the first-token side corrected (branch
  dyn41's rerun of a slower prefill, done here analytically).

Each is moved by the row's leave-one-accelerator-out refit (its LOAO prediction minus its in-sample TTFT, as
tools/closed_loop/tail_classes.py moves the simulated median) and compared with the measured mean. A row whose TTFT
is under ``--light`` of its measured E2E is ``light``: the loop constrains nothing there, the error is a request's
service time (branch dyn42b's lone-request bounds). The report also gives, per row, the prompt tokens/s a prefill GPU
and the requests a decode GPU holds (``X (0.9 OSL - 1) TPOT``), measured and simulated, from the case id's
``-p<P>x...-d<D>x`` GPU counts, and the first wave's share of the mean (mean over the run's median, from the notes).

    python tools/closed_loop_runs/ttft_little_split.py validate.json [--match REGEX] [--threshold 35] [--all]
        [--light 0.1] [--list]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "closed_loop"))
from tail_classes import row_class  # noqa: E402  (wave / steady-slow / steady-fast / other)
from ttft_spread import SHIPPED, notes_spread  # noqa: E402  (the run's measured median TTFT from the notes)
from ttft_tail import loao_errors, rows_with_ids  # noqa: E402  (LOAO predictions, as closed_loop_tables.py)

DEFAULT_MATCH = r"gb200-dynamo-"  # the Dynamo GB200 rows (issue 12's largest TTFT tail block)
_ID = re.compile(r"-(\d+)-(\d+)-c(\d+)-r")
_GPUS = re.compile(r"-disagg-p(\d+)x.*?-d(\d+)x")
_METRIC = re.compile(r"-(tput|ttft|tpot)$")
TPUT = "output_tokens_per_s_total"


def mean_output(osl: float) -> float:
    """The mean output length of a run whose lengths are uniform in [0.8 L, L] (InferenceX ``random_range_ratio``)."""
    return 0.9 * osl


def side(tput_tok_s: float, ttft_s: float, tpot_s: float, clients: float, osl: float) -> dict[str, float]:
    """One triple's loop figures: requests/s, E2E, the share of clients holding a request (Little's law)."""
    if tput_tok_s <= 0 or clients <= 0 or osl <= 1:
        raise ValueError(f"side: throughput {tput_tok_s} tokens/s, {clients} clients, OSL {osl}: all must be > 0 "
                         "(OSL > 1)")
    mo = mean_output(osl)
    x = tput_tok_s / mo
    e2e = ttft_s + (mo - 1.0) * tpot_s
    return {"x_rps": x, "e2e_s": e2e, "r": x * e2e / clients, "ttft_s": ttft_s, "tpot_s": tpot_s,
            "n_first": x * ttft_s, "n_decode": x * (mo - 1.0) * tpot_s}


def little_split(meas: dict[str, float], sim: dict[str, float], clients: float, osl: float) -> dict[str, float]:
    """The exact split of the TTFT error (s) into the loop's rate (E2E) part and the decode part, and the two
    counterfactual TTFTs (s) of the module docstring."""
    mo1 = mean_output(osl) - 1.0
    loop = clients * (meas["r"] / meas["x_rps"] - sim["r"] / sim["x_rps"])
    decode = mo1 * (meas["tpot_s"] - sim["tpot_s"])
    return {"ttft_gap_s": meas["ttft_s"] - sim["ttft_s"], "loop_gap_s": loop, "decode_gap_s": decode,
            "cf_rate_s": clients * sim["r"] / meas["x_rps"] - mo1 * sim["tpot_s"],
            "cf_decode_s": clients * sim["r"] / sim["x_rps"] - mo1 * meas["tpot_s"],
            "ttft_share": meas["ttft_s"] / meas["e2e_s"]}


def interp_extrap(points: list[tuple[float, float]], x: float) -> float:
    """Piecewise-linear y(x) through the distinct points (sorted by x; repeated x averaged), extended along the end
    segments; one point: its y."""
    by_x: dict[float, list[float]] = defaultdict(list)
    for px, py in points:
        by_x[px].append(py)
    pts = sorted((px, float(np.mean(v))) for px, v in by_x.items())
    if not pts:
        raise ValueError("interp_extrap: no points")
    if len(pts) == 1:
        return pts[0][1]
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    if x <= xs[0] or x >= xs[-1]:
        (x0, y0), (x1, y1) = (pts[0], pts[1]) if x <= xs[0] else (pts[-2], pts[-1])
        return y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return float(np.interp(x, xs, ys))


def prefill_fixed_ttft(clients: float, r_sim: float, x_rps: float, osl: float, decode_gpus: int,
                       curve: list[tuple[float, float]], iters: int = 200) -> float:
    """The simulated TTFT (s) of a loop whose first-token side delivered ``x_rps`` (the measured rate) while its
    decode ran at the simulation's own step: the decode holds ``N = X (0.9 OSL - 1) TPOT_sim(N / GPUs)`` (a fixed
    point, ``curve`` the configuration's simulated (requests a decode GPU, TPOT s) over its runs) and the rest of the
    ``C r`` requests wait for their first token: ``(C r - N) / X``. NaN where the decode cannot carry that rate (no
    fixed point below ``C r``: the loop would be decode-bound)."""
    mo1 = mean_output(osl) - 1.0
    n = clients * r_sim / 2.0
    for _ in range(iters):
        n_new = x_rps * mo1 * max(interp_extrap(curve, n / decode_gpus), 0.0)
        if not np.isfinite(n_new) or n_new >= clients * r_sim:
            return float("nan")
        if abs(n_new - n) < 1e-9 * max(n, 1.0):
            break
        n = 0.5 * (n + n_new)
    return (clients * r_sim - n) / x_rps


def _config(base: str) -> str:
    """A configuration: the case id without its ``-c<clients>-r<run>`` tail."""
    return re.sub(r"-c\d+-r\d+$", "", base)


def pool_gpus(case_id: str) -> tuple[int, int] | None:
    """(prefill GPUs, decode GPUs) of a disaggregated case id (``-disagg-p16x1e1dpa-d32x1e1dpa-``), else None."""
    m = _GPUS.search(case_id)
    return (int(m.group(1)), int(m.group(2))) if m else None


def bound(meas: dict[str, float], sim: dict[str, float], band: float = 0.1) -> str:
    """``decode`` where the simulated decode pool holds what the measured one holds (``n_decode`` within ``band``)
    while the rate differs by more: the rate error is then the TPOT error of a decode-bound loop (``X = N / ((0.9
    OSL - 1) TPOT)``), and a rate counterfactual that keeps the simulated TPOT is no state the loop can reach; else
    ``first`` (the simulation puts a different number of requests ahead of their first token: a prefill-side
    capacity, or the decode's occupancy set by it)."""
    nd = sim["n_decode"] / meas["n_decode"]
    x = sim["x_rps"] / meas["x_rps"]
    return "decode" if abs(nd - 1.0) <= band < abs(x - 1.0) else "first"


def counterfactual_class(light: bool, e_rate: float, e_decode: float, threshold_pct: float) -> str:
    """``light`` (TTFT a small part of the loop), else which counterfactual brings the row inside the threshold:
    ``rate``, ``decode``, ``either`` or ``neither``."""
    if light:
        return "light"
    r, d = abs(e_rate) <= threshold_pct, abs(e_decode) <= threshold_pct
    return "either" if r and d else "rate" if r else "decode" if d else "neither"


def triples(path: str) -> dict[str, dict[str, dict[str, Any]]]:
    """Base case id (without ``-tput``/``-ttft``/``-tpot``) -> metric -> the validate JSON's closed-loop case."""
    out: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for c in json.load(open(path, encoding="utf-8"))["cases"]:
        if c.get("status") == "ok" and (c.get("sim") or {}).get("kind") == "closed_loop":
            out[_METRIC.sub("", c["case_id"])][c["metric"]] = c
    return out


def rows(path: str, match: str, threshold_pct: float, only_tail: bool, light_share: float,
         cases_csv: str | Path = SHIPPED) -> list[dict[str, Any]]:
    """The matching TTFT rows (the LOAO tail only where ``only_tail``), each with its split, counterfactual errors
    (%, LOAO-moved) and classes."""
    pat = re.compile(match)
    spread = notes_spread(cases_csv)
    trip = triples(path)
    curves: dict[str, list[tuple[float, float]]] = defaultdict(list)  # config -> (sim requests a decode GPU, TPOT s)
    for b, g in trip.items():
        m, gp = _ID.search(b), pool_gpus(b)
        if m and gp and {TPUT, "tpot_ms"} <= set(g):
            t_s, mo_b = g["tpot_ms"]["sim"]["tpot_ms"] / 1e3, mean_output(float(m.group(2)))
            x_s = g[TPUT]["sim"]["output_tokens_per_s"] / mo_b
            curves[_config(b)].append((x_s * (mo_b - 1.0) * t_s / gp[1], t_s))
    out = []
    for x, e, p in loao_errors(rows_with_ids(path)):
        if x["metric"] != "ttft_ms" or not pat.search(x["case_id"]) or (only_tail and abs(e) <= threshold_pct):
            continue
        base = _METRIC.sub("", x["case_id"])
        g = trip[base]
        if not {TPUT, "ttft_ms", "tpot_ms"} <= set(g):
            continue
        m = _ID.search(base)
        if not m:
            raise SystemExit(f"{path}: case {base}: no -ISL-OSL-cC-r in its id")
        isl, osl, clients = (float(v) for v in m.groups())
        t, f, q = g[TPUT], g["ttft_ms"], g["tpot_ms"]
        ms = side(t["measured"], f["measured"] / 1e3, q["measured"] / 1e3, clients, osl)
        ss = side(t["sim"]["output_tokens_per_s"], f["sim"]["ttft_ms"] / 1e3, q["sim"]["tpot_ms"] / 1e3, clients, osl)
        sp = little_split(ms, ss, clients, osl)
        shift_s = (p - f["sim"]["ttft_ms"]) / 1e3  # the LOAO refit's move of every simulated request
        meas_s = f["measured"] / 1e3
        e_rate = 100.0 * ((sp["cf_rate_s"] + shift_s) / meas_s - 1.0)
        e_dec = 100.0 * ((sp["cf_decode_s"] + shift_s) / meas_s - 1.0)
        med = spread.get(x["case_id"], (None, None))[0]
        sim_med = f["sim"].get("ttft_median_ms")
        wave = (row_class(e, med, float(sim_med) + (p - f["sim"]["ttft_ms"]), threshold_pct)
                if med is not None and sim_med is not None and abs(e) > threshold_pct else "-")
        gpus = pool_gpus(base)
        mo = mean_output(osl)
        config = _config(base)
        cf_pre = (prefill_fixed_ttft(clients, ss["r"], ms["x_rps"], osl, gpus[1], curves[config])
                  if gpus and curves[config] else float("nan"))
        e_pre = 100.0 * ((cf_pre + shift_s) / meas_s - 1.0)
        pre = (ms["x_rps"] * 0.9 * isl / gpus[0], ss["x_rps"] * 0.9 * isl / gpus[0]) if gpus else (np.nan, np.nan)
        dec = ((ms["x_rps"] * (mo - 1) * ms["tpot_s"] / gpus[1], ss["x_rps"] * (mo - 1) * ss["tpot_s"] / gpus[1])
               if gpus else (np.nan, np.nan))
        out.append(dict(case_id=base, config=config, clients=clients, error=e, e_prefill=e_pre,
                        meas_ms=f["measured"], pred_ms=p, median_ms=med, cls=wave, e_rate=e_rate, e_decode=e_dec,
                        cf=counterfactual_class(sp["ttft_share"] < light_share, e_rate, e_dec, threshold_pct),
                        x_ratio=ss["x_rps"] / ms["x_rps"], tpot_ratio=ss["tpot_s"] / ms["tpot_s"],
                        r_meas=ms["r"], r_sim=ss["r"], bound=bound(ms, ss),
                        n_first=(ms["n_first"], ss["n_first"]),
                        n_decode=(ms["n_decode"], ss["n_decode"]), prefill_tok_s_gpu=pre, decode_req_gpu=dec,
                        **sp))
    return out


def _short(config: str) -> str:
    return re.sub(r"^imax-|gb200-dynamo-", "", config)


def report(rs: list[dict[str, Any]], threshold_pct: float, listing: bool) -> None:
    tail = [r for r in rs if abs(r["error"]) > threshold_pct]
    print(f"TTFT rows: {len(rs)}, beyond {threshold_pct:g} % LOAO: {len(tail)}; of those, inside with the measured "
          f"rate: {sum(abs(r['e_rate']) <= threshold_pct for r in tail)}, with the measured decode: "
          f"{sum(abs(r['e_decode']) <= threshold_pct for r in tail)}")
    loop = [r for r in rs if r["cf"] != "light"]
    print(f"  rows the loop constrains (not light): {len(loop)}; beyond {threshold_pct:g} % now / with the measured "
          f"rate / with the measured decode: {sum(abs(r['error']) > threshold_pct for r in loop)} / "
          f"{sum(abs(r['e_rate']) > threshold_pct for r in loop)} / "
          f"{sum(abs(r['e_decode']) > threshold_pct for r in loop)}")
    for b in ("first", "decode"):
        v = [r for r in loop if r["bound"] == b]
        print(f"  of those, {b}-bound: {len(v)}; beyond now / rate / decode: "
              f"{sum(abs(r['error']) > threshold_pct for r in v)} / {sum(abs(r['e_rate']) > threshold_pct for r in v)}"
              f" / {sum(abs(r['e_decode']) > threshold_pct for r in v)}")
    pre = [r for r in loop if np.isfinite(r["e_prefill"]) and r["bound"] == "first" and r["x_ratio"] > 1.0]
    moved = Counter((abs(r["error"]) > threshold_pct, abs(r["e_prefill"]) > threshold_pct) for r in pre)
    print(f"  prefill counterfactual (first-bound rows whose simulated rate is above the measured one, with a fixed "
          f"point): {len(pre)} rows; beyond now / after: {moved[(True, True)] + moved[(True, False)]} / "
          f"{moved[(True, True)] + moved[(False, True)]} ({moved[(True, False)]} come in, "
          f"{moved[(False, True)]} go out)")
    print("  Little's share r = X E2E / C, median meas / sim: "
          f"{np.median([r['r_meas'] for r in rs]):.3f} / {np.median([r['r_sim'] for r in rs]):.3f}")
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in tail:
        groups[r["config"]].append(r)
    print("\nconfiguration: tail rows (counterfactual classes; tail classes) | clients | medians: TTFT share of E2E, "
          "X sim/meas, TPOT sim/meas, loop gap / decode gap s, requests before their first token meas/sim, requests "
          "decoding meas/sim, prompt k tok/s a prefill GPU meas/sim, requests a decode GPU meas/sim; bound")
    for k in sorted(groups, key=lambda k: -len(groups[k])):
        v = groups[k]

        def med(f: str, v: list[dict[str, Any]] = v) -> float:
            return float(np.median([r[f] for r in v]))

        cf = ", ".join(f"{c} {n}" for c, n in Counter(r["cf"] for r in v).most_common())
        tc = ", ".join(f"{c} {n}" for c, n in Counter(r["cls"] for r in v).most_common())
        cl = sorted({int(r["clients"]) for r in v})
        pre = np.median([r["prefill_tok_s_gpu"] for r in v], axis=0) / 1e3
        dec = np.median([r["decode_req_gpu"] for r in v], axis=0)
        nf = np.median([r["n_first"] for r in v], axis=0)
        nd = np.median([r["n_decode"] for r in v], axis=0)
        bd = ", ".join(f"{c} {n}" for c, n in Counter(r["bound"] for r in v).most_common())
        print(f"  {_short(k)}: {len(v)} ({cf}; {tc}) | c{','.join(map(str, cl))} | {med('ttft_share'):.2f}, "
              f"{med('x_ratio'):.2f}, {med('tpot_ratio'):.2f}, {med('loop_gap_s'):+.2f} / {med('decode_gap_s'):+.2f}, "
              f"{nf[0]:.0f}/{nf[1]:.0f}, {nd[0]:.0f}/{nd[1]:.0f}, {pre[0]:.1f}/{pre[1]:.1f}, "
              f"{dec[0]:.0f}/{dec[1]:.0f}; {bd}")
    tot = Counter(r["cf"] for r in tail)
    print("\ntail rows by counterfactual class: " + ", ".join(f"{c} {n}" for c, n in tot.most_common()))
    if listing:
        for r in sorted(tail, key=lambda r: (r["config"], r["clients"])):
            md = f"{r['median_ms']:.0f}" if r["median_ms"] is not None else "-"
            print(f"  {r['cf']:7s} {r['bound']:6s} {r['cls']:11s} {r['error']:+6.1f} % rate {r['e_rate']:+6.1f} decode "
                  f"{r['e_decode']:+6.1f} prefill {r['e_prefill']:+6.1f}\n      meas {r['meas_ms']:7.0f} (median {md}) "
                  f"loao {r['pred_ms']:7.0f}  "
                  f"{_short(r['case_id'])}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("validate_json")
    ap.add_argument("--match", default=DEFAULT_MATCH, help="regex on the case id")
    ap.add_argument("--threshold", type=float, default=35.0)
    ap.add_argument("--all", action="store_true", help="every matching TTFT row, not only the LOAO tail")
    ap.add_argument("--light", type=float, default=0.1, help="TTFT share of E2E below which a row is 'light'")
    ap.add_argument("--cases", default=str(SHIPPED))
    ap.add_argument("--list", action="store_true", help="list the tail rows")
    a = ap.parse_args()
    report(rows(a.validate_json, a.match, a.threshold, not a.all, a.light, a.cases), a.threshold, a.list)


if __name__ == "__main__":
    main()
